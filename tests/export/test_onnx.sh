#!/usr/bin/env bash
# ONNX export (docs/export.md): every shipped architecture (seeded random
# weights; the FCNs narrowed to 8 channels but at their real 96x1366 input),
# a small graph using every layer type after a few training steps (batch-norm
# statistics no longer 0 and 1), the imported musicnn models (real weights)
# and a run folder: ONNX's checker accepts each file and onnxruntime's logits
# and probabilities equal `auratag predict`'s within 1e-5 (onnx_check.py).
# Refusals: an unknown format, a missing -o.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
vpy=$(bash scripts/test-venv.sh) || { failed "cannot set up the test environment (scripts/test-venv.sh)"; exit 1; }

# auratag's side of each check runs at once; onnx_check.py and onnx_front_end_check.py check
# them all at the end, one process each (run_checks: onnxruntime starts twice, not per model)
checks=$work/checks.txt fe_checks=$work/fe_checks.txt last_check=$work/none
: >"$checks"
: >"$fe_checks"
check() { # label weights args-for-synth...
  local label=$1 weights=$2
  shift 2
  local d="$work/data-${label//[^a-z0-9_]/_}"
  if ! "$AT" synth "$d" --train 4 --valid 1 --test 1 --seed 3 "$@" >"$work/out.txt" 2>&1; then
    failed "$label: synth: $(tail -2 "$work/out.txt")"; return; fi
  last_check=$d  # its export's model card: $d/m.json
  if "$AT" export "$weights" --format onnx -o "$d/m.onnx" >"$work/out.txt" 2>&1 &&
     "$AT" predict "$weights" "$d/train.h5" --crops 1 -o "$d/p.h5" >>"$work/out.txt" 2>&1; then
    printf '%s\t%s\t%s\t%s\n' "$label" "$d/m.onnx" "$d/train.h5" "$d/p.h5" >>"$checks"
  else
    failed "$label: $(tail -3 "$work/out.txt")"
  fi
}
# fe_check LABEL WEIGHTS AUDIO...: --with-front-end's probabilities = `auratag tag`'s (1e-4)
n_fe=0
fe_check() {
  local label=$1 weights=$2
  shift 2
  n_fe=$((n_fe + 1))
  local fe=$work/fe$n_fe
  if "$AT" export "$weights" --with-front-end -o "$fe.onnx" >"$work/out.txt" 2>&1 &&
     "$AT" tag "$weights" "$@" --json --top 1000 >"$fe.json" 2>>"$work/out.txt"; then
    (IFS=$'\t'; echo "$label, audio in"$'\t'"$fe.onnx"$'\t'"$fe.json"$'\t'"$*") >>"$fe_checks"
  else failed "$label --with-front-end: $(tail -3 "$work/out.txt")"; fi
}
. "$(dirname "$0")/shipped_models.sh"  # seeded, narrow, quick, check_shipped_models, train_graph_small, run_checks
check_shipped_models

# every layer type, after training steps, exported from the run folder (its tags named)
if train_graph_small; then
  check "graph_small (trained an epoch; run folder)" "$work/runs/g" --bins 6 --frames 10 --tags 5
  # the model card beside the export; --format h5: a clean weights file that predicts as the run does
  if "$AT" export "$work/runs/g" --format h5 -o "$work/clean.h5" >"$work/out.txt" 2>&1 &&
     "$AT" predict "$work/clean.h5" "$work/g/test.h5" --batch 16 --crops 1 -o "$work/p1.h5" >/dev/null 2>&1 &&
     "$AT" predict "$work/runs/g" "$work/g/test.h5" --batch 16 --crops 1 -o "$work/p2.h5" >/dev/null 2>&1 &&
     "$PY" - "$last_check/m.json" "$work/clean.json" "$work/clean.h5" "$work/p1.h5" "$work/p2.h5" "$work/runs/g/results.json" \
       >"$work/card.txt" 2>&1 <<'PYEOF'
import json, sys, h5py, numpy as np
onnx_card, h5_card = (json.load(open(p)) for p in sys.argv[1:3])
tags = [t.decode() for t in h5py.File(sys.argv[5], "r")["tags"][()]]
for card, fmt in ((onnx_card, "onnx"), (h5_card, "h5")):
    assert card["format"] == "auratag-model-card" and card["model"] == "graph_small", card["model"]
    assert card["export"]["format"] == fmt
    assert card["parameters"] == 305 and card["input"]["shape"] == [1, 6, 10]
    assert card["output"]["tags"] == tags, (card["output"]["tags"], tags)
    assert card["training_data"]["train"]["examples"] == 64 and card["training_data"]["valid"]["examples"] == 16
    assert card["results"] == json.load(open(sys.argv[6]))
    assert card["auratag"]["version"] and card["auratag"]["commit"]
clean = h5py.File(sys.argv[3], "r")
assert "train" not in clean and "optimizer" not in clean and set(clean.attrs) >= {"format", "config", "model"}
a, b = (h5py.File(p, "r")["logits"][()] for p in sys.argv[4:6])
assert np.array_equal(a, b)
print("cards of both exports: model, parameters, tags, training data (64 / 16 examples), results.json; "
      "the clean weights predict exactly as the run")
PYEOF
  then pass "$(cat "$work/card.txt")"; else failed "model card / --format h5: $(tail -3 "$work/out.txt") $(tail -4 "$work/card.txt")"; fi
else failed "graph_small training: $(tail -2 "$work/out.txt")"; fi

# the published models, imported (real weights and batch-norm statistics), on real recorded music
# (Extreme Tux Racer's race music, extremetuxracer-data, 20 dB quieter: musicnn's front end): prep cuts it into musicnn's 187-frame
# patches, embed --layer output gives auratag's logits for the same patches
if [ "$quick" = 1 ]; then
  echo "(the imported models: normal run only)"
elif AURATAG=$AT bash scripts/fetch-musicnn.sh >"$work/fetch.txt" 2>&1 &&
   sox -R -q /usr/share/games/etr/music/race1-jt.ogg -r 16000 -c 1 "$work/race.wav" vol -20dB trim 0 30 &&
   printf 'path,split,tags\nrace.wav,train,music\n' >"$work/race.csv" &&
   "$AT" prep configs/datasets/musicnn.ini --list "$work/race.csv" --out "$work/race_cache" >"$work/out.txt" 2>&1; then
  for name in musicnn-mtt vgg-mtt; do
    if "$AT" export "$name" -o "$work/$name.onnx" >"$work/out.txt" 2>&1 &&
       "$AT" embed "$name" "$work/race.wav" --layer output -o "$work/$name-logits.h5" >>"$work/out.txt" 2>&1; then
      printf '%s\t%s\t%s\t%s\n' "$name (imported), real music" "$work/$name.onnx" "$work/race_cache/train.h5" \
        "$work/$name-logits.h5" >>"$checks"
    else failed "$name (imported): $(tail -3 "$work/out.txt")"; fi
  done
  sox -R -q "$work/race.wav" "$work/short.wav" trim 0 1
  for name in musicnn-mtt vgg-mtt; do fe_check "$name" "$name" "$work/race.wav" "$work/short.wav"; done
else failed "imported models: $(tail -2 "$work/fetch.txt") $(tail -2 "$work/out.txt")"; fi

# a run trained on caches prep made (dB compression, global normalisation, 8 kHz) from tones
mk=$BUILD/tests/oracle/make_audio
t=$work/tones
mkdir -p "$t" && echo "path,split,tags" >"$t/files.csv"
for i in $(seq 0 11); do
  f=$((250 + 600 * (i % 3)))
  "$mk" "$t/$i.wav" --rate 8000 --seconds 3 --tone "0:3:$f:0.25" >/dev/null
  echo "$i.wav,train,f$((i % 3))" >>"$t/files.csv"
done
if "$AT" prep tests/configs/prep_small.ini --list "$t/files.csv" --out "$t/caches" >"$work/out.txt" 2>&1 &&
   "$AT" train tests/configs/prep_tag_experiment.ini --set "data.train=$t/caches/train.h5" --set data.valid= \
     --set train.epochs=2 --set "train.root=$t/runs" --set train.run=tones >>"$work/out.txt" 2>&1 &&
   sox -R -q /usr/share/games/chromium-bsu/wav/music_game.wav -r 8000 -c 1 "$t/game.wav" &&
   "$mk" "$t/short.wav" --rate 8000 --seconds 0.5 --tone 0:1:900:0.25 >/dev/null; then
  fe_check "a run on prep'd caches (dB, global normalisation)" "$t/runs/tones" "$t/game.wav" "$t/short.wav"
else failed "the tone run for --with-front-end: $(tail -3 "$work/out.txt")"; fi

# a SampleCNN (8 channels) trained on waveform caches (representation = waveform): the ONNX front end
# is the zero-padded signal itself, then tag's equally spaced crops of 59,049 samples
w=$work/wave
mkdir -p "$w" && echo "path,split,tags" >"$w/files.csv"
for i in $(seq 0 11); do
  "$mk" "$w/$i.wav" --rate 16000 --seconds 4 --tone "0:4:$((250 + 600 * (i % 3))):0.25" >/dev/null
  echo "$i.wav,train,f$((i % 3))" >>"$w/files.csv"
done
narrow_samplecnn=()
for i in $(seq 0 10); do narrow_samplecnn+=(--set "conv$i.filters=8"); done
if "$AT" prep configs/datasets/demo_samplecnn.ini --list "$w/files.csv" --out "$w/caches" >"$work/out.txt" 2>&1 &&
   "$AT" train configs/experiments/demo_samplecnn.ini "${narrow_samplecnn[@]}" --set output.units=3 \
     --set "data.train=$w/caches/train.h5" --set data.valid= --set data.test= --set train.epochs=1 \
     --set "train.root=$w/runs" --set train.run=samplecnn >>"$work/out.txt" 2>&1 &&
   sox -R -q /usr/share/games/chromium-bsu/wav/music_game.wav -r 16000 -c 1 "$w/game.wav" trim 0 10 &&
   "$mk" "$w/short.wav" --rate 16000 --seconds 1 --tone 0:1:900:0.25 >/dev/null; then
  fe_check "SampleCNN on waveform caches" "$w/runs/samplecnn" "$w/game.wav" "$w/short.wav"
else failed "the SampleCNN waveform run for --with-front-end: $(tail -3 "$work/out.txt")"; fi
fails "--with-front-end without a front end" "does not say how its input was computed from audio" \
  "$AT" export "$work/w.h5" --with-front-end -o "$work/x.onnx"

fails "export --format pytorch" "--format 'pytorch': the export writes onnx, torch or h5" \
  "$AT" export "$work/w.h5" --format pytorch -o "$work/x.onnx"
fails "export without -o" "-o FILE is required" "$AT" export "$work/w.h5"
fails "export of a model name not installed" "no_such_model" "$AT" export no_such_model -o "$work/n.onnx"
mkdir -p "$work/empty_run" && echo "[model]" >"$work/empty_run/config.ini"
fails "export of a run with no checkpoint" "has neither best.h5 nor last.h5" "$AT" export "$work/empty_run" -o "$work/n.onnx"
fails "export into a folder that cannot be made" "cannot create" "$AT" export "$work/w.h5" -o "$work/w.h5/x.onnx"

# onnxruntime on every export above
run_checks "$checks" "$vpy" tests/export/onnx_check.py
run_checks "$fe_checks" "$vpy" tests/export/onnx_front_end_check.py
exit $fail
