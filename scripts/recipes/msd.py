#!/usr/bin/python3
"""Million Song Dataset, Choi et al.'s tagging split -> FILES.csv for `auratag prep`.

Inputs (not redistributable; auratag never downloads them):
  SPLIT_DIR  a checkout of github.com/keunwoochoi/MSD_split_for_tagging:
             {train,valid,test}_x_filename.txt (one "3/6/36122424.npy" per
             line: the 7digital preview's folder and id), tags.py (Choi's 50
             tags), {train,valid,test}_x_msd_id.txt (MSD track ids, same
             order) and, where present, {train,valid,test}_y.npy (labels,
             [N, 50] in tags.py's order).
  AUDIO_DIR  the 7digital 30-60 s previews in their usual layout:
             AUDIO_DIR/3/6/36122424.clip.mp3 (the list's name with .npy
             replaced by --audio-suffix, default .clip.mp3).
  Labels     the split's {split}_y.npy files (--labels npy, the default when
             all three are there), or the Last.fm dataset's lastfm_tags.db
             (--lastfm FILE; SQLite tables tids, tags, tid_tag), where, as
             Choi, a tag counts when its value is > 50 (values 0-100).

Published sizes (docs/papers.md §5.2): 201,680 / 11,774 / 28,435 tracks.
Tracks whose preview is missing or empty are left out and counted (some
previews are zero-sized, as the split's README warns); --strict makes that an
error. --drop-bad also leaves out the 7digital ids listed in
train_x_7d_bad_duration_id.txt and train_x_7d_invalid_audio_id.txt.

Usage:
  scripts/recipes/msd.py SPLIT_DIR AUDIO_DIR --out data/msd/files.csv [--lastfm lastfm_tags.db]
      [--audio-suffix .clip.mp3] [--strict] [--drop-bad]
Standard library only.
"""
import argparse
import ast
import csv
import os
import sqlite3
import struct
import sys

SPLITS = ("train", "valid", "test")
PUBLISHED = (201680, 11774, 28435)


def fail(msg):
    sys.stderr.write("msd.py: error: %s\n" % msg)
    sys.exit(1)


def read_lines(path):
    if not os.path.exists(path):
        fail("%s is missing (from github.com/keunwoochoi/MSD_split_for_tagging)" % path)
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def read_tags(split_dir):
    path = os.path.join(split_dir, "tags.py")
    if not os.path.exists(path):
        fail("%s is missing (Choi's tag list, from github.com/keunwoochoi/MSD_split_for_tagging)" % path)
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TAGS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    fail("%s has no TAGS = [...] list" % path)


NPY_TYPES = {"f4": "f", "f8": "d", "i1": "b", "u1": "B", "b1": "?", "i2": "h", "u2": "H", "i4": "i", "u4": "I",
             "i8": "q", "u8": "Q"}


def read_npy_matrix(path):
    """A 2-D numeric .npy array as a list of rows, with the standard library."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        fail("%s is not a .npy file" % path)
    if data[6] == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        off = 10
    else:
        (hlen,) = struct.unpack("<I", data[8:12])
        off = 12
    header = ast.literal_eval(data[off:off + hlen].decode("latin1"))
    off += hlen
    descr, shape, fortran = header["descr"], header["shape"], header["fortran_order"]
    code = NPY_TYPES.get(descr[1:])
    if code is None or len(shape) != 2:
        fail("%s: expected a 2-D numeric array, found dtype %r shape %r" % (path, descr, shape))
    endian = ">" if descr[0] == ">" else "<"
    n, k = shape
    values = struct.unpack_from("%s%d%s" % (endian, n * k, code), data, off)
    if fortran:
        return [[values[j * n + i] for j in range(k)] for i in range(n)]
    return [list(values[i * k:(i + 1) * k]) for i in range(n)]


def lastfm_labels(db_path, msd_ids, tags):
    if not os.path.exists(db_path):
        fail("%s is missing (the Last.fm dataset's lastfm_tags.db)" % db_path)
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    tag_rowid = {}
    for t in tags:
        row = con.execute("SELECT ROWID FROM tags WHERE tag = ?", (t,)).fetchone()
        if row:
            tag_rowid[row[0]] = t
    out = {}
    for tid in msd_ids:
        present = set()
        for tag, val in con.execute(
                "SELECT tid_tag.tag, tid_tag.val FROM tid_tag, tids WHERE tid_tag.tid = tids.ROWID AND tids.tid = ?",
                (tid,)):
            if tag in tag_rowid and val > 50:
                present.add(tag_rowid[tag])
        out[tid] = [t for t in tags if t in present]
    con.close()
    return out


def main():
    ap = argparse.ArgumentParser(description="MSD (Choi's split) -> FILES.csv for auratag prep")
    ap.add_argument("split_dir", help="checkout of keunwoochoi/MSD_split_for_tagging")
    ap.add_argument("audio_dir", help="root of the 7digital previews (D/D/ID.clip.mp3)")
    ap.add_argument("--out", required=True, help="FILES.csv to write (paths relative to its folder)")
    ap.add_argument("--labels", choices=("npy", "lastfm"), help="label source (default: npy if all *_y.npy exist)")
    ap.add_argument("--lastfm", help="lastfm_tags.db (SQLite) for --labels lastfm")
    ap.add_argument("--audio-suffix", default=".clip.mp3", help="replaces .npy in the list's names")
    ap.add_argument("--strict", action="store_true", help="a missing or empty preview is an error")
    ap.add_argument("--drop-bad", action="store_true", help="leave out the ids of train_x_7d_bad_duration_id.txt "
                    "and train_x_7d_invalid_audio_id.txt")
    a = ap.parse_args()

    tags = read_tags(a.split_dir)
    have_npy = all(os.path.exists(os.path.join(a.split_dir, "%s_y.npy" % s)) for s in SPLITS)
    labels = a.labels or ("lastfm" if a.lastfm else "npy")
    if labels == "npy" and not have_npy:
        fail("%s lacks some of train_y.npy, valid_y.npy, test_y.npy; give the Last.fm tags instead: "
             "--lastfm lastfm_tags.db" % a.split_dir)
    if labels == "lastfm" and not a.lastfm:
        fail("--labels lastfm needs --lastfm lastfm_tags.db")

    bad = set()
    if a.drop_bad:
        for name in ("train_x_7d_bad_duration_id.txt", "train_x_7d_invalid_audio_id.txt"):
            p = os.path.join(a.split_dir, name)
            if os.path.exists(p):
                bad |= set(read_lines(p))

    out_dir = os.path.dirname(os.path.abspath(a.out))
    audio_dir = os.path.abspath(a.audio_dir)
    rows, counts, missing, dropped = [], [], 0, 0
    for split in SPLITS:
        names = read_lines(os.path.join(a.split_dir, "%s_x_filename.txt" % split))
        if labels == "npy":
            y = read_npy_matrix(os.path.join(a.split_dir, "%s_y.npy" % split))
            if len(y) != len(names) or (y and len(y[0]) != len(tags)):
                fail("%s_y.npy is %dx%d; %s_x_filename.txt has %d lines and tags.py %d tags"
                     % (split, len(y), len(y[0]) if y else 0, split, len(names), len(tags)))
            present = [[t for t, v in zip(tags, row) if v != 0] for row in y]
        else:
            ids = read_lines(os.path.join(a.split_dir, "%s_x_msd_id.txt" % split))
            if len(ids) != len(names):
                fail("%s_x_msd_id.txt has %d lines, %s_x_filename.txt %d" % (split, len(ids), split, len(names)))
            by_id = lastfm_labels(a.lastfm, ids, tags)
            present = [by_id[i] for i in ids]
        n = 0
        for name, t in zip(names, present):
            if not name.endswith(".npy"):
                fail("%s_x_filename.txt: %r does not end in .npy" % (split, name))
            if os.path.basename(name)[:-4] in bad:
                dropped += 1
                continue
            path = os.path.join(audio_dir, name[:-4] + a.audio_suffix)
            if not os.path.isfile(path) or os.path.getsize(path) == 0:
                missing += 1
                if a.strict:
                    fail("preview %s is missing or empty" % path)
                continue
            rows.append((os.path.relpath(path, out_dir), split, ";".join(t)))
            n += 1
        counts.append(n)

    os.makedirs(out_dir, exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "split", "tags"])
        w.writerows(rows)
    os.replace(tmp, a.out)
    print("msd.py: train %d, valid %d, test %d tracks, %d tags (labels: %s) -> %s"
          % (counts[0], counts[1], counts[2], len(tags), labels, a.out))
    if missing:
        print("msd.py: left out %d tracks whose preview is missing or empty under %s" % (missing, audio_dir))
    if dropped:
        print("msd.py: left out %d tracks listed as bad (--drop-bad)" % dropped)
    if tuple(counts) != PUBLISHED:
        print("msd.py: note: the published split has %d / %d / %d tracks" % PUBLISHED)


if __name__ == "__main__":
    main()
