#!/usr/bin/env bash
# Every hand-written kernel compiled by nvcc (make, CUDA=1) must not spill
# registers on any target: ptxas's statistics are kept beside each object
# ($BUILD/cuda/kernels/*.ptxas.txt). Without nvcc there is nothing to check.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, pass, failed, $fail
shopt -s nullglob
files=("$BUILD"/cuda/kernels/*.ptxas.txt)
if [ ${#files[@]} = 0 ]; then
  echo "SKIP no nvcc build in $BUILD (CUDA=0 or no toolkit): no ptxas statistics to check"
  exit 0
fi
kernels=$(grep -h "Compiling entry function" "${files[@]}" | wc -l)
spills=$(grep -h "bytes spill stores" "${files[@]}" | grep -v " 0 bytes spill stores, 0 bytes spill loads" || true)
if [ "$kernels" -lt 10 ]; then
  failed "only $kernels kernel compilations found in ${files[*]}"
elif [ -n "$spills" ]; then
  failed "register spills: $spills"
else
  pass "$kernels kernel compilations (all targets), none spills registers; most registers: $(grep -ho 'Used [0-9]* registers' "${files[@]}" | sort -k2 -n | tail -1)"
fi
exit $fail
