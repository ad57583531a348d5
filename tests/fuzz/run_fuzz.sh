#!/usr/bin/env bash
# Runs each libFuzzer target for a few seconds from a seed corpus (copied to a
# temporary folder so that new inputs do not land in the repository).
# usage: run_fuzz.sh BUILD_DIR SECONDS
set -u
build=$1
seconds=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/config" "$work/cache" "$work/weights"
cp configs/models/*.ini configs/experiments/*.ini tests/configs/*.ini tests/configs/bad/*.ini "$work/config/"
printf '\x0f\x02\x04\x03\x02\x1f\x0b\x02\x0f\x8f\x07\x00' >"$work/cache/valid-ish"
# fuzz_weights: byte 0 picks the file (bit 0: checkpoint, bit 1: Adam, bit 2:
# the model with batch norm); zero bytes after it mean "as auratag writes it",
# so each seed is a valid file whose every later choice the fuzzer can flip.
for head in 00 01 03 04 05 07; do
  { printf "\x$head"; head -c 64 /dev/zero; } >"$work/weights/valid-$head"
done
fail=0
for target in config cache weights; do
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
