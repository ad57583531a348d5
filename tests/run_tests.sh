#!/usr/bin/env bash
# Every test: the C unit tests (build/tests/test_*), the emulated kernels and
# CUDA backend, the command line, the PyTorch oracle, the metrics against
# scikit-learn, training end to end, and the rest below. AURATAG_BUILD picks
# the build folder (build, build-asan); AURATAG_QUICK=1 (the sanitizer run)
# shortens the longest trainings and cuts down the Python oracle comparisons
# that repeat the normal run's; every auratag code path still runs
# (docs/testing.md). Exit status 1 on any failure, 2 when PATTERN matches nothing.
#
#   tests/run_tests.sh             every test
#   tests/run_tests.sh PATTERN     only the tests whose name matches PATTERN
#                                  (an extended regular expression, case-insensitive:
#                                  `tests/run_tests.sh 'test_ops|oracle'`)
#   tests/run_tests.sh --unit      the C unit tests and the emulated-kernel tests
#                                  only (`make unit`: the fast edit-test loop)
#   tests/run_tests.sh --list      the tests' names
set -u
pattern=
unit_only=0
list_only=0
case "${1:-}" in
  --unit) unit_only=1 ;;
  --list) list_only=1 ;;
  -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) pattern=$1 ;;
esac
BUILD=${AURATAG_BUILD:-build}
export AURATAG_BUILD=$BUILD
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
# LeakSanitizer: libgomp keeps its thread pool alive at exit by design.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
ran=0
run() {
  local name=$1
  shift
  if [ -n "$pattern" ] && ! grep -qiE -- "$pattern" <<<"$name"; then return 0; fi
  if [ $list_only = 1 ]; then echo "$name"; return 0; fi
  ran=$((ran + 1))
  local t0=$SECONDS
  echo "=== $name"
  if "$@"; then echo "=== ok: $name ($((SECONDS - t0)) s)"; else echo "=== FAILED: $name"; failed+=("$name"); fi
}
for t in "$BUILD"/tests/test_* "$BUILD"/tests/cuda/test_*; do [ -x "$t" ] && [ -f "$t" ] && run "$(basename "$t")" "$t"; done
if [ $unit_only = 1 ]; then
  [ ${#failed[@]} -eq 0 ] || { echo "FAILED (${BUILD}): ${failed[*]}"; exit 1; }
  echo "unit tests passed (${BUILD}): $ran"
  exit 0
fi
run "command line" bash tests/cli/test_cli.sh
run "command-line conventions (--help, exit codes, --version)" bash tests/cli/test_help.sh
run "what may be a config" bash tests/cli/test_config_inputs.sh
run "commands create their output folders" bash tests/cli/test_output_folders.sh
run "progress bars and --quiet" bash tests/cli/test_progress.sh
run "corrupt HDF5 files (flipped bits, stalls)" bash tests/io/test_corrupt_h5.sh
run "musicnn import vs TensorFlow's checkpoint reader" bash tests/io/test_musicnn_import.sh
run "ONNX export vs onnxruntime" bash tests/export/test_onnx.sh
run "PyTorch twin (scripts/auratag_torch.py) vs auratag" bash tests/export/test_torch.sh
run "GPU path from the command line (selftest, emulated CUDA training)" bash tests/cuda/test_cuda_cli.sh
run "kernels do not spill registers (ptxas)" bash tests/cuda/check_ptxas.sh
run "PyTorch oracle" bash tests/oracle/run_oracle.sh
run "training end to end" bash tests/train/test_train.sh
run "TensorBoard events vs log.jsonl (tensorboard's reader, resume)" bash tests/train/test_tensorboard.sh
run "HTML report (auratag report; headless Chromium)" bash tests/report/test_report.sh
run "prototypical networks end to end (episodes, eval --support)" bash tests/train/test_few_shot.sh
run "random-weights probe (auratag probe)" bash tests/train/test_probe.sh
run "few-data transfer learning (musicnn-msd vs from scratch)" bash tests/train/test_few_data.sh
run "data-parallel training (MPI, 2 ranks)" bash tests/dist/test_dist.sh
run "sweeps" bash tests/sweep/test_sweep.sh
run "metrics vs scikit-learn" /usr/bin/python3 tests/oracle/sklearn_metrics.py
run "prototypical episode loss vs PyTorch" /usr/bin/python3 tests/oracle/torch_proto.py
run "probe classifiers vs scikit-learn" /usr/bin/python3 tests/oracle/sklearn_probe.py
run "recipes" bash tests/recipes/test_recipes.sh
run "demo renderer" bash tests/audio/test_demo_render.sh
run "prep and tag" bash tests/audio/test_prep.sh
run "waveform caches and SampleCNN" bash tests/audio/test_waveform.sh
run "auralisation" bash tests/explain/test_auralise.sh
run "analysis stimuli" bash tests/explain/test_stimuli.sh
run "docs links" bash tests/docs/check_links.sh
run "front end vs librosa" bash -c 'py=$(bash scripts/test-venv.sh) || { echo "cannot set up the librosa environment (scripts/test-venv.sh)"; exit 1; }; "$py" tests/audio/librosa_check.py'
[ $list_only = 1 ] && exit 0
if [ $ran -eq 0 ]; then
  echo "no test matches '$pattern' (tests/run_tests.sh --list shows their names)" >&2
  exit 2
fi
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED (${BUILD}): ${failed[*]}"
  exit 1
fi
if [ -n "$pattern" ]; then echo "$ran matching tests passed (${BUILD})"; else echo "all tests passed (${BUILD})"; fi
