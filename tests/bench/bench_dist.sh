#!/usr/bin/env bash
# Data parallelism on this machine (CPU backend, Open MPI over shared
# memory): the all-reduce of FCN-4's 17.4 M-parameter gradient on 2 ranks,
# and training throughput of 1 vs 2 ranks on the same global batch
# (pons_timefreq, synthetic 40x80 data; each rank on one core, OMP_NUM_THREADS=1;
# 1 rank is measured with 1 and with 2 threads: the fair comparison on 2 cores).
set -u
cd "$(dirname "$0")/../.."
BUILD=${AURATAG_BUILD:-build}
AT=$BUILD/auratag
if ! command -v mpirun >/dev/null || [ ! -f "$BUILD/mpi-1" ]; then echo "bench_dist: no MPI in this build"; exit 0; fi
export OMPI_MCA_btl=self,vader OMP_WAIT_POLICY=passive
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
out=$BUILD/bench/dist
rm -rf "$out"
mkdir -p "$out"
echo "== all-reduce: ${MPIRUN[*]} -np 2 $BUILD/tests/bench/bench_allreduce 17365938 10"
OMP_NUM_THREADS=1 "${MPIRUN[@]}" -np 2 "$BUILD/tests/bench/bench_allreduce" 17365938 10
"$AT" synth "$out/d" --tags 8 --train 2048 --valid 64 --test 64 --seed 1 >/dev/null
cfg=(configs/experiments/synth_pons_timefreq.ini)
[ -f "${cfg[0]}" ] || cfg=(configs/experiments/synth_pons_time.ini)
common=(--set "data.train=$out/d/train.h5" --set "data.valid=$out/d/valid.h5" --set "data.test=$out/d/test.h5"
  --set "train.root=$out/runs" --set train.batch=64 --set train.max_steps=60 --set data.threads=1 --set train.log_every=1000)
run() { # label threads ranks
  local label=$1 threads=$2 ranks=$3 t0 t1
  t0=$(date +%s.%N)
  if [ "$ranks" = 1 ]; then
    OMP_NUM_THREADS=$threads "$AT" train "${cfg[@]}" "${common[@]}" --set "train.run=$label" >"$out/$label.txt" 2>&1
  else
    OMP_NUM_THREADS=$threads "${MPIRUN[@]}" -np "$ranks" "$AT" train "${cfg[@]}" "${common[@]}" --set "train.run=$label" \
      >"$out/$label.txt" 2>&1
  fi || { echo "DIST $label: failed: $(tail -2 "$out/$label.txt")"; return; }
  t1=$(date +%s.%N)
  # steps 11..60 from the log's step times (the first ten warm up)
  /usr/bin/python3 - "$out/runs/$label/log.jsonl" "$label" "$ranks" "$threads" <<'PYEOF'
import json, sys
rates = [json.loads(l)["samples_per_s"] for l in open(sys.argv[1]) if '"type": "step"' in l][10:]
ranks = int(sys.argv[3])
# each rank logs the rows it trained; the global rate is ranks x that
per = sorted(rates)[len(rates) // 2] * ranks
print(f"DIST {sys.argv[2]}: ranks={ranks} threads_per_rank={sys.argv[4]} global_batch=64 samples_per_s={per:.0f}")
PYEOF
}
run r1t1 1 1
run r1t2 2 1
run r2t1 1 2
