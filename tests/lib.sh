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
