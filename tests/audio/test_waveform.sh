#!/usr/bin/env bash
# Waveform caches (docs/datasets.md, representation = waveform) and a
# waveform model (SampleCNN, configs/models/samplecnn.ini, narrowed to 8
# channels) end to end:
#  - prep of real recorded music (Extreme Tux Racer's race music, Debian
#    extremetuxracer-data, stereo 44.1 kHz Vorbis, 12 s of it) writes the mono signal resampled to 16 kHz as features
#    [N, 1, samples] in 59,049-sample chunks, equal to python-soxr's HQ
#    resampling of soundfile's samples within float16's rounding;
#  - a key of the spectrogram front end is an error with a waveform;
#  - training, eval with 16 crops, predict, embed and tag take the model;
#  - bad input: a spectrogram cache to the waveform model (train and eval), a
#    waveform cache to a spectrogram model, another sample rate, a clip
#    shorter than the model's input (padded, said once), auralisation.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
vpy=$(bash scripts/test-venv.sh) || { failed "cannot set up the test environment (scripts/test-venv.sh)"; exit 1; }
mk=$BUILD/tests/oracle/make_audio

# ---- prep of real music against python-soxr ----
music=/usr/share/games/etr/music/race1-jt.ogg
sox -R -q "$music" "$work/race.wav" trim 0 12 || { failed "sox $music"; exit 1; }
printf 'path,split,tags\nrace.wav,train,music\n' >"$work/race.csv"
if "$AT" prep configs/datasets/demo_samplecnn.ini --set dataset.clip_seconds=0 --set dataset.chunk_frames=59049 \
     --set dataset.feature_dtype=float32 --list "$work/race.csv" --out "$work/race" >"$work/out.txt" 2>&1 &&
   "$AT" prep configs/datasets/demo_samplecnn.ini --set dataset.clip_seconds=0 --set dataset.chunk_frames=59049 \
     --list "$work/race.csv" --out "$work/race16" >>"$work/out.txt" 2>&1; then
  if "$vpy" - "$work/race.wav" "$work/race/train.h5" "$work/race16/train.h5" >"$work/check.txt" 2>&1 <<'PYEOF'
import sys
import h5py, numpy as np, soundfile, soxr
x, rate = soundfile.read(sys.argv[1], dtype="float32", always_2d=True)
assert x.shape[1] == 2 and rate == 44100, (x.shape, rate)
mono = x.mean(axis=1, dtype=np.float32)
want = soxr.resample(mono, rate, 16000, quality="HQ").astype(np.float32)
for path, dtype in ((sys.argv[2], np.float32), (sys.argv[3], np.float16)):
    f = h5py.File(path, "r")
    got = f["features"]
    assert got.dtype == dtype and got.shape == (len(want) // 59049, 1, 59049), (got.dtype, got.shape, len(want))
    assert f.attrs["representation"] == "waveform" and f.attrs["sample_rate"] == 16000 and f.attrs["hop"] == 1
    got = got[()].astype(np.float32).reshape(-1)
    ref = want[: got.size]
    err = np.abs(got - ref)
    bound = 1e-5 + (np.abs(ref) * 2.0 ** -11 if dtype == np.float16 else 0)
    assert (err <= bound).all(), "%s: max |diff| %.3g at %d (bound %.3g)" % (path, err.max(), err.argmax(), bound if np.isscalar(bound) else bound[err.argmax()])
    print("%s: %d chunks of 59049 samples, max |diff| vs soxr HQ %.2g (%s)" % (path.split("/")[-2], got.size // 59049, err.max(), dtype.__name__))
PYEOF
  then pass "prep of real music as waveforms = soundfile + soxr HQ: $(tr '\n' ';' <"$work/check.txt")"
  else failed "waveform prep vs soxr: $(tail -3 "$work/check.txt")"; fi
else failed "waveform prep: $(tail -3 "$work/out.txt")"; fi
fails "a spectrogram key with representation = waveform" "only sample_rate applies" \
  "$AT" prep configs/datasets/demo_samplecnn.ini --set frontend.n_fft=512 --list "$work/race.csv" --out "$work/x"

# ---- a narrow SampleCNN trained on waveforms of tones (4 s at 22.05 kHz, 3 tags) ----
t=$work/tones
mkdir -p "$t" && echo "path,split,tags" >"$t/files.csv"
for i in $(seq 0 23); do
  split=train; [ $i -ge 16 ] && split=valid; [ $i -ge 20 ] && split=test
  "$mk" "$t/$i.wav" --rate 22050 --seconds 4 --tone "0:4:$((250 + 600 * (i % 3))):0.25" >/dev/null
  echo "$i.wav,$split,f$((i % 3))" >>"$t/files.csv"
done
narrow=()
for i in $(seq 0 10); do narrow+=(--set "conv$i.filters=8"); done
run=(--set output.units=3 --set "train.root=$t/runs" --set train.epochs=1 --set train.batch=8)
data() { echo --set "data.train=$1/train.h5" --set "data.valid=$1/valid.h5" --set "data.test=$1/test.h5"; }
if ! { "$AT" prep configs/datasets/demo_samplecnn.ini --list "$t/files.csv" --out "$t/wave" &&
       "$AT" prep configs/datasets/demo.ini --list "$t/files.csv" --out "$t/mel" &&
       "$AT" prep configs/datasets/demo_samplecnn.ini --set frontend.sample_rate=8000 --list "$t/files.csv" --out "$t/wave8k" &&
       "$AT" prep configs/datasets/demo_samplecnn.ini --set dataset.clip_seconds=3 --list "$t/files.csv" --out "$t/wave3s"; } \
     >"$work/out.txt" 2>&1; then
  failed "prep of the tone caches: $(tail -3 "$work/out.txt")"; exit 1
fi
# shellcheck disable=SC2046
if "$AT" train configs/experiments/demo_samplecnn.ini "${narrow[@]}" "${run[@]}" $(data "$t/wave") --set train.run=s \
     >"$work/train.txt" 2>&1; then
  pass "SampleCNN (8 channels) trained an epoch on a waveform cache: $(grep -m1 '^test' "$work/train.txt")"
else failed "SampleCNN training on waveforms: $(tail -3 "$work/train.txt")"; exit 1; fi
W=$t/runs/s
if "$AT" eval "$W" "$t/wave/test.h5" --crops 16 --json "$work/e16.json" >"$work/out.txt" 2>&1 &&
   grep -q "16 crops of 59049 frames per example" "$work/out.txt"; then
  pass "eval --crops 16 on a waveform cache: $(grep -m1 'ROC-AUC' "$work/out.txt" | sed 's/^ *//')"
else failed "eval --crops 16: $(tail -3 "$work/out.txt")"; fi
if "$AT" predict "$W" "$t/wave/test.h5" -o "$work/p.h5" >"$work/out.txt" 2>&1 &&
   "$AT" embed "$W" "$t/0.wav" "$t/1.wav" --layer relu10 --pool mean -o "$work/emb.h5" >>"$work/out.txt" 2>&1 &&
   "$AT" tag "$W" "$t/0.wav" --json >"$work/tag.json" 2>>"$work/out.txt" &&
   "$vpy" - "$work/p.h5" "$work/emb.h5" "$work/tag.json" >>"$work/out.txt" 2>&1 <<'PYEOF'
import json, sys
import h5py, numpy as np
p = h5py.File(sys.argv[1], "r")["probabilities"][()]
assert p.shape == (4, 3) and np.isfinite(p).all() and ((p > 0) & (p < 1)).all(), p
e = h5py.File(sys.argv[2], "r")
emb = [e[k] for k in e if isinstance(e[k], h5py.Dataset) and e[k].ndim >= 2 and e[k].shape[-1] == 8]
assert emb and np.isfinite(emb[0][()]).all(), list(e)
t = json.load(open(sys.argv[3]))["files"][0]
assert len(t["tags"]) == 3 and t["crops"] == 2 and not t["padded"], t
PYEOF
then pass "predict, embed (relu10, 8 values per file) and tag take the waveform model"
else failed "predict / embed / tag with the waveform model: $(tail -4 "$work/out.txt")"; fi

# ---- bad input ----
# shellcheck disable=SC2046
fails "a spectrogram cache to a waveform model (train)" "but model 'samplecnn' takes a waveform" \
  "$AT" train configs/experiments/demo_samplecnn.ini "${narrow[@]}" "${run[@]}" $(data "$t/mel") --set train.run=x1
fails "a spectrogram cache to a trained waveform model (eval)" "holds spectrograms but the training cache" \
  "$AT" eval "$W" "$t/mel/test.h5"
# shellcheck disable=SC2046
fails "a waveform cache to a spectrogram model" "holds waveforms (representation = waveform" \
  "$AT" train configs/experiments/demo_pons_time.ini --set "train.root=$t/runs" $(data "$t/wave") --set train.run=x2
fails "another sample rate" "was made at 8000 Hz but the training cache" "$AT" eval "$W" "$t/wave8k/test.h5"
fails "auralisation of a waveform model" "auralisation needs a spectrogram-input model" \
  "$AT" auralise "$W" "$t/0.wav" --layer conv1 --feature 0 --out "$work/aur"
if "$AT" eval "$W" "$t/wave3s/test.h5" >"$work/out.txt" 2>&1 &&
   grep -q "holds 48000 samples per example (3.000 s), fewer than the 59049 model 'samplecnn' takes: each example is padded with 11049 zero samples" "$work/out.txt"; then
  pass "a clip shorter than the model's input is padded and said: $(grep -m1 '^note' "$work/out.txt")"
else failed "short waveform clips: $(tail -3 "$work/out.txt")"; fi
# shellcheck disable=SC2046
if "$AT" train configs/experiments/demo_samplecnn.ini "${narrow[@]}" "${run[@]}" $(data "$t/wave3s") --set train.run=short \
     >"$work/out.txt" 2>&1 && [ "$(grep -c '^note: .*padded with 11049 zero samples' "$work/out.txt")" = 3 ]; then
  pass "training on short clips: one note per cache (train, valid, test), not one per epoch"
else failed "training on short clips: $(grep -c '^note' "$work/out.txt") notes: $(tail -3 "$work/out.txt")"; fi
exit $fail
