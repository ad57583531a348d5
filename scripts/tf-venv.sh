#!/usr/bin/env bash
# The Python environment of the TensorFlow comparisons (tests/io/test_musicnn_import.sh):
# a virtual environment at .venv-tf, made from Debian's python3, with
# tensorflow-cpu pinned (its checkpoint reader is the oracle of auratag's own,
# io/tf_bundle.c), and tf_keras and librosa, with which the musicnn package
# (installed nowhere: imported from the unpacked wheel) runs its own extractor
# on a current TensorFlow (TF_USE_LEGACY_KERAS=1). Idempotent: a complete environment is reused. Prints the
# venv's python on stdout; exit status 1 with the reason on failure.
set -eu
TF_VERSION=2.21.0
LIBROSA_VERSION=0.11.0
cd "$(dirname "$0")/.."
venv=$(pwd)/.venv-tf
py=$venv/bin/python
stamp=$venv/.auratag-tf-$TF_VERSION-librosa-$LIBROSA_VERSION
if [ -x "$py" ] && [ -f "$stamp" ]; then
  echo "$py"
  exit 0
fi
fail() { echo "tf-venv: $*" >&2; exit 1; }
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing (Debian package python3)"
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv" >&2 || fail "could not create $venv (install python3-venv: bash scripts/install-deps.sh)"
log=$venv/pip.log
# tf_keras declares a dependency on the `tensorflow` distribution, whose modules
# tensorflow-cpu provides under another name: installed with its dependencies,
# it would pull in the full tensorflow wheel too, a second TensorFlow 2.21.0
# unpacked over the first (about 40 % of this script's time on a clean clone).
# TensorFlow is its only dependency: --no-deps.
if ! "$py" -m pip install --no-cache-dir --disable-pip-version-check -q "tensorflow-cpu==$TF_VERSION" \
  "librosa==$LIBROSA_VERSION" h5py >"$log" 2>&1 ||
  ! "$py" -m pip install --no-cache-dir --disable-pip-version-check -q --no-deps "tf_keras==$TF_VERSION" >>"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "pip install tensorflow-cpu==$TF_VERSION failed (PyPI unreachable?); full log: $log"
fi
"$py" -c "import tensorflow, tf_keras, librosa, h5py, numpy" >/dev/null 2>&1 || fail "tensorflow does not import in $venv"
touch "$stamp"
echo "$py"
