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
