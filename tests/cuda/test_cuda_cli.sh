#!/usr/bin/env bash
# The GPU path from the command line, on this machine:
#  - `auratag selftest` without a GPU says so and exits 77 (skipped); with a
#    GPU it must pass;
#  - the same commands built on the emulated kernels and the test doubles
#    (auratag_emu): selftest --quick passes, and `train --backend cuda` ends
#    with the same weights as `train --backend cpu` (within 1e-4);
#  - --backend / --device / [train] backend reach the trainer, bad values
#    are refused.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
EMU=$BUILD/tests/cuda/auratag_emu

"$AT" selftest >"$work/st.txt" 2>&1
rc=$?
if [ $rc = 77 ] && grep -q "no GPU to test" "$work/st.txt"; then
  pass "selftest without a GPU: skipped, exit 77: $(head -1 "$work/st.txt")"
elif [ $rc = 0 ]; then
  pass "selftest on a GPU passed: $(grep -E '^(ops|pons|fcn4)' "$work/st.txt" | tr '\n' ';')"
else
  failed "selftest: exit $rc: $(tail -5 "$work/st.txt")"
fi

fails "unknown backend" "backend 'tpu': use cpu, cuda or auto" "$AT" model configs/models/fcn3.ini --backend tpu
fails "bad device" "device 'x'" "$AT" model configs/models/fcn3.ini --device x

if [ ! -x "$EMU" ]; then
  failed "$EMU is not built (make test builds it when the CUDA toolkit's headers are present)"
  exit 1
fi
if "$EMU" selftest --quick --json "$work/st.json" >"$work/emu.txt" 2>&1 &&
  $PY -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r['failed']==0 and len(r['comparisons'])>100 else 1)" "$work/st.json"; then
  pass "selftest on the emulated GPU: $(grep -E '^(ops|pons)' "$work/emu.txt" | tr -s ' ' | tr '\n' ';')"
else
  failed "selftest on the emulated GPU: $(tail -5 "$work/emu.txt")"
fi

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
if "$AT" prep tests/explain/mel_small.ini --list "$work/files.csv" --out "$work/cpu_cache" --backend cpu \
  >"$work/p1.txt" 2>&1 &&
  "$EMU" prep tests/explain/mel_small.ini --list "$work/files.csv" --out "$work/gpu_cache" --backend cuda \
    >"$work/p2.txt" 2>&1 && grep -q "front end on the cuemu" "$work/p2.txt" &&
  $PY - "$work/cpu_cache/train.h5" "$work/gpu_cache/train.h5" >"$work/pc.txt" 2>&1 <<'PYEOF'; then
import sys, h5py, numpy as np
a, b = (np.asarray(h5py.File(p)["features"], dtype=np.float64) for p in sys.argv[1:3])
assert a.shape == b.shape, (a.shape, b.shape)
err = np.abs(a - b).max() / np.abs(a).max()
assert err <= 1e-3, err   # float16 caches: one half-precision ulp is ~5e-4
print(f"features {a.shape}, largest difference {err:.2e} of the range (float16 cache)")
PYEOF
  pass "prep --backend cuda (emulated GPU front end) = prep on the CPU: $(cat "$work/pc.txt")"
else
  failed "prep on the GPU front end: $(tail -2 "$work/p1.txt") $(tail -2 "$work/p2.txt") $(cat "$work/pc.txt" 2>/dev/null)"
fi
exit $fail
