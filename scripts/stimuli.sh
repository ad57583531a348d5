#!/usr/bin/env bash
# Which musical attributes does each layer of a trained model separate? The
# analysis of Choi, Fazekas & Sandler 2016 ("Explaining deep convolutional
# neural networks on music classification", arXiv 1607.02444), in three steps:
#
#   scripts/stimuli.sh WEIGHTS_OR_RUN OUT_DIR [--cache TRAIN.h5] [--seconds 4] [--rate 22050]
#                      [--soundfont PATH] [--centre] [--breakdown ATTRIBUTE]
#
#  1. auratag stimuli OUT_DIR: the templates (keys x instruments x chord sets,
#     drum patterns with and without fills) as WAVs + OUT_DIR/stimuli.csv;
#  2. auratag activations: every template through the model's own front end,
#     the per-feature mean activation of each conv block -> OUT_DIR/activations.h5
#     (--cache: the training cache that says how the model's input was
#     computed; a run folder or checkpoint knows it already);
#  3. scripts/stimuli_correlation.py: per layer and attribute, the mean Pearson
#     r between the feature vectors of templates that differ only in that
#     attribute (the table on stdout, every number in OUT_DIR/correlation.csv;
#     --centre and --breakdown are passed on).
# AURATAG picks the binary (default: ./auratag of this checkout).
set -euo pipefail
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
root=$(cd "$(dirname "$0")/.." && pwd)
AT=${AURATAG:-$root/auratag}
weights=$1 out=$2
shift 2
stim=() act=() corr=()
while [ $# -gt 0 ]; do
  case $1 in
    --cache) [ $# -ge 2 ] || usage; act+=(--cache "$2"); shift 2 ;;
    --seconds | --rate | --soundfont) [ $# -ge 2 ] || usage; stim+=("$1" "$2"); shift 2 ;;
    --centre) corr+=(--centre); shift ;;
    --breakdown) [ $# -ge 2 ] || usage; corr+=(--breakdown "$2"); shift 2 ;;
    -h | --help) usage ;;
    *) echo "stimuli.sh: unknown option '$1'" >&2; usage ;;
  esac
done
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "== auratag stimuli $out ${stim[*]:-}"
"$AT" stimuli "$out" "${stim[@]}"
echo "== auratag activations $weights --list $out/stimuli.csv ${act[*]:-} --out $out/activations.h5"
"$AT" activations "$weights" --list "$out/stimuli.csv" "${act[@]}" --out "$out/activations.h5"
echo "== scripts/stimuli_correlation.py $out/activations.h5 $out/stimuli.csv --csv $out/correlation.csv ${corr[*]:-}"
/usr/bin/python3 "$root/scripts/stimuli_correlation.py" "$out/activations.h5" "$out/stimuli.csv" \
  --csv "$out/correlation.csv" "${corr[@]}"
