#!/usr/bin/env bash
# The engine demo (the main job until `auratag train` lands with issue 3):
# layer tables of the papers' models, seeded initial weights for each, and
# real training steps (forward, loss, backward, Adam) on the CPU backend.
set -eu
cd "$(dirname "$0")/.."
BUILD=${AURATAG_BUILD:-build}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} OMP_WAIT_POLICY=passive
out=checkpoints/demo
mkdir -p "$out"

for m in fcn4 pons_timefreq; do
  echo "== auratag model configs/models/$m.ini"
  ./auratag model "configs/models/$m.ini"
  echo
done

echo "== initial weights for every shipped model (HDF5, readable with h5py)"
for config in configs/models/*.ini; do
  ./auratag init "$config" -o "$out/$(basename "$config" .ini)-init.h5" --seed 1
done
echo

echo "== training steps of Pons' Time-Frequency net (batch 10, as the paper), CPU backend"
"$BUILD/tests/bench/bench_step" configs/models/pons_timefreq.ini --batch 10 --warmup 2 --steps 20 --label demo
echo
echo "== training steps of Choi's FCN-4 at its real input (96x1366, batch 4), CPU backend"
"$BUILD/tests/bench/bench_step" configs/models/fcn4.ini --batch 4 --warmup 1 --steps 3 --label demo
