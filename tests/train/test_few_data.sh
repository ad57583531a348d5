#!/usr/bin/env bash
# Pons' thesis claim, measured (docs/transfer.md): with 5 training examples
# per class of the demo set's tempo task (slow / medium / fast, through
# musicnn's front end), fine-tuning the published musicnn-msd model beats
# training musicnn from scratch. Test balanced accuracy, mean over two draws
# of the examples, 60 optimizer steps per run: measured 0.444 (fine-tuned)
# and 0.404 (from scratch) on 2026-12-05 (scripts/fewdata.py --task
# demo-tempo, the margin +0.040); the test asks for half of it. The
# prototypical strategies showed no clear margin over training from scratch
# at k = 5 on this task (scratch-proto 0.380, proto-finetune 0.409 +- 0.065),
# so they are not asked for here.
# Runs scripts/fewdata.py itself (the demo set and models/ are made when
# missing). Skipped by the sanitizer run (AURATAG_QUICK=1): it is training.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
if [ "${AURATAG_QUICK:-0}" = 1 ]; then echo "skipped under AURATAG_QUICK=1"; exit 0; fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
AURATAG=$AT bash scripts/fetch-musicnn.sh >"$work/fetch.txt" 2>&1 || { failed "scripts/fetch-musicnn.sh: $(tail -2 "$work/fetch.txt")"; exit 1; }
if ! AURATAG=$AT $PY scripts/fewdata.py --task demo-tempo --k 5 --seeds 1,2 --strategies scratch,finetune \
    --root "$work/runs" >"$work/fd.txt" 2>&1; then
  failed "scripts/fewdata.py --task demo-tempo --k 5: $(tail -3 "$work/fd.txt")"
  exit 1
fi
sed -n '/^demo-tempo: test balanced accuracy/,/^5 /p' "$work/fd.txt"
if $PY - "$work/runs/results.csv" <<'PYEOF'
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
mean = lambda s: statistics.mean(float(r["balanced_accuracy"]) for r in rows if r["strategy"] == s and r["k"] == "5")
finetune, scratch = mean("finetune"), mean("scratch")
print("finetune - scratch = %+.3f (needs >= +0.020)" % (finetune - scratch))
sys.exit(0 if finetune - scratch >= 0.020 else 1)
PYEOF
then pass "k = 5 per class (demo tempo): fine-tuning musicnn-msd beats musicnn from scratch"
else failed "k = 5 per class (demo tempo): fine-tuning does not beat training from scratch by half the measured margin"; fi
exit $fail
