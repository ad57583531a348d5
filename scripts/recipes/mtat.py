#!/usr/bin/python3
"""MagnaTagATune -> FILES.csv for `auratag prep`.

Inputs (MagnaTagATune is not redistributable: obtain it from its authors;
auratag never downloads it):
  annotations_final.csv  tab-separated, every field in double quotes: clip_id,
                         the 188 tag columns (0/1), mp3_path ("f/name.mp3")
  MP3_DIR                the 16 folders 0 .. f of mp3 files (mp3.zip.001-003)

Splits (docs/papers.md §5.1; the two are not comparable):
  --split choi   Choi et al. / Dieleman / musicnn "12:1:3" folder split:
                 folders 0-b train, c valid, d-f test, less the three broken
                 clips 35644, 55753, 57881 (jordipons/musicnn-training
                 aux/mtt/partition_gt.py): 18,706 / 1,825 / 5,329 clips.
  --split clean  Lee et al.'s cleaned split, as Won et al. (SMC 2020) use it:
                 15,247 / 1,529 / 4,332 clips. Its lists cannot be shipped:
                 pass --clean-dir DIR holding train.npy, valid.npy, test.npy
                 from minzwon/sota-music-tagging-models split/mtat/ (each
                 entry "INDEX<TAB>folder/name.mp3"), or text files
                 train.txt, valid.txt, test.txt with one such entry (or just
                 the mp3 path) per line.

Tags: every tag with a 1 in the row, by its column name (no synonym merging,
as musicnn: "no vocal" and "no vocals" stay apart); the top 50 are chosen by
prep (configs/datasets/mtat_*.ini: top_tags = 50, counted on the training
split). Clips without any tag are kept (the folder split keeps them).

Usage:
  scripts/recipes/mtat.py annotations_final.csv MP3_DIR --out data/mtat/files.csv [--split choi|clean]
      [--clean-dir DIR] [--keep-broken] [--skip-missing]
Standard library only.
"""
import argparse
import ast
import csv
import os
import struct
import sys

BROKEN_IDS = {"35644", "55753", "57881"}
CHOI_COUNTS = (18706, 1825, 5329)
CLEAN_COUNTS = (15247, 1529, 4332)
SPLITS = ("train", "valid", "test")


def fail(msg):
    sys.stderr.write("mtat.py: error: %s\n" % msg)
    sys.exit(1)


def read_npy_strings(path):
    """The entries of a 1-D .npy array of strings (dtype <U or |S), with the
    standard library: magic, version, header dict, then fixed-width items."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        fail("%s is not a .npy file" % path)
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        off = 10
    else:
        (hlen,) = struct.unpack("<I", data[8:12])
        off = 12
    header = ast.literal_eval(data[off:off + hlen].decode("latin1"))
    off += hlen
    descr, shape = header["descr"], header["shape"]
    n = 1
    for d in shape:
        n *= d
    if descr[1] == "U":
        width = int(descr[2:]) * 4
        enc = "utf-32-le" if descr[0] in "<|=" else "utf-32-be"
    elif descr[1] == "S":
        width = int(descr[2:])
        enc = "utf-8"
    else:
        fail("%s holds dtype %r, not strings; convert it with numpy: "
             "open(OUT, 'w').write('\\n'.join(map(str, numpy.load(IN, allow_pickle=True))))" % (path, descr))
    out = []
    for i in range(n):
        raw = data[off + i * width: off + (i + 1) * width]
        out.append(raw.decode(enc).rstrip("\x00"))
    return out


def read_list(path):
    if path.endswith(".npy"):
        return read_npy_strings(path)
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def entry_path(entry):
    """'12\tf/name.mp3' or 'f/name.mp3' -> 'f/name.mp3'."""
    return entry.split("\t")[-1].strip()


def clean_split(clean_dir):
    where = {}
    for split in SPLITS:
        for ext in (".npy", ".txt"):
            p = os.path.join(clean_dir, split + ext)
            if os.path.exists(p):
                break
        else:
            fail("--clean-dir %s has no %s.npy or %s.txt (get train.npy, valid.npy, test.npy from "
                 "github.com/minzwon/sota-music-tagging-models, folder split/mtat/)" % (clean_dir, split, split))
        for e in read_list(p):
            path = entry_path(e)
            if path in where:
                fail("%s lists %s, which %s.* lists too" % (p, path, where[path]))
            where[path] = split
    return where


def main():
    ap = argparse.ArgumentParser(description="MagnaTagATune -> FILES.csv for auratag prep")
    ap.add_argument("annotations", help="annotations_final.csv (tab-separated)")
    ap.add_argument("mp3_dir", help="folder holding the 16 folders 0..f of mp3 files")
    ap.add_argument("--out", required=True, help="FILES.csv to write (paths relative to its folder)")
    ap.add_argument("--split", choices=("choi", "clean"), default="choi")
    ap.add_argument("--clean-dir", help="folder with the clean split's train/valid/test .npy or .txt lists")
    ap.add_argument("--keep-broken", action="store_true", help="keep clips 35644, 55753, 57881 (choi split)")
    ap.add_argument("--skip-missing", action="store_true", help="leave out clips whose mp3 is missing or empty")
    a = ap.parse_args()
    if a.split == "clean" and not a.clean_dir:
        fail("--split clean needs --clean-dir DIR with the split's lists (minzwon/sota-music-tagging-models "
             "split/mtat/train.npy, valid.npy, test.npy)")

    with open(a.annotations, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows:
        fail("%s is empty" % a.annotations)
    head = rows[0]
    if len(head) < 3 or head[0] != "clip_id" or head[-1] != "mp3_path":
        fail("%s: the header must start with clip_id and end with mp3_path (tab-separated), as "
             "MagnaTagATune's annotations_final.csv; it starts %r" % (a.annotations, head[:3]))
    tags = head[1:-1]
    where = clean_split(a.clean_dir) if a.split == "clean" else None

    out_dir = os.path.dirname(os.path.abspath(a.out))
    mp3_dir = os.path.abspath(a.mp3_dir)
    kept, missing, broken, unlisted = [], [], 0, 0
    for ln, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        if len(r) != len(head):
            fail("%s:%d: %d fields, the header has %d" % (a.annotations, ln, len(r), len(head)))
        clip_id, mp3 = r[0], r[-1]
        if where is not None:
            split = where.get(mp3)
            if split is None:
                unlisted += 1
                continue
        else:
            if clip_id in BROKEN_IDS and not a.keep_broken:
                broken += 1
                continue
            folder = mp3.split("/")[0]
            try:
                k = int(folder, 16)
            except ValueError:
                fail("%s:%d: mp3_path %r does not start with a folder 0..f" % (a.annotations, ln, mp3))
            split = "train" if k < 12 else "valid" if k < 13 else "test"
        path = os.path.join(mp3_dir, mp3)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            missing.append(mp3)
            if a.skip_missing:
                continue
        present = [t for t, v in zip(tags, r[1:-1]) if v.strip() not in ("", "0")]
        kept.append((os.path.relpath(path, out_dir), split, ";".join(present)))

    if where is not None:
        seen = {r[-1] for r in rows[1:] if r}
        absent = [p for p in where if p not in seen]
        if absent:
            fail("%d clips of the clean split are not in %s (first: %s)" % (len(absent), a.annotations, absent[0]))
    if missing and not a.skip_missing:
        fail("%d mp3 files are missing or empty under %s (first: %s); pass --skip-missing to leave them out"
             % (len(missing), mp3_dir, missing[0]))

    if os.path.dirname(a.out):
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "split", "tags"])
        for path, split, t in kept:
            w.writerow([path, split, t])
    os.replace(tmp, a.out)

    counts = tuple(sum(1 for k in kept if k[1] == s) for s in SPLITS)
    print("mtat.py: %s split: train %d, valid %d, test %d clips; %d tags in the annotations -> %s"
          % (a.split, counts[0], counts[1], counts[2], len(tags), a.out))
    if broken:
        print("mtat.py: left out %d broken clips (%s)" % (broken, ", ".join(sorted(BROKEN_IDS))))
    if unlisted:
        print("mtat.py: %d clips are in none of the clean split's lists" % unlisted)
    if missing:
        print("mtat.py: left out %d clips whose mp3 is missing or empty" % len(missing))
    expect = CHOI_COUNTS if a.split == "choi" else CLEAN_COUNTS
    full = len(rows) - 1 == 25863
    if full and counts != expect:
        print("mtat.py: warning: the published %s split has %d / %d / %d clips" % ((a.split,) + expect))


if __name__ == "__main__":
    main()
