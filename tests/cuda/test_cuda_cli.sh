#!/usr/bin/env bash
# The GPU path from the command line, on this machine:
#  - `auratag selftest` without a GPU says so and exits 77 (skipped); with a
#    GPU it must pass;
#  - the same commands built on the emulated kernels and the test doubles
#    (auratag_emu): selftest --quick passes, and `train --backend cuda` ends
#    with the same weights as `train --backend cpu` (within 1e-4);
#  - --backend / --device / [train] backend reach the trainer, bad values
#    are refused;
#  - the test double has two devices and a current device per thread that
#    starts at 0: selftest, training and prep (with decoding threads calling
#    the GPU front end) run on --device 1 too, and a GPU the binary has no
#    kernels for is refused with the way out.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
EMU=$BUILD/tests/cuda/auratag_emu

"$AT" selftest >"$work/st.txt" 2>&1
rc=$?
if [ $rc = 77 ] && grep -q "no GPU to test" "$work/st.txt"; then
  pass "selftest without a GPU: skipped, exit 77: $(head -1 "$work/st.txt")"
elif [ $rc = 0 ]; then
  pass "selftest on a GPU passed: $(grep -E '^(ops|pons|fcn4|samplecnn)' "$work/st.txt" | tr '\n' ';')"
else
  failed "selftest: exit $rc: $(tail -5 "$work/st.txt")"
fi

fails "unknown backend" "backend 'tpu': use cpu, cuda or auto" "$AT" model configs/models/fcn3.ini --backend tpu
fails "bad device" "device 'x'" "$AT" model configs/models/fcn3.ini --device x

if [ ! -x "$EMU" ]; then
  failed "$EMU is not built (make test builds it when the CUDA toolkit's headers are present)"
  exit 1
fi
# --device 1 runs the comparisons on the second device, then the TF32 and
# benchmark variants there and an FP32 run on device 0, each in a process
if "$EMU" selftest --quick --device 1 --json "$work/st.json" >"$work/emu.txt" 2>&1 &&
  $PY -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r['failed']==0 and len(r['comparisons'])>100 and len(r['variants'])==3 else 1)" "$work/st.json" &&
  grep -q "(device 1," "$work/emu.txt" && grep -q "variant fp32 .*device 0: passed" "$work/emu.txt"; then
  pass "selftest on the emulated GPU 1 (and the variants): $(grep -E '^(ops|pons|variant)' "$work/emu.txt" | tr -s ' ' | tr '\n' ';')"
else
  failed "selftest on the emulated GPUs: $(grep -E 'FAIL|error' "$work/emu.txt" | head -5) $(tail -3 "$work/emu.txt")"
fi
CUEMU_CC=75 "$EMU" selftest --quick >"$work/old.txt" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "compute capability 7.5" "$work/old.txt" && grep -q "make CUDA_ARCH=" "$work/old.txt" &&
  pass "a GPU without kernels in the binary (sm_75) is refused: $(grep -o 'compute capability 7.5.*' "$work/old.txt" | head -c 160)" ||
  failed "sm_75 GPU: exit $rc: $(tail -2 "$work/old.txt")"

# training through the CUDA backend (emulated) against the CPU backend
"$AT" synth "$work/d" --tags 8 --train 64 --valid 16 --test 16 --seed 9 >/dev/null || failed "synth"
common=(--set "data.train=$work/d/train.h5" --set "data.valid=$work/d/valid.h5" --set "data.test=$work/d/test.h5"
  --set train.root="$work/runs" --set train.batch=8 --set train.epochs=1 --set train.max_steps=3 --set train.log_every=1
  --set data.threads=1)
# same_training WHAT CONFIG RUN args...: 3 steps on each backend, equal weights
same_training() {
  local what=$1 config=$2 run=$3
  shift 3
  if "$AT" train "$config" "${common[@]}" --set "train.run=$run-cpu" --backend cpu "$@" >"$work/cpu.txt" 2>&1 &&
    "$EMU" train "$config" "${common[@]}" --set "train.run=$run-cuda" --set train.backend=cuda \
      --set train.deterministic=true "$@" >"$work/cuda.txt" 2>&1; then
    if $PY - "$work/runs/$run-cpu/last.h5" "$work/runs/$run-cuda/last.h5" >"$work/cmp.txt" 2>&1 <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
worst, n = 0.0, 0
def visit(name, obj):
    global worst, n
    if isinstance(obj, h5py.Dataset) and name.startswith(("params/", "state/")):
        x, y = np.asarray(obj, dtype=np.float64), np.asarray(b[name], dtype=np.float64)
        worst = max(worst, float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-30)))
        n += 1
a.visititems(visit)
print("%d tensors, largest relative difference %.2e" % (n, worst))
sys.exit(0 if n > 0 and worst <= 1e-4 else 1)
PYEOF
    then
      pass "$what: train --backend cuda (emulated) = train --backend cpu after 3 steps: $(cat "$work/cmp.txt")"
    else
      failed "$what: CUDA and CPU training differ: $(cat "$work/cmp.txt")"
    fi
  else
    failed "$what: training failed: $(tail -3 "$work/cpu.txt") / $(tail -3 "$work/cuda.txt")"
  fi
}
same_training "synth_pons_frequency" configs/experiments/synth_pons_frequency.ini plain
same_training "synth_pons_frequency on device 1" configs/experiments/synth_pons_frequency.ini dev1 --device 1
grep -q "cuemu" "$work/cuda.txt" && pass "the trainer says which device it runs on" ||
  failed "the trainer's log does not name the CUDA device: $(head -5 "$work/cuda.txt")"
# transfer learning: frozen batch norms (inference-mode backward) and dropout, per-layer learning rates
"$AT" synth "$work/d6" --bins 6 --frames 10 --tags 5 --train 64 --valid 16 --seed 9 --test 16 >/dev/null || failed "synth 6x10"
same_training "freeze and lr_scale (graph_small)" tests/configs/graph_small_transfer.ini transfer \
  --set "data.train=$work/d6/train.h5" --set "data.valid=$work/d6/valid.h5" --set data.test=
# prep and tag with the GPU front end (cuFFT and cuBLAS test doubles, kernels
# emulated): the CPU's features within 1e-4, the CPU's tags
MK=$BUILD/tests/oracle/make_audio
"$MK" "$work/a.wav" --rate 22050 --seconds 1.5 --tone 0:1.5:440:0.3 --noise 0.05 --seed 1 || failed "make_audio"
"$MK" "$work/b.wav" --rate 16000 --seconds 1.5 --tone 0:1.5:1500:0.3 --noise 0.05 --seed 2 || failed "make_audio"
printf 'path,split,tags\na.wav,train,x\nb.wav,train,y\n' >"$work/files.csv"
for i in 1 2 3 4; do cp "$work/a.wav" "$work/a$i.wav"; echo "a$i.wav,train,x" >>"$work/files.csv"; done
# two decoding threads: files reach the GPU front end from a worker thread too
if "$AT" prep tests/explain/mel_small.ini --list "$work/files.csv" --out "$work/cpu_cache" --backend cpu \
  >"$work/p1.txt" 2>&1 &&
  "$EMU" prep tests/explain/mel_small.ini --list "$work/files.csv" --out "$work/gpu_cache" --backend cuda \
    --device 1 --threads 2 >"$work/p2.txt" 2>&1 && grep -q "front end on the cuemu device 1" "$work/p2.txt" &&
  $PY - "$work/cpu_cache/train.h5" "$work/gpu_cache/train.h5" >"$work/pc.txt" 2>&1 <<'PYEOF'; then
import sys, h5py, numpy as np
a, b = (np.asarray(h5py.File(p)["features"], dtype=np.float64) for p in sys.argv[1:3])
assert a.shape == b.shape, (a.shape, b.shape)
err = np.abs(a - b).max() / np.abs(a).max()
assert err <= 1e-3, err   # float16 caches: one half-precision ulp is ~5e-4
print(f"features {a.shape}, largest difference {err:.2e} of the range (float16 cache)")
PYEOF
  pass "prep --backend cuda --device 1 --threads 2 (emulated GPU front end) = prep on the CPU: $(cat "$work/pc.txt")"
else
  failed "prep on the GPU front end: $(tail -2 "$work/p1.txt") $(tail -2 "$work/p2.txt") $(cat "$work/pc.txt" 2>/dev/null)"
fi
exit $fail
