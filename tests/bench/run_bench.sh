#!/usr/bin/env bash
# auratag benchmark suite (`make bench`): the OpenBLAS sgemm ceiling, then full
# training steps (forward, loss, backward, Adam) of auratag's CPU backend next
# to the same step in PyTorch 1.13, all on the same threads, in one run.
#
#   sgemm 1024^3, 2048^3                         OpenBLAS, the ceiling
#   fcn4 (96x1366, batch 8)                      auratag | PyTorch default | PyTorch, glibc malloc tuned
#   pons_timefreq (40x80, batch 10 and 64)       auratag | PyTorch
#
# FLOPs = 6 x forward MACs per example for both sides (see bench_step.c).
# Environment:
#   AURATAG_BUILD       build directory (default build)
#   BENCH_THREADS       threads for both sides (default 2)
#   BENCH_STEPS         timed fcn4 steps (default 3; warmup BENCH_WARMUP, default 1)
#   BENCH_SMALL_STEPS   timed steps of the small models (default 200, warmup 10)
#   BENCH_MODELS        subset, e.g. "sgemm pons" (default "sgemm fcn4 pons"; "conv"
#                       adds bench_conv, the per-direction conv timings, if built)
#   PYTHON              the interpreter with torch (default /usr/bin/python3)
#   BENCH_KEEP_OPENBLAS_ENV=1  keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE from the
#                       caller's environment (by default they are unset so that
#                       OpenBLAS detects the CPU itself: a forced Haswell core
#                       halves sgemm on AVX-512 Zen; the forced value gets its own
#                       sgemm row so the cost shows)
# Output: the logs and a summary table on stdout; the table as JSON lines in
# $AURATAG_BUILD/bench/results.jsonl, every run's log beside it.
set -u
cd "$(dirname "$0")/../.."

BUILD=${AURATAG_BUILD:-build}
THREADS=${BENCH_THREADS:-2}
STEPS=${BENCH_STEPS:-3}
WARMUP=${BENCH_WARMUP:-1}
SMALL_STEPS=${BENCH_SMALL_STEPS:-200}
SMALL_WARMUP=10
MODELS=${BENCH_MODELS:-"sgemm fcn4 pons"}
PY=${PYTHON:-/usr/bin/python3}
BIN=$BUILD/tests/bench
OUT=$BUILD/bench
mkdir -p "$OUT"
RAW=$OUT/results.raw
: >"$RAW"
FAILED=0

# Same threading for both sides: one OpenMP pool of $THREADS, threads that
# sleep instead of spinning when idle (docs/cpu-performance.md).
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive
unset MALLOC_MMAP_MAX_ MALLOC_TRIM_THRESHOLD_
# OpenBLAS: our threads (the OpenMP flavour follows OMP_NUM_THREADS; PyTorch's
# libblas.so.3 is the pthread flavour, which reads OPENBLAS_NUM_THREADS) and,
# unless told otherwise, its own choice of kernels.
export OPENBLAS_NUM_THREADS=$THREADS
unset GOTO_NUM_THREADS
INHERITED_CORETYPE=${OPENBLAS_CORETYPE:-}
openblas_env_note="none set"
if [ "${BENCH_KEEP_OPENBLAS_ENV:-0}" != 1 ]; then
  inherited=""
  for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
    [ -n "${!v+x}" ] && inherited+="$v=${!v} "
    unset "$v"
  done
  [ -n "$inherited" ] && openblas_env_note="${inherited}inherited and UNSET for the runs (BENCH_KEEP_OPENBLAS_ENV=1 keeps them)"
else
  openblas_env_note="kept: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-<unset>}"
  INHERITED_CORETYPE=""
fi

overrides=""
for v in BENCH_THREADS BENCH_STEPS BENCH_WARMUP BENCH_SMALL_STEPS BENCH_MODELS BENCH_KEEP_OPENBLAS_ENV; do
  [ -n "${!v:-}" ] && overrides+="$v=${!v} "
done
echo "================================================================================"
echo "auratag benchmark — reproduce with:  cd $(pwd) && ${overrides}make bench"
echo "  (each run below also prints its own command line)"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores online," \
     "$(grep -m1 -o 'avx512f' /proc/cpuinfo || echo 'no avx512')," \
     "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
# The model name is often a bare "AMD EPYC" under a hypervisor: name the core
# from family / model (Zen 4 and Zen 5 differ 2x in AVX-512 FMA throughput).
read -r fam mod step <<<"$(awk -F: '/^cpu family/ {f = $2} /^model\t/ {m = $2} /^stepping/ {s = $2; exit} END {print f + 0, m + 0, s + 0}' /proc/cpuinfo)"
uarch=""
if grep -q -m1 AuthenticAMD /proc/cpuinfo; then
  case $fam in
    23) uarch="Zen/Zen 2" ;;
    25) if grep -q -m1 -w avx512f /proc/cpuinfo; then uarch="Zen 4"; else uarch="Zen 3"; fi ;;
    26) uarch="Zen 5" ;;
  esac
fi
echo "          family $fam model $mod stepping $step${uarch:+ = $uarch}, $(awk -F: '/cpu MHz/ {printf "%.0f MHz", $2; exit}' /proc/cpuinfo) nominal"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average before the run)"
echo "threads:  $THREADS (OMP_NUM_THREADS=$OMP_NUM_THREADS OMP_WAIT_POLICY=$OMP_WAIT_POLICY; torch.set_num_threads($THREADS))"
echo "compiler: $(${CC:-gcc} --version | head -1); flags of the build: see Makefile (OPT)"
if [ -x "$BIN/bench_sgemm" ]; then
  echo "libs:     $("$BIN/bench_sgemm" --version | grep '^LIBS' | cut -d' ' -f2-)"
fi
echo "openblas env: $openblas_env_note"
HAVE_TORCH=1
if torch_info=$("$PY" -c 'import torch; print("torch=%s mkldnn=%s" % (torch.__version__, torch.backends.mkldnn.is_available()))' 2>/dev/null); then
  echo "pytorch:  $torch_info ($PY)"
else
  echo "pytorch:  not importable with $PY — PyTorch rows skipped"
  HAVE_TORCH=0
fi
echo "================================================================================"

# CPU time of the whole machine (from /proc/stat, in clock ticks) so that the
# end can tell how much other processes competed with the benchmark.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
BUSY0=$(busy_ticks)
WALL0=$(date +%s.%N)

# run NAME -- command...: prints the command, runs it (log in $OUT/NAME.log),
# keeps its RESULT lines.
run() {
  local name=$1
  shift 2
  echo
  echo "---- $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "---- $name: exit $rc, $((SECONDS - t0)) s wall"
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "FAILED impl=? model=$name rc=$rc" >>"$RAW"
  fi
  grep '^RESULT ' "$OUT/$name.log" >>"$RAW"
}

torch_step() { # torch_step NAME [env ...] -- args...
  local name=$1
  shift
  if [ "$HAVE_TORCH" = 1 ]; then run "$name" -- "$@"; fi
}

has() { case " $MODELS " in *" $1 "*) return 0 ;; esac; return 1; }

if has sgemm; then
  run sgemm -- "$BIN/bench_sgemm" 1024 2048
  if [ -n "$INHERITED_CORETYPE" ]; then
    # What the inherited setting would have cost: the same sgemm under it.
    run "sgemm-coretype-$INHERITED_CORETYPE" -- env OPENBLAS_CORETYPE="$INHERITED_CORETYPE" \
      "$BIN/bench_sgemm" 2048 --impl "openblas-forced-$INHERITED_CORETYPE"
  fi
fi

if has conv && [ -x "$BIN/bench_conv" ]; then
  run conv -- "$BIN/bench_conv"
fi

if has fcn4; then
  CFG=configs/models/fcn4.ini
  run fcn4-auratag -- "$BIN/bench_step" "$CFG" --batch 8 --steps "$STEPS" --warmup "$WARMUP"
  torch_step fcn4-pytorch env -u MALLOC_MMAP_MAX_ -u MALLOC_TRIM_THRESHOLD_ \
    "$PY" tests/bench/torch_step.py "$CFG" --batch 8 --steps "$STEPS" --warmup "$WARMUP" \
    --threads "$THREADS" --impl pytorch
  # glibc malloc never returning big blocks to the kernel: half of PyTorch's
  # default step time is mmap/munmap of huge tensors (docs/cpu-performance.md).
  torch_step fcn4-pytorch-tuned env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 \
    "$PY" tests/bench/torch_step.py "$CFG" --batch 8 --steps "$STEPS" --warmup "$WARMUP" \
    --threads "$THREADS" --impl pytorch-tuned-malloc
fi

if has pons; then
  CFG=configs/models/pons_timefreq.ini
  for B in 10 64; do
    run "pons_timefreq-b$B-auratag" -- "$BIN/bench_step" "$CFG" --batch "$B" --steps "$SMALL_STEPS" \
      --warmup "$SMALL_WARMUP"
    torch_step "pons_timefreq-b$B-pytorch" "$PY" tests/bench/torch_step.py "$CFG" --batch "$B" \
      --steps "$SMALL_STEPS" --warmup "$SMALL_WARMUP" --threads "$THREADS" --impl pytorch
  done
fi

# Loader throughput (training mode, 2 threads by default): FCN-4-shaped float16
# cache from the page cache; target >= 4,000 examples/s. Runs by default or
# when BENCH_MODELS names "loader".
if [ -z "${BENCH_MODELS:-}" ] || has loader; then
  run loader -- "$BIN/bench_loader" --threads "$THREADS"
fi
if [ -z "${BENCH_MODELS:-}" ] || has prep; then run prep -- bash tests/bench/bench_prep.sh; fi  # prep throughput vs librosa (bench_prep.sh)
# data parallelism: FCN-4-sized all-reduce on 2 ranks, 1 vs 2 ranks of training (bench_dist.sh)
if [ -z "${BENCH_MODELS:-}" ] || has dist; then run dist -- bash tests/bench/bench_dist.sh; fi

# GPU memory of training (FCN-4 and musicnn at batch 32): every cudaMalloc of
# the CUDA backend counted by the runtime's test double, nothing run
# (tests/cuda/gpu_memory.c; docs/gpu-throughput.md section 3).
if [ -x "$BUILD/tests/cuda/gpu_memory" ] && { [ -z "${BENCH_MODELS:-}" ] || has gpumem; }; then
  run gpu-memory -- "$BUILD/tests/cuda/gpu_memory" configs/models/fcn4.ini 32 configs/models/musicnn.ini 32
fi

# ---- summary table + JSON lines ----
echo
# Our children's CPU seconds (bash `times`, second line) vs the machine's.
times >"$OUT/times.txt" # a builtin with a redirection runs in this shell, not a subshell
own_cpu=$(tail -1 "$OUT/times.txt" | awk '{ for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } } END { print t }')
awk -v b0="$BUSY0" -v b1="$(busy_ticks)" -v w0="$WALL0" -v w1="$(date +%s.%N)" -v own="$own_cpu" \
    -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" 'BEGIN {
  wall = w1 - w0; busy = (b1 - b0) / hz; other = busy - own; if (other < 0) other = 0
  printf "machine: %.0f s wall, %.0f core-s busy, %.0f of them ours; other processes used %.0f core-s (%.0f%% of the %d cores)%s\n",
         wall, busy, own, other, 100 * other / (wall * cores), cores,
         (other > 0.05 * wall * cores) ? " -- the figures are disturbed, rerun on a quiet machine" : ""
}'
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average after the run)"
"$PY" - "$RAW" "$OUT/results.jsonl" <<'EOF'
import json, sys

rows, failed = [], []
for line in open(sys.argv[1]):
    kind, *fields = line.split()
    d = dict(f.split("=", 1) for f in fields if "=" in f)
    (failed if kind == "FAILED" else rows).append(d)

def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None

ceiling = {d["model"]: num(d, "gflops") for d in rows if d.get("impl") == "openblas"}
sgemm_peak = ceiling.get("sgemm2048") or (max(ceiling.values()) if ceiling else None)
base = {(d["model"], d["batch"]): num(d, "ms_per_step") for d in rows if d.get("impl") == "pytorch"}

table, memory = [], []
for d in rows:
    if "device_bytes" in d:  # gpu_memory's counts, a table of their own
        memory.append({"model": d["model"], "impl": d["impl"],
                       **{k: int(v) for k, v in d.items() if k not in ("model", "impl")}})
        continue
    if d.get("impl", "").startswith("openblas"):
        rec = {"model": d["model"], "impl": d["impl"], "batch": None, "ms_per_step": num(d, "ms_per_call"),
               "ms_min": None, "samples_per_s": None, "gflops": num(d, "gflops"), "speed_vs_pytorch": None}
    else:
        b = base.get((d["model"], d["batch"]))
        ms = num(d, "ms_per_step")
        rec = {"model": d["model"], "impl": d["impl"], "batch": int(d["batch"]), "ms_per_step": ms,
               "ms_min": num(d, "ms_min"), "samples_per_s": num(d, "samples_per_s"), "gflops": num(d, "gflops"),
               "speed_vs_pytorch": (b / ms) if b and ms else None,
               "fwd_ms": num(d, "fwd_ms"), "bwd_ms": num(d, "bwd_ms"), "update_ms": num(d, "update_ms"),
               "steps": int(d.get("steps", 0)), "peak_rss_mb": num(d, "peak_rss_mb")}
    rec["threads"] = int(d["threads"]) if d.get("threads") else None
    rec["of_sgemm_peak"] = rec["gflops"] / sgemm_peak if sgemm_peak and rec["gflops"] else None
    table.append(rec)

with open(sys.argv[2], "w") as f:
    for rec in table + memory:
        f.write(json.dumps(rec) + "\n")

def fmt(v, spec):
    return "-" if v is None else format(v, spec)

hdr = ["model", "impl", "batch", "ms/step", "min ms", "fwd ms", "bwd ms", "samples/s", "GFLOP/s",
       "of sgemm", "vs PyTorch default"]
lines = []
for r in table:
    lines.append([r["model"], r["impl"], fmt(r["batch"], "d"), fmt(r["ms_per_step"], ".1f"), fmt(r["ms_min"], ".1f"),
                  fmt(r.get("fwd_ms"), ".1f"), fmt(r.get("bwd_ms"), ".1f"), fmt(r["samples_per_s"], ".2f"),
                  fmt(r["gflops"], ".1f"), fmt(r["of_sgemm_peak"] and 100 * r["of_sgemm_peak"], ".0f") + ("%" if r["of_sgemm_peak"] else ""),
                  fmt(r["speed_vs_pytorch"], ".2f") + ("x" if r["speed_vs_pytorch"] else "")])
w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(hdr)]
print("SUMMARY (median step; GFLOP/s = 6 x forward MACs x batch / median step; fwd = forward, "
      "bwd = loss + backward; 'of sgemm' = fraction of OpenBLAS sgemm 2048^3)")
print(" | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
print("-+-".join("-" * x for x in w))
for l in lines:
    print(" | ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(l)))
for m in memory:
    print(f"GPU memory, {m['model']} batch {m['batch']}: {m['device_bytes'] / 1e9:.2f} GB on the device "
          f"({m['gradient_buffers']} shared gradient buffers; {m['device_bytes_before_sharing'] / 1e9:.2f} GB with one per "
          f"layer), counted on the CUDA runtime's test double")
for d in failed:
    print(f"FAILED: {d.get('model')} (exit {d.get('rc')}) — see its log")
print(f"\nJSON lines: {sys.argv[2]}")
EOF

# The GPU: auratag selftest times an fcn4 training step (batch 32, FP32) after
# proving every op; on a machine without a GPU it says so (exit 77).
echo
echo "== GPU: $BUILD/auratag selftest --json $BUILD/bench/selftest.json"
"$BUILD/auratag" selftest --json "$BUILD/bench/selftest.json" | grep -E "^(selftest|ops|front|pons|fcn4)" ; rc=${PIPESTATUS[0]}
case $rc in
  0) echo "GPU figures: $BUILD/bench/selftest.json (docs/gpu-throughput.md has the predictions to compare)" ;;
  77) echo "GPU: none on this machine (selftest skipped); docs/gpu-throughput.md predicts the H100/H200 figures" ;;
  *) echo "GPU: selftest FAILED (exit $rc)"; FAILED=1 ;;
esac
[ "$FAILED" = 0 ] || { echo "some benchmark runs failed (see above)"; exit 1; }
