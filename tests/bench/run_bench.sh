#!/usr/bin/env bash
# auratag benchmark suite (`make bench`): the OpenBLAS sgemm ceiling, then full
# training steps (forward, loss, backward, Adam) of auratag's CPU backend next
# to the same step in four PyTorch configurations, all on the same threads, in
# one run; inference passes the same way; then the loader, prep, data-parallel
# and GPU sections.
#
#   sgemm 1024^3, 2048^3                         OpenBLAS, the ceiling
#   fcn4 (96x1366, batch 8)                      the five step implementations below, and auratag-im2col
#   pons (pons_timefreq 40x80, batch 10 and 64)  the five step implementations below
#   musicnn (96x187, batch 32)                   the five step implementations below
#   samplecnn (1x59049 samples, batch 16)        the five step implementations below (raw waveform,
#                                                conv1d; configs/models/samplecnn.ini)
#   infer: fcn4-infer, musicnn-infer (batch 32)  inference, as `auratag tag` / `predict` run it:
#                                                forward only, inference mode (BN on running
#                                                statistics, no dropout); PyTorch: model.eval(),
#                                                torch.inference_mode(); the five implementations
#   samplecnn-infer (batch 16)                   the same for SampleCNN; only when BENCH_MODELS
#                                                names it (not in the default list)
#
# Step implementations, each run BENCH_ROUNDS times, interleaved (round 1: every
# implementation once, round 2: every implementation once, ...), each run a
# fresh process:
#   auratag                          tests/bench/bench_step.c (--infer for inference)
#   auratag-im2col                   the same without Winograd (AURATAG_WINOGRAD=0), FCN-4 training only
#   pytorch-1.13                     Debian's PyTorch 1.13 ($PYTHON, default /usr/bin/python3),
#                                    tests/bench/torch_step.py (--infer for inference)
#   pytorch-1.13-tuned-malloc        the same with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000
#   pytorch-2.X                      PyPI's PyTorch 2 in .venv-bench (scripts/bench-venv.sh, made once)
#   pytorch-2.X-tuned-malloc         the same with the tuned glibc malloc
# The summary gives per model and implementation the min / median / max of
# examples/s over the rounds and the peak RSS (max over the rounds), and
# auratag's speed relative to the fastest PyTorch configuration (the one with
# the highest median examples/s) and to PyTorch 2 with its default allocator.
#
# FLOPs = 6 x forward MACs per example for both sides (see bench_step.c);
# inference rows (model NAME-infer) 2 x forward MACs.
# Environment:
#   AURATAG_BUILD       build directory (default build)
#   BENCH_THREADS       threads of sgemm, loader and the other sections (default 2)
#   BENCH_THREADS_LIST  thread counts the step benchmarks loop over (default
#                       $BENCH_THREADS), e.g. "1 2": the summary then prints
#                       auratag FCN-4's 2-thread / 1-thread ratio
#   BENCH_ROUNDS        rounds of the step benchmarks (default 3)
#   BENCH_STEPS         timed fcn4 steps per run (default 3)
#   BENCH_WARMUP        warmup steps of the fcn4, musicnn, samplecnn and infer runs (default 1)
#   BENCH_SMALL_STEPS   timed steps of the small models per run (default 200, warmup 10)
#   BENCH_MUSICNN_STEPS timed musicnn training steps per run (default 3)
#   BENCH_SAMPLECNN_STEPS  timed samplecnn training steps per run (default 3)
#   BENCH_INFER_STEPS   timed fcn4-infer passes per run (default 2)
#   BENCH_MUSICNN_INFER_STEPS  timed musicnn-infer passes per run (default 10)
#   BENCH_SAMPLECNN_INFER_STEPS  timed samplecnn-infer passes per run (default 3)
#   BENCH_MODELS        subset, e.g. "sgemm pons" (default "sgemm fcn4 pons musicnn samplecnn infer";
#                       "samplecnn-infer" adds SampleCNN's inference rows; "conv"
#                       adds bench_conv, the per-direction conv timings, if built;
#                       "loader", "prep", "dist", "gpumem" pick those sections,
#                       which run by default only when BENCH_MODELS is unset)
#   PYTHON              the interpreter with PyTorch 1.13 (default /usr/bin/python3)
#   PYTHON2             the interpreter with PyTorch 2 (default: the one that
#                       scripts/bench-venv.sh prints, installing it the first time)
#   BENCH_TORCH2=0      no PyTorch 2 rows (and no .venv-bench)
#   BENCH_KEEP_OPENBLAS_ENV=1  keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE from the
#                       caller's environment (by default they are unset so that
#                       OpenBLAS detects the CPU itself: a forced Haswell core
#                       halves sgemm on AVX-512 Zen; the forced value gets its own
#                       sgemm row so the cost shows)
# Output: the logs and a summary table on stdout; every run as a JSON line, and
# one summary line per (model, batch, threads, implementation), in
# $AURATAG_BUILD/bench/results.jsonl, every run's log beside it.
set -u
cd "$(dirname "$0")/../.." || exit 1

BUILD=${AURATAG_BUILD:-build}
THREADS=${BENCH_THREADS:-2}
STEPS=${BENCH_STEPS:-3}
WARMUP=${BENCH_WARMUP:-1}
SMALL_STEPS=${BENCH_SMALL_STEPS:-200}
SMALL_WARMUP=10
# musicnn batch 32 (2 threads): ~1-2 s per training step on auratag, 8-16 s on
# PyTorch; inference ~0.7 s (PyTorch ~2 s); FCN-4 inference ~1.5 s (PyTorch
# ~20 s). The counts keep each auratag run near 10-20 s and PyTorch's near a minute.
MUSICNN_STEPS=${BENCH_MUSICNN_STEPS:-3}
INFER_STEPS=${BENCH_INFER_STEPS:-2}
MUSICNN_INFER_STEPS=${BENCH_MUSICNN_INFER_STEPS:-10}
# samplecnn batch 16 (2 threads): 2.3-2.9 s per training step on auratag, 2.7-5.2 s
# on PyTorch (+ import and a slow first step per process): 86-89 s per round of
# the five implementations, ~4.5 min at 3 rounds (measured on a shared machine).
# Inference 0.7-0.85 s per pass on auratag, 1-2.7 s on PyTorch, ~40 s per round:
# samplecnn-infer runs only when BENCH_MODELS names it.
SAMPLECNN_STEPS=${BENCH_SAMPLECNN_STEPS:-3}
SAMPLECNN_INFER_STEPS=${BENCH_SAMPLECNN_INFER_STEPS:-3}
MODELS=${BENCH_MODELS:-"sgemm fcn4 pons musicnn samplecnn infer"}
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS_LIST=${BENCH_THREADS_LIST:-$THREADS}
case $ROUNDS in '' | *[!0-9]* | 0) echo "run_bench: BENCH_ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2 ;; esac
for t in $THREADS_LIST; do
  case $t in '' | *[!0-9]* | 0) echo "run_bench: BENCH_THREADS_LIST must hold positive integers, not '$t'" >&2; exit 2 ;; esac
done
BIN=$BUILD/tests/bench
OUT=$BUILD/bench
mkdir -p "$OUT"
RAW=$OUT/results.raw
CMDS=$OUT/commands.tsv  # log name <TAB> command, for the JSON lines
: >"$RAW"
: >"$CMDS"
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
for v in BENCH_THREADS BENCH_THREADS_LIST BENCH_ROUNDS BENCH_STEPS BENCH_WARMUP BENCH_SMALL_STEPS BENCH_MUSICNN_STEPS \
  BENCH_SAMPLECNN_STEPS BENCH_INFER_STEPS BENCH_MUSICNN_INFER_STEPS BENCH_SAMPLECNN_INFER_STEPS BENCH_MODELS PYTHON PYTHON2 BENCH_TORCH2 BENCH_KEEP_OPENBLAS_ENV; do
  [ -n "${!v:-}" ] && overrides+="$v=${!v} "
done
echo "================================================================================"
echo "auratag benchmark — reproduce with:  cd $(pwd) && ${overrides}make bench"
echo "  (each run below also prints its own command line)"
DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "date:     $DATE"
echo "commit:   $COMMIT"
echo "cpu:      $CPU_MODEL, $(nproc) cores online," \
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
echo "threads:  training steps at ${THREADS_LIST// /, } thread(s) (each run: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = torch.set_num_threads = N," \
     "OMP_WAIT_POLICY=$OMP_WAIT_POLICY); sgemm, loader and the rest at $THREADS"
has() { case " $MODELS " in *" $1 "*) return 0 ;; esac; return 1; }
per_run="" # warmup + timed steps of the step sections that run
has fcn4 && per_run+=", fcn4 $WARMUP + $STEPS"
has pons && per_run+=", pons_timefreq $SMALL_WARMUP + $SMALL_STEPS"
has musicnn && per_run+=", musicnn $WARMUP + $MUSICNN_STEPS"
has samplecnn && per_run+=", samplecnn $WARMUP + $SAMPLECNN_STEPS"
has infer && per_run+=", fcn4-infer $WARMUP + $INFER_STEPS, musicnn-infer $WARMUP + $MUSICNN_INFER_STEPS"
has samplecnn-infer && per_run+=", samplecnn-infer $WARMUP + $SAMPLECNN_INFER_STEPS"
[ -n "$per_run" ] && echo "rounds:   $ROUNDS of every step implementation, interleaved, one fresh process per run;" \
  "warmup + timed steps per run:${per_run#,}"
echo "compiler: $(${CC:-gcc} --version | head -1); flags of the build: see Makefile (OPT)"
if [ -x "$BIN/bench_sgemm" ]; then
  echo "libs:     $("$BIN/bench_sgemm" --version | grep '^LIBS' | cut -d' ' -f2-)"
fi
echo "openblas env: $openblas_env_note"
torch_info() { # interpreter -> "VERSION MKLDNN" or nothing
  "$1" -c 'import torch; print(torch.__version__, torch.backends.mkldnn.is_available())' 2>/dev/null | tail -1
}
mm() { local v=${1%%+*}; echo "${v%.*}"; } # 2.15.0+cu132 -> 2.15, 1.13.0a0 -> 1.13
# The step implementations: roles (auratag torch1 torch1-malloc torch2 torch2-malloc) and their names.
STEP_ROLES=(auratag)
declare -A IMPL=([auratag]=auratag [auratag-im2col]=auratag-im2col)
# FCN-4 also without the Winograd convolutions (AURATAG_WINOGRAD=0: im2col + SGEMM, docs/cpu-performance.md)
has fcn4 && STEP_ROLES+=(auratag-im2col)
T1_VERSION="" T2_VERSION="" PY2=""
if has fcn4 || has pons || has musicnn || has samplecnn || has infer || has samplecnn-infer; then
  if read -r T1_VERSION t1_mkldnn <<<"$(torch_info "$PY")" && [ -n "$T1_VERSION" ]; then
    echo "pytorch 1: torch $T1_VERSION, mkldnn $t1_mkldnn ($PY)"
    IMPL[torch1]=pytorch-$(mm "$T1_VERSION") IMPL[torch1-malloc]=pytorch-$(mm "$T1_VERSION")-tuned-malloc
    STEP_ROLES+=(torch1 torch1-malloc)
  else
    echo "pytorch 1: not importable with $PY (Debian: apt-get install python3-torch) — its rows skipped"
  fi
  if [ "${BENCH_TORCH2:-1}" = 0 ]; then
    echo "pytorch 2: skipped (BENCH_TORCH2=0)"
  else
    if [ -n "${PYTHON2:-}" ]; then
      PY2=$PYTHON2
    else
      echo "pytorch 2: bash scripts/bench-venv.sh (makes .venv-bench from PyPI the first time; reused after)"
      PY2=$(bash scripts/bench-venv.sh) || PY2=""
    fi
    if [ -n "$PY2" ] && read -r T2_VERSION t2_mkldnn <<<"$(torch_info "$PY2")" && [ -n "$T2_VERSION" ]; then
      echo "pytorch 2: torch $T2_VERSION, mkldnn $t2_mkldnn ($PY2)"
      n2=pytorch-$(mm "$T2_VERSION")
      [ "$n2" = "${IMPL[torch1]:-}" ] && n2=$n2-py2 # the same version under both interpreters
      IMPL[torch2]=$n2 IMPL[torch2-malloc]=$n2-tuned-malloc
      STEP_ROLES+=(torch2 torch2-malloc)
    else
      echo "pytorch 2: NOT AVAILABLE (${PY2:-scripts/bench-venv.sh failed, see above}) — its rows skipped (BENCH_TORCH2=0 skips them on purpose)"
      FAILED=1
    fi
  fi
  echo "step implementations: $(for r in "${STEP_ROLES[@]}"; do printf '%s ' "${IMPL[$r]}"; done)"
fi
echo "================================================================================"

# CPU time of the whole machine (from /proc/stat, in clock ticks) so that the
# end can tell how much other processes competed with the benchmark.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
BUSY0=$(busy_ticks)
WALL0=$(date +%s.%N)

# run NAME -- command...: prints the command, runs it (log in $OUT/NAME.log),
# keeps its RESULT lines with log=NAME (and $EXTRA, e.g. "round=2 role=torch2")
# appended, and the command in $CMDS.
EXTRA=""
run() {
  local name=$1
  shift 2
  echo
  echo "---- $name: $*"
  printf '%s\t%s\n' "$name" "$*" >>"$CMDS"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "---- $name: exit $rc, $((SECONDS - t0)) s wall"
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "FAILED impl=? model=$name rc=$rc" >>"$RAW"
  fi
  grep '^RESULT ' "$OUT/$name.log" | sed "s/\$/ log=$name${EXTRA:+ $EXTRA}/" >>"$RAW"
}

# step_cmd ROLE CONFIG BATCH STEPS WARMUP THREADS [ARGS...]: the command of one
# run, in CMD; ARGS (e.g. --infer) go to bench_step and torch_step.py alike.
TUNED_MALLOC=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000)
step_cmd() {
  local role=$1 cfg=$2 b=$3 s=$4 w=$5 t=$6
  shift 6
  local thr=(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t")
  local torch_args=(tests/bench/torch_step.py "$cfg" --batch "$b" --steps "$s" --warmup "$w" --threads "$t"
    --impl "${IMPL[$role]}" "$@")
  local ours=("$BIN/bench_step" "$cfg" --batch "$b" --steps "$s" --warmup "$w" "$@")
  case $role in
    auratag) CMD=("${thr[@]}" "${ours[@]}") ;;
    auratag-im2col) CMD=("${thr[@]}" AURATAG_WINOGRAD=0 "${ours[@]}") ;;
    torch1) CMD=("${thr[@]}" "$PY" "${torch_args[@]}") ;;
    torch2) CMD=("${thr[@]}" "$PY2" "${torch_args[@]}") ;;
    # glibc malloc never returning big blocks to the kernel: half of PyTorch's
    # default step time is mmap/munmap of huge tensors (docs/cpu-performance.md).
    torch1-malloc) CMD=("${thr[@]}" "${TUNED_MALLOC[@]}" "$PY" "${torch_args[@]}") ;;
    torch2-malloc) CMD=("${thr[@]}" "${TUNED_MALLOC[@]}" "$PY2" "${torch_args[@]}") ;;
  esac
}

# step_rounds TAG CONFIG BATCH STEPS WARMUP [ARGS...]: every implementation at
# every thread count of BENCH_THREADS_LIST, BENCH_ROUNDS rounds, interleaved.
step_rounds() {
  local tag=$1 cfg=$2 b=$3 s=$4 w=$5 t r role
  shift 5
  for t in $THREADS_LIST; do
    for ((r = 1; r <= ROUNDS; r++)); do
      echo
      echo "==== $tag batch $b, $t thread(s): round $r of $ROUNDS (${#STEP_ROLES[@]} implementations)"
      for role in "${STEP_ROLES[@]}"; do
        [ "$role" = auratag-im2col ] && [ "$tag" != fcn4 ] && continue # FCN-4 only
        step_cmd "$role" "$cfg" "$b" "$s" "$w" "$t" "$@"
        EXTRA="round=$r role=$role"
        run "$tag-b$b-t$t-r$r-${IMPL[$role]}" -- "${CMD[@]}"
        EXTRA=""
      done
    done
  done
}

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
  step_rounds fcn4 configs/models/fcn4.ini 8 "$STEPS" "$WARMUP"
fi

if has pons; then
  for B in 10 64; do
    step_rounds pons_timefreq configs/models/pons_timefreq.ini "$B" "$SMALL_STEPS" "$SMALL_WARMUP"
  done
fi

if has musicnn; then
  step_rounds musicnn configs/models/musicnn.ini 32 "$MUSICNN_STEPS" "$WARMUP"
fi

# SampleCNN: raw waveform (59,049 samples), conv1d layers, batch 16.
if has samplecnn; then
  step_rounds samplecnn configs/models/samplecnn.ini 16 "$SAMPLECNN_STEPS" "$WARMUP"
fi

# Inference (what `auratag tag` / `predict` run per batch), model labels NAME-infer.
if has infer; then
  step_rounds fcn4-infer configs/models/fcn4.ini 32 "$INFER_STEPS" "$WARMUP" --infer
  step_rounds musicnn-infer configs/models/musicnn.ini 32 "$MUSICNN_INFER_STEPS" "$WARMUP" --infer
fi
if has samplecnn-infer; then
  step_rounds samplecnn-infer configs/models/samplecnn.ini 16 "$SAMPLECNN_INFER_STEPS" "$WARMUP" --infer
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
SUMMARY_PY=/usr/bin/python3
[ -x "$SUMMARY_PY" ] || SUMMARY_PY=python3
BENCH_DATE="$DATE" BENCH_COMMIT="$COMMIT" BENCH_CPU="$CPU_MODEL, $(nproc) cores" BENCH_THREADS_LIST_="$THREADS_LIST" \
  BENCH_OTHER_THREADS="$THREADS" BENCH_ROUNDS_="$ROUNDS" BENCH_T1="$T1_VERSION" BENCH_T2="$T2_VERSION" \
  BENCH_PY1="$PY" BENCH_PY2="$PY2" \
  "$SUMMARY_PY" - "$RAW" "$OUT/results.jsonl" "$CMDS" <<'EOF'
import json, os, statistics, sys

env = os.environ
rows, failed = [], []
for line in open(sys.argv[1]):
    kind, *fields = line.split()
    d = dict(f.split("=", 1) for f in fields if "=" in f)
    (failed if kind == "FAILED" else rows).append(d)
commands = {}
for line in open(sys.argv[3]):
    name, _, cmd = line.rstrip("\n").partition("\t")
    commands[name] = cmd


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError, TypeError):
        return None


def fmt(v, spec, suffix=""):
    return "-" if v is None else format(v, spec) + suffix


def table(hdr, lines, left=2):
    w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(hdr)]
    print(" | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
    print("-+-".join("-" * x for x in w))
    for l in lines:
        print(" | ".join(c.ljust(w[i]) if i < left else c.rjust(w[i]) for i, c in enumerate(l)))


ceiling = {d["model"]: num(d, "gflops") for d in rows if d.get("impl") == "openblas"}
sgemm_peak = ceiling.get("sgemm2048") or (max(ceiling.values()) if ceiling else None)

meta = {"kind": "meta", "date": env.get("BENCH_DATE"), "commit": env.get("BENCH_COMMIT"), "cpu": env.get("BENCH_CPU"),
        "step_threads": [int(t) for t in env.get("BENCH_THREADS_LIST_", "").split()],
        "other_threads": int(env.get("BENCH_OTHER_THREADS") or 0), "rounds": int(env.get("BENCH_ROUNDS_") or 0),
        "torch1": env.get("BENCH_T1") or None, "python1": env.get("BENCH_PY1") or None,
        "torch2": env.get("BENCH_T2") or None, "python2": env.get("BENCH_PY2") or None,
        "sgemm2048_gflops": sgemm_peak}

# ---- the training-step runs: one record each, then one summary per (model, batch, threads, impl)
runs, other, memory = [], [], []
for d in rows:
    if "device_bytes" in d:  # gpu_memory's counts, a table of their own
        memory.append({"kind": "gpu_memory", "model": d["model"], "impl": d["impl"],
                       **{k: int(v) for k, v in d.items() if k not in ("model", "impl", "log")}})
    elif "round" in d:
        runs.append({"kind": "run", "model": d["model"], "impl": d["impl"], "role": d.get("role"),
                     "mode": d.get("mode", "train"), "batch": int(d["batch"]), "threads": int(d["threads"]), "round": int(d["round"]),
                     "steps": int(d.get("steps", 0)), "ms_per_step": num(d, "ms_per_step"), "ms_min": num(d, "ms_min"),
                     "samples_per_s": num(d, "samples_per_s"), "gflops": num(d, "gflops"),
                     "fwd_ms": num(d, "fwd_ms"), "bwd_ms": num(d, "bwd_ms"), "update_ms": num(d, "update_ms"),
                     "peak_rss_mb": num(d, "peak_rss_mb"), "torch": d.get("torch"),
                     "command": commands.get(d.get("log")), "log": d.get("log")})
    elif d.get("impl", "").startswith("openblas"):
        other.append({"kind": "run", "model": d["model"], "impl": d["impl"], "batch": None,
                      "threads": int(d["threads"]) if d.get("threads") else None,
                      "ms_per_step": num(d, "ms_per_call"), "samples_per_s": None, "gflops": num(d, "gflops"),
                      "command": commands.get(d.get("log")), "log": d.get("log")})
    else:  # the loader and anything else with one RESULT per run
        other.append({"kind": "run", "model": d.get("model"), "impl": d.get("impl"),
                      "batch": int(d["batch"]) if d.get("batch") else None,
                      "threads": int(d["threads"]) if d.get("threads") else None,
                      "ms_per_step": num(d, "ms_per_step"), "samples_per_s": num(d, "samples_per_s"),
                      "gflops": num(d, "gflops"), "command": commands.get(d.get("log")), "log": d.get("log")})

groups = {}
for r in runs:
    groups.setdefault((r["model"], r["batch"], r["threads"]), {}).setdefault(r["impl"], []).append(r)


def med(v):
    return statistics.median(v) if v else None


summaries = []
for (model, batch, threads), impls in groups.items():
    recs = []
    for impl, rs in impls.items():
        sps = [r["samples_per_s"] for r in rs if r["samples_per_s"] is not None]
        gf = [r["gflops"] for r in rs if r["gflops"] is not None]
        rss = [r["peak_rss_mb"] for r in rs if r["peak_rss_mb"] is not None]
        recs.append({"kind": "summary", "model": model, "impl": impl, "role": rs[0]["role"], "mode": rs[0]["mode"],
                     "batch": batch, "threads": threads, "rounds": len(rs), "samples_per_s_min": min(sps) if sps else None,
                     "samples_per_s_median": med(sps), "samples_per_s_max": max(sps) if sps else None,
                     "ms_per_step_median": med([r["ms_per_step"] for r in rs if r["ms_per_step"] is not None]),
                     "gflops_median": med(gf), "peak_rss_mb_max": max(rss) if rss else None,
                     "of_sgemm_peak": med(gf) / sgemm_peak if gf and sgemm_peak else None,
                     "torch": rs[0]["torch"], "command": rs[0]["command"]})
    torch_recs = [s for s in recs if (s["role"] or "").startswith("torch") and s["samples_per_s_median"]]
    fastest = max(torch_recs, key=lambda s: s["samples_per_s_median"]) if torch_recs else None
    t2 = next((s for s in recs if s["role"] == "torch2" and s["samples_per_s_median"]), None)
    for s in recs:
        m = s["samples_per_s_median"]
        s["fastest_pytorch"] = fastest["impl"] if fastest else None
        s["vs_fastest_pytorch"] = m / fastest["samples_per_s_median"] if fastest and m else None
        s["vs_pytorch2_default"] = m / t2["samples_per_s_median"] if t2 and m else None
    summaries += recs

# thread scaling of auratag FCN-4: 2 threads / 1 thread (medians), when both ran
scaling = []
for s2 in summaries:
    if s2["role"] == "auratag" and s2["model"] == "fcn4" and s2["threads"] == 2:
        s1 = next((s for s in summaries if s["role"] == "auratag" and s["model"] == "fcn4" and s["threads"] == 1
                   and s["batch"] == s2["batch"]), None)
        if s1 and s1["samples_per_s_median"] and s2["samples_per_s_median"]:
            scaling.append({"kind": "thread_scaling", "model": "fcn4", "impl": "auratag", "batch": s2["batch"],
                            "samples_per_s_1": s1["samples_per_s_median"], "samples_per_s_2": s2["samples_per_s_median"],
                            "ratio_2_over_1": s2["samples_per_s_median"] / s1["samples_per_s_median"]})

with open(sys.argv[2], "w") as f:
    for rec in [meta] + other + runs + summaries + scaling + memory:
        f.write(json.dumps(rec) + "\n")

print(f"torch: {meta['torch1'] or 'PyTorch 1 not run'} ({meta['python1']}); "
      f"{meta['torch2'] or 'PyTorch 2 not run'} ({meta['python2'] or '-'})")
if other:
    print("\nSUMMARY, one run each (sgemm: GFLOP/s of one call; loader: examples/s from the page cache)")
    table(["model", "impl", "batch", "threads", "ms/step or call", "examples/s", "GFLOP/s"],
          [[r["model"] or "?", r["impl"] or "?", fmt(r["batch"], "d"), fmt(r["threads"], "d"),
            fmt(r["ms_per_step"], ".2f"), fmt(r["samples_per_s"], ".1f"), fmt(r["gflops"], ".1f")] for r in other])
if summaries:
    print(f"\nSUMMARY, training steps and inference passes (model NAME-infer): {meta['rounds']} round(s), interleaved; "
          "examples/s of each run = batch / its median step; min / median / max over the rounds; peak RSS = the "
          "largest of the rounds;\nGFLOP/s = 6 x forward MACs x batch / step (inference: 2 x), median over rounds; "
          "'of sgemm' = fraction of OpenBLAS sgemm "
          f"2048^3 at {meta['other_threads']} threads; vs fastest = median examples/s / that of the fastest PyTorch configuration (marked *)")
    lines = []
    for s in summaries:
        lines.append([s["model"], s["impl"] + (" *" if s["impl"] == s["fastest_pytorch"] else ""), fmt(s["batch"], "d"),
                      fmt(s["threads"], "d"), fmt(s["rounds"], "d"), fmt(s["samples_per_s_min"], ".2f"),
                      fmt(s["samples_per_s_median"], ".2f"), fmt(s["samples_per_s_max"], ".2f"),
                      fmt(s["ms_per_step_median"], ".1f"), fmt(s["gflops_median"], ".1f"),
                      fmt(s["of_sgemm_peak"] and 100 * s["of_sgemm_peak"], ".0f", "%"), fmt(s["peak_rss_mb_max"], ".0f"),
                      fmt(s["vs_fastest_pytorch"], ".2f", "x"), fmt(s["vs_pytorch2_default"], ".2f", "x")])
    table(["model", "impl", "batch", "thr", "rounds", "ex/s min", "ex/s median", "ex/s max", "ms/step", "GFLOP/s",
           "of sgemm", "peak RSS MB", "vs fastest PT", "vs PT2 default"], lines)
    print()
    for s in summaries:
        if not (s["role"] or "").startswith("auratag"):
            continue
        t2 = next((x for x in summaries if x["role"] == "torch2" and (x["model"], x["batch"], x["threads"]) ==
                   (s["model"], s["batch"], s["threads"])), None)
        head = f"{s['model']} batch {s['batch']}, {s['threads']} thread(s): auratag {fmt(s['samples_per_s_median'], '.2f')} examples/s"
        if not s["fastest_pytorch"]:
            print(head + ", no PyTorch ran")
            continue
        print(head + f" = {fmt(s['vs_fastest_pytorch'], '.2f', 'x')} the fastest PyTorch ({s['fastest_pytorch']})"
              + (f", {fmt(s['vs_pytorch2_default'], '.2f', 'x')} PyTorch 2 default ({t2['impl']})" if t2 else
                 ", PyTorch 2 not run"))
    for x in scaling:
        print(f"thread scaling, auratag fcn4 batch {x['batch']}: 2 threads / 1 thread = {x['ratio_2_over_1']:.2f}x "
              f"({x['samples_per_s_2']:.2f} / {x['samples_per_s_1']:.2f} examples/s, medians)")
    print("\ncommands (round 1; every run's command is printed above it and in the JSON lines):")
    for s in summaries:
        print(f"  {s['model']} b{s['batch']} t{s['threads']} {s['impl']}: {s['command']}")
for m in memory:
    print(f"GPU memory, {m['model']} batch {m['batch']}: {m['device_bytes'] / 1e9:.2f} GB on the device "
          f"({m['chain_scratch_bytes'] / 1e9:.2f} GB of it the fused chains' scratch; "
          f"{m['device_bytes_unfused'] / 1e9:.2f} GB without fusing the chains; "
          f"{m['device_bytes_before_sharing'] / 1e9:.2f} GB with one gradient buffer per layer as well), "
          f"counted on the CUDA runtime's test double")
for d in failed:
    print(f"FAILED: {d.get('model')} (exit {d.get('rc')}) — see its log")
print(f"\nJSON lines: {sys.argv[2]} (a meta record, one per run with its round, one summary per model, batch, "
      "threads and implementation)")
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
