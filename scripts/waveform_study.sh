#!/usr/bin/env bash
# The waveform-vs-spectrogram data-size study on the demo renderer's data
# (configs/sweeps/demo_waveform_data.ini; docs/waveform.md): renders
# data/demo1k (1,000 clips) and its three caches when missing, then runs the
# sweep (cells already done are skipped). Extra arguments go to sweep.py
# (--jobs, --slurm, --collect, ...). AURATAG names the binary (default
# build/auratag).
set -eu
cd "$(dirname "$0")/.."
at=${AURATAG:-build/auratag}
[ -x "$at" ] || { echo "waveform_study.sh: $at is missing: run make first (or set AURATAG)" >&2; exit 2; }
d=data/demo1k
[ -f "$d/files.csv" ] || "$at" demo-data "$d" --clips 1000 --seed 2 --quiet
[ -f "$d/cache-samplecnn/test.h5" ] ||
  "$at" prep configs/datasets/demo_samplecnn.ini --list "$d/files.csv" --out "$d/cache-samplecnn"
[ -f "$d/cache-musicnn/test.h5" ] ||
  "$at" prep configs/datasets/demo_tags_musicnn.ini --set frontend.compression=log10_1p --list "$d/files.csv" \
    --out "$d/cache-musicnn"
[ -f "$d/cache/test.h5" ] || "$at" prep configs/datasets/demo.ini --list "$d/files.csv" --out "$d/cache"
AURATAG=$at exec /usr/bin/python3 scripts/sweep.py configs/sweeps/demo_waveform_data.ini "$@"
