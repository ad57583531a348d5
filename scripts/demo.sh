#!/usr/bin/env bash
# The main job: build the demo dataset, prepare it, train, evaluate.
#  1. `auratag demo-data` renders 400 four-second clips of generated music with
#     FluidSynth (instrument families, drums, tempo class; deterministic);
#  2. `auratag prep` turns them into spectrogram caches (96 mel x 173 frames);
#  3. `auratag train` fits Pons et al.'s Time, Frequency and Time-Frequency
#     architectures and a narrowed FCN-3;
#  4. `auratag eval` prints each model's per-tag ROC-AUC on the test split, and
#     a summary shows Pons et al.'s claim: temporal filters hear tempo,
#     frequency filters hear timbre;
#  5. `auratag auralise` lets FCN-3's first-layer features be heard, published
#     musicnn models tag real recorded music, and `auratag report` writes one
#     HTML page of the four runs (curves, per-tag results, the auralisation).
set -eu
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ ! -f data/demo/files.csv ]; then
  echo "== auratag demo-data data/demo"
  ./auratag demo-data data/demo
fi
if [ ! -f data/demo/cache/test.h5 ]; then
  echo "== auratag prep configs/datasets/demo.ini --list data/demo/files.csv --out data/demo/cache"
  ./auratag prep configs/datasets/demo.ini --list data/demo/files.csv --out data/demo/cache
fi
stamp=$(date +%Y%m%d-%H%M%S)
summary=()
run_dirs=()
for model in pons_time pons_frequency pons_timefreq fcn3; do
  run="demo-$stamp-$model"
  echo
  echo "== auratag train configs/experiments/demo_$model.ini --set train.run=$run"
  ./auratag train "configs/experiments/demo_$model.ini" --set "train.run=$run" | grep -v "^epoch [0-9]*/"
  echo "== auratag eval checkpoints/$run data/demo/cache/test.h5"
  ./auratag eval "checkpoints/$run" data/demo/cache/test.h5 --json "checkpoints/$run/test-eval.json"
  summary+=("$model=checkpoints/$run/test-eval.json")
  run_dirs+=("checkpoints/$run")
done
echo
echo "== test-split ROC-AUC by tag group (Pons et al. 2016: time filters for rhythm, frequency filters for timbre)"
/usr/bin/python3 - "${summary[@]}" <<'PYEOF'
import json, sys
groups = {"tempo": ["slow", "medium", "fast"],
          "instruments": ["piano", "organ", "guitar", "strings", "brass", "reed"], "drums": ["drums"]}
print(f"{'model':16s} {'tempo':>8s} {'instruments':>12s} {'drums':>8s} {'all':>8s}")
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    clip = json.load(open(path))["clip"]
    auc = {t["tag"]: t["roc_auc"] for t in clip["tags"]}
    mean = lambda tags: sum(auc[t] for t in tags if auc.get(t) is not None) / max(1, sum(auc.get(t) is not None for t in tags))
    print(f"{name:16s} {mean(groups['tempo']):8.3f} {mean(groups['instruments']):12.3f} {mean(groups['drums']):8.3f} "
          f"{clip['macro_roc_auc']:8.3f}")
PYEOF
# Auralisation (Choi et al. 2016): what FCN-3's first-layer features respond
# to on a test clip, as audio and pictures (index.html in the folder)
clip=$(awk -F, '$2 == "test" { print $1; exit }' data/demo/files.csv)
run="demo-$stamp-fcn3"
echo
echo "== auratag auralise checkpoints/$run data/demo/$clip --layer 1 --feature 0,1,2,3 --out checkpoints/$run/auralise"
./auratag auralise "checkpoints/$run" "data/demo/$clip" --layer 1 --feature 0,1,2,3 --out "checkpoints/$run/auralise" |
  grep -v "^features "
# Published models on real recorded music: musicnn and its VGG baseline (Pons &
# Serra 2019, trained on MagnaTagATune), imported from the musicnn package, on
# the soundtrack of a Debian game (chromium-bsu-data), 20 dB quieter: musicnn's
# float16 front end overflows on loud passages (configs/datasets/musicnn.ini)
echo
echo "== bash scripts/fetch-musicnn.sh (the published musicnn models into models/)"
bash scripts/fetch-musicnn.sh | sed 's/ (.*//'
music=/usr/share/games/chromium-bsu/wav
mkdir -p data/real
for f in music_game music_menu; do sox -q "$music/$f.wav" -r 16000 "data/real/$f.wav" vol -20dB; done
for model in musicnn-mtt vgg-mtt; do
  echo
  echo "== auratag tag $model data/real/music_game.wav data/real/music_menu.wav --top 5"
  ./auratag tag "$model" data/real/music_game.wav data/real/music_menu.wav --top 5 | grep -v "^weights:\|^front end:"
done
echo
echo "== auratag report ${run_dirs[*]} -o checkpoints/demo-$stamp.html"
./auratag report "${run_dirs[@]}" --title "auratag demo: Pons et al.'s filter shapes and FCN-3 ($stamp)" \
  -o "checkpoints/demo-$stamp.html"
echo
echo "run folders: checkpoints/demo-$stamp-* (config.ini, log.jsonl, best.h5, last.h5, results.json, test-predictions.h5, test-eval.json, tb/)"
echo "report: checkpoints/demo-$stamp.html (open it in a browser)"
