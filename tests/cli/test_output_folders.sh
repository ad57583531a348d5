#!/usr/bin/env bash
# Every command creates the folders it writes into (mkdir -p), as a new user
# in a fresh clone expects (`data/` and `checkpoints/<run>/` do not exist
# there); where a folder cannot be made, the error names it and why.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
export OMP_NUM_THREADS=1
made() { # description file-that-must-exist command...
  local what=$1 file=$2
  shift 2
  if "$@" >"$work/out.txt" 2>&1 && [ -f "$file" ]; then pass "$what"
  else failed "$what: $(tail -2 "$work/out.txt")"; fi
}
o=$work/new/deeper
made "demo-data into a new nested folder" "$o/demo/files.csv" "$AT" demo-data "$o/demo" --clips 2 --seconds 1
made "stimuli into a new nested folder" "$o/stim/stimuli.csv" "$AT" stimuli "$o/stim" --seconds 1
made "synth into a new nested folder" "$o/synth/test.h5" "$AT" synth "$o/synth" --train 32 --valid 8 --test 8
made "init -o into a new folder" "$o/init/w.h5" "$AT" init configs/models/pons_time.ini -o "$o/init/w.h5"
made "train into a new runs root" "$o/runs/r/last.h5" "$AT" train configs/experiments/synth_pons_time.ini \
  --set "data.train=$o/synth/train.h5" --set "data.valid=$o/synth/valid.h5" --set data.test= \
  --set "train.root=$o/runs" --set train.run=r --set train.epochs=1
made "eval --json / --csv into new folders" "$o/eval/csv/e.csv" "$AT" eval "$o/runs/r" "$o/synth/test.h5" \
  --json "$o/eval/json/e.json" --csv "$o/eval/csv/e.csv"
[ -f "$o/eval/json/e.json" ] || failed "eval --json: no file"
made "predict -o into a new folder" "$o/pred/p.h5" "$AT" predict "$o/runs/r" "$o/synth/test.h5" -o "$o/pred/p.h5"
made "prep --out into a new nested folder" "$o/prep/cache/train.h5" "$AT" prep tests/configs/prep_small.ini \
  --list "$o/demo/files.csv" --out "$o/prep/cache" --set dataset.clip_seconds=1
touch "$work/afile"
fails "a folder that cannot be made (a file is in the way)" "cannot create the folder '$work/afile': a file of that name is in the way" \
  "$AT" init configs/models/pons_time.ini -o "$work/afile/sub/w.h5"
fails "demo-data under a file" "a file of that name is in the way" "$AT" demo-data "$work/afile/demo" --clips 2 --seconds 1

# ---- outputs never overwrite inputs: the cache, the weights, a run's checkpoints
cp "$o/synth/test.h5" "$work/test-copy.h5"
before=$(md5sum <"$work/test-copy.h5")
usage_refused() { # description text command...
  local what=$1 text=$2
  shift 2
  "$@" >"$work/out.txt" 2>&1
  local rc=$?
  if [ $rc = 2 ] && grep -qF -- "$text" "$work/out.txt"; then pass "$what: $(head -1 "$work/out.txt" | cut -c1-120)"
  else failed "$what: exit $rc: $(head -2 "$work/out.txt")"; fi
}
usage_refused "predict -o over its cache" "is the input" "$AT" predict "$o/runs/r" "$work/test-copy.h5" -o "$work/test-copy.h5"
usage_refused "eval --json over its cache" "is the input" "$AT" eval "$o/runs/r" "$work/test-copy.h5" --json "$work/test-copy.h5"
usage_refused "predict -o over a run's last.h5" "is a run's checkpoint" "$AT" predict "$o/runs/r" "$work/test-copy.h5" -o "$o/runs/r/last.h5"
usage_refused "predict -o over the weights it reads" "is the input" "$AT" predict "$o/init/w.h5" "$work/test-copy.h5" -o "$o/init/w.h5"
usage_refused "init -o over its own config" "is the input" "$AT" init "$o/init/w.h5" -o "$o/init/w.h5"
[ "$before" = "$(md5sum <"$work/test-copy.h5")" ] && [ -f "$o/runs/r/last.h5" ] && "$AT" model "$o/init/w.h5" >/dev/null &&
  pass "the inputs are intact" || failed "an input was damaged"
exit $fail
