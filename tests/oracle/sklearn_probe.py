#!/usr/bin/python3
"""auratag probe's classifiers (host/train/probe_classifier.h, run through
tests/oracle/probe_classifier_dump at fixed hyper-parameters) against
scikit-learn and numpy.

linear-svm vs sklearn.svm.LinearSVC(C, loss='squared_hinge', dual=False,
  intercept_scaling=1, tol=eps): the same problem (L2-regularised squared
  hinge loss, the bias a feature of value 1, regularised like the weights)
  and the same solver (LIBLINEAR's primal trust-region Newton, -s 2), both
  stopping when ||grad f(w)|| <= tol' ||grad f(0)||, tol' = eps max(min(pos,
  neg), 1) / l. f is 1-strongly convex (the 1/2 ||w||^2 term), so each
  solution lies within tol' ||grad f(0)|| of the optimum w*, and the two
  decision values of a test row x within 2 tol' ||grad f(0)|| ||(x, 1)||
  (plus float32 rounding of auratag's scores): that bound is the tolerance,
  per row and per class (grad f(0) = -2C sum_i y_i (x_i, 1)). Multi-label
  (one binary problem per tag), 4 classes (one-vs-rest) and 2 classes.
  With eps = 1e-8 the bound is 1e-6 to 1e-3 (observed: below 1e-5); at
  LIBLINEAR's default 0.01 it is far looser than the differences (a smoke
  test of the default path only).

svm vs sklearn.svm.SVC(C, gamma, tol=eps, shrinking=True): the same SMO
  (sklearn bundles a modified LIBSVM: same working-set selection, shrinking
  and stopping rule), but the iterations part after a few steps (auratag's
  LIBSVM reads sparse rows, sklearn's dense arrays: kernel values differ in
  the last bits, and a near tie picks another working set). Each stops when
  the largest KKT violation is <= eps, which leaves its decision values
  within about eps of the optimum's -- in practice, not a theorem -- so the
  two agree within 2 eps relative to max(1, |decision|) (observed: 4e-4 to
  6e-4 at LIBSVM's default eps = 1e-3), and within 1e-6 at eps = 1e-9, where
  both sit at the optimum (unique: the RBF kernel matrix of distinct points
  is positive definite). Multi-label with the decision oriented towards the tag;
  single-label (4 classes, one-vs-one): auratag's argmax = SVC.predict and
  its votes (floor of the score) = the votes of SVC's one-vs-one decision
  values.

elm vs numpy.linalg.lstsq(h, targets, rcond=None) on auratag's own hidden
  layer h: the same minimum-norm solution with the same cut-off (singular
  values below eps max(n, units) s_max dropped). Both run LAPACK's dgelsd;
  they differ only in rounding (threads, blocking), amplified at most by
  cond(h) (forward error <= cond * backward error for the consistent,
  underdetermined case; cond^2 terms for a residual): the output weights
  agree within 1e-12 cond(h) relative to their norm (observed: bitwise, as
  numpy calls the same OpenBLAS here), and auratag's float32
  scores with h_test beta within 1e-5 relative to max|score|. Over- and
  underdetermined (units < n and units > n), multi-label and one-hot.

Exit status 1 on any mismatch. The driver is
$AURATAG_BUILD/tests/oracle/probe_classifier_dump (AURATAG_BUILD defaults to
"build", relative to the repository root)."""
import os
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from sklearn.svm import SVC, LinearSVC

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AURATAG_BUILD", "build")
DRIVER = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD), "tests", "oracle",
                      "probe_classifier_dump")
KINDS = {"linear-svm": 0, "svm": 1, "elm": 2}
F32 = np.finfo(np.float32).eps

rng = np.random.default_rng(20240905)
failures = 0
checks = 0


def report(ok, what):
    global failures, checks
    checks += 1
    failures += not ok
    print(("PASS  " if ok else "FAIL  ") + what, flush=True)


def make_data(n_train, n_test, dim, n_tags, multi):
    """Noisy linear labels (not separable: the SVMs get bounded support vectors).
    Single-label: the rows 0..K-1 of train are of classes 0..K-1, so that the
    libraries meet the classes in sorted order."""
    x = rng.normal(size=(n_train + n_test, dim)).astype(np.float32)
    w = rng.normal(size=(dim, n_tags))
    z = x @ w + 0.8 * rng.normal(size=(n_train + n_test, n_tags))
    if multi:
        y = (z > np.quantile(z, rng.uniform(0.3, 0.8, size=n_tags), axis=0).diagonal()).astype(np.uint8)
    else:
        y = np.argmax(z, axis=1).astype(np.int32)
        for c in range(n_tags):
            j = np.nonzero(y[:n_train] == c)[0][0]
            x[[c, j]], y[[c, j]] = x[[j, c]], y[[j, c]]
    return x[:n_train], x[n_train:], y[:n_train], y[n_train:]


def run_driver(kind, multi, x_train, x_test, y_train, n_tags, C=1.0, gamma=0.0, eps=0.0, units=0, seed=7):
    n_train, dim = x_train.shape
    n_test = x_test.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        with open(src, "wb") as f:
            f.write(struct.pack("<6i3diQ", KINDS[kind], int(multi), n_train, n_test, dim, n_tags, C, gamma, eps,
                                units, seed))
            f.write(np.ascontiguousarray(x_train, "<f4").tobytes())
            f.write(np.ascontiguousarray(x_test, "<f4").tobytes())
            f.write(np.ascontiguousarray(y_train, "u1" if multi else "<i4").tobytes())
        r = subprocess.run([DRIVER, src, dst], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"driver failed ({r.returncode}): {r.stderr}")
            sys.exit(1)
        raw = open(dst, "rb").read()
    cols = n_tags if multi else 1
    at = 0
    fitted = np.frombuffer(raw, np.uint8, cols, at)
    at += cols
    scores = np.frombuffer(raw, "<f4", n_test * n_tags, at).reshape(n_test, n_tags).astype(np.float64)
    at += 4 * n_test * n_tags
    out = {"fitted": fitted, "scores": scores}
    if kind == "elm":
        for name, rows, count in (("h_train", n_train, units), ("h_test", n_test, units), ("beta", units, n_tags)):
            out[name] = np.frombuffer(raw, "<f8", rows * count, at).reshape(count, rows).T  # column-major
            at += 8 * rows * count
    assert at == len(raw), "unexpected output size"
    return out


# ---------------------------------------------------------------- linear-svm

def liblinear_bound(x_train, ypm, x_test, C, eps):
    """2 tol' ||grad f(0)|| ||(x, 1)|| per test row (module docstring)."""
    l = len(ypm)
    pos = int((ypm > 0).sum())
    tol = eps * max(min(pos, l - pos), 1) / l
    xb = np.hstack([x_train.astype(np.float64), np.ones((l, 1))])
    g0 = np.linalg.norm(-2 * C * (ypm[:, None] * xb).sum(axis=0))
    xt = np.hstack([x_test.astype(np.float64), np.ones((len(x_test), 1))])
    return 2 * tol * g0 * np.linalg.norm(xt, axis=1)


def linear_svc(x, ypm_or_y, C, eps):
    m = LinearSVC(C=C, loss="squared_hinge", penalty="l2", dual=False, tol=eps, intercept_scaling=1,
                  fit_intercept=True, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning would void the bound
        m.fit(x.astype(np.float64), ypm_or_y)
    return m


def check_linear(multi, n_tags, C, eps):
    x_tr, x_te, y_tr, _ = make_data(300, 120, 20, n_tags, multi)
    got = run_driver("linear-svm", multi, x_tr, x_te, y_tr, n_tags, C=C, eps=eps)["scores"]
    e = eps if eps > 0 else 0.01
    worst, worst_bound, ok = 0.0, 0.0, True
    problems = range(n_tags) if multi or n_tags > 2 else [1]
    for t in problems:
        ypm = np.where((y_tr[:, t] if multi else y_tr == t) > 0, 1.0, -1.0)
        m = linear_svc(x_tr, ypm, C, e)
        want = m.decision_function(x_te.astype(np.float64))  # positive towards +1 (classes_ = [-1, 1])
        bound = liblinear_bound(x_tr, ypm, x_te, C, e) + 2 * F32 * np.abs(want)
        diff = np.abs(got[:, t] - want)
        ok &= bool(np.all(diff <= bound))
        worst, worst_bound = max(worst, diff.max()), max(worst_bound, bound.max())
        if not multi and n_tags == 2:
            ok &= bool(np.all(got[:, 0] == -got[:, 1]))
    what = "multi-label" if multi else f"{n_tags} classes"
    report(ok, f"linear-svm {what}, C={C} eps={e:g}: |auratag - LinearSVC| <= {worst:.3g}, bound up to "
               f"{worst_bound:.3g}")


# ---------------------------------------------------------------- svm (RBF)

def check_rbf_multilabel(C, gamma, eps, tol):
    n_tags = 3
    x_tr, x_te, y_tr, _ = make_data(250, 100, 16, n_tags, True)
    got = run_driver("svm", True, x_tr, x_te, y_tr, n_tags, C=C, gamma=gamma, eps=eps)["scores"]
    g = gamma if gamma > 0 else "auto"
    worst = 0.0
    for t in range(n_tags):
        m = SVC(C=C, kernel="rbf", gamma=g, tol=eps, shrinking=True, cache_size=100)
        m.fit(x_tr.astype(np.float64), y_tr[:, t])
        want = m.decision_function(x_te.astype(np.float64))  # positive towards classes_[1] = 1
        worst = max(worst, (np.abs(got[:, t] - want) / np.maximum(1, np.abs(want))).max())
    report(worst <= tol, f"svm multi-label, C={C} gamma={g} eps={eps:g}: relative difference from SVC "
                         f"{worst:.3g} <= {tol:g}")


def check_rbf_single(C, gamma, eps):
    k = 4
    x_tr, x_te, y_tr, _ = make_data(250, 150, 16, k, False)
    got = run_driver("svm", False, x_tr, x_te, y_tr, k, C=C, gamma=gamma, eps=eps)["scores"]
    m = SVC(C=C, kernel="rbf", gamma=gamma if gamma > 0 else "auto", tol=eps, decision_function_shape="ovo")
    m.fit(x_tr.astype(np.float64), y_tr)
    dec = m.decision_function(x_te.astype(np.float64))
    votes = np.zeros((len(x_te), k), int)
    pair = 0
    for a in range(k):
        for b in range(a + 1, k):
            votes[:, a] += dec[:, pair] > 0
            votes[:, b] += dec[:, pair] <= 0
            pair += 1
    same_votes = np.array_equal(np.floor(got).astype(int), votes)
    same_pred = np.array_equal(np.argmax(got, axis=1), m.predict(x_te.astype(np.float64)))
    report(same_votes and same_pred, f"svm 4 classes, C={C}: votes and argmax = SVC's one-vs-one votes and predict "
                                     f"({len(x_te)} rows)")


# ---------------------------------------------------------------- elm

def check_elm(multi, n_tags, units):
    n_train = 200
    x_tr, x_te, y_tr, _ = make_data(n_train, 80, 12, n_tags, multi)
    out = run_driver("elm", multi, x_tr, x_te, y_tr, n_tags, units=units, seed=11)
    h, h_te, beta = out["h_train"], out["h_test"], out["beta"]
    targets = y_tr.astype(np.float64) if multi else np.eye(n_tags)[y_tr]
    want, _, _, sv = np.linalg.lstsq(h, targets, rcond=None)
    kept = sv[sv > np.finfo(np.float64).eps * max(h.shape) * sv[0]]
    cond = kept[0] / kept[-1]
    rel = np.linalg.norm(beta - want) / np.linalg.norm(want)
    tol = 1e-12 * cond
    in_range = bool(np.all(np.abs(h) <= 1) and np.all(np.abs(h_te) <= 1))
    report(rel <= tol and in_range, f"elm {'multi-label' if multi else 'one-hot'}, {units} units, {n_train} "
                                    f"examples: beta vs numpy lstsq, relative {rel:.3g} <= {tol:.3g} "
                                    f"(cond(h) {cond:.3g})")
    scores = out["scores"]
    ref = h_te @ want
    err = np.abs(scores - ref).max() / max(1e-30, np.abs(ref).max())
    report(err <= 1e-5, f"elm {'multi-label' if multi else 'one-hot'}, {units} units: scores = h_test beta, "
                        f"relative {err:.3g} <= 1e-5")


def main():
    if not os.path.exists(DRIVER):
        print(f"missing {DRIVER}: build it with `make {os.path.relpath(DRIVER, ROOT)}`")
        return 1
    for C in (0.1, 2.0, 32.0):
        check_linear(True, 3, C, 1e-8)
    check_linear(True, 3, 8.0, 0.0)  # LIBLINEAR's default eps 0.01
    check_linear(False, 4, 2.0, 1e-8)
    check_linear(False, 2, 2.0, 1e-8)
    for C, gamma in ((0.1, 2.0 ** -5), (8.0, 2.0 ** -3), (32.0, 0.0)):
        check_rbf_multilabel(C, gamma, 1e-3, 2e-3)
    check_rbf_multilabel(8.0, 2.0 ** -4, 1e-9, 1e-6)
    check_rbf_single(8.0, 2.0 ** -5, 1e-3)
    check_rbf_single(2.0, 0.0, 1e-3)
    check_elm(True, 3, 50)
    check_elm(True, 3, 400)
    check_elm(False, 4, 120)
    print(f"{checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
