# Shared by the shell tests (source it): where auratag is, a scratch folder
# removed at exit, and PASS / FAIL lines; a test exits with $fail.
BUILD=${AURATAG_BUILD:-build}
AT=$BUILD/auratag
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
pass() { echo "PASS $1"; }
failed() { echo "FAIL $1"; fail=1; }
# fails NAME EXPECTED_MESSAGE CMD...: CMD must exit non-zero and say EXPECTED_MESSAGE
fails() {
  local name=$1 msg=$2
  shift 2
  if "$@" >"$work/out.txt" 2>&1; then failed "$name: succeeded"
  elif grep -qF -- "$msg" "$work/out.txt"; then pass "$name: $(tail -1 "$work/out.txt")"
  else failed "$name: message lacks '$msg': $(cat "$work/out.txt")"; fi
}
# kill_after_steps PID RUN_DIR STEPS TRIES PAUSE: SIGKILL the training PID once
# RUN_DIR/log.jsonl holds STEPS step lines and a checkpoint (last.h5) exists,
# looking TRIES times PAUSE seconds apart; waits for it. Sets killed=1 if it
# was killed, 0 if the run ended (or the tries ran out) first, and steps to the
# step lines counted last.
kill_after_steps() {
  local pid=$1 dir=$2 want=$3 tries=$4 pause=$5
  killed=0
  for _ in $(seq 1 "$tries"); do
    steps=$(grep -c '"type": "step"' "$dir/log.jsonl" 2>/dev/null || true)
    if [ "${steps:-0}" -ge "$want" ] && [ -f "$dir/last.h5" ]; then kill -9 "$pid"; killed=1; break; fi
    sleep "$pause"
  done
  wait "$pid" 2>/dev/null
}
