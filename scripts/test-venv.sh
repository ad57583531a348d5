#!/usr/bin/env bash
# The Python environment of the librosa comparison (tests/audio/librosa_check.py),
# of the ONNX export's check (tests/export/onnx_check.py) and of the TensorBoard
# events' check (tests/train/test_tensorboard.sh: TensorBoard's own reader): a
# virtual environment at .venv-test, made from Debian's python3 (python3-venv),
# with librosa, onnx, onnxruntime, h5py and tensorboard pinned to the versions
# tested against.
# Idempotent: a complete environment is reused. Prints the venv's python on
# stdout (everything else goes to stderr); exit status 1 with the reason on
# failure (no network to PyPI, python3-venv missing, ...).
set -eu
LIBROSA_VERSION=0.11.0  # the newest that supports Debian 12's Python 3.11 (1.0 needs 3.12)
ONNX_VERSION=1.23.2
ONNXRUNTIME_VERSION=1.32.0
H5PY_VERSION=3.14.0
TENSORBOARD_VERSION=2.21.0
cd "$(dirname "$0")/.."
venv=$(pwd)/.venv-test
py=$venv/bin/python
stamp=$venv/.auratag-librosa-$LIBROSA_VERSION-onnx-$ONNX_VERSION-ort-$ONNXRUNTIME_VERSION-h5py-$H5PY_VERSION-tensorboard-$TENSORBOARD_VERSION
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
pins=("librosa==$LIBROSA_VERSION" "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" "h5py==$H5PY_VERSION"
      "tensorboard==$TENSORBOARD_VERSION")
if ! "$py" -m pip install --no-cache-dir --disable-pip-version-check -q "${pins[@]}" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "pip install ${pins[*]} failed (PyPI unreachable?); full log: $log"
fi
"$py" -c "import librosa, scipy, numpy, onnx, onnxruntime, h5py, tensorboard" >&2 || fail "a test package does not import in $venv"
touch "$stamp"
echo "$py"
