# Shared by the export tests (source it after defining `check LABEL WEIGHTS
# SYNTH-ARGS...`; run_checks, at the end, relays the results of their batched
# Python checks): every shipped architecture with seeded weights (the FCNs
# narrowed to 8 channels at their real 96x1366 input), each given to `check`
# with the `auratag synth` arguments of a cache that fits it. The sanitizer
# run (AURATAG_QUICK=1) takes two of them: it is there for memory errors.
seeded() { # config sets... -- synth-args...
  local config=$1
  shift
  local sets=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sets+=("$1"); shift; done
  shift
  "$AT" init "$config" -o "$work/w.h5" --seed 5 "${sets[@]}" >/dev/null || { failed "init $config"; return; }
  check "$(basename "$config" .ini) (seeded)" "$work/w.h5" "$@"
}
narrow() { for i in $(seq 1 "$1"); do echo "--set conv$i.filters=8"; done; }
quick=${AURATAG_QUICK:-0}
check_shipped_models() {
  if [ "$quick" != 1 ]; then
    for n in 3 4 5 6 7; do
      # shellcheck disable=SC2046
      seeded "configs/models/fcn$n.ini" $(narrow "$n") -- --bins 96 --frames 1366 --tags 50
    done
    for m in pons_blackbox pons_time pons_frequency; do seeded "configs/models/$m.ini" -- --bins 40 --frames 80 --classes 8; done
    seeded configs/models/choi_auralise5.ini -- --bins 257 --frames 173 --classes 8
    for m in musicnn_big musicnn_vgg; do seeded "configs/models/$m.ini" -- --bins 96 --frames 187 --tags 50; done
    # shellcheck disable=SC2046
    seeded configs/models/samplecnn.ini $(for i in $(seq 0 10); do echo "--set conv$i.filters=8"; done) -- \
      --bins 1 --frames 59049 --tags 50
  fi
  seeded configs/models/pons_timefreq.ini -- --bins 40 --frames 80 --classes 8
  seeded configs/models/musicnn.ini -- --bins 96 --frames 187 --tags 50
}

# A graph of every layer type (tests/configs/graph_small.ini) trained for an
# epoch into $work/runs/g on a synthetic 6x10 set in $work/g; fails when the
# training does.
train_graph_small() {
  "$AT" synth "$work/g" --bins 6 --frames 10 --tags 5 --train 64 --valid 16 --test 16 --seed 9 >/dev/null &&
    "$AT" train tests/configs/graph_small_transfer.ini --set "data.train=$work/g/train.h5" \
      --set "data.valid=$work/g/valid.h5" --set train.freeze= --set train.lr_scale= --set train.epochs=1 \
      --set "train.root=$work/runs" --set train.run=g >"$work/out.txt" 2>&1
}

# run_checks LIST CMD...: `CMD --list LIST` checks each line of LIST (LABEL<TAB>ARGS...) in one
# process (Python and its libraries start once) and prints a "PASS LABEL: ..." or "FAIL LABEL: ..."
# line per check; each is relayed as pass / failed, and a check that gets no line fails.
run_checks() {
  local list=$1
  shift
  [ -s "$list" ] || return 0
  "$@" --list "$list" >"$work/checks.out" 2>&1
  local line results=0
  while IFS= read -r line; do
    case $line in
      "PASS "*) pass "${line#PASS }"; results=$((results + 1)) ;;
      "FAIL "*) failed "${line#FAIL }"; results=$((results + 1)) ;;
    esac
  done <"$work/checks.out"
  [ "$results" = "$(grep -c . "$list")" ] || failed "$* --list: $results results for $(grep -c . "$list") checks: $(tail -3 "$work/checks.out")"
  : >"$list"
}
