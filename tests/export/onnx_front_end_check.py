"""Checks an ONNX export made with --with-front-end against `auratag tag`.

  onnx_front_end_check.py MODEL.onnx TAG.json AUDIO...

TAG.json is `auratag tag WEIGHTS AUDIO... --json --top 1000`. For each file
(read as float32 samples, as auratag's decoder gives them; the files are at
the model's sample rate), onnxruntime's probabilities equal tag's for every
tag within 1e-4 and the number of crops is tag's. Exit 1 with the reason.

  onnx_front_end_check.py --list FILE

Several checks in one process: FILE has a line
LABEL<TAB>MODEL.onnx<TAB>TAG.json<TAB>AUDIO[<TAB>AUDIO...] per check, each
reported on a line of its own, "PASS LABEL: ..." or "FAIL LABEL: the reason".
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import soundfile as sf


def check(model_path, tag_path, *files):
    """Returns (ok, the result line); raises (AssertionError, ...) with the reason."""
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    tags = json.loads({p.key: p.value for p in model.metadata_props}["tags"])
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    report = json.load(open(tag_path))["files"]
    assert len(report) == len(files)
    worst, crops = 0.0, []
    for path, want in zip(files, report):
        audio, _ = sf.read(path, dtype="float32", always_2d=False)
        probs, crop_probs = session.run(["probabilities", "crop_probabilities"], {"audio": audio})
        assert crop_probs.shape[0] == want["crops"], (path, crop_probs.shape, want["crops"])
        expected = {t["tag"]: t["probability"] for t in want["tags"]}
        assert len(expected) == len(tags), (len(expected), len(tags))
        worst = max(worst, max(abs(float(p) - expected[t]) for p, t in zip(probs, tags)))
        crops.append(want["crops"])
    return worst <= 1e-4, "%d file(s), %s crops; probabilities max |diff| = %.2e" % (
        len(files), "/".join(map(str, crops)), worst)


def main():
    if sys.argv[1:2] == ["--list"]:
        from onnx_check import run_list
        sys.exit(run_list(sys.argv[2], check))
    ok, message = check(*sys.argv[1:])
    print(message)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
