#!/usr/bin/env bash
# The analysis of Choi, Fazekas & Sandler 2016 end to end:
#  - `auratag stimuli`: 120 harmonic templates (4 keys x 6 instruments x 5
#    chord sets) + 6 drum templates, stimuli.csv columns and values, WAVs
#    mono, of the asked length and not silent, bit-identical when rendered
#    twice; the Sine A3 M_m template's spectrum peaks at the A major triad
#    (220, 277.2, 329.6 Hz) then the A minor triad, dim_blank's second half is
#    silent, templates that share a chord share its samples (M_m and 7_m end
#    alike; a drum pattern and its fill agree up to the fill);
#  - `auratag activations` on a small two-block conv model: /layer1, /layer2
#    [126, features], /paths, attributes;
#  - scripts/stimuli_correlation.py: a table of layers x attributes (key,
#    instrument, chords, pattern, fill) with values in [-1, 1], the CSV;
#  - a model whose conv features are frequency-band detectors: every Sine |
#    other-instrument correlation is defined and finite, and (the spectrum
#    moves by octaves with the key, not with the chord) key separates more
#    than chords: r(key) < r(chords);
#  - bad requests refused with the reason; scripts/stimuli.sh runs the three.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail

sf=/usr/share/sounds/sf2/FluidR3_GM.sf2
if [ ! -f "$sf" ]; then
  failed "no SoundFont at $sf: install the Debian package fluid-soundfont-gm (scripts/install-deps.sh)"
  exit 1
fi

# ---- rendering
"$AT" stimuli "$work/s" --seconds 1 >"$work/s.log" 2>&1 || failed "stimuli: $(tail -3 "$work/s.log")"
"$AT" stimuli "$work/s2" --seconds 1 >"$work/s2.log" 2>&1 || failed "stimuli (again): $(tail -3 "$work/s2.log")"
sed 's/^/     /' "$work/s.log"
if diff -r "$work/s" "$work/s2" >/dev/null; then pass "rendered twice: bit-identical WAVs, stimuli.csv, README.txt"
else failed "two renders differ: $(diff -rq "$work/s" "$work/s2" | head -3)"; fi

if $PY - "$work/s" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import csv, itertools, os, sys, wave
import numpy as np
root = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(root, "stimuli.csv"), newline="")))
assert list(rows[0].keys()) == ["path", "kind", "key", "instrument", "chords", "drums"], list(rows[0].keys())
keys, ins = ["Bb2", "Eb2", "A3", "G4"], ["Sine", "Piano", "Acoustic_guitar", "Electric_guitar", "Saxophone", "Strings"]
chords = ["intervals", "M_m", "sus4_M7", "7_m", "dim_blank"]
harm = [r for r in rows if r["kind"] == "harmonic"]
drums = [r for r in rows if r["kind"] == "drums"]
assert len(rows) == 126 and len(harm) == 120 and len(drums) == 6, (len(rows), len(harm), len(drums))
assert sorted((r["key"], r["instrument"], r["chords"]) for r in harm) == sorted(itertools.product(keys, ins, chords))
assert all(r["drums"] == "" for r in harm)
assert sorted(r["drums"] for r in drums) == sorted(p + f for p in ("4beat", "8beat", "16beat") for f in ("", "_fill"))
assert all(r["key"] == "" and r["chords"] == "" for r in drums)
assert len(os.listdir(os.path.join(root, "audio"))) == 126
def read(path):
    with wave.open(os.path.join(root, path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 22050, 22050), w.getparams()
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
levels = []
for r in rows:
    x = read(r["path"])
    levels.append(10 * np.log10(np.mean(x ** 2) + 1e-20))
    assert np.abs(x[: 22050 // 2]).max() > 0.01, f"{r['path']}: silent first half"
assert min(levels) > -35 and max(levels) < -10, (min(levels), max(levels))
sr = 22050
def peaks(x, lo, hi, n):
    seg = x[int(lo * sr): int(hi * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 8 * seg.size))
    freq = np.fft.rfftfreq(8 * seg.size, 1 / sr)
    local = np.flatnonzero((spec[1:-1] > spec[:-2]) & (spec[1:-1] >= spec[2:])) + 1
    return sorted(freq[local[np.argsort(spec[local])[-n:]]])
x = read("audio/A3_Sine_M_m.wav")
major, minor = peaks(x, 0.02, 0.45, 3), peaks(x, 0.52, 0.95, 3)
for got, want in ((major, [220.0, 277.18, 329.63]), (minor, [220.0, 261.63, 329.63])):
    assert all(abs(g - w) <= 0.02 * w for g, w in zip(got, want)), (got, want)
d = read("audio/A3_Sine_dim_blank.wav")
assert np.all(d[int(0.5 * sr):] == 0), "dim_blank: the blank half is not silent"
assert np.array_equal(read("audio/A3_Sine_M_m.wav")[sr // 2:], read("audio/A3_Sine_7_m.wav")[sr // 2:]), \
    "M_m and 7_m end on the same minor triad but their second halves differ"
for p in ("4beat", "8beat", "16beat"):
    a, b = read(f"audio/drums_{p}.wav"), read(f"audio/drums_{p}_fill.wav")
    cut = int(0.74 * sr)
    assert np.array_equal(a[:cut], b[:cut]) and not np.array_equal(a[cut:], b[cut:]), p
print(f"126 templates (120 harmonic, 6 drums), every combination once; WAVs 1 s mono, {min(levels):.1f}..{max(levels):.1f} "
      f"dBFS; Sine A3 M_m peaks {', '.join('%.1f' % f for f in major)} then {', '.join('%.1f' % f for f in minor)} Hz; "
      "dim_blank's blank half silent; M_m and 7_m share their minor half; fills change only the last two beats")
PYEOF
  pass "stimuli: $(cat "$work/check.txt")"
else
  failed "stimuli: $(tail -5 "$work/check.txt")"
fi

# ---- a cache for the front end (Choi's STFT, clips of 1 s), two models
printf 'path,split,tags\ns/audio/A3_Sine_M_m.wav,train,x\ns/audio/drums_8beat.wav,train,y\n' >"$work/files.csv"
"$AT" prep tests/explain/stft_small.ini --list "$work/files.csv" --out "$work/cache" >"$work/prep.txt" 2>&1 ||
  failed "prep: $(tail -3 "$work/prep.txt")"
cat >"$work/two.ini" <<'EOF'
[model]
name = two_blocks
input = 257x40x1
output = softmax
init = he_normal
[conv]
filters = 6
size = 5x3
[relu]
[maxpool]
size = 4x2
[conv]
filters = 5
size = 3x3
[relu]
[maxpool]
size = 4x4
[flatten]
[dense]
units = 2
EOF
"$AT" init "$work/two.ini" -o "$work/two.h5" --seed 1 >/dev/null || failed "init two_blocks"
if "$AT" activations "$work/two.h5" --list "$work/s/stimuli.csv" --cache "$work/cache/train.h5" --out "$work/act.h5" \
  >"$work/act.txt" 2>&1; then
  pass "activations: $(tail -1 "$work/act.txt")"
else
  failed "activations: $(tail -3 "$work/act.txt")"
fi
if $PY - "$work/act.h5" "$work/s/stimuli.csv" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import csv, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
paths = [p.decode() if isinstance(p, bytes) else p for p in f["paths"][()]]
assert paths == [r["path"] for r in rows], "/paths differ from the list"
assert f.attrs["format"] == "auratag-activations" and int(f.attrs["n_layers"]) == 2
assert f.attrs["layers"] == "maxpool1,maxpool2" and f.attrs["convs"] == "conv1,conv2", (f.attrs["layers"], f.attrs["convs"])
l1, l2 = np.asarray(f["layer1"]), np.asarray(f["layer2"])
assert l1.shape == (126, 6) and l2.shape == (126, 5), (l1.shape, l2.shape)
assert np.all(np.isfinite(l1)) and np.all(l1 >= 0) and np.all(np.isfinite(l2)) and np.all(l2 >= 0)
assert f["layer1"].attrs["layer"] == "maxpool1" and f["layer2"].attrs["shape"] == "16x5x5", f["layer2"].attrs["shape"]
assert l1.std(axis=0).max() > 0, "layer 1 gives every template the same features"
print("/layer1 [126, 6] and /layer2 [126, 5] (ReLU + pool outputs: finite, >= 0, varying), /paths = the list, attributes")
PYEOF
  pass "ACT.h5: $(cat "$work/check.txt")"
else
  failed "ACT.h5: $(tail -3 "$work/check.txt")"
fi

# the CUDA backend and GPU front end (emulated kernels, where the build has them) give the CPU's numbers
# (on every 16th template: the emulator is slow)
EMU=$BUILD/tests/cuda/auratag_emu
if [ -x "$EMU" ]; then
  awk 'NR == 1 || NR % 16 == 2' "$work/s/stimuli.csv" >"$work/s/some.csv"
  # FP32 products, as on the CPU (TF32 is the CUDA backend's default: ~1e-3)
  if NVIDIA_TF32_OVERRIDE=0 "$EMU" activations "$work/two.h5" --backend cuda --list "$work/s/some.csv" --cache "$work/cache/train.h5" \
    --out "$work/act_emu.h5" >"$work/emu.txt" 2>&1 &&
    $PY - "$work/act.h5" "$work/act_emu.h5" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
rows = np.arange(0, 126, 16)
assert list(b["paths"][()]) == list(a["paths"][()][rows])
err = max(float(np.abs(np.asarray(a[k])[rows] - np.asarray(b[k])).max() / (np.abs(np.asarray(a[k])).max() + 1e-30))
          for k in ("layer1", "layer2"))
assert err < 1e-5, err
print(f"{rows.size} templates; largest difference {err:.1e} of the largest activation")
PYEOF
    pass "activations on the CUDA backend (emulated) = the CPU's: $(cat "$work/check.txt")"
  else
    failed "activations on the CUDA backend (emulated): $(tail -3 "$work/emu.txt" "$work/check.txt")"
  fi
fi

# ---- the correlation table
if $PY scripts/stimuli_correlation.py "$work/act.h5" "$work/s/stimuli.csv" --csv "$work/corr.csv" >"$work/corr.txt" 2>&1 &&
  $PY - "$work/corr.txt" "$work/corr.csv" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import csv, math, sys
lines = open(sys.argv[1]).read().splitlines()
head = next(i for i, l in enumerate(lines) if l.startswith("layer "))
assert lines[head].split() == ["layer", "key", "instrument", "chords", "pattern", "fill"], lines[head]
table = [l.split() for l in lines[head + 1: head + 3]]
assert [t[0] for t in table] == ["layer1", "layer2"] and lines[head + 3].startswith("pairs:"), lines[head:head + 4]
values = [float(v) for t in table for v in t[2:]]
assert len(values) == 10 and all(-1 <= v <= 1 for v in values), values
assert "key 180, instrument 300, chords 240, pattern 6, fill 3" in lines[head + 3], lines[head + 3]
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
overall = [r for r in rows if r["values"] == "all"]
assert len(overall) == 10 and all(-1 <= float(r["mean_r"]) <= 1 for r in overall)
assert {r["attribute"] for r in rows} == {"key", "instrument", "chords", "pattern", "fill"}
print("layers layer1, layer2 x key, instrument, chords, pattern, fill; all in [-1, 1] ("
      + " ".join("%.3f" % v for v in values) + "); the CSV holds them and the per-value-pair breakdown")
PYEOF
  pass "correlation table: $(cat "$work/check.txt")"
  sed -n '/^layer /,/^pairs/p' "$work/corr.txt" | sed 's/^/     /'
else
  failed "correlation table: $(tail -5 "$work/corr.txt" "$work/check.txt")"
fi

# ---- band detectors: conv features that each sum one band of the spectrum
cat >"$work/bands.ini" <<'EOF'
[model]
name = bands
input = 257x40x1
output = softmax
init = he_normal
[conv]
filters = 8
size = 257x1
padding = valid
[relu]
[maxpool]
size = 1x4
[flatten]
[dense]
units = 2
EOF
"$AT" init "$work/bands.ini" -o "$work/bands.h5" --seed 1 >/dev/null || failed "init bands: $(cat "$work/bands.ini")"
$PY - "$work/bands.h5" <<'PYEOF' || failed "writing the band-detector weights"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
w = f["params/conv1/weight"]  # [8, 1, 257, 1]
v = np.zeros(w.shape, dtype=np.float32)
edges = [1, 3, 6, 12, 24, 48, 96, 192, 257]  # about octaves of 21.5 Hz bins: 21 Hz .. 5.5 kHz
for k in range(8):
    v[k, 0, edges[k]:edges[k + 1], 0] = 1.0 / (edges[k + 1] - edges[k])
w[...] = v
f["params/conv1/bias"][...] = 0
PYEOF
if "$AT" activations "$work/bands.h5" --list "$work/s/stimuli.csv" --cache "$work/cache/train.h5" \
  --out "$work/bands_act.h5" >"$work/bands.txt" 2>&1 &&
  $PY scripts/stimuli_correlation.py "$work/bands_act.h5" "$work/s/stimuli.csv" --breakdown instrument \
    --csv "$work/bands.csv" >"$work/bands_corr.txt" 2>&1 &&
  $PY - "$work/bands.csv" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert {r["layer"] for r in rows} == {"layer1"}
sine = [r for r in rows if r["attribute"] == "instrument" and "Sine" in r["values"].split("|")]
assert len(sine) == 5, [r["values"] for r in sine]
bad = [r for r in sine if r["mean_r"] == "" or not math.isfinite(float(r["mean_r"])) or int(r["undefined"])]
assert not bad, bad
assert all(-1 <= float(r["mean_r"]) <= 1 for r in sine)
mean = {r["attribute"]: float(r["mean_r"]) for r in rows if r["values"] == "all"}
assert mean["key"] < mean["chords"] - 0.2, mean
print("Sine vs " + ", ".join(f"{r['values'].replace('Sine', '').strip('|')} {float(r['mean_r']):.3f}" for r in sine)
      + f" (all defined, 20 pairs each); r(key) {mean['key']:.3f} < r(chords) {mean['chords']:.3f}")
PYEOF
  pass "band detectors: $(cat "$work/check.txt")"
else
  failed "band detectors: $(tail -5 "$work/bands.txt" "$work/bands_corr.txt" "$work/check.txt")"
fi

# ---- the wrapper
if AURATAG="$AT" scripts/stimuli.sh "$work/two.h5" "$work/w" --cache "$work/cache/train.h5" --seconds 1 \
  >"$work/wrap.txt" 2>&1 &&
  grep -q "^layer2 (maxpool2)" "$work/wrap.txt" && [ -s "$work/w/correlation.csv" ] &&
  cmp -s "$work/w/audio/G4_Strings_7_m.wav" "$work/s/audio/G4_Strings_7_m.wav"; then
  pass "scripts/stimuli.sh: stimuli, activations, correlation table and correlation.csv"
else
  failed "scripts/stimuli.sh: $(tail -5 "$work/wrap.txt")"
fi

# ---- refusals
fails "stimuli: a missing SoundFont names the Debian package" "fluid-soundfont-gm" \
  "$AT" stimuli "$work/x" --seconds 1 --soundfont "$work/none.sf2"
fails "stimuli: no output folder" "stimuli: missing arguments: OUT_DIR" "$AT" stimuli
fails "stimuli: bad --seconds" "--seconds" "$AT" stimuli "$work/x" --seconds 0
fails "activations: a plain weights file needs --cache" "give --cache" \
  "$AT" activations "$work/two.h5" --list "$work/s/stimuli.csv" --out "$work/x.h5"
printf 'file,kind\na.wav,harmonic\n' >"$work/nopath.csv"
fails "activations: a list without a path column" "names no 'path' column" \
  "$AT" activations "$work/two.h5" --list "$work/nopath.csv" --cache "$work/cache/train.h5" --out "$work/x.h5"
printf 'path\nnothere.wav\n' >"$work/missing.csv"
fails "activations: a missing file" "nothere.wav: cannot read" \
  "$AT" activations "$work/two.h5" --list "$work/missing.csv" --cache "$work/cache/train.h5" --out "$work/x.h5"
fails "activations: no --out" "usage" "$AT" activations "$work/two.h5" --list "$work/s/stimuli.csv"
printf 'path,kind,key,instrument,chords,drums\naudio/other.wav,harmonic,A3,Sine,M_m,\n' >"$work/other.csv"
fails "correlation: templates missing from ACT.h5" "are not in" \
  $PY scripts/stimuli_correlation.py "$work/act.h5" "$work/other.csv"
exit $fail
