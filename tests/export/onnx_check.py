"""Checks an exported ONNX model against auratag's own outputs.

  onnx_check.py MODEL.onnx CACHE.h5 PREDICTIONS.h5     (auratag predict --crops 1)
  onnx_check.py MODEL.onnx CACHE.h5 EMBEDDINGS.h5      (auratag embed --layer output:
                                                        the logits of each patch)

ONNX's checker (full_check: shapes inferred) accepts the file, which declares
opset 17 and a dynamic batch; onnxruntime runs it on the cache's features;
its logits equal auratag's within 1e-5 relative (of the largest logit), and
its probabilities equal predict's within 1e-5 (or the sigmoid / softmax of
embed's logits); the metadata names the outputs as the predictions do (or
the model's tags are the 50 musicnn tags). Exit 1 with the reason.

  onnx_check.py --list FILE

Several checks in one process (onnxruntime starts once): FILE has a line
LABEL<TAB>MODEL.onnx<TAB>CACHE.h5<TAB>REFERENCE.h5 per check, each reported
on a line of its own, "PASS LABEL: ..." or "FAIL LABEL: the reason".
"""
import json
import sys

import h5py
import numpy as np
import onnx
import onnxruntime as ort


def check(model_path, cache_path, ref_path):
    """Returns (ok, the result line); raises (AssertionError, ...) with the reason."""
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17], model.opset_import
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch", batch
    meta = {p.key: p.value for p in model.metadata_props}
    ref = h5py.File(ref_path, "r")
    named = json.loads(meta["tags"])
    x = h5py.File(cache_path, "r")["features"][()].astype(np.float32)[:, None, :, :]
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    logits, probs = session.run(["logits", "probabilities"], {"spectrogram": x})
    if "logits" in ref:  # predictions
        tags = [t.decode() if isinstance(t, bytes) else t for t in ref["tags"][()]]
        assert named in ([], tags), (named[:5], tags[:5])
        want_logits = ref["logits"][()].astype(np.float64)
        want_probs = ref["probabilities"][()].astype(np.float64)
    else:  # embeddings of the output layer
        assert len(named) == 50 and "guitar" in named, named[:5]
        want_logits = ref["embeddings"][()].astype(np.float64)
        sig = meta["output_activation"] == "sigmoid"
        e = np.exp(want_logits - want_logits.max(axis=1, keepdims=True))
        want_probs = 1 / (1 + np.exp(-want_logits)) if sig else e / e.sum(axis=1, keepdims=True)
    assert logits.shape == want_logits.shape, (logits.shape, want_logits.shape)
    scale = max(np.abs(want_logits).max(), 1e-6)
    logit_err = np.abs(logits - want_logits).max() / scale
    prob_err = np.abs(probs - want_probs).max()
    ok = logit_err <= 1e-5 and prob_err <= 1e-5
    return ok, ("%s: %d examples, %d nodes; logits max |diff| / max |logit| = %.2e, probabilities max |diff| = %.2e"
                % (meta.get("model", "?"), x.shape[0], len(model.graph.node), logit_err, prob_err))


def run_list(path, check_one):
    """The checks of a --list FILE (LABEL<TAB>ARG<TAB>ARG...), each on its own:
    PASS or FAIL LABEL: ... per line; exit status 1 if any fails."""
    status = 0
    for line in open(path):
        if not line.strip():
            continue
        label, *args = line.rstrip("\n").split("\t")
        try:
            ok, message = check_one(*args)
        except Exception as e:  # an assertion or a broken file fails this check, not the others
            ok, message = False, "%s: %s" % (type(e).__name__, e)
        print("%s %s: %s" % ("PASS" if ok else "FAIL", label, message), flush=True)
        status |= not ok
    return status


def main():
    if sys.argv[1:2] == ["--list"]:
        sys.exit(run_list(sys.argv[2], check))
    ok, message = check(*sys.argv[1:4])
    print(message)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
