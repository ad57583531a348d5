#!/usr/bin/env bash
# scripts/auratag_torch.py (docs/export.md): auratag_torch.load(weights)
# gives an nn.Module whose logits equal `auratag predict`'s (1e-5 relative)
# for every shipped architecture (seeded weights; the FCNs narrowed to 8
# channels) and a trained run, and that trains (an Adam step changes every
# parameter); `export --format torch` writes what torch.load reads, the same
# state; docs/export.md's onnxruntime and PyTorch snippets run as written
# and print the same tags.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
root=$(pwd)
vpy=$(bash scripts/test-venv.sh) || { failed "cannot set up the test environment (scripts/test-venv.sh)"; exit 1; }

# auratag's side of each check runs at once; one Python process then checks them all
# (run_checks: PyTorch starts once, not per model)
checks=$work/checks.txt
: >"$checks"
check() { # label weights synth-args...
  local label=$1 weights=$2
  shift 2
  local d="$work/data-${label//[^a-z0-9_]/_}"
  if "$AT" synth "$d" --train 3 --valid 1 --test 1 --seed 4 "$@" >/dev/null 2>&1 &&
     cp "$weights" "$d/weights.h5" &&
     "$AT" predict "$weights" "$d/train.h5" --crops 1 -o "$d/p.h5" >"$work/out.txt" 2>&1; then
    printf '%s\t%s\t%s\t%s\n' "$label" "$d/weights.h5" "$d/train.h5" "$d/p.h5" >>"$checks"
  else failed "$label: $(tail -2 "$work/out.txt")"; fi
}
# torch_check --list FILE: per line LABEL, WEIGHTS, CACHE, PREDICTIONS: auratag_torch.load(WEIGHTS)'s logits
# on the cache equal predict's (1e-5 relative), and an Adam step moves every parameter
torch_check() {
  $PY - "$@" <<'PYEOF'
import sys
sys.path.insert(0, "scripts")
import h5py, numpy as np, torch
import auratag_torch

def check(weights, cache, predictions):
    net = auratag_torch.load(weights).eval()
    x = torch.tensor(h5py.File(cache, "r")["features"][()].astype(np.float32)[:, None])
    want = h5py.File(predictions, "r")["logits"][()]
    with torch.no_grad():
        got = net(x).numpy()
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-6)
    net.train()
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    y = torch.zeros(got.shape) if net.activation == "sigmoid" else torch.zeros(got.shape[0], dtype=torch.long)
    loss = net.loss(net(x), y)
    loss.backward()
    opt.step()
    moved = sum(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    message = "logits max |diff| / max |logit| = %.2e; an Adam step moved %d of %d tensors" % (err, moved, len(before))
    return err <= 1e-5 and moved == len(before), message

status = 0
for line in open(sys.argv[2]):
    if not line.strip():
        continue
    label, *args = line.rstrip("\n").split("\t")
    try:
        ok, message = check(*args)
    except Exception as e:  # this check fails, not the others
        ok, message = False, "%s: %s" % (type(e).__name__, e)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", label, message), flush=True)
    status |= not ok
sys.exit(status)
PYEOF
}
. "$(dirname "$0")/shipped_models.sh"  # seeded, narrow, quick, check_shipped_models, train_graph_small, run_checks
check_shipped_models
if train_graph_small; then
  check "graph_small (every layer type, trained; its run's best.h5)" "$work/runs/g/best.h5" --bins 6 --frames 10 --tags 5
  # export --format torch: torch.load (weights_only) reads it; the same module, tags and batch counts as the .h5
  if "$AT" export "$work/runs/g" --format torch -o "$work/g.pt" >"$work/out.txt" 2>&1 &&
     $PY - "$work/g.pt" "$work/runs/g/best.h5" >"$work/check.txt" 2>&1 <<'PYEOF'
import sys
sys.path.insert(0, "scripts")
import h5py, torch
import auratag_torch
saved = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
assert saved["format"] == "auratag-torch" and saved["config"].startswith("[model]")
a, b = auratag_torch.load(sys.argv[1]).eval(), auratag_torch.load(sys.argv[2]).eval()
assert a.tags == b.tags and a.tags is not None
assert list(a.state_dict()) == list(b.state_dict()), (list(a.state_dict())[:4], list(b.state_dict())[:4])
for k, v in b.state_dict().items():
    assert torch.equal(a.state_dict()[k], v), k
tracked = int(h5py.File(sys.argv[2], "r")["params/in_bn/num_batches_tracked"][()])
assert tracked > 0 and int(a.in_bn.num_batches_tracked) == tracked
x = torch.randn(3, 1, 6, 10)
assert torch.equal(a(x), b(x))
print("%d tensors under PyTorch's names, equal to the .h5's; num_batches_tracked %d; tags %s" % (len(saved["state_dict"]), tracked, a.tags))
PYEOF
  then pass "export --format torch: $(tail -1 "$work/check.txt")"
  else failed "export --format torch: $(tail -1 "$work/out.txt") $(tail -4 "$work/check.txt")"; fi
else failed "graph_small training: $(tail -2 "$work/out.txt")"; fi
run_checks "$checks" torch_check

# the snippets of docs/export.md, as written, beside the files they name
if [ "$quick" = 1 ]; then exit $fail; fi
AURATAG=$AT bash scripts/fetch-musicnn.sh >"$work/fetch.txt" 2>&1 || failed "scripts/fetch-musicnn.sh: $(tail -2 "$work/fetch.txt")"
mkdir -p "$work/snippets" && ln -s "$root/scripts" "$work/snippets/scripts" && ln -s "$root/models" "$work/snippets/models"
"$AT" export musicnn-mtt -o "$work/snippets/musicnn-mtt.onnx" >/dev/null || failed "export musicnn-mtt"
awk -v out="$work/snippets/snippet" '/^```python/{n++; on=1; next} /^```/{on=0; next} on{print > (out n ".py")}' docs/export.md
if [ -f "$work/snippets/snippet1.py" ] && [ -f "$work/snippets/snippet2.py" ] &&
   (cd "$work/snippets" && "$vpy" snippet1.py >onnx.txt 2>&1 && $PY snippet2.py >torch.txt 2>&1) &&
   [ -s "$work/snippets/onnx.txt" ] && cmp -s "$work/snippets/onnx.txt" "$work/snippets/torch.txt"; then
  pass "docs/export.md's onnxruntime and PyTorch snippets run as written and name the same tags: $(cat "$work/snippets/onnx.txt")"
else
  failed "docs/export.md snippets: $(cat "$work/snippets/onnx.txt" "$work/snippets/torch.txt" 2>/dev/null | tail -4)"
fi
exit $fail
