"""auratag's taggrams with the imported musicnn models equal the musicnn
package's own (its extractor, run by TensorFlow) on the same recordings: the
same patches, every probability within TOL.

  python musicnn_taggram_check.py PACKAGE_PARENT AURATAG MODEL=WEIGHTS... -- AUDIO...
(PACKAGE_PARENT holds the unpacked musicnn package; MODEL is the package's
name: MTT_musicnn, MSD_vgg, ...)
"""
import json
import os
import subprocess
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # the package's tf.compat.v1.layers need Keras 2
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

warnings.filterwarnings("ignore")
import numpy as np

TOL = 1e-3
parent, auratag = sys.argv[1], sys.argv[2]
split = sys.argv.index("--")
models = [a.split("=", 1) for a in sys.argv[3:split]]
audio = sys.argv[split + 1:]
sys.path.insert(0, parent)
from musicnn.extractor import extractor  # noqa: E402

fail = 0
for model, weights in models:
    out = subprocess.run([auratag, "tag", weights, *audio, "--taggram", "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"FAIL {model}: auratag tag exited {out.returncode}: {out.stderr.strip()[-300:]}")
        fail = 1
        continue
    ours = {f["path"]: f for f in json.loads(out.stdout)["files"]}
    for path in audio:
        taggram, tags = extractor(path, model=model, input_length=3, input_overlap=False, extract_features=False)
        got = ours[path]["taggram"]
        p = np.array(got["probabilities"], dtype=np.float64)
        if got["tags"] != list(tags) or p.shape != taggram.shape:
            print(f"FAIL {model} {os.path.basename(path)}: tags or shape {p.shape} vs the package's {taggram.shape}")
            fail = 1
            continue
        err = float(np.abs(p - taggram).max())
        starts = np.array(got["starts"])
        same_starts = np.allclose(starts, np.arange(len(starts)) * 187 * 256 / 16000, atol=1e-9)
        ok = err <= TOL and same_starts
        fail |= not ok
        print(f"{'PASS' if ok else 'FAIL'} {model} {os.path.basename(path)}: {p.shape[0]} patches x {p.shape[1]} tags, "
              f"largest difference from the package's taggram {err:.2e} (<= {TOL:g}); starts every 2.992 s: {same_starts}")
sys.exit(fail)
