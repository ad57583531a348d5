#!/usr/bin/env bash
# The Python environment of the TensorFlow comparisons (tests/io/test_musicnn_import.sh):
# a virtual environment at .venv-tf, made from Debian's python3, with
# tensorflow-cpu pinned (its checkpoint reader is the oracle of auratag's own,
# io/tf_bundle.c). Idempotent: a complete environment is reused. Prints the
# venv's python on stdout; exit status 1 with the reason on failure.
set -eu
TF_VERSION=2.21.0
cd "$(dirname "$0")/.."
venv=$(pwd)/.venv-tf
py=$venv/bin/python
stamp=$venv/.auratag-tf-$TF_VERSION
if [ -x "$py" ] && [ -f "$stamp" ]; then
  echo "$py"
  exit 0
fi
fail() { echo "tf-venv: $*" >&2; exit 1; }
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing (Debian package python3)"
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv" >&2 || fail "could not create $venv (install python3-venv: bash scripts/install-deps.sh)"
log=$venv/pip.log
if ! "$py" -m pip install --no-cache-dir --disable-pip-version-check -q "tensorflow-cpu==$TF_VERSION" h5py >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "pip install tensorflow-cpu==$TF_VERSION failed (PyPI unreachable?); full log: $log"
fi
"$py" -c "import tensorflow, h5py, numpy" >&2 2>/dev/null || fail "tensorflow does not import in $venv"
touch "$stamp"
echo "$py"
