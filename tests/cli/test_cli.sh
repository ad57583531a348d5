#!/usr/bin/env bash
# The command line as a user meets it: strict config errors (each bad config
# under tests/configs/bad names the message and line it must produce),
# --set overrides, includes, and the weights file written by `init`.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail

# ---- every bad config fails with exit status 1, the expected message and file:line
for f in tests/configs/bad/*.ini; do
  expect=$(sed -n 's/^; expect: //p' "$f")
  line=$(sed -n 's/^; line: //p' "$f")
  "$AT" model "$f" >"$work/out" 2>"$work/err"
  rc=$?
  msg=$(cat "$work/err")
  if [ $rc -ne 1 ]; then failed "$f: exit status $rc, expected 1 ($msg)"
  elif ! grep -qF -- "$expect" "$work/err"; then failed "$f: message '$msg' lacks '$expect'"
  elif [ "$line" != 0 ] && ! grep -qF -- "$f:$line:" "$work/err"; then failed "$f: message '$msg' does not point at $f:$line"
  else pass "$f -> $msg"; fi
done

# ---- the parameter counts of the papers , from `auratag model`
check_params() {
  got=$("$AT" model "configs/models/$1.ini" | sed -n 's/^trainable parameters: \([0-9]*\).*/\1/p')
  if [ "$got" = "$2" ]; then pass "$1 has $2 parameters"; else failed "$1 has '$got' parameters, expected $2"; fi
}
check_params fcn4 17365938
check_params pons_blackbox 3275312
check_params pons_time 7336
check_params pons_frequency 3368
check_params pons_timefreq 196816
check_params musicnn 787159       # musicnn/models.py, MTT_musicnn / MSD_musicnn
check_params musicnn_big 7980235  # MSD_musicnn_big: 512 mid-end filters, 500 back-end units
check_params musicnn_vgg 605748   # MTT_vgg / MSD_vgg
# FCN-k: the conv stack must end at 1x1x2048 before the classifier
for m in fcn3 fcn4 fcn5 fcn6 fcn7; do
  last_pool=$("$AT" model "configs/models/$m.ini" | grep maxpool | tail -1 | awk '{print $3}')
  if [ "$last_pool" = 1x1x2048 ]; then pass "$m pools 96x1366 down to 1x1x2048"; else failed "$m ends its conv stack at $last_pool"; fi
done
if "$AT" model configs/models/choi_auralise5.ini | grep -q '^maxpool5 .* 8x5x64 '; then pass "choi_auralise5 pyramid ends at 8x5x64"; else failed "choi_auralise5 pyramid"; fi

# ---- --set overrides
if "$AT" model configs/models/fcn4.ini --set conv1.filters=64 | grep -qE '^conv1 +conv +96x1366x64 +640 '; then
  pass "--set conv1.filters=64 reshapes conv1"; else failed "--set conv1.filters=64"; fi
"$AT" model configs/models/fcn4.ini --set nosuch.filters=3 2>"$work/err" >/dev/null
if [ $? -eq 1 ] && grep -q "no section named 'nosuch'" "$work/err"; then pass "--set to a missing section is an error"; else failed "--set nosuch: $(cat "$work/err")"; fi
"$AT" model configs/models/fcn4.ini --set conv1.filterz=3 2>"$work/err" >/dev/null
if [ $? -eq 1 ] && grep -q "command line (--set): \[conv1\] filterz: unknown key" "$work/err"; then pass "--set of an unknown key is an error"; else failed "--set conv1.filterz: $(cat "$work/err")"; fi
"$AT" model configs/models/fcn4.ini --set conv1.filters 2>"$work/err" >/dev/null
if [ $? -eq 1 ] && grep -q "expected SECTION.KEY=VALUE" "$work/err"; then pass "malformed --set is an error"; else failed "malformed --set: $(cat "$work/err")"; fi

# ---- includes
if diff <("$AT" model tests/configs/include_model.ini) <("$AT" model configs/models/pons_time.ini) >/dev/null; then
  pass "include splices a model config"; else failed "include"; fi

if "$AT" model tests/configs/set_override.ini | grep -qE '^conv1 +conv +40x21x16 +976 ' &&
   "$AT" model tests/configs/set_override.ini | grep -q 'sigmoid, multi-label'; then
  pass "set = lines override keys of included configs"; else failed "set = overrides"; fi

# ---- init: the weights file, readable with h5py alone
"$AT" init configs/models/pons_timefreq.ini -o "$work/a.h5" --seed 5 >/dev/null &&
"$AT" init configs/models/pons_timefreq.ini -o "$work/b.h5" --seed 5 >/dev/null &&
"$AT" init configs/models/pons_timefreq.ini -o "$work/c.h5" --seed 6 >/dev/null &&
"$AT" init configs/models/fcn4.ini -o "$work/fcn4.h5" --seed 1 >/dev/null || failed "init"
if $PY - "$work" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
a, b, c = (h5py.File(f"{w}/{n}.h5", "r") for n in "abc")
assert a.attrs["format"] == "auratag-weights" and a.attrs["version"] == 1
assert "[model]" in a.attrs["config"] and a.attrs["model"] == "pons_timefreq"
names = []
a["params"].visit(lambda n: names.append(n) if isinstance(a["params"][n], h5py.Dataset) else None)
for n in names:
    assert np.array_equal(a["params"][n][()], b["params"][n][()]), f"same seed, different {n}"
assert not np.array_equal(a["params/time_conv/weight"][()], c["params/time_conv/weight"][()]), "seed ignored"
assert a["params/time_conv/weight"].shape == (32, 1, 1, 60)
assert a["params/freq_conv/weight"].shape == (32, 1, 32, 1)
assert a["params/dense1/weight"].shape == (200, 960)
assert a["params/dense1/weight"].dtype == np.float32
# Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out)), variance limit^2 / 3
wd = a["params/dense1/weight"][()]
limit = np.sqrt(6.0 / (960 + 200))
assert np.abs(wd).max() <= limit and abs(wd.var() / (limit**2 / 3) - 1) < 0.05, wd.var()
f = h5py.File(f"{w}/fcn4.h5", "r")
assert f["params/conv2/weight"].shape == (384, 128, 3, 3)
assert f["params/batchnorm1/running_var"][()].tolist() == [1.0] * 128
assert f["params/batchnorm1/weight"][()].tolist() == [1.0] * 128
assert int(f["params/batchnorm1/num_batches_tracked"][()]) == 0
# He normal: std sqrt(2 / fan_in), fan_in = 128 * 9
std = f["params/conv2/weight"][()].std()
assert abs(std / np.sqrt(2.0 / (128 * 9)) - 1) < 0.01, std
assert abs(f["params/conv2/weight"][()].mean()) < 1e-3
assert not f["params/conv2/bias"][()].any()
PYEOF
then pass "init writes the documented layout; seeded; He / Glorot statistics"; else failed "weights layout (see the Python traceback above)"; fi
if diff <("$AT" model "$work/fcn4.h5") <("$AT" model configs/models/fcn4.ini) >/dev/null; then
  pass "a weights file carries its own model config"; else failed "auratag model weights.h5"; fi

# ---- bad weights files: clear errors, nothing written
head -c 3000 "$work/fcn4.h5" >"$work/truncated.h5"
"$AT" model "$work/truncated.h5" 2>"$work/err" >/dev/null
if [ $? -eq 1 ] && grep -q "not a readable HDF5 file" "$work/err"; then pass "a truncated weights file is reported"; else failed "truncated: $(cat "$work/err")"; fi
$PY -c "import h5py; h5py.File('$work/other.h5','w').attrs['format']='something-else'"
"$AT" model "$work/other.h5" 2>"$work/err" >/dev/null
if [ $? -eq 1 ] && grep -q "is not an auratag weights file" "$work/err"; then pass "a foreign HDF5 file is reported"; else failed "foreign: $(cat "$work/err")"; fi
# output folders are created (tests/cli/test_output_folders.sh); one that cannot be is an error naming it
touch "$work/no"
"$AT" init configs/models/pons_time.ini -o "$work/no/such/dir/w.h5" 2>"$work/err" >/dev/null
if [ $? -eq 1 ] && grep -q "cannot create the folder '$work/no'" "$work/err"; then pass "an unwritable output path is reported"; else failed "unwritable: $(cat "$work/err")"; fi
"$AT" frobnicate 2>"$work/err" >/dev/null
if [ $? -eq 2 ] && grep -q "unknown command 'frobnicate'" "$work/err"; then pass "unknown command"; else failed "unknown command"; fi

exit $fail
