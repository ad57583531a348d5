#!/usr/bin/env bash
# The main job: train on the built-in demo dataset and evaluate.
# Until real audio arrives (`auratag prep`, issue 4), the demo dataset is the
# synthetic tagging set of `auratag synth`: 40 mel x 80 frames, 8 tags, each a
# frequency band and an onset rate. Pons et al.'s Time architecture learns it.
set -eu
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ ! -f data/synth/test.h5 ]; then
  echo "== auratag synth data/synth --tags 8 --patterns both"
  ./auratag synth data/synth --tags 8 --patterns both
fi
run="demo-$(date +%Y%m%d-%H%M%S)"
echo "== auratag model configs/experiments/synth_pons_time.ini"
./auratag model configs/experiments/synth_pons_time.ini
echo
echo "== auratag train configs/experiments/synth_pons_time.ini --set train.run=$run"
./auratag train configs/experiments/synth_pons_time.ini --set "train.run=$run"
echo
echo "== auratag eval checkpoints/$run data/synth/test.h5"
./auratag eval "checkpoints/$run" data/synth/test.h5 --json "checkpoints/$run/test-eval.json"
echo
echo "run folder: checkpoints/$run (config.ini, log.jsonl, best.h5, last.h5, results.json)"
