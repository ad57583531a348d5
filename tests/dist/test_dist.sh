#!/usr/bin/env bash
# Data-parallel training on the CPU with Open MPI (2 ranks on this machine):
#  - 2 ranks with half of every batch each end with the same weights, after
#    K steps, as 1 rank accumulating the gradients of the same two halves
#    (train.micro_batches = 2), within 1e-5;
#  - a 2-rank run killed with SIGKILL and resumed by 2 ranks ends equal to an
#    uninterrupted 2-rank run; resuming with another number of ranks is
#    refused;
#  - ranks started with different configs are stopped at start-up;
#  - a rank that hangs (SIGSTOP) or dies (SIGKILL) does not leave the others
#    waiting: the job ends, naming the rank.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
if ! command -v mpirun >/dev/null || [ ! -f "$BUILD/mpi-1" ]; then
  echo "SKIP no MPI in this build ($BUILD/mpi-1 missing: install libopenmpi-dev openmpi-bin and rebuild)"
  exit 0
fi
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
"$AT" synth "$work/d" --tags 8 --train 240 --valid 32 --test 32 --seed 3 >/dev/null || failed "synth"
base=(configs/experiments/synth_pons_frequency.ini --set "data.train=$work/d/train.h5" --set "data.valid=$work/d/valid.h5"
  --set "data.test=$work/d/test.h5" --set "train.root=$work/runs" --set train.batch=16 --set data.threads=1
  --set train.log_every=1000)

weights_diff() { # a.h5 b.h5 -> largest relative difference of the weights
  $PY - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
out = []
def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and name.startswith("params/"):
        x, y = np.asarray(obj, np.float64), np.asarray(b[name], np.float64)
        out.append(float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)))
a.visititems(visit)
print("%.3g" % max(out) if out else "nan")
PYEOF
}

# ---- 2 ranks = 1 rank accumulating the same two halves
"$AT" train "${base[@]}" --set train.run=acc --set train.micro_batches=2 --set train.max_steps=12 >"$work/acc.txt" 2>&1 ||
  failed "1 rank, 2 micro-batches: $(tail -3 "$work/acc.txt")"
"${MPIRUN[@]}" -np 2 "$AT" train "${base[@]}" --set train.run=dp --set train.max_steps=12 >"$work/dp.txt" 2>&1 ||
  failed "2 ranks: $(tail -5 "$work/dp.txt")"
d=$(weights_diff "$work/runs/acc/last.h5" "$work/runs/dp/last.h5")
if $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1e-5 else 1)" "$d"; then
  pass "2 ranks x half batches = 1 rank accumulating the two halves after 12 steps: largest weight difference $d"
else
  failed "2 ranks vs gradient accumulation: largest weight difference $d"
fi
grep -q "data parallel: 2 rank" "$work/dp.txt" && [ "$(grep -c '^training ' "$work/dp.txt")" = 1 ] &&
  pass "rank 0 alone prints (one 'training' line for 2 ranks)" || failed "rank output: $(head -5 "$work/dp.txt")"
[ "$(ls "$work/runs/dp/tb" | grep -c tfevents)" = 1 ] &&
  pass "rank 0 alone writes TensorBoard events (one file in tb/ for 2 ranks)" || failed "tb/: $(ls "$work/runs/dp/tb")"

# ---- the GPU path: 2 ranks of the CUDA backend (kernels emulated, the NCCL
# code of ./auratag on a test double of NCCL that sums through MPI)
EMU=$BUILD/tests/cuda/auratag_emu
if [ -x "$EMU" ]; then
  if "${MPIRUN[@]}" -np 2 "$EMU" train "${base[@]}" --set train.run=gpu --set train.max_steps=4 --set train.batch=8 \
    --set train.backend=cuda --set train.deterministic=true >"$work/gpu.txt" 2>&1 &&
    "${MPIRUN[@]}" -np 2 "$AT" train "${base[@]}" --set train.run=cpu2 --set train.max_steps=4 --set train.batch=8 \
      --set train.backend=cpu >"$work/cpu2.txt" 2>&1; then
    d=$(weights_diff "$work/runs/cpu2/last.h5" "$work/runs/gpu/last.h5")
    if grep -q "cuemu" "$work/gpu.txt" && $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1e-5 else 1)" "$d"; then
      pass "2 ranks on the CUDA backend (NCCL all-reduce, emulated) = 2 ranks on the CPU: largest weight difference $d"
    else
      failed "2 ranks CUDA vs CPU: difference $d; $(grep -m1 backend "$work/gpu.txt")"
    fi
  else
    failed "2 ranks on the emulated CUDA backend: $(tail -3 "$work/gpu.txt") $(tail -3 "$work/cpu2.txt")"
  fi
fi

# ---- killed (SIGKILL, all ranks) and resumed = uninterrupted
"${MPIRUN[@]}" -np 2 "$AT" train "${base[@]}" --set train.run=whole --set train.max_steps=80 --set train.checkpoint_every=4 \
  >"$work/whole.txt" 2>&1 || failed "uninterrupted 2-rank run: $(tail -3 "$work/whole.txt")"
"${MPIRUN[@]}" -np 2 "$AT" train "${base[@]}" --set train.run=killed --set train.max_steps=80 --set train.checkpoint_every=4 \
  >"$work/killed.txt" 2>&1 &
job=$!
for _ in $(seq 1 600); do
  n=$(grep -c '"type": "step"' "$work/runs/killed/log.jsonl" 2>/dev/null); n=${n:-0}
  [ "$n" -ge 16 ] && break
  sleep 0.05
done
pkill -9 -f "train.run=killed" 2>/dev/null
wait $job 2>/dev/null
steps=$(grep -c '"type": "step"' "$work/runs/killed/log.jsonl" 2>/dev/null); steps=${steps:-0}
if [ "$steps" -ge 80 ]; then
  failed "the run finished before it could be killed ($steps steps)"
elif "${MPIRUN[@]}" -np 2 "$AT" train --resume "$work/runs/killed" >"$work/resume.txt" 2>&1; then
  d=$(weights_diff "$work/runs/whole/last.h5" "$work/runs/killed/last.h5")
  if [ "$d" = 0 ]; then pass "2 ranks killed after $steps steps and resumed by 2 ranks = uninterrupted (bit for bit)"
  else failed "killed + resumed differs from uninterrupted: $d"; fi
else
  failed "resume with 2 ranks: $(tail -3 "$work/resume.txt")"
fi
fails "resume with another number of ranks" "resume it with as many (mpirun -np 2)" \
  "$AT" train --resume "$work/runs/killed"

# ---- different configs on the two ranks
if "${MPIRUN[@]}" -np 1 "$AT" train "${base[@]}" --set train.run=mm --set train.lr=0.01 : \
  -np 1 "$AT" train "${base[@]}" --set train.run=mm --set train.lr=0.02 >"$work/mm.txt" 2>&1; then
  failed "mismatched configs were not noticed"
elif grep -q "rank(s) 1 run with another experiment config" "$work/mm.txt"; then
  pass "ranks with different configs stop at start-up: $(grep -m1 'another experiment' "$work/mm.txt")"
else
  failed "mismatched configs: $(tail -3 "$work/mm.txt")"
fi

# ---- another binary on one rank (a copy with one byte more: a different build)
cp "$AT" "$work/auratag_other" && printf 'x' >>"$work/auratag_other"
if "${MPIRUN[@]}" -np 1 "$AT" train "${base[@]}" --set train.run=mb : -np 1 "$work/auratag_other" train "${base[@]}" \
  --set train.run=mb >"$work/mb.txt" 2>&1; then
  failed "different binaries were not noticed"
elif grep -q "rank(s) 1 run with another auratag binary" "$work/mb.txt"; then
  pass "ranks running different auratag binaries stop at start-up"
else
  failed "different binaries: $(tail -3 "$work/mb.txt")"
fi

# ---- a rank that hangs (SIGSTOP) or dies (SIGKILL)
rank_pid() { # run-name rank -> pid of that rank's process
  for p in $(pgrep -f "train.run=$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then echo "$p"; return; fi
  done
}
fault() { # name signal
  local name=$1 sig=$2
  "${MPIRUN[@]}" -np 2 "$AT" train "${base[@]}" --set "train.run=$name" --set train.max_steps=100000 \
    --set train.epochs=1000 --set train.collective_timeout=4 >"$work/$name.txt" 2>&1 &
  local job=$! pid=""
  for _ in $(seq 1 400); do
    [ -s "$work/runs/$name/log.jsonl" ] && pid=$(rank_pid "$name" 1) && [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] && kill "-$sig" "$pid"
  local t0=$SECONDS
  for _ in $(seq 1 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then
    failed "$name: the job still runs $((SECONDS - t0)) s after rank 1 got SIG$sig"
    pkill -9 -f "train.run=$name"
    wait $job 2>/dev/null
    return 1
  fi
  wait $job 2>/dev/null
  pkill -9 -f "train.run=$name" 2>/dev/null
  echo $((SECONDS - t0))
}
if secs=$(fault hang STOP); then
  if grep -Eq "rank\(s\) 1 (did not reach|stopped answering inside) the" "$work/hang.txt"; then
    pass "a hung rank (SIGSTOP) ends the job in ${secs} s (timeout 4 s): $(grep -Eo 'rank\(s\) 1 [a-z ]+ the [a-z ]+ collective' "$work/hang.txt" | head -1)"
  else
    failed "hung rank: message lacks the rank: $(cat "$work/hang.txt")"
  fi
fi
if secs=$(fault dead KILL); then
  if grep -Eqi "rank 1|rank\(s\) 1" "$work/dead.txt"; then
    pass "a dead rank (SIGKILL) ends the job in ${secs} s, naming it: $(grep -Ei -m1 'rank 1|rank\(s\) 1' "$work/dead.txt" | cut -c1-120)"
  else
    failed "dead rank: message lacks the rank: $(tail -6 "$work/dead.txt")"
  fi
fi

# ---- SIGTERM to one rank: the ranks agree (through the step's collective), stop after the same step with a
# checkpoint, and the run resumed by 2 ranks equals the uninterrupted one
"${MPIRUN[@]}" -np 2 "$AT" train "${base[@]}" --set train.run=termed --set train.max_steps=80 --set train.checkpoint_every=4 \
  >"$work/termed.txt" 2>&1 &
job=$!
pid=""
for _ in $(seq 1 600); do
  n=$(grep -c '"type": "step"' "$work/runs/termed/log.jsonl" 2>/dev/null); n=${n:-0}
  [ "$n" -ge 10 ] && pid=$(rank_pid termed 1) && [ -n "$pid" ] && break
  sleep 0.05
done
[ -n "$pid" ] && kill -TERM "$pid"
wait $job
rc=$?
stop=$(grep -o "stopped by SIGTERM after step [0-9]*" "$work/termed.txt" | grep -o "[0-9]*$")
saved=$($PY -c "import h5py; print(h5py.File('$work/runs/termed/last.h5', 'r')['train'].attrs['step'])" 2>/dev/null)
if [ $rc != 0 ] && [ -n "$stop" ] && [ "$stop" = "$saved" ] && [ "$stop" -lt 80 ] &&
   "${MPIRUN[@]}" -np 2 "$AT" train --resume "$work/runs/termed" >"$work/termed2.txt" 2>&1 &&
   [ "$(weights_diff "$work/runs/whole/last.h5" "$work/runs/termed/last.h5")" = 0 ]; then
  pass "SIGTERM to rank 1 alone: both ranks stopped after step $stop with its checkpoint; resumed = uninterrupted"
else
  failed "SIGTERM to one rank: rc $rc, stop '$stop', checkpoint step '$saved': $(tail -4 "$work/termed.txt") $(tail -2 "$work/termed2.txt" 2>/dev/null)"
fi
exit $fail
