#!/usr/bin/env bash
# auratag auralise end to end, with properties that must hold:
#  - a hand-built STFT model: feature 0 has all-zero weights (its map is zero
#    and its audio silent), feature 1 is a narrow-band filter on bins 40..50
#    (861..1077 Hz): its auralised audio has its energy in that band, though
#    the excerpt holds tones at 300, 950 and 3000 Hz;
#  - the mask has the input's shape (maps.h5), the original resynthesised
#    equals the excerpt, PNGs and the index are written;
#  - a mel-input model: masks come back to linear bins;
#  - bad requests (no such layer, a layer past a dense, --dur too long) are
#    refused with the reason.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
MK=$BUILD/tests/oracle/make_audio

# audio: three tones, 11025 Hz
"$MK" "$work/a.wav" --rate 11025 --seconds 1.2 --tone 0:1.2:300:0.3 --tone 0:1.2:950:0.3 --tone 0:1.2:3000:0.3 ||
  failed "make_audio"
"$MK" "$work/b.wav" --rate 11025 --seconds 1.2 --tone 0:1.2:500:0.3 || failed "make_audio"
printf 'path,split,tags\na.wav,train,x\nb.wav,train,y\n' >"$work/files.csv"
"$AT" prep tests/explain/stft_small.ini --list "$work/files.csv" --out "$work/cache" >"$work/prep.txt" 2>&1 ||
  failed "prep: $(tail -3 "$work/prep.txt")"

# the narrow-band model's weights
"$AT" init tests/explain/narrow_band.ini -o "$work/nb.h5" --seed 1 >/dev/null || failed "init"
$PY - "$work/nb.h5" <<'PYEOF' || failed "writing the narrow-band weights"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
w = f["params/conv1/weight"]
v = np.zeros(w.shape, dtype=np.float32)   # [2, 1, 257, 1]
v[1, 0, 40:51, 0] = 1.0
w[...] = v
f["params/conv1/bias"][...] = 0
PYEOF

out=$work/aur
if "$AT" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer 1 --feature 0,1 --out "$out" \
  >"$work/aur.txt" 2>&1; then
  pass "auralise runs: $(tail -1 "$work/aur.txt")"
else
  failed "auralise: $(tail -5 "$work/aur.txt")"
fi
layer=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1])['/'].attrs['layer'])" "$out/maps.h5" 2>/dev/null)
if $PY - "$out" "$work/a.wav" "$layer" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import sys, wave, h5py, numpy as np
out, src, layer = sys.argv[1], sys.argv[2], sys.argv[3]
def read(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768, w.getframerate()
m = h5py.File(out + "/maps.h5")
inp, d1, mask1 = np.asarray(m["input"]), np.asarray(m["deconv/1"]), np.asarray(m["mask/1"])
assert inp.shape == (257, 40) and d1.shape == inp.shape and mask1.shape == inp.shape, (inp.shape, d1.shape, mask1.shape)
assert np.all(np.asarray(m["deconv/0"]) == 0) and np.all(np.asarray(m["mask/0"]) == 0), "feature 0's map is not zero"
outside = np.abs(d1[np.r_[0:40, 51:257]]).max()
assert outside == 0 and np.abs(d1[40:51]).max() > 0, "feature 1's map leaves bins 40..50"
silent, sr = read(f"{out}/{layer}_f0.wav")
assert np.all(silent == 0), "an all-zero feature is not silent"
band, sr = read(f"{out}/{layer}_f1.wav")
spec = np.abs(np.fft.rfft(band)) ** 2
freq = np.fft.rfftfreq(band.size, 1 / sr)
inside = spec[(freq >= 800) & (freq <= 1150)].sum() / spec.sum()
assert inside > 0.95, f"only {inside:.3f} of the narrow-band feature's energy lies in 800..1150 Hz"
orig, _ = read(f"{out}/original.wav")
x, _ = read(src)
n = min(orig.size, 9000)
c = np.corrcoef(orig[:n], x[:n])[0, 1]
assert c > 0.999, f"the resynthesised original differs from the excerpt (correlation {c:.5f})"
for name in ["input.png", f"{layer}_f1_deconv.png", f"{layer}_f1_masked.png"]:
    assert open(f"{out}/{name}", "rb").read(8) == b"\x89PNG\r\n\x1a\n", name
html = open(out + "/index.html").read()
assert f"{layer}_f1.wav" in html and "original.wav" in html
print(f"mask shape {mask1.shape} = input; feature 0 silent; feature 1: {inside:.4f} of its energy in 800..1150 Hz; "
      f"resynthesis correlation {c:.6f}; PNGs and index written")
PYEOF
  pass "auralisation properties: $(cat "$work/check.txt")"
else
  failed "auralisation properties: $(tail -3 "$work/check.txt")"
fi

# the same on the CUDA backend (kernels emulated on the CPU, test doubles of
# the CUDA runtime and cuBLAS): the same maps
EMU=$BUILD/tests/cuda/auratag_emu
if [ -x "$EMU" ]; then
  # FP32 products, as on the CPU (TF32 is the CUDA backend's default: ~1e-3)
  if NVIDIA_TF32_OVERRIDE=0 "$EMU" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer 1 --feature 0,1 \
    --out "$work/aur_cuda" --backend cuda >"$work/cuda.txt" 2>&1 &&
    $PY - "$out/maps.h5" "$work/aur_cuda/maps.h5" >"$work/cmp.txt" 2>&1 <<'PYEOF'; then
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
worst = max(float(np.abs(np.asarray(a[n]) - np.asarray(b[n])).max() / max(np.abs(np.asarray(a[n])).max(), 1e-30))
            for n in ["deconv/1", "mask/1"])
assert np.all(np.asarray(b["deconv/0"]) == 0) and worst <= 1e-5, worst
print(f"largest relative difference {worst:.2e}")
PYEOF
    pass "auralise --backend cuda (emulated) gives the CPU's maps: $(cat "$work/cmp.txt")"
  else
    failed "auralise on the CUDA backend: $(tail -3 "$work/cuda.txt") $(tail -3 "$work/cmp.txt")"
  fi
fi

# --all: a grid and a progress bar
if "$AT" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer relu1 --all --top 3 \
  --out "$work/all" >"$work/all.txt" 2>&1 && [ -f "$work/all/relu1_grid.png" ] && grep -q "features" "$work/all.txt"; then
  pass "--all --top 3: every feature and the grid image"
else
  failed "--all: $(tail -3 "$work/all.txt")"
fi

# a mel-input model: the map comes back to linear bins through the filterbank
"$MK" "$work/m1.wav" --rate 22050 --seconds 1.2 --tone 0:1.2:300:0.3 --tone 0:1.2:1150:0.3 --tone 0:1.2:5000:0.3 ||
  failed "make_audio"
"$MK" "$work/m2.wav" --rate 22050 --seconds 1.2 --tone 0:1.2:500:0.3 || failed "make_audio"
printf 'path,split,tags\nm1.wav,train,x\nm2.wav,train,y\n' >"$work/mfiles.csv"
"$AT" prep tests/explain/mel_small.ini --list "$work/mfiles.csv" --out "$work/mcache" >"$work/prep.txt" 2>&1 ||
  failed "prep (mel): $(tail -3 "$work/prep.txt")"
"$AT" init tests/explain/mel_band.ini -o "$work/mel.h5" --seed 1 >/dev/null || failed "init (mel)"
$PY - "$work/mel.h5" <<'PYEOF' || failed "writing the mel-band weights"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
v = np.zeros(f["params/conv1/weight"].shape, dtype=np.float32)   # [1, 1, 96, 1]
v[0, 0, 30:35, 0] = 1.0
f["params/conv1/weight"][...] = v
f["params/conv1/bias"][...] = 5.0   # normalised inputs can be negative: keep the feature on
PYEOF
if "$AT" auralise "$work/mel.h5" "$work/m1.wav" --cache "$work/mcache/train.h5" --layer 1 --feature 0 \
  --out "$work/mel" >"$work/mel.txt" 2>&1 &&
  $PY - "$work/mel" >"$work/melcheck.txt" 2>&1 <<'PYEOF'; then
import sys, wave, h5py, numpy as np
out = sys.argv[1]
m = h5py.File(out + "/maps.h5")
layer = m.attrs["layer"]
mask, inp = np.asarray(m["mask/0"]), np.asarray(m["input"])
assert inp.shape == (96, 40) and mask.shape == (513, 40), (inp.shape, mask.shape)
rows = np.nonzero(np.abs(mask).max(axis=1) > 0)[0]
lo, hi = rows.min() * 22050 / 1024, rows.max() * 22050 / 1024
with wave.open(f"{out}/{layer}_f0.wav") as w:
    x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
spec = np.abs(np.fft.rfft(x)) ** 2
freq = np.fft.rfftfreq(x.size, 1 / 22050)
inside = spec[(freq >= lo - 50) & (freq <= hi + 50)].sum() / spec.sum()
assert 900 < lo < hi < 1500, (lo, hi)
assert inside > 0.9, f"only {inside:.3f} of the energy in the bands' range {lo:.0f}..{hi:.0f} Hz"
print(f"mel bands 30..34 -> linear bins {rows.min()}..{rows.max()} ({lo:.0f}..{hi:.0f} Hz); {inside:.4f} of the audio's energy there (the 1150 Hz tone; 300 and 5000 Hz masked out)")
PYEOF
  pass "mel-input model: $(cat "$work/melcheck.txt")"
else
  failed "mel-input model: $(tail -3 "$work/mel.txt") $(tail -3 "$work/melcheck.txt")"
fi

fails "no such layer" "no such layer in model narrow_band" \
  "$AT" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer conv9 --feature 0 --out "$work/x"
fails "a layer past the dense" "cannot go down through layer dense1" \
  "$AT" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer dense1 --feature 0 --out "$work/x"
fails "--dur too long" "reads 40 frames" \
  "$AT" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer 1 --feature 1 --dur 5 --out "$work/x"
fails "a feature out of range" "features of this layer are 0..1" \
  "$AT" auralise "$work/nb.h5" "$work/a.wav" --cache "$work/cache/train.h5" --layer 1 --feature 2 --out "$work/x"
exit $fail
