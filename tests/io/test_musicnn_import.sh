#!/usr/bin/env bash
# `auratag import musicnn` on the musicnn package's four published checkpoints
# (downloaded once into .cache/ by scripts/fetch-musicnn.sh; nothing of the
# wheel is committed): every imported tensor equals TensorFlow's own reading
# of the checkpoint (tests/io/musicnn_tf_check.py, tensorflow-cpu in
# .venv-tf), the tags are the package's MTT_LABELS / MSD_LABELS in order, the
# front end travels in the file; a missing, truncated, corrupt or foreign
# checkpoint is one clear error and writes nothing.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
export TF_CPP_MIN_LOG_LEVEL=3
package=$(bash scripts/fetch-musicnn.sh --package) || { failed "scripts/fetch-musicnn.sh --package"; exit 1; }
tfpy=$(bash scripts/tf-venv.sh) || { failed "scripts/tf-venv.sh (tensorflow-cpu)"; exit 1; }

# each checkpoint imported; then one TensorFlow process reads all four (and writes the foreign
# checkpoint of the refusals below), so that TensorFlow starts once
checks=()
imported=()
mkdir -p "$work/foreign"
for pair in musicnn-mtt:MTT_musicnn:musicnn:MTT_LABELS musicnn-msd:MSD_musicnn:musicnn:MSD_LABELS \
            vgg-mtt:MTT_vgg:vgg:MTT_LABELS vgg-msd:MSD_vgg:vgg:MSD_LABELS; do
  IFS=: read -r name dir kind labels <<<"$pair"
  if ! "$AT" import musicnn "$package/$dir" -o "$work/$name.h5" >"$work/out.txt" 2>&1; then
    failed "import $dir: $(cat "$work/out.txt")"; continue
  fi
  checks+=("$package/$dir/" "$work/$name.h5" "$kind")
  imported+=("$name:$dir")
  if "$PY" - "$work/$name.h5" "$package/configuration.py" "$labels" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
config = {}
exec(open(sys.argv[2]).read(), config)
assert [t.decode() for t in f["tags"][()]] == config[sys.argv[3]], "tags differ from the package's list"
assert "compression = log10_1p_half" in f.attrs["dataset_config"], "no musicnn front end in the file"
PYEOF
  then pass "$dir: tags in the package's $labels order; the musicnn front end travels in the file"
  else failed "$dir: tags or front end"; fi
done
"$tfpy" tests/io/musicnn_tf_check.py --foreign "$work/foreign/ckpt" "${checks[@]}" >"$work/tf_check.txt" 2>"$work/tf_check.err"
for pair in "${imported[@]}"; do
  name=${pair%%:*} dir=${pair#*:}
  out=$(grep -F " $work/$name.h5: " "$work/tf_check.txt")
  case $out in PASS*) pass "$dir: ${out#PASS }" ;; *) failed "$dir: ${out:-$(tail -1 "$work/tf_check.err")}" ;; esac
done
# taggrams on real recorded music (Debian's chromium-bsu-data: a game soundtrack) equal the package's own,
# run by TensorFlow: resampled to 16 kHz by sox beforehand, so both read the same samples, and 20 dB quieter,
# since musicnn's float16 front end overflows on loud passages (configs/datasets/musicnn.ini)
music=/usr/share/games/chromium-bsu/wav
if [ -f "$music/music_game.wav" ] && command -v sox >/dev/null; then
  sox -R -q "$music/music_game.wav" -r 16000 "$work/game.wav" vol -20dB &&
    sox -R -q "$music/music_menu.wav" -r 16000 "$work/menu.wav" vol -20dB
  # all four models (4 x 2 taggrams, the two musicnn ones x 2 files x 8 named features through `auratag
  # embed`); the sanitizer run (AURATAG_QUICK=1) runs TensorFlow for MTT_musicnn alone (2 + 16)
  models=(MTT_musicnn="$work/musicnn-mtt.h5" MSD_musicnn="$work/musicnn-msd.h5" MTT_vgg="$work/vgg-mtt.h5"
          MSD_vgg="$work/vgg-msd.h5")
  want=40
  if [ "${AURATAG_QUICK:-0}" = 1 ]; then models=("${models[0]}"); want=18; fi
  "$tfpy" tests/io/musicnn_taggram_check.py "$package/.." "$AT" "${models[@]}" -- "$work/game.wav" "$work/menu.wav" \
    >"$work/taggram.txt" 2>&1
  rc=$?
  grep -E "^(PASS|FAIL)" "$work/taggram.txt"
  [ $rc = 0 ] && [ "$(grep -c '^PASS' "$work/taggram.txt")" = $want ] || { fail=1; tail -5 "$work/taggram.txt"; }
  "$AT" embed "$work/musicnn-mtt.h5" "$work/game.wav" "$work/menu.wav" --layer penultimate -o "$work/e_none.h5" >/dev/null &&
    "$AT" embed "$work/musicnn-mtt.h5" "$work/game.wav" "$work/menu.wav" --layer penultimate --pool mean -o "$work/e_mean.h5" >/dev/null &&
    "$AT" embed "$work/musicnn-mtt.h5" "$work/game.wav" "$work/menu.wav" --layer penultimate --pool max -o "$work/e_max.h5" >/dev/null
  if $PY - "$work" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
none, mean, mx = (h5py.File(f"{w}/e_{p}.h5", "r") for p in ("none", "mean", "max"))
e, f = none["embeddings"][()], none["file"][()]
assert list(f) == [0, 0, 1] and np.allclose(none["start"][()], [0, 187 * 256 / 16000, 0])
assert np.allclose(mean["embeddings"][()], [e[f == i].mean(0) for i in (0, 1)], rtol=1e-6, atol=1e-6)
assert np.array_equal(mx["embeddings"][()], np.stack([e[f == i].max(0) for i in (0, 1)]))
assert mean.attrs["layer"] == "penultimate" and [p.decode() for p in mean["paths"][()]] == [f"{w}/game.wav", f"{w}/menu.wav"]
PYEOF
  then pass "embed: a row per patch with its file and start; --pool mean and max pool each file's patches"
  else failed "embed pooling"; fi
  "$AT" embed "$work/musicnn-mtt.h5" "$work/menu.wav" --layer nope -o "$work/e_bad.h5" >/dev/null 2>"$work/e.err"
  [ $? = 1 ] && grep -q "model 'musicnn' has no layer 'nope'; its layers: input_bn, timbral_74" "$work/e.err" && [ ! -e "$work/e_bad.h5" ] &&
    pass "embed --layer naming nothing: $(cut -c1-100 "$work/e.err")" || failed "embed --layer nope: $(cat "$work/e.err")"
  # taggram options: patches every --hop-frames, a file shorter than one patch padded to one (and said so)
  sox -R -q "$work/menu.wav" "$work/short.wav" trim 0 1
  if "$AT" tag "$work/musicnn-mtt.h5" "$work/game.wav" "$work/short.wav" --taggram --hop-frames 93 --json 2>/dev/null |
     $PY -c "
import json, sys
f = {x['path'].rsplit('/', 1)[1]: x for x in json.load(sys.stdin)['files']}
g, s = f['game.wav'], f['short.wav']
frames = int(6.512 * 16000) // 256 + 1  # 407 centred frames: starts 0, 93, ..., the last whole patch
assert len(g['taggram']['starts']) == (frames - 187) // 93 + 1 == 3, g['taggram']['starts']
assert abs(g['taggram']['starts'][1] - 93 * 256 / 16000) < 1e-9 and not g['padded']
assert s['padded'] and len(s['taggram']['probabilities']) == 1 and len(s['taggram']['probabilities'][0]) == 50
"; then pass "tag --taggram --hop-frames 93: patches every 1.488 s, the last whole one kept; a 1 s file padded to one patch"
  else failed "taggram options"; fi
  sox -R -V1 "$music/music_game.wav" -r 16000 "$work/loud.wav"
  "$AT" tag "$work/musicnn-mtt.h5" "$work/loud.wav" >/dev/null 2>"$work/loud.err"
  [ $? = 1 ] && grep -q "cannot tag: the front end gave a non-finite value (inf)" "$work/loud.err" &&
    pass "a loud recording overflows musicnn's float16 front end, as in the package: refused, $(head -c 160 "$work/loud.err")" ||
    failed "loud recording: $(cat "$work/loud.err")"
else
  failed "no real recordings: $music/music_game.wav or sox missing (bash scripts/install-deps.sh installs chromium-bsu-data and sox)"
fi
# installed models: models/NAME.h5 (from the working folder), listed by `auratag models`, taken by name
mkdir -p "$work/here/models" && cp "$work/musicnn-mtt.h5" "$work/here/models/mine.h5"
at_abs=$(cd "$(dirname "$AT")" && pwd)/$(basename "$AT")
if (cd "$work/here" && "$at_abs" models) | grep -Eq "^mine +musicnn +787159 +50 tags \(guitar, \.\.\.\); its own front end$" &&
   (cd "$work/here" && "$at_abs" tag mine "$work/menu.wav" --top 1) | grep -q "^$work/menu.wav"; then
  pass "auratag models lists models/mine.h5; auratag tag mine ... takes it by name"
else failed "installed models: $(cd "$work/here" && "$at_abs" models 2>&1 | tail -2)"; fi
(cd "$work/here" && "$at_abs" tag nosuch "$work/menu.wav") >/dev/null 2>"$work/nosuch.err"
[ $? = 1 ] && grep -q "'nosuch' is neither a weights file, a run folder nor an installed model" "$work/nosuch.err" &&
  pass "an unknown model name: $(head -1 "$work/nosuch.err" | cut -c1-120)" || failed "unknown model name: $(cat "$work/nosuch.err")"
"$AT" model "$work/musicnn-mtt.h5" | grep -q "^trainable parameters: 787159 " && pass "the imported file describes its model (787,159 parameters)" ||
  failed "auratag model on the imported file"

# bad input: one clear error each, nothing written
cp "$package/configuration.py" "$work/"  # the tags of copies named MTT_*
cp -r "$package/MTT_musicnn" "$work/MTT_trunc"
head -c 2000 "$package/MTT_musicnn/.index" >"$work/MTT_trunc/.index"
cp -r "$package/MTT_musicnn" "$work/MTT_flip"
$PY - "$work/MTT_flip/.data-00000-of-00001" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[100] ^= 0x40  # inside the first tensors' bytes
open(sys.argv[1], "wb").write(b)
PYEOF
mkdir -p "$work/foreign_dir"  # the checkpoint musicnn_tf_check.py --foreign wrote above
for f in "$work"/foreign/ckpt.*; do cp "$f" "$work/foreign_dir/${f##*/ckpt}"; done
printf 'a\nb\nc\n' >"$work/three.txt"
bad() { # what expected-text args...
  local what=$1 text=$2
  shift 2
  rm -f "$work/bad.h5"
  if "$AT" import musicnn "$@" -o "$work/bad.h5" >"$work/out.txt" 2>&1; then failed "$what: accepted"
  elif grep -qF -- "$text" "$work/out.txt" && [ ! -e "$work/bad.h5" ] && ! ls "$work"/bad.h5.tmp* >/dev/null 2>&1; then
    pass "$what: $(head -1 "$work/out.txt")"
  else failed "$what: $(cat "$work/out.txt")"; fi
}
bad "a missing checkpoint" "cannot open '$work/none/.index'" "$work/none"
bad "a truncated index" "is not a TensorFlow checkpoint index" "$work/MTT_trunc"
bad "a flipped bit in the data" "does not match (a corrupt file)" "$work/MTT_flip"
bad "another architecture" "another architecture than musicnn" "$work/foreign_dir"
bad "tags that do not fit" "3 tag names for model 'musicnn', which has 50 outputs" "$package/MTT_musicnn" --labels "$work/three.txt"
exit $fail
