#!/usr/bin/python3
"""Soundtracks: a small single-label task on real recorded music from Debian
packages -> audio files and FILES.csv for `auratag prep`. It is the few-data
experiment's real-recordings task (scripts/fewdata.py, docs/transfer.md).

Classes (which soundtrack a 3 s excerpt comes from) and their sources, all
installed by scripts/install-deps.sh:
  adventure  drascula-music: the Drascula adventure game's 31 CD tracks
  racing     extremetuxracer-data: Extreme Tux Racer's 10 music tracks
  muldjord   fretsonfire-songs-muldjord: 4 metal songs by Lars Muldjord
  sectoid    fretsonfire-songs-sectoid: 4 rock songs by Sectoid
Fret's on Fire songs come as stems (song.ogg, guitar.ogg, ...): they are
mixed back into the whole song.

Split by track, so that no track lends excerpts to two splits: within each
class the tracks, sorted by name, go to test when their index is 2 mod 3
(31 -> 21 train / 10 test; 10 -> 7 / 3; 4 -> 3 / 1), the rest to train. prep
then cuts every track into 187-frame (3 s) examples (configs/datasets/
soundtracks.ini): the training split is the pool a few-data run draws k
examples per class from ([data] per_class).

Level: every track is converted to 16 kHz mono and its peak set to -20 dBFS
(sox norm), because musicnn's float16 front end overflows on loud input
(configs/datasets/musicnn.ini).

Usage:
  scripts/recipes/soundtracks.py OUT_DIR        # writes OUT_DIR/audio/*.wav and OUT_DIR/files.csv
Needs sox. Standard library only.
"""
import argparse
import csv
import glob
import os
import subprocess
import sys

SOURCES = {
    "adventure": ("drascula-music", "/usr/share/scummvm/drascula/audio/track*.ogg"),
    "racing": ("extremetuxracer-data", "/usr/share/games/etr/music/*.ogg"),
    "muldjord": ("fretsonfire-songs-muldjord", "/usr/share/games/fretsonfire/data/songs/muldjord/*/song.ogg"),
    "sectoid": ("fretsonfire-songs-sectoid", "/usr/share/games/fretsonfire/data/songs/sectoid/*/song.ogg"),
}
PEAK_DBFS = -20


def fail(msg):
    sys.stderr.write("soundtracks.py: error: %s\n" % msg)
    sys.exit(1)


def tracks(pattern):
    """(name, [files to mix]) per track, sorted by name."""
    out = []
    for path in sorted(glob.glob(pattern)):
        if os.path.basename(path) == "song.ogg":  # Fret's on Fire: the song's folder holds its stems
            folder = os.path.dirname(path)
            stems = sorted(glob.glob(os.path.join(folder, "*.ogg")))
            out.append((os.path.basename(folder), stems))
        else:
            out.append((os.path.splitext(os.path.basename(path))[0], [path]))
    return sorted(out)


def convert(stems, dst):
    mix = ["-m"] + stems if len(stems) > 1 else stems
    cmd = ["sox", "-q"] + mix + ["-r", "16000", "-c", "1", "-b", "16", dst, "norm", str(PEAK_DBFS)]
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser(description="soundtracks of Debian packages -> audio + FILES.csv")
    ap.add_argument("out_dir")
    args = ap.parse_args()
    audio = os.path.join(args.out_dir, "audio")
    os.makedirs(audio, exist_ok=True)
    rows = []
    for label, (package, pattern) in SOURCES.items():
        found = tracks(pattern)
        if len(found) < 3:
            fail("class %s: found %d tracks at %s; install the Debian package %s (scripts/install-deps.sh)"
                 % (label, len(found), pattern, package))
        for index, (name, stems) in enumerate(found):
            rel = "audio/%s-%s.wav" % (label, name.replace(" ", "_"))
            dst = os.path.join(args.out_dir, rel)
            if not os.path.exists(dst):
                tmp = dst + ".tmp.wav"
                convert(stems, tmp)
                os.replace(tmp, dst)
            rows.append({"path": rel, "tags": label, "split": "test" if index % 3 == 2 else "train",
                         "song": "%s/%s" % (label, name)})
    files = os.path.join(args.out_dir, "files.csv")
    with open(files + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "tags", "split", "song"])
        w.writeheader()
        w.writerows(rows)
    os.replace(files + ".tmp", files)
    for split in ("train", "test"):
        counts = {c: sum(r["split"] == split and r["tags"] == c for r in rows) for c in SOURCES}
        print("%s: %s" % (split, ", ".join("%s %d tracks" % kv for kv in counts.items())))
    print("wrote %s (%d tracks)" % (files, len(rows)))


if __name__ == "__main__":
    main()
