#!/usr/bin/python3
"""Ballroom (ISMIR 2004 tempo contest data, as Pons et al. CBMI 2016 used it)
-> FILES.csv for `auratag prep` with 10 cross-validation folds over songs.

Input (not redistributable: obtain BallroomData from the MTG, data1.tar.gz,
see github.com/CPJKU/BallroomAnnotations; auratag never downloads it):
  BALLROOM_DIR  the class folders of audio files: ChaChaCha, Jive, Quickstep,
                Rumba, Samba, Tango, VienneseWaltz, Waltz -- 698 excerpts of
                about 30 s. The archive splits Rumba into Rumba-American,
                Rumba-International and Rumba-Misc; any folder named Rumba-*
                is the class Rumba, so that there are 8 classes as in Pons'
                code (jordipons/CBMI2016 load_datasets.py).

Output columns: path, split (empty: folds), tags (the class), song (the file:
each excerpt is one song, so prep gives all its 80-frame chunks one song id),
fold (0..K-1). Folds: a seeded shuffle of the songs cut into K contiguous
blocks, as sklearn KFold(n_splits=K, shuffle=True): the first n % K folds hold
one song more (698 songs: 8 folds of 70, 2 of 69). --stratify deals each
class's shuffled songs round-robin instead (elmarc's Extended Ballroom used
stratified folds; Pons did not).

Usage:
  scripts/recipes/ballroom.py BALLROOM_DIR --out data/ballroom/files.csv [--folds 10] [--seed 1] [--stratify]
Standard library only.
"""
import argparse
import csv
import os
import random
import sys

AUDIO_EXT = (".wav", ".mp3", ".flac", ".ogg", ".au", ".aif", ".aiff")
PONS_CLASSES = {"ChaChaCha", "Jive", "Quickstep", "Rumba", "Samba", "Tango", "VienneseWaltz", "Waltz"}


def fail(msg):
    sys.stderr.write("ballroom.py: error: %s\n" % msg)
    sys.exit(1)


def class_of(folder):
    return "Rumba" if folder.startswith("Rumba-") else folder


def main():
    ap = argparse.ArgumentParser(description="Ballroom -> FILES.csv with song ids and K folds")
    ap.add_argument("ballroom_dir", help="folder holding the class folders (BallroomData)")
    ap.add_argument("--out", required=True, help="FILES.csv to write (paths relative to its folder)")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stratify", action="store_true", help="stratified folds (classes dealt round-robin)")
    a = ap.parse_args()
    if a.folds < 2:
        fail("--folds must be at least 2")
    root = os.path.abspath(a.ballroom_dir)
    if not os.path.isdir(root):
        fail("%s is not a folder" % root)

    songs = []  # (relative path under root, class)
    for folder in sorted(os.listdir(root)):
        d = os.path.join(root, folder)
        if not os.path.isdir(d) or folder.startswith("."):
            continue
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.lower().endswith(AUDIO_EXT) and not fn.startswith("."):
                    songs.append((os.path.relpath(os.path.join(dirpath, fn), root), class_of(folder)))
    if not songs:
        fail("no audio files (%s) in class folders under %s" % (" ".join(AUDIO_EXT), root))
    classes = sorted({c for _, c in songs})
    if len(songs) < a.folds:
        fail("%d songs cannot make %d folds" % (len(songs), a.folds))

    rng = random.Random(a.seed)
    fold = {}
    if a.stratify:
        k = 0
        for c in classes:
            members = [s for s in songs if s[1] == c]
            rng.shuffle(members)
            for s in members:
                fold[s[0]] = k % a.folds
                k += 1
    else:
        order = list(songs)
        rng.shuffle(order)
        n = len(order)
        start = 0
        for k in range(a.folds):
            size = n // a.folds + (1 if k < n % a.folds else 0)
            for s in order[start:start + size]:
                fold[s[0]] = k
            start += size

    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "split", "tags", "song", "fold"])
        for rel, c in songs:
            w.writerow([os.path.relpath(os.path.join(root, rel), out_dir), "", c, rel, fold[rel]])
    os.replace(tmp, a.out)

    sizes = [sum(1 for v in fold.values() if v == k) for k in range(a.folds)]
    print("ballroom.py: %d songs, %d classes (%s), %d folds of %s songs -> %s"
          % (len(songs), len(classes), ", ".join("%s %d" % (c, sum(1 for s in songs if s[1] == c)) for c in classes),
             a.folds, "/".join(map(str, sizes)), a.out))
    if set(classes) != PONS_CLASSES:
        print("ballroom.py: note: Pons et al. used the 8 classes %s" % ", ".join(sorted(PONS_CLASSES)))
    if len(songs) != 698:
        print("ballroom.py: note: the Ballroom dataset has 698 excerpts; found %d" % len(songs))


if __name__ == "__main__":
    main()
