#!/usr/bin/env bash
# Runs each libFuzzer target for a few seconds from a seed corpus (copied to a
# temporary folder so that new inputs do not land in the repository).
# usage: run_fuzz.sh BUILD_DIR SECONDS
set -u
build=$1
seconds=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/config" "$work/cache" "$work/weights" "$work/report"
cp configs/models/*.ini configs/experiments/*.ini tests/configs/*.ini tests/configs/bad/*.ini "$work/config/"
printf '\x0f\x02\x04\x03\x02\x1f\x0b\x02\x0f\x8f\x07\x00' >"$work/cache/valid-ish"
# fuzz_weights: byte 0 picks the file (bit 0: checkpoint, bit 1: Adam, bit 2:
# the model with batch norm); zero bytes after it mean "as auratag writes it",
# so each seed is a valid file whose every later choice the fuzzer can flip.
for head in 00 01 03 04 05 07; do
  { printf "\x$head"; head -c 64 /dev/zero; } >"$work/weights/valid-$head"
done
# fuzz_report: results.json, a NUL, log.jsonl -- a multi-label run with songs,
# a single-label one, a run cut short
tags='{"tag": "a", "positives": 2, "roc_auc": 0.75, "pr_auc": 0.5}, {"tag": "b", "positives": 0, "roc_auc": null, "pr_auc": null}'
multi="{\"macro_roc_auc\": 0.75, \"macro_pr_auc\": 0.5, \"excluded_roc_auc\": 1, \"tags\": [$tags]}"
single='{"accuracy": 0.5, "balanced_accuracy": 0.5, "per_class_accuracy": {"x": 1, "y": 0}, "confusion": [[2, 0], [2, 0]]}'
epoch() { printf '{"type": "epoch", "epoch": %d, "step": %d, "train_loss": 0.%d, "lr": 0.001, "select": "roc_auc", "valid": {"loss": 0.6, "clip": %s}}\n' "$1" "$2" "$3" "$4"; }
{ printf '{"run": "r", "steps": 8, "epochs": 2, "best_epoch": 2, "select": "roc_auc", "best_score": 0.75, "test": {"cache": "t.h5", "examples": 4, "loss": 0.5, "clip": %s, "songs": 2, "song": %s}}\0' "$multi" "$multi"
  epoch 0 4 7 "$multi"; epoch 1 8 5 "$multi"; echo '{"type": "finished", "step": 8, "detail": "r"}'; } >"$work/report/multi"
{ printf '{"run": "s", "best_epoch": 1, "select": "loss", "best_score": -0.4, "test": {"examples": 4, "clip": %s}}\0' "$single"
  epoch 0 3 9 "$single"; echo '{"type": "stopped_by_signal", "step": 3, "detail": "SIGTERM"}'; } >"$work/report/single"
{ printf '{"run": "c"}\0'; epoch 0 1 3 "$multi" | head -c 60; } >"$work/report/cut"
fail=0
for target in config cache weights report; do
  echo "== fuzz_$target for $seconds s"
  # -close_fd_mask=2: the targets' own error messages are expected; libFuzzer
  # keeps its reports. Leaks are not checked: a fatal error longjmps out.
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -detect_leaks=0 -close_fd_mask=2 \
       -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/" "$work/$target" 2>"$work/log"; then
    tail -40 "$work/log"
    echo "fuzz_$target found a failure; the input that triggered it is above (artifact in $work)"
    fail=1
  else
    grep -E "^#[0-9]+ *DONE|Done [0-9]+ runs" "$work/log" | tail -1
  fi
done
exit $fail
