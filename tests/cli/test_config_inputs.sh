#!/usr/bin/env bash
# What may be given as a config: only regular files of a sane size (a device
# such as /dev/zero never ends; a folder reads as empty), and a config stored
# in a weights file is named by that file in messages, not by a temporary copy.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail

fails "a device as the model config" "is not a regular file" timeout 10 "$AT" model /dev/zero
fails "a folder as the model config" "is a folder; give a config file" "$AT" model configs
printf 'include = /dev/zero\n' >"$work/inc.ini"
fails "include = /dev/zero" "is not a regular file" timeout 10 "$AT" model "$work/inc.ini"
head -c 2000000 /dev/zero | tr '\0' ';' >"$work/big.ini"
fails "a 2 MB config" "a config is a short text file" "$AT" model "$work/big.ini"
mkfifo "$work/fifo.ini"
fails "a named pipe as the experiment" "is not a regular file" timeout 10 "$AT" train "$work/fifo.ini"

# an error in the config stored in a weights file names the weights file
"$AT" init configs/models/pons_time.ini -o "$work/w.h5" >/dev/null || failed "init"
$PY - "$work/w.h5" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
c = f.attrs["config"]
c = c.decode() if isinstance(c, bytes) else c
f.attrs["config"] = c.replace("[conv]", "[conv]\nbogus = 1", 1)
PYEOF
fails "a bad config inside a weights file names the file" "$work/w.h5:" "$AT" model "$work/w.h5"
grep -q "auratag-config" "$work/out.txt" && failed "the message names a temporary file: $(cat "$work/out.txt")"
exit $fail
