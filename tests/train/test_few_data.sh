#!/usr/bin/env bash
# Pons' thesis claim, measured (docs/transfer.md): with 5 training examples
# per tag of the demo set's 10 tags (multi-label, through musicnn's front
# end), fine-tuning the published musicnn-msd model and a linear probe on its
# penultimate embedding both beat training musicnn from scratch. Test macro
# ROC-AUC over three draws of the examples, 60 optimizer steps per run,
# measured on 2026-12-05 (scripts/fewdata.py --task demo-tags --k 5 --seeds
# 1,2,3 --strategies scratch,probe,finetune): scratch 0.577 / 0.583 / 0.566,
# probe 0.676 / 0.660 / 0.665, finetune 0.716 / 0.622 / 0.665 (means 0.576,
# 0.667, 0.668: margins +0.091 and +0.092). The test asks for half of the
# probe's margin and a third of fine-tuning's, whose draws spread more.
# (An earlier version asked for fine-tuning's margin on the single-label tempo
# task, +0.040 measured here: a machine with other float rounding measured
# -0.042. Training from 15 examples is chaotic; the margin asked must be far
# above the spread between draws, as it is here.)
# Runs scripts/fewdata.py itself (the demo set and models/ are made when
# missing). Skipped by the sanitizer run (AURATAG_QUICK=1): it is training.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
if [ "${AURATAG_QUICK:-0}" = 1 ]; then echo "skipped under AURATAG_QUICK=1"; exit 0; fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
AURATAG=$AT bash scripts/fetch-musicnn.sh >"$work/fetch.txt" 2>&1 || { failed "scripts/fetch-musicnn.sh: $(tail -2 "$work/fetch.txt")"; exit 1; }
if ! AURATAG=$AT $PY scripts/fewdata.py --task demo-tags --k 5 --seeds 1,2,3 --strategies scratch,probe,finetune \
    --root "$work/runs" >"$work/fd.txt" 2>&1; then
  failed "scripts/fewdata.py --task demo-tags --k 5: $(tail -3 "$work/fd.txt")"
  exit 1
fi
sed -n '/^demo-tags: test macro ROC-AUC/,/^5 /p' "$work/fd.txt"
if $PY - "$work/runs/results.csv" <<'PYEOF'
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
mean = lambda s: statistics.mean(float(r["macro_roc_auc"]) for r in rows if r["strategy"] == s and r["k"] == "5")
scratch, probe, finetune = mean("scratch"), mean("probe"), mean("finetune")
print("probe - scratch = %+.3f (needs >= +0.045), finetune - scratch = %+.3f (needs >= +0.030)"
      % (probe - scratch, finetune - scratch))
sys.exit(0 if probe - scratch >= 0.045 and finetune - scratch >= 0.030 else 1)
PYEOF
then pass "k = 5 per tag (demo tags): a linear probe on musicnn-msd and fine-tuning it beat musicnn from scratch"
else failed "k = 5 per tag (demo tags): transfer learning does not beat training from scratch by the margins asked"; fi
# The prototypical strategies need single-label data: refused by name.
if out=$(AURATAG=$AT $PY scripts/fewdata.py --task demo-tags --k 5 --strategies scratch,proto-finetune --root "$work/x" --dry-run 2>&1); then
  failed "prototypical strategies on the multi-label task were accepted"
elif grep -q "multi-label" <<<"$out"; then pass "prototypical strategies on the multi-label task: $out"
else failed "prototypical strategies on the multi-label task: unclear error: $out"; fi
exit $fail
