#!/usr/bin/python3
"""auratag's metrics (host/train/metrics.c, run through tests/oracle/metrics_dump)
against scikit-learn on many random and adversarial cases.

Tagging cases (a clips x tags matrix each): continuous scores, quantised scores
with heavy ties, all scores equal, a single positive or a single negative,
tags without positives or without negatives, float32 corner values (-0 and +0,
neighbouring floats, subnormals, +-3e38, saturated sigmoids), tiny n, and a few
with n = 100000. Scores are float32 on both sides: sklearn gets the same values
cast to float64.
  - per tag: roc_auc_score (NaN in auratag exactly where sklearn raises "only
    one class"), average_precision_score (NaN in auratag exactly where there is
    no positive; sklearn returns 0 there), the number of positives;
  - macro means: roc_auc_score / average_precision_score(average='macro') on
    the tags auratag keeps, and the number of tags it leaves out.
Single-label cases: accuracy_score, confusion_matrix(labels=range(K)), and
per-class recall (diagonal / row sum; NaN where the class is absent), with
classes missing from the truth and from the predictions.
Also: NaN / Inf scores, a label of 2 and a class out of range end the driver
with exit status 1 and a message.

Tolerance 1e-9 absolute. Exit status 1 on any mismatch, with the case printed.
The driver is $AURATAG_BUILD/tests/oracle/metrics_dump (AURATAG_BUILD defaults
to "build", relative to the repository root)."""
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, balanced_accuracy_score, confusion_matrix, roc_auc_score

warnings.filterwarnings("ignore")  # UndefinedMetricWarning on the degenerate tags

TOL = 1e-9
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AURATAG_BUILD", "build")
DRIVER = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD), "tests", "oracle", "metrics_dump")

rng = np.random.default_rng(20240617)


# ---------------------------------------------------------------- case makers

def labels_with(n, t, prev=None):
    prev = rng.uniform(0.02, 0.98, size=t) if prev is None else np.broadcast_to(prev, (t,))
    return (rng.uniform(size=(n, t)) < prev).astype(np.uint8)


def signal_scores(y, strength=None):
    n, t = y.shape
    strength = rng.uniform(-0.5, 2.0, size=t) if strength is None else strength
    return (rng.normal(size=(n, t)) + strength * y).astype(np.float32)


def degenerate_columns(y):
    """Turns some columns into all-0 / all-1."""
    for j in range(y.shape[1]):
        r = rng.uniform()
        if r < 0.12:
            y[:, j] = 0
        elif r < 0.24:
            y[:, j] = 1
    return y


def tag_cases():
    cases = []
    # continuous scores, random prevalence, some degenerate tags
    for _ in range(300):
        n, t = int(rng.integers(1, 400)), int(rng.integers(1, 7))
        y = degenerate_columns(labels_with(n, t))
        cases.append(("continuous", signal_scores(y), y))
    # quantised scores: heavy ties
    for _ in range(300):
        n, t = int(rng.integers(1, 500)), int(rng.integers(1, 6))
        y = degenerate_columns(labels_with(n, t))
        levels = rng.choice([1, 2, 3, 4, 5, 10, 100, 255])
        s = np.round(1.0 / (1.0 + np.exp(-signal_scores(y).astype(np.float64))) * levels) / levels
        cases.append((f"quantised ({levels} levels)", s.astype(np.float32), y))
    # all scores equal within a tag (different constants per tag)
    for _ in range(60):
        n, t = int(rng.integers(1, 300)), int(rng.integers(1, 5))
        y = labels_with(n, t)
        s = np.tile(rng.choice([0.0, -0.0, 0.5, 1.0, -7.25, 3e38], size=t).astype(np.float32), (n, 1))
        cases.append(("all scores equal", s, y))
    # single positive / single negative per tag
    for _ in range(120):
        n, t = int(rng.integers(1, 300)), int(rng.integers(1, 5))
        y = np.zeros((n, t), np.uint8)
        for j in range(t):
            y[rng.integers(0, n), j] = 1
        if rng.uniform() < 0.5:
            y = 1 - y
            name = "single negative"
        else:
            name = "single positive"
        s = signal_scores(y)
        if rng.uniform() < 0.5:
            s = np.round(s * 2) / 2
        cases.append((name, s.astype(np.float32), y))
    # float32 corner values
    for _ in range(150):
        n, t = int(rng.integers(1, 300)), int(rng.integers(1, 5))
        y = degenerate_columns(labels_with(n, t))
        kind = rng.integers(0, 5)
        if kind == 0:  # -0 / +0 and small signed values
            pool = np.array([-0.0, 0.0, -1e-45, 1e-45, -1.0, 1.0, np.float32(1e-38)], np.float32)
            s = rng.choice(pool, size=(n, t))
            name = "signed zeros / subnormals"
        elif kind == 1:  # neighbouring float32 values below 1
            steps = rng.integers(0, 6, size=(n, t)) + 2 * y
            s = np.float32(1.0) - steps.astype(np.float32) * np.float32(2.0 ** -24)
            name = "neighbouring float32 near 1"
        elif kind == 2:  # huge magnitudes
            pool = np.array([-3.4e38, -1e30, -1.0, 0.0, 1.0, 1e30, 3.4e38], np.float32)
            s = rng.choice(pool, size=(n, t))
            name = "huge magnitudes"
        elif kind == 3:  # float32 sigmoid of large logits: saturated at 0 and 1
            z = signal_scores(y) * 12
            s = (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)
            name = "saturated float32 sigmoid"
        else:  # neighbouring floats around a random value (one ulp apart)
            base = np.float32(rng.uniform(-5, 5))
            k = (rng.integers(-3, 4, size=(n, t)) + 2 * y).astype(np.int32)
            s = (np.full((n, t), base, np.float32).view(np.int32) + k).view(np.float32)
            name = "adjacent float32 values"
        cases.append((name, np.ascontiguousarray(s, np.float32), y))
    # every combination of labels and tied/untied scores for n = 1, 2, 3
    for n in (1, 2, 3):
        for bits in range(2 ** n):
            y = np.array([[(bits >> i) & 1] for i in range(n)], np.uint8)
            for s in ([0.5] * n, list(range(n)), list(range(n))[::-1]):
                cases.append((f"tiny n={n}", np.array(s, np.float32).reshape(n, 1), y))
    # large n
    n = 100000
    y = labels_with(n, 4, np.array([0.01, 0.07, 0.3, 0.5]))
    cases.append(("large n, continuous", signal_scores(y), y))
    y = labels_with(n, 3, np.array([0.001, 0.05, 0.4]))
    s = np.round(1.0 / (1.0 + np.exp(-signal_scores(y).astype(np.float64))) * 255) / 255
    cases.append(("large n, 256 levels", s.astype(np.float32), y))
    y = labels_with(n, 3, np.array([0.02, 0.1, 0.6]))
    z = signal_scores(y, np.array([3.0, 2.0, 1.0])) * 8
    s = (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)
    cases.append(("large n, saturated float32 sigmoid", s, y))
    y = labels_with(n, 2, np.array([0.00001, 0.2]))
    y[:, 0] = 0
    y[rng.integers(0, n), 0] = 1  # exactly one positive
    cases.append(("large n, one positive", signal_scores(y), y))
    return cases


def class_cases():
    cases = []
    for _ in range(250):
        k = int(rng.integers(1, 11))
        n = int(rng.integers(1, 500))
        present = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)  # classes in the truth
        truth = rng.choice(present, size=n).astype(np.int32)
        acc = rng.uniform()
        pred = np.where(rng.uniform(size=n) < acc, truth, rng.integers(0, k, size=n)).astype(np.int32)
        if rng.uniform() < 0.3:  # predictions limited to a subset as well
            allowed = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)
            pred = np.where(np.isin(pred, allowed), pred, allowed[0]).astype(np.int32)
        cases.append(("classes", pred, truth, k))
    cases.append(("classes, n = 0", np.zeros(0, np.int32), np.zeros(0, np.int32), 3))
    cases.append(("classes, one class", np.zeros(7, np.int32), np.zeros(7, np.int32), 1))
    n = 100000
    truth = rng.integers(0, 8, size=n).astype(np.int32)
    pred = np.where(rng.uniform(size=n) < 0.6, truth, rng.integers(0, 10, size=n)).astype(np.int32)
    cases.append(("classes, large n", pred, truth, 10))
    return cases


# ---------------------------------------------------------------- driver I/O

def write_cases(path, tcases, ccases):
    with open(path, "wb") as f:
        for _, s, y in tcases:
            n, t = s.shape
            f.write(np.array([1, n, t], "<i4").tobytes())
            f.write(np.ascontiguousarray(s, "<f4").tobytes())
            f.write(np.ascontiguousarray(y, np.uint8).tobytes())
        for _, p, y, k in ccases:
            f.write(np.array([2, len(p), k], "<i4").tobytes())
            f.write(np.ascontiguousarray(p, "<i4").tobytes())
            f.write(np.ascontiguousarray(y, "<i4").tobytes())


def parse_output(text):
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        head = lines[i].split()
        if head[0] == "tags":
            vals = {ln.split()[0]: ln.split()[1:] for ln in lines[i + 1:i + 5]}
            m = vals["macro"]
            out.append(dict(roc=np.array(vals["roc_auc"], float), ap=np.array(vals["pr_auc"], float),
                            pos=np.array(vals["positives"], int), macro_roc=float(m[0]), macro_ap=float(m[1]),
                            excl_roc=int(m[2]), excl_ap=int(m[3])))
            i += 5
        elif head[0] == "classes":
            vals = {ln.split()[0]: ln.split()[1:] for ln in lines[i + 1:i + 5]}
            k = int(head[2])
            out.append(dict(acc=float(vals["accuracy"][0]), recall=np.array(vals["recall"], float),
                            conf=np.array(vals["confusion"], np.int64).reshape(k, k),
                            balanced=float(vals["balanced"][0])))
            i += 5
        else:
            raise ValueError(f"unexpected driver output line: {lines[i]!r}")
    return out


# ---------------------------------------------------------------- comparison

class Checker:
    def __init__(self):
        self.failures = 0
        self.values = 0
        self.max_dev = 0.0
        self.where = ""

    def fail(self, case_desc, msg):
        self.failures += 1
        if self.failures <= 20:
            print(f"MISMATCH {case_desc}: {msg}")

    def close(self, case_desc, what, got, want):
        """want None: auratag must give NaN."""
        self.values += 1
        if want is None:
            if not np.isnan(got):
                self.fail(case_desc, f"{what}: auratag {got!r}, expected NaN")
            return
        if np.isnan(got) or np.isnan(want):
            if not (np.isnan(got) and np.isnan(want)):
                self.fail(case_desc, f"{what}: auratag {got!r}, sklearn {want!r}")
            return
        dev = abs(got - want)
        if dev > self.max_dev:
            self.max_dev, self.where = dev, f"{case_desc} {what}"
        if not dev <= TOL:
            self.fail(case_desc, f"{what}: auratag {got!r}, sklearn {want!r}, |dev| {dev:.3e}")

    def equal(self, case_desc, what, got, want):
        self.values += 1
        if not np.array_equal(got, want):
            self.fail(case_desc, f"{what}: auratag {got!r}, expected {want!r}")


def describe(idx, name, s, y):
    d = f"case {idx} ({name}, n={s.shape[0]}, tags={s.shape[1]})"
    if s.size <= 40:
        d += f"\n  scores={s.T.tolist()}\n  labels={y.T.tolist()}"
    return d


def check_tags(chk, idx, name, s32, y, r):
    desc = describe(idx, name, s32, y)
    s = s32.astype(np.float64)
    n, t = s.shape
    valid_roc, valid_ap = [], []
    for j in range(t):
        yj, sj = y[:, j].astype(int), s[:, j]
        pos = int(yj.sum())
        chk.equal(desc, f"tag {j} positives", int(r["pos"][j]), pos)
        try:
            want = roc_auc_score(yj, sj)
            valid_roc.append(j)
        except ValueError:  # "Only one class present in y_true"
            want = None
            if 0 < pos < n:
                chk.fail(desc, f"tag {j}: sklearn rejected a tag with both classes")
        chk.close(desc, f"tag {j} ROC-AUC", r["roc"][j], want)
        if pos > 0 and n > 0:
            chk.close(desc, f"tag {j} AP", r["ap"][j], average_precision_score(yj, sj))
            valid_ap.append(j)
        else:
            chk.close(desc, f"tag {j} AP (no positives)", r["ap"][j], None)
    chk.equal(desc, "excluded from ROC-AUC mean", r["excl_roc"], t - len(valid_roc))
    chk.equal(desc, "excluded from AP mean", r["excl_ap"], t - len(valid_ap))
    for what, valid, fn, key in (("macro ROC-AUC", valid_roc, roc_auc_score, "macro_roc"),
                                 ("macro AP", valid_ap, average_precision_score, "macro_ap")):
        if not valid:
            chk.close(desc, what + " (no tag kept)", r[key], None)
        elif len(valid) == 1:
            chk.close(desc, what, r[key], fn(y[:, valid[0]].astype(int), s[:, valid[0]]))
        else:
            chk.close(desc, what, r[key], fn(y[:, valid].astype(int), s[:, valid], average="macro"))


def check_classes(chk, idx, name, p, y, k, r):
    desc = f"case {idx} ({name}, n={len(p)}, classes={k})"
    if len(p) <= 40:
        desc += f"\n  predicted={p.tolist()}\n  truth={y.tolist()}"
    if len(p) == 0:
        chk.close(desc, "accuracy (no examples)", r["acc"], None)
        chk.equal(desc, "confusion", r["conf"], np.zeros((k, k), np.int64))
        for c in range(k):
            chk.close(desc, f"recall class {c}", r["recall"][c], None)
        return
    conf = confusion_matrix(y, p, labels=list(range(k)))
    chk.close(desc, "accuracy", r["acc"], accuracy_score(y, p))
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": those are left out, as ours
        warnings.simplefilter("ignore")
        chk.close(desc, "balanced accuracy", r["balanced"], balanced_accuracy_score(y, p))
    chk.equal(desc, "confusion", r["conf"], conf)
    rows = conf.sum(axis=1)
    for c in range(k):
        chk.close(desc, f"recall class {c}", r["recall"][c], conf[c, c] / rows[c] if rows[c] else None)


def check_fatal(chk, tmp):
    """Inputs the driver must refuse with exit status 1 and a message."""
    bad = []
    for what, val in (("NaN", np.nan), ("+Inf", np.inf), ("-Inf", -np.inf)):
        s = rng.uniform(size=(20, 3)).astype(np.float32)
        s[7, 1] = val
        bad.append((f"{what} score", "non-finite score", [("x", s, labels_with(20, 3))], []))
    y = labels_with(20, 2)
    y[3, 0] = 2
    bad.append(("label 2", "not 0 or 1", [("x", rng.uniform(size=(20, 2)).astype(np.float32), y)], []))
    bad.append(("class out of range", "outside [0, 3)",
                [], [("x", np.array([0, 1, 3], np.int32), np.array([0, 1, 2], np.int32), 3)]))
    bad.append(("negative true class", "outside [0, 3)",
                [], [("x", np.array([0, 1, 2], np.int32), np.array([0, -1, 2], np.int32), 3)]))
    for what, msg, tc, cc in bad:
        path = os.path.join(tmp, "bad.bin")
        write_cases(path, tc, cc)
        res = subprocess.run([DRIVER, path], capture_output=True, text=True)
        chk.values += 1
        if res.returncode != 1 or "auratag: error:" not in res.stderr or msg not in res.stderr:
            chk.fail(f"fatal case ({what})", f"exit {res.returncode}, stderr {res.stderr.strip()!r}")


def main():
    if not os.access(DRIVER, os.X_OK):
        print(f"sklearn_metrics: driver {DRIVER} not built (make {os.path.relpath(DRIVER, ROOT)})")
        return 1
    tcases, ccases = tag_cases(), class_cases()
    chk = Checker()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cases.bin")
        write_cases(path, tcases, ccases)
        res = subprocess.run([DRIVER, path], capture_output=True, text=True)
        if res.returncode != 0:
            print(f"sklearn_metrics: driver failed (exit {res.returncode}):\n{res.stderr}")
            return 1
        results = parse_output(res.stdout)
        if len(results) != len(tcases) + len(ccases):
            print(f"sklearn_metrics: driver returned {len(results)} results for {len(tcases) + len(ccases)} cases")
            return 1
        for i, (name, s, y) in enumerate(tcases):
            check_tags(chk, i, name, s, y, results[i])
        for i, (name, p, y, k) in enumerate(ccases):
            check_classes(chk, len(tcases) + i, name, p, y, k, results[len(tcases) + i])
        check_fatal(chk, tmp)
    ntags = sum(s.shape[1] for _, s, _ in tcases)
    print(f"sklearn {__import__('sklearn').__version__}: {len(tcases)} tagging cases ({ntags} tags), "
          f"{len(ccases)} single-label cases, 6 fatal-input cases; {chk.values} values compared; "
          f"max |auratag - sklearn| = {chk.max_dev:.3e} (tolerance {TOL:g})" +
          (f" at {chk.where.splitlines()[0]}" if chk.max_dev > 0 else ""))
    if chk.failures:
        print(f"FAILED: {chk.failures} mismatches")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
