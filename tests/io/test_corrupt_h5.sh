#!/usr/bin/env bash
# Corrupt HDF5 files never crash or hang auratag: weights files and
# checkpoints with one flipped bit (each of a few hundred offsets in their
# metadata, where libhdf5 itself crashes or spins on some of them) end with
# exit status 0 or 1 and, for 1, one "auratag: error:" line that names the
# file; the metadata deadline fires in seconds with a message naming the file.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
export OMP_NUM_THREADS=1
# Under AddressSanitizer, libhdf5's own out-of-bounds reads on a corrupt file
# (H5HG_read copying a variable-length string past its heap object) are
# reported by ASan instead of crashing; abort_on_error turns the report into
# the SIGABRT the guard exists for, as the crash would be in a normal build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1"

flip_all() { # kind file offsets command... (the command reads $work/flip.h5; offsets: "A-B C-D ...", B excluded)
  local kind=$1 src=$2 offsets=$3
  shift 3
  rm -rf "$work/flips" && mkdir "$work/flips"
  $PY - "$src" "$work/flips" $offsets <<'PYEOF'
import sys
src, out, ranges = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3:]
for r in ranges:
    a, b = map(int, r.split("-"))
    for off in range(a, b):
        f = bytearray(src)
        f[off] ^= 0x10
        open(f"{out}/{off:06d}.h5", "wb").write(f)
PYEOF
  local bad=0 guarded=0 runs=0
  for f in "$work"/flips/*.h5; do
    cp "$f" "$work/flip.h5"
    timeout 60 "$@" >/dev/null 2>"$work/flip.err"
    local rc=$?
    runs=$((runs + 1))
    if [ $rc -gt 1 ] || { [ $rc = 1 ] && ! grep -q "^auratag: error: .*$work/[a-z/]*.h5" "$work/flip.err"; }; then
      bad=$((bad + 1))
      [ $bad -le 3 ] && echo "  offset $(basename "$f" .h5): exit $rc: $(head -c 300 "$work/flip.err")"
    fi
    grep -q "is corrupt: the HDF5 library" "$work/flip.err" && guarded=$((guarded + 1))
  done
  if [ $bad = 0 ] && [ $guarded -gt 0 ]; then
    pass "$kind with one flipped bit ($runs offsets): no crash, no hang; $guarded libhdf5 crashes or stalls reported as a corrupt file"
  elif [ $bad = 0 ]; then failed "$kind: no offset made libhdf5 crash: the test no longer exercises the guard (move the offsets)"
  else failed "$kind: $bad of $runs flipped files crashed, hung or failed without a clear message"; fi
}

"$AT" init configs/models/pons_frequency.ini -o "$work/w.h5" --seed 1 >/dev/null || failed "init"
"$AT" synth "$work/d" --tags 8 --train 64 --valid 16 --test 16 --seed 3 >/dev/null || failed "synth"
"$AT" train configs/experiments/synth_pons_frequency.ini --set "data.train=$work/d/train.h5" --set data.valid= \
  --set data.test= --set "train.root=$work/runs" --set train.run=r --set train.max_steps=1 >/dev/null 2>&1 || failed "train"

# the deadline: a stall inside the guarded section ends in seconds, naming the file. The two stalls
# sleep until their deadline: they run in the background, beside the flipped files below, and are
# checked at the end. stalled NAME CMD...: writes $work/NAME.err and "EXIT-STATUS SECONDS" to $work/NAME.rc
stalled() {
  local name=$1
  shift
  (t0=$SECONDS; AURATAG_TEST_H5_STALL=30 "$@" >/dev/null 2>"$work/$name.err"; echo "$? $((SECONDS - t0))" >"$work/$name.rc") &
}
stalled stall_w "$AT" model "$work/w.h5"
stall_w=$!
# the same guard for caches: a stalled metadata read of the training cache ends in seconds, naming it
stalled stall_c "$AT" train configs/experiments/synth_pons_frequency.ini --set "data.train=$work/d/train.h5" \
  --set data.valid= --set data.test= --set "train.root=$work/runs" --set train.run=stall
stall_c=$!

flip_all "a weights file" "$work/w.h5" "880-900 1015-1030" "$AT" model "$work/flip.h5"

cp "$work/runs/r/last.h5" "$work/ckpt.h5"
ln -sf "$work/flip.h5" "$work/runs/r/last.h5"  # the run's checkpoint is each flipped copy in turn
flip_all "a checkpoint (train --resume)" "$work/ckpt.h5" "890-900 1018-1026 2070-2080" "$AT" train --resume "$work/runs/r"
flip_all "a checkpoint (eval)" "$work/ckpt.h5" "890-900 1018-1026 2070-2080" "$AT" eval "$work/flip.h5" "$work/d/test.h5"

wait $stall_w $stall_c
rc=none secs=0
read -r rc secs <"$work/stall_w.rc"
if [ "$rc" = 1 ] && [ "$secs" -lt 25 ] &&
   grep -q "weights file '$work/w.h5' is corrupt: the HDF5 library did not finish reading its metadata in 10 s" "$work/stall_w.err"; then
  pass "a stalled metadata read ends after the deadline ($secs s): $(cat "$work/stall_w.err" | cut -c1-140)"
else failed "stalled read: exit $rc after $secs s: $(cat "$work/stall_w.err")"; fi
rc=none secs=0
read -r rc secs <"$work/stall_c.rc"
if [ "$rc" = 1 ] && [ "$secs" -lt 25 ] && grep -q "cache '$work/d/train.h5' is corrupt: the HDF5 library did not finish" "$work/stall_c.err"; then
  pass "a stalled cache read ends after the deadline: $(cut -c1-120 "$work/stall_c.err")"
else failed "stalled cache: exit $rc after $secs s: $(cat "$work/stall_c.err")"; fi
exit $fail
