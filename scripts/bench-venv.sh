#!/usr/bin/env bash
# The Python environment of `make bench`'s PyTorch 2 rows (tests/bench/run_bench.sh,
# tests/bench/torch_step.py): a virtual environment at .venv-bench, made from
# Debian's python3 (python3-venv), with a current PyTorch 2 pinned, next to
# Debian's own PyTorch 1.13 (/usr/bin/python3, python3-torch) that the bench
# also runs. Only the benchmark uses it: `make test` and CI never call this.
#
# The wheel is PyPI's default one: PyTorch's CPU-only index is not reachable
# from the project's machines (PyPI only), so pip also brings the CUDA
# libraries that torch's Linux wheel declares (nvidia-*, triton: about 5 GB
# on disk, installed once). The CPU code paths are the same as in the CPU wheel
# (the same libtorch_cpu, oneDNN and OpenMP); the CUDA libraries are loaded at
# import and never used. numpy is pinned too: torch_step.py does not need it,
# but torch warns at import without it.
#
# Idempotent: a complete environment (its stamp file names the pins) is
# reused; a different pin or a half-made one is made anew. Prints the venv's
# python on stdout (everything else goes to stderr); exit status 1 with the
# reason on failure (no network to PyPI, python3-venv missing, ...).
set -eu
TORCH_VERSION=2.15.0
NUMPY_VERSION=2.4.6
cd "$(dirname "$0")/.."
venv=$(pwd)/.venv-bench
py=$venv/bin/python
stamp=$venv/.auratag-torch-$TORCH_VERSION-numpy-$NUMPY_VERSION
if [ -x "$py" ] && [ -f "$stamp" ]; then
  echo "$py"
  exit 0
fi
fail() { echo "bench-venv: $*" >&2; exit 1; }
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing (Debian package python3)"
echo "bench-venv: installing torch==$TORCH_VERSION into $venv (once; about 5 GB with its CUDA libraries)" >&2
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv" >&2 ||
  fail "could not create $venv (install python3-venv: bash scripts/install-deps.sh)"
log=$venv/pip.log
pins=("torch==$TORCH_VERSION" "numpy==$NUMPY_VERSION")
if ! "$py" -m pip install --no-cache-dir --disable-pip-version-check -q "${pins[@]}" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "pip install ${pins[*]} failed (PyPI unreachable? disk full?); full log: $log"
fi
v=$("$py" -c "import torch, numpy; print(torch.__version__)" 2>>"$log") || fail "torch does not import in $venv (see $log)"
[ "${v%%+*}" = "$TORCH_VERSION" ] || fail "$venv has torch $v, not $TORCH_VERSION"
touch "$stamp"
echo "$py"
