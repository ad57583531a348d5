#!/usr/bin/python3
"""Any folder of audio + a CSV of labels -> FILES.csv for `auratag prep`,
with a seeded random train/valid/test split.

Input:
  AUDIO_DIR   the audio files (any layout, any format prep reads)
  LABELS.csv  one line per file: path (relative to AUDIO_DIR, or absolute),
              then its tags separated by ';' (multi-label), or one class name
              (single-label). A header line naming the columns "path" and
              "tags" is optional; with one, a column "song" keeps all files
              of a song in one split (and is passed on), and a column "split"
              is kept as it is (--keep-split) instead of drawing a new one.
              RFC 4180 quoting: "a.wav","rock;80s".

Split: the files (or songs) are shuffled with --seed and cut into
--valid and --test fractions (rounded), the rest train. With --stratify the
cut is made within each class (single-label) or within each group of files
whose rarest tag is the same (multi-label: a song or file goes with its
rarest tag, so that rare tags reach every split), so small classes are
split in the asked proportions too (each rounded half up).

Usage:
  scripts/recipes/generic.py AUDIO_DIR LABELS.csv --out data/mine/files.csv [--valid 0.1] [--test 0.2]
      [--seed 1] [--single-label] [--stratify] [--keep-split] [--skip-missing]
Standard library only.
"""
import argparse
import csv
import os
import random
import sys
from collections import Counter, defaultdict


def fail(msg):
    sys.stderr.write("generic.py: error: %s\n" % msg)
    sys.exit(1)


def stratify(groups, items, group_of):
    """groups (in their shuffled order) by stratum: a group's class, or its
    rarest tag (ties by name); groups without tags form their own stratum."""
    tags_of = defaultdict(set)
    for it in items:
        tags_of[group_of(it)].update(t for t in it["tags"].split(";") if t)
    frequency = Counter(t for g in groups for t in tags_of[g])
    strata = defaultdict(list)
    for g in groups:
        rarest = min(tags_of[g], key=lambda t: (frequency[t], t)) if tags_of[g] else ""
        strata[rarest].append(g)
    return strata


def main():
    ap = argparse.ArgumentParser(description="folder + labels CSV -> FILES.csv with a seeded split")
    ap.add_argument("audio_dir")
    ap.add_argument("labels", help="CSV: path,tag1;tag2;... (header optional)")
    ap.add_argument("--out", required=True, help="FILES.csv to write (paths relative to its folder)")
    ap.add_argument("--valid", type=float, default=0.1, help="fraction for validation (default 0.1)")
    ap.add_argument("--test", type=float, default=0.2, help="fraction for test (default 0.2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--single-label", action="store_true", help="each file must have exactly one class")
    ap.add_argument("--stratify", action="store_true",
                    help="split each class (single-label) or rarest-tag group (multi-label) in the asked fractions")
    ap.add_argument("--keep-split", action="store_true", help="use the labels file's split column")
    ap.add_argument("--skip-missing", action="store_true", help="leave out files that do not exist")
    a = ap.parse_args()
    if not (0 <= a.valid < 1 and 0 <= a.test < 1 and a.valid + a.test < 1):
        fail("--valid and --test must be fractions in [0, 1) that leave some training data")

    with open(a.labels, newline="", encoding="utf-8-sig") as f:
        lines = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
    if not lines:
        fail("%s is empty" % a.labels)
    head = [h.strip().lower() for h in lines[0]]
    if "path" in head:
        if "tags" not in head:
            fail("%s: the header names 'path' but no 'tags' column" % a.labels)
        col = {h: i for i, h in enumerate(head)}
        body = lines[1:]
        first_line = 2
    else:
        col = {"path": 0, "tags": 1}
        body = lines
        first_line = 1
    if a.keep_split and a.stratify:
        fail("--stratify draws a split; --keep-split keeps the labels file's: choose one")
    if a.keep_split and "split" not in col:
        fail("--keep-split: %s has no split column" % a.labels)

    audio_dir = os.path.abspath(a.audio_dir)
    out_dir = os.path.dirname(os.path.abspath(a.out))
    items, missing, seen = [], [], set()
    for ln, r in enumerate(body, start=first_line):
        get = lambda k: r[col[k]].strip() if k in col and col[k] < len(r) else ""
        path = get("path")
        if not path:
            fail("%s:%d: no path" % (a.labels, ln))
        tags = [t.strip() for t in get("tags").split(";") if t.strip()]
        if a.single_label and len(tags) != 1:
            fail("%s:%d: %s has %d classes; --single-label needs exactly one" % (a.labels, ln, path, len(tags)))
        full = path if os.path.isabs(path) else os.path.join(audio_dir, path)
        if full in seen:
            fail("%s:%d: %s is listed twice" % (a.labels, ln, path))
        seen.add(full)
        if not os.path.isfile(full):
            missing.append(path)
            if a.skip_missing:
                continue
        split = get("split") if a.keep_split else ""
        if a.keep_split and split not in ("train", "valid", "test"):
            fail("%s:%d: split %r is not train, valid or test" % (a.labels, ln, split))
        items.append({"path": os.path.relpath(full, out_dir), "tags": ";".join(tags), "song": get("song"),
                      "split": split})
    if missing and not a.skip_missing:
        fail("%d listed files do not exist under %s (first: %s); pass --skip-missing to leave them out"
             % (len(missing), audio_dir, missing[0]))
    if not items:
        fail("no files to write")

    has_song = "song" in col
    if not a.keep_split:
        group_of = lambda it: it["song"] if has_song and it["song"] else it["path"]
        groups = sorted({group_of(it) for it in items})
        random.Random(a.seed).shuffle(groups)
        strata = {"": groups}
        if a.stratify:
            strata = stratify(groups, items, group_of)
        which = {}
        for name in sorted(strata):
            members = strata[name]
            n = len(members)
            n_valid = int(a.valid * n + 0.5) if a.stratify else int(round(a.valid * n))
            n_test = int(a.test * n + 0.5) if a.stratify else int(round(a.test * n))
            for k, g in enumerate(members):
                which[g] = "valid" if k < n_valid else "test" if k < n_valid + n_test else "train"
        for it in items:
            it["split"] = which[group_of(it)]

    os.makedirs(out_dir, exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "split", "tags"] + (["song"] if has_song else []))
        for it in items:
            w.writerow([it["path"], it["split"], it["tags"]] + ([it["song"]] if has_song else []))
    os.replace(tmp, a.out)
    counts = {s: sum(1 for it in items if it["split"] == s) for s in ("train", "valid", "test")}
    tags = sorted({t for it in items for t in it["tags"].split(";") if t})
    print("generic.py: train %d, valid %d, test %d files, %d distinct %s -> %s"
          % (counts["train"], counts["valid"], counts["test"], len(tags),
             "classes" if a.single_label else "tags", a.out))
    if missing:
        print("generic.py: left out %d missing files" % len(missing))


if __name__ == "__main__":
    main()
