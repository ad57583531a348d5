#!/usr/bin/env bash
# The Python environment of the librosa comparison (tests/audio/librosa_check.py):
# a virtual environment at .venv-test, made from Debian's python3 (python3-venv),
# with librosa pinned to the version the front end is tested against.
# Idempotent: a complete environment is reused. Prints the venv's python on
# stdout (everything else goes to stderr); exit status 1 with the reason on
# failure (no network to PyPI, python3-venv missing, ...).
set -eu
LIBROSA_VERSION=0.11.0  # the newest that supports Debian 12's Python 3.11 (1.0 needs 3.12)
cd "$(dirname "$0")/.."
venv=$(pwd)/.venv-test
py=$venv/bin/python
stamp=$venv/.auratag-librosa-$LIBROSA_VERSION
if [ -x "$py" ] && [ -f "$stamp" ]; then
  echo "$py"
  exit 0
fi
fail() { echo "test-venv: $*" >&2; exit 1; }
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing (Debian package python3)"
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv" >&2 ||
  fail "could not create $venv (install python3-venv: bash scripts/install-deps.sh)"
log=$venv/pip.log
if ! "$py" -m pip install --no-cache-dir --disable-pip-version-check -q "librosa==$LIBROSA_VERSION" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "pip install librosa==$LIBROSA_VERSION failed (PyPI unreachable?); full log: $log"
fi
"$py" -c "import librosa, scipy, numpy" >&2 || fail "librosa does not import in $venv"
touch "$stamp"
echo "$py"
