#!/usr/bin/env bash
# The command-line conventions, for every command `auratag help` lists (the
# list is read from it, so a new command without help fails here):
#  - COMMAND --help and -h: usage, every option of the command with its help,
#    an example, on stdout, exit 0; `auratag help COMMAND` prints the same;
#  - an unknown option, an option without its value, a malformed number:
#    the usage on stderr, exit 2; a runtime failure: exit 1;
#  - --version: the version and the backends built in.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail

commands=$("$AT" help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
n=$(echo "$commands" | wc -w)
[ "$n" -ge 13 ] && pass "auratag help lists $n commands" || failed "auratag help lists $n commands: $commands"
for c in $commands; do
  for h in --help -h; do
    out=$("$AT" "$c" $h 2>"$work/err")
    rc=$?
    if [ $rc = 0 ] && [ ! -s "$work/err" ] && grep -q "^usage: auratag $c " <<<"$out" && grep -q "^example:" <<<"$out" &&
       grep -q "^  auratag $c" <<<"$out" && grep -q -- "-h, --help" <<<"$out"; then :
    else failed "$c $h: exit $rc, stderr '$(head -c 200 "$work/err")', stdout '$(head -c 300 <<<"$out")'"; continue; fi
  done
  # every option the parser accepts is in the help (the help is printed from the parser's table)
  [ "$("$AT" help "$c")" = "$("$AT" "$c" --help)" ] || failed "auratag help $c differs from $c --help"
  "$AT" "$c" --no-such-option >"$work/out" 2>"$work/err"
  rc=$?
  if [ $rc = 2 ] && [ ! -s "$work/out" ] && grep -q "unknown option '--no-such-option'" "$work/err" &&
     grep -q "^usage: auratag $c" "$work/err"; then pass "$c: --help/-h on stdout (exit 0); an unknown option: usage on stderr, exit 2"
  else failed "$c --no-such-option: exit $rc: $(head -3 "$work/err")"; fi
done

usage_error() { # description expected-text command...
  local what=$1 text=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ $rc = 2 ] && grep -qF -- "$text" "$work/err" && grep -q "^usage: auratag" "$work/err"; then pass "$what: exit 2, $(head -1 "$work/err")"
  else failed "$what: exit $rc: $(head -2 "$work/err")"; fi
}
usage_error "an option without its value" "--top needs a value (N)" "$AT" tag w.h5 a.wav --top
usage_error "a malformed number" "--crops '5x' must be an integer" "$AT" eval w.h5 c.h5 --crops 5x
usage_error "a number out of range" "--batch '0' must be an integer in [1," "$AT" eval w.h5 c.h5 --batch 0
usage_error "a missing argument" "missing arguments" "$AT" eval w.h5
usage_error "an argument too many" "'c.h5' is one argument too many" "$AT" model a.ini c.h5
usage_error "a required option missing" "-o PREDICTIONS.h5 is required" "$AT" predict w.h5 c.h5
usage_error "an unknown command" "unknown command 'nope'" "$AT" nope
"$AT" eval "$work/missing.h5" "$work/missing-cache.h5" >/dev/null 2>"$work/err"
rc=$?
[ $rc = 1 ] && grep -q "^auratag: error: " "$work/err" && pass "a runtime failure (a missing file): exit 1, $(head -1 "$work/err")" ||
  failed "runtime failure: exit $rc: $(cat "$work/err")"
v=$("$AT" --version)
if grep -Eq "^auratag [0-9]+\.[0-9]+\.[0-9]+$" <<<"$(head -1 <<<"$v")" && grep -Eq "^backends: cpu yes, cuda (yes|no), mpi (yes|no)$" <<<"$v"; then
  pass "--version: $(echo $v)"
else failed "--version: $v"; fi
exit $fail
