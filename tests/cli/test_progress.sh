#!/usr/bin/env bash
# Progress of long commands (core/progress.h): plain lines with a rate and an
# ETA on stderr off a terminal, a bar redrawn with '\r' on a terminal
# (`script` from util-linux gives one), one update per file for `tag` and
# `embed` of several files, and the global --quiet silences it (eval,
# predict, tag, embed, prep, train); stdout, which carries the results, is
# the same with and without progress.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
MK=$BUILD/tests/oracle/make_audio

# ---- eval over many batches: a synthetic cache and a one-epoch run
s=$work/synth
"$AT" synth "$s" --train 32 --valid 8 --test 64 >"$work/synth.log" 2>&1 || failed "synth: $(tail -2 "$work/synth.log")"
train_synth() { # run-name extra-args...
  local run=$1
  shift
  "$AT" train configs/experiments/synth_pons_time.ini --set "data.train=$s/train.h5" --set "data.valid=$s/valid.h5" \
    --set data.test= --set "train.root=$work/runs" --set "train.run=$run" --set train.epochs=2 --set train.log_every=1 \
    --set train.batch=8 "$@"
}
train_synth r >"$work/train.out" 2>"$work/train.err" || failed "train: $(tail -3 "$work/train.err")"
train_synth q --quiet >"$work/trainq.out" 2>"$work/trainq.err" || failed "train --quiet: $(tail -3 "$work/trainq.err")"
if grep -q "ETA" "$work/train.out" && ! grep -q "ETA" "$work/trainq.out" "$work/trainq.err" &&
  grep -q "^epoch 2: train loss" "$work/trainq.out"; then
  pass "train prints progress lines ($(grep -c ETA "$work/train.out")), none with --quiet (its epoch lines stay)"
else
  failed "train progress / --quiet: $(cat "$work/train.out" "$work/trainq.out")"
fi

"$AT" eval "$work/runs/r" "$s/test.h5" --batch 4 >"$work/eval.out" 2>"$work/eval.err" || failed "eval: $(cat "$work/eval.err")"
# 16 batches: a line every 10 updates and at the end
if [ "$(grep -cE '^eval [0-9]+/16  [0-9.]+ crops/s  ETA [0-9:]+' "$work/eval.err")" = 2 ] &&
  grep -q '^eval 16/16 ' "$work/eval.err" && ! grep -q $'\r' "$work/eval.err" && ! grep -q "ETA" "$work/eval.out"; then
  pass "eval off a terminal: plain progress lines on stderr with a rate and an ETA: $(tail -1 "$work/eval.err")"
else
  failed "eval progress lines: $(cat "$work/eval.err")"
fi
"$AT" eval "$work/runs/r" "$s/test.h5" --batch 4 --quiet >"$work/evalq.out" 2>"$work/evalq.err" || failed "eval --quiet"
"$AT" --quiet eval "$work/runs/r" "$s/test.h5" --batch 4 >"$work/evalq2.out" 2>"$work/evalq2.err" || failed "--quiet eval"
if [ ! -s "$work/evalq.err" ] && [ ! -s "$work/evalq2.err" ] && cmp -s "$work/eval.out" "$work/evalq.out" &&
  cmp -s "$work/eval.out" "$work/evalq2.out" && grep -q "ROC-AUC" "$work/eval.out"; then
  pass "eval --quiet (before or after the command) prints no progress; stdout is the same with and without progress"
else
  failed "eval --quiet: stderr '$(cat "$work/evalq.err" "$work/evalq2.err")', stdout differs: $(diff "$work/eval.out" "$work/evalq.out" | head -5)"
fi
"$AT" predict "$work/runs/r" "$s/test.h5" --batch 4 -o "$work/p.h5" >"$work/pred.out" 2>"$work/pred.err" &&
  "$AT" predict "$work/runs/r" "$s/test.h5" --batch 4 -o "$work/p.h5" --quiet >"$work/predq.out" 2>"$work/predq.err"
if grep -q '^predict 16/16 .*ETA' "$work/pred.err" && [ ! -s "$work/predq.err" ] &&
  cmp -s "$work/pred.out" "$work/predq.out"; then
  pass "predict shows progress on stderr, none with --quiet, the same stdout"
else
  failed "predict progress: $(cat "$work/pred.err" "$work/predq.err")"
fi

# ---- on a terminal: the bar is redrawn in place
if script -qfec "$AT eval $work/runs/r $s/test.h5 --batch 4" /dev/null >"$work/tty.txt" 2>&1 &&
  grep -aq $'\reval \[[#.]*\] 16/16 .*ETA' "$work/tty.txt" &&
  [ "$(grep -ao $'\reval \[' "$work/tty.txt" | wc -l)" -ge 2 ]; then
  pass "eval on a terminal redraws a bar with '\\r' ($(grep -ao $'\reval \[' "$work/tty.txt" | wc -l) draws)"
else
  failed "eval on a terminal: $(od -c "$work/tty.txt" | head -8)"
fi
script -qfec "$AT eval $work/runs/r $s/test.h5 --batch 4 --quiet" /dev/null >"$work/ttyq.txt" 2>&1
if ! grep -aq "ETA" "$work/ttyq.txt" && grep -aq "ROC-AUC" "$work/ttyq.txt"; then
  pass "eval --quiet on a terminal draws no bar"
else
  failed "eval --quiet on a terminal: $(head -5 "$work/ttyq.txt")"
fi

# ---- prep and tag: files made here, a run trained briefly on their cache
t=$work/t
mkdir -p "$t"
echo "path,split,tags" >"$t/files.csv"
for i in 0 1 2 3 4 5 6 7; do
  "$MK" "$t/$i.wav" --rate 8000 --seconds 3 --tone "0:3:$((300 + 200 * i)):0.25"
  split=train
  [ "$i" -ge 6 ] && split=valid
  tags=(low mid high)
  echo "$i.wav,$split,${tags[i % 3]}" >>"$t/files.csv"
done
"$AT" prep tests/configs/prep_small.ini --list "$t/files.csv" --out "$t/c" >"$work/prep.out" 2>"$work/prep.err" ||
  failed "prep: $(tail -3 "$work/prep.err")"
"$AT" prep tests/configs/prep_small.ini --list "$t/files.csv" --out "$t/cq" --quiet >"$work/prepq.out" 2>"$work/prepq.err" ||
  failed "prep --quiet: $(tail -3 "$work/prepq.err")"
if grep -q "ETA" "$work/prep.err" && ! grep -q "ETA" "$work/prepq.out" "$work/prepq.err"; then
  pass "prep prints progress, none with --quiet"
else
  failed "prep progress / --quiet: $(cat "$work/prep.err" "$work/prepq.err")"
fi
"$AT" train tests/configs/prep_tag_experiment.ini --set "data.train=$t/c/train.h5" --set "data.valid=$t/c/valid.h5" \
  --set "train.root=$t/runs" --set train.run=tagger --set train.epochs=1 --quiet >"$work/ttrain.out" 2>&1 ||
  failed "train the tagger: $(tail -3 "$work/ttrain.out")"
"$AT" tag "$t/runs/tagger" "$t/0.wav" "$t/1.wav" "$t/2.wav" >"$work/tag.out" 2>"$work/tag.err" || failed "tag: $(cat "$work/tag.err")"
"$AT" tag "$t/runs/tagger" "$t/0.wav" "$t/1.wav" "$t/2.wav" --quiet >"$work/tagq.out" 2>"$work/tagq.err" || failed "tag --quiet"
"$AT" tag "$t/runs/tagger" "$t/0.wav" >"$work/tag1.out" 2>"$work/tag1.err" || failed "tag of one file"
if [ "$(grep -cE '^tag [123]/3  [0-9.]+ files/s  ETA' "$work/tag.err")" = 3 ] && [ ! -s "$work/tagq.err" ] &&
  [ ! -s "$work/tag1.err" ] && cmp -s "$work/tag.out" "$work/tagq.out" && grep -q "$t/2.wav" "$work/tag.out"; then
  pass "tag of 3 files: one progress line per file on stderr, none with --quiet or for one file, the same stdout"
else
  failed "tag progress: $(cat "$work/tag.err" "$work/tagq.err" "$work/tag1.err")"
fi
"$AT" embed "$t/runs/tagger" "$t/0.wav" "$t/1.wav" "$t/2.wav" --layer maxpool1 -o "$t/e.h5" >"$work/emb.out" 2>"$work/emb.err" &&
  "$AT" embed "$t/runs/tagger" "$t/0.wav" "$t/1.wav" "$t/2.wav" --layer maxpool1 -o "$t/e.h5" --quiet >"$work/embq.out" 2>"$work/embq.err"
if [ "$(grep -cE '^embed [123]/3  [0-9.]+ files/s  ETA' "$work/emb.err")" = 3 ] && [ ! -s "$work/embq.err" ] &&
  cmp -s "$work/emb.out" "$work/embq.out"; then
  pass "embed of 3 files: one progress line per file, none with --quiet, the same stdout"
else
  failed "embed progress: $(cat "$work/emb.err" "$work/embq.err")"
fi

exit $fail
