#!/usr/bin/env bash
# K-fold cross-validation as Pons et al. (CBMI 2016) evaluated on Ballroom:
# one training run per fold k (--set data.fold=k: train on the other folds,
# test on fold k), then the mean +- standard deviation over the folds of
#   chunk accuracy  (every 80-frame chunk on its own; Pons' "utterances") and
#   song accuracy   (majority vote of each song's chunks; Pons' "majorityVote"),
# read from each run's results.json ("test": "clip" and "song" accuracy).
#
#   scripts/ballroom_cv.sh EXPERIMENT.ini [--folds 10] [--valid-fold next|none] [--name NAME]
#                          [--root checkpoints] [--set SECTION.KEY=VALUE ...]
#
# EXPERIMENT's [data] train is a cache with /fold and /song (written by
# `auratag prep` from scripts/recipes/ballroom.py's list). --valid-fold next
# (the default) validates fold k on fold (k + 1) mod K, which is then left out
# of training (model selection on held-out songs; Pons carved 1/9 of the
# training chunks out instead); none trains on all other folds and keeps the
# last epoch. Runs are NAME-fold0 .. NAME-fold{K-1} under ROOT (NAME: the
# config's file name); a finished fold is reused, an interrupted one resumed,
# so the script can be run again after a crash. The summary goes to stdout
# and ROOT/NAME-cv.json. AURATAG picks the binary (default ./auratag).
set -euo pipefail
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
exp=$1
shift
folds=10 valid=next root=checkpoints name=$(basename "$exp" .ini)
sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --folds) folds=$2; shift 2 ;;
    --valid-fold) valid=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "ballroom_cv.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -f "$exp" ] || { echo "ballroom_cv.sh: no experiment config '$exp'" >&2; exit 2; }
case $folds in ''|*[!0-9]*) echo "ballroom_cv.sh: --folds must be a number" >&2; exit 2 ;; esac
[ "$folds" -ge 2 ] || { echo "ballroom_cv.sh: --folds must be at least 2" >&2; exit 2; }
case $valid in next|none) ;; *) echo "ballroom_cv.sh: --valid-fold must be next or none" >&2; exit 2 ;; esac
bin=${AURATAG:-./auratag}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

results=()
for ((k = 0; k < folds; k++)); do
  run=$name-fold$k
  dir=$root/$run
  results+=("$dir/results.json")
  if [ -f "$dir/results.json" ]; then
    echo "== fold $k: $dir/results.json exists, reused"
    continue
  fi
  if [ -f "$dir/last.h5" ]; then
    echo "== fold $k: resuming $dir"
    "$bin" train --resume "$dir"
    continue
  fi
  extra=(--set "data.fold=$k")
  [ "$valid" = next ] && extra+=(--set "data.valid_fold=$(((k + 1) % folds))")
  echo "== fold $k: $bin train $exp ${extra[*]} --set train.run=$run"
  "$bin" train "$exp" "${extra[@]}" --set "train.root=$root" --set "train.run=$run" "${sets[@]}"
done

/usr/bin/python3 - "$root/$name-cv.json" "${results[@]}" <<'EOF'
import json, math, sys
out, paths = sys.argv[1], sys.argv[2:]
rows = []
for k, p in enumerate(paths):
    with open(p) as f:
        r = json.load(f)
    t = r.get("test")
    if not t:
        sys.exit("ballroom_cv.sh: %s has no test results (is [data] fold set and the cache folded?)" % p)
    chunk = t["clip"].get("accuracy")
    song = t["song"].get("accuracy") if "song" in t else None
    if chunk is None:
        sys.exit("ballroom_cv.sh: %s: no accuracy (a single-label experiment is needed)" % p)
    rows.append((k, chunk, song, t.get("examples"), t.get("songs"), r.get("best_epoch")))

def stats(v):
    v = [x for x in v if x is not None]
    if not v:
        return None, None
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, s

print("fold  chunks  songs  chunk acc  song acc  best epoch")
for k, c, s, n, ns, be in rows:
    print("%4d  %6s  %5s  %9.4f  %8s  %10s" % (k, n, ns if ns is not None else "-", c,
                                               "%.4f" % s if s is not None else "-", be))
cm, cs = stats([r[1] for r in rows])
sm, ss = stats([r[2] for r in rows])
print("chunk accuracy: %.2f %% +- %.2f (mean +- std over %d folds)" % (100 * cm, 100 * cs, len(rows)))
if sm is not None:
    print("song accuracy (majority vote): %.2f %% +- %.2f" % (100 * sm, 100 * ss))
else:
    print("song accuracy: the cache has no song ids")
summary = {"folds": len(rows), "chunk_accuracy_mean": cm, "chunk_accuracy_std": cs,
           "song_accuracy_mean": sm, "song_accuracy_std": ss, "std": "sample (n - 1)",
           "per_fold": [{"fold": k, "chunk_accuracy": c, "song_accuracy": s, "chunks": n, "songs": ns,
                         "best_epoch": be, "results": p} for (k, c, s, n, ns, be), p in zip(rows, paths)]}
with open(out, "w") as f:
    json.dump(summary, f, indent=1)
print("summary: %s" % out)
EOF
