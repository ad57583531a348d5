#!/usr/bin/env python3
"""The C front end (host/audio/frontend.c, through build/tests/oracle/frontend_dump)
against librosa, on sines, a chirp, white noise, a click train, silence then
noise, and a signal shorter than half a frame, at 11025 / 12000 / 16000 /
22050 / 44100 Hz with n_fft / hop 512 / 256, 2048 / 512 and 2048 / 1024, for
every option: both windows, centred frames with reflect or zero padding and
uncentred ones, power 1 and 2, stft / mel / mfcc (with and without deltas),
slaney and htk mel scales, slaney / unit_sum / none filter norms, db (several
ref / amin / top_db) / log10_1p / no compression, fmin / fmax, fewer bins.

References are librosa's own functions (librosa.stft with the window and
pad_mode, np.abs(D) ** power, librosa.filters.mel, librosa.power_to_db,
librosa.feature.mfcc(S=..., dct_type=2, norm='ortho'), librosa.feature.delta
(width 9, order 1 and 2), librosa.istft), fed the same float32 signal as
float64, so that the reference is exact to ~1e-15 and every error measured is
the C code's. blackmanharris62 (which librosa lacks) goes in as a window array
made here from Essentia's formula (symmetric, scaled to sum 2).

Criteria. The C pipeline runs in float32 (FFTW single precision), whose FFT
error is ~1e-7 of the frame's largest bin whatever the bin: a bin 1e-6 x
below the peak cannot be held to 1e-4 relative (that needs a float64 FFT).
So, with "max" the largest reference value of the clip:
  linear values (complex STFT, |X|^power, mel energies, uncompressed
  features): every bin within 1e-4 x |reference| + 1e-6 x max (numpy's
  allclose with rtol 1e-4, atol a millionth of the largest value; for mel,
  the |X|^power bound carried through the filterbank), AND relative error
  <= 1e-4 on the non-negligible bins: those within 40 dB of the max
  (magnitude >= 1e-2 x max; power >= 1e-4 x max).
  dB: every bin within the linear bound carried through 10 log10 (the
  reference taken no lower than the top_db floor and amin) + 2e-4 dB, AND
  <= 1e-3 dB on the non-negligible bins.
  log10_1p: every bin within the linear bound carried through log10(1 + C x)
  + 1e-6 relative, AND relative error <= 1e-4 on the non-negligible bins.
  mfcc and deltas: within the dB bound carried through the DCT (|DCT| @ bound)
  and the Savitzky-Golay filters (their largest L1 norm), + 1e-4.
  Reported alongside: the largest relative error within 60 dB of the max.
  mel filterbank: |C - librosa| <= 1e-6 x the largest weight (float32 storage).
  ISTFT: C istft(C stft(y)) vs y within 1e-5 (max abs; y in [-1, 1]) for
  centred frames (hop <= n_fft / 2, so every sample is covered; both windows
  satisfy NOLA there); C istft vs librosa.istft(librosa.stft(y)) within 1e-5
  wherever the overlapped squared window is >= 1e-3 x its largest value
  (uncentred frames leave the first and last samples divided by ~w^2 ~ 1e-11:
  ill-conditioned in float32, excluded).
  Fewer than 9 frames with deltas: librosa refuses (width 9 > frames); the C
  code fits one polynomial to the whole row, and so does the reference here.
AURATAG_QUICK=1 (the ASan run) keeps 12000 / 512 / 256 and 44100 / 2048 / 1024.
Exit status 1 on any failure. `--bench` also times librosa and the C code
on a 30 s clip at 12 kHz (mel 96, dB) on one thread.
"""
import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import itertools
import subprocess
import tempfile
import time
import warnings

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal

import librosa

warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large")  # the short signal, on purpose

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AURATAG_BUILD", "build")
DUMP = os.path.join(ROOT, BUILD, "tests", "oracle", "frontend_dump")

RTOL = 1e-4         # relative error, linear values
ATOL = 1e-6         # absolute error, x the clip's largest value
NEGL_DB = 40.0      # non-negligible: within 40 dB of the clip's largest value
INFO_DB = 60.0      # reported: the relative error within 60 dB
DB_TOL = 1e-3       # dB, non-negligible bins
DB_EPS = 2e-4       # dB, float32 log on top of the carried bound
LOG_EPS = 1e-6      # log10_1p, relative, on top of the carried bound
MFCC_EPS = 1e-4     # mfcc, absolute, on top of the carried bound
MEL_TOL = 1e-6      # filterbank, x largest weight
ISTFT_TOL = 1e-5
WSS_MIN = 1e-3      # istft vs librosa: where the window sum is >= this x its max

failures = []
worst = {}  # metric -> (value, case)


def note(metric, value, case):
    if metric not in worst or value > worst[metric][0]:
        worst[metric] = (float(value), case)


def check(ok, case, what):
    if not ok:
        failures.append(f"{case}: {what}")
        print(f"FAIL {case}: {what}", flush=True)


def bh62(n):
    """Essentia Windowing(type='blackmanharris62'), normalized=True (its default)."""
    i = np.arange(n)
    w = 0.44959 - 0.49364 * np.cos(2 * np.pi * i / (n - 1)) + 0.05677 * np.cos(4 * np.pi * i / (n - 1))
    return w * (2.0 / np.sum(np.abs(w)))


def make_signals(sr, seconds=1.5):
    rng = np.random.default_rng(int(sr))
    n = int(seconds * sr)
    t = np.arange(n) / sr
    sig = {}
    sig["sines"] = 0.5 * np.sin(2 * np.pi * 440.0 * t) + 0.25 * np.sin(2 * np.pi * 3000.5 * t + 0.3)
    sig["chirp"] = 0.8 * scipy.signal.chirp(t, f0=50.0, f1=0.45 * sr, t1=t[-1], method="logarithmic")
    sig["noise"] = rng.uniform(-0.5, 0.5, n)
    clicks = np.zeros(n)
    clicks[:: int(0.1 * sr)] = 1.0
    clicks[int(0.05 * sr) :: int(0.1 * sr)] = -0.7
    sig["clicks"] = clicks
    sn = np.zeros(n)
    sn[int(0.4 * n) :] = 1e-3 * rng.standard_normal(n - int(0.4 * n))
    sig["silence+noise"] = sn
    sig["short"] = rng.uniform(-0.9, 0.9, 300)  # shorter than n_fft / 2: reflection repeats
    return {k: np.clip(v, -1, 1).astype(np.float32) for k, v in sig.items()}


def run_dumps(signals, spec, tmp):
    """Every signal ({name: y}) through the C front end with one spec, in one
    run of frontend_dump (a SIGNAL OUT pair each); {name: its records}."""
    args, outs = [DUMP], {}
    for i, (name, y) in enumerate(signals.items()):
        sig_path = os.path.join(tmp, f"sig{i}.f32")
        out_path = os.path.join(tmp, f"out{i}.bin")
        y.astype("<f4").tofile(sig_path)
        args += [sig_path, out_path]
        outs[name] = out_path
    args += [f"{k}={v}" for k, v in spec.items()]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return {name: read_dump(path) for name, path in outs.items()}


def read_dump(path):
    data = open(path, "rb").read()
    out, pos = {}, 0
    while pos < len(data):
        name = data[pos : pos + 16].split(b"\0")[0].decode()
        rows, cols = np.frombuffer(data, "<i8", 2, pos + 16)
        pos += 32
        arr = np.frombuffer(data, "<f4", int(rows * cols), pos).reshape(int(rows), int(cols)).astype(np.float64)
        pos += int(rows * cols) * 4
        out[name] = arr
    st = out["stft"]
    out["stft"] = st[:, 0::2] + 1j * st[:, 1::2]
    return out


def norm_arg(name):
    return {"slaney": "slaney", "unit_sum": 1, "none": None}[name]


def mel_basis(spec, sr, n_fft, n_mels):
    fmax = float(spec.get("fmax", 0)) or None
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=float(spec.get("fmin", 0)), fmax=fmax,
                               htk=spec.get("mel_scale", "slaney") == "htk",
                               norm=norm_arg(spec.get("mel_norm", "slaney")), dtype=np.float64)


def db(S, spec):
    top = float(spec.get("db_top_db", 80))
    return librosa.power_to_db(S, ref=float(spec.get("db_ref", 1.0)), amin=float(spec.get("db_amin", 1e-10)),
                               top_db=top if top > 0 else None)


def reference(y, spec):
    sr = float(spec["sample_rate"])
    n_fft, hop = int(spec["n_fft"]), int(spec["hop"])
    window = "hann" if spec.get("window", "hann") == "hann" else bh62(n_fft)
    center = spec.get("center", "true") == "true"
    pad = spec.get("pad", "reflect")
    power = float(spec.get("power", 2))
    y64 = y.astype(np.float64)
    D = librosa.stft(y64, n_fft=n_fft, hop_length=hop, window=window, center=center, pad_mode=pad)
    S = np.abs(D) ** power
    rep = spec.get("representation", "mel")
    ref = {"stft": D, "S": S}
    if rep == "stft":
        lin = S[: int(spec.get("n_bins", n_fft // 2 + 1))]
    else:
        n_mels = int(spec.get("n_bins", 128)) if rep == "mel" else int(spec.get("n_mels", 128))
        M = mel_basis(spec, sr, n_fft, n_mels)
        ref["mel"] = M
        lin = M @ S
    ref["lin"] = lin
    comp = spec.get("compression", "db")
    if rep == "mfcc":
        C = librosa.feature.mfcc(S=db(lin, spec), n_mfcc=int(spec["n_bins"]), dct_type=2, norm="ortho")
        if spec.get("mfcc_deltas", "false") == "true":
            C = np.concatenate([C, deltas_reference(C, 1), deltas_reference(C, 2)])
        ref["features"] = C
    elif comp == "db":
        ref["features"] = db(lin, spec)
    elif comp == "log10_1p":
        ref["features"] = np.log1p(float(spec.get("log_c", 10000)) * lin) / np.log(10)
    elif comp == "log10_1p_half":  # musicnn's extractor.py, float16 array arithmetic as it runs there
        with np.errstate(over="ignore"):
            ref["features"] = np.log10(np.float16(spec.get("log_c", 10000)) * lin.astype(np.float32).astype(np.float16)
                                       + np.float16(1)).astype(np.float32)
    else:
        ref["features"] = lin
    ref["istft"] = librosa.istft(D, hop_length=hop, n_fft=n_fft, window=window, center=center, length=len(y))
    return ref


def within_db(ref, db_range, is_power):
    """Bins of a linear quantity within db_range dB of its largest value."""
    a = np.abs(ref)
    top = a.max() if a.size else 0.0
    return a >= top * 10.0 ** (-db_range / (10.0 if is_power else 20.0))


def max_rel(err, ref, sel):
    return float((err[sel] / np.abs(ref[sel])).max()) if sel.any() else 0.0


def check_linear(label, got, want, tol, is_power, case):
    """tol: per-bin allowed absolute error (the allclose bound)."""
    err = np.abs(got - want)
    sel = within_db(want, NEGL_DB, is_power) & (want != 0)
    rel = max_rel(err, want, sel)
    note(f"{label} rel (-{NEGL_DB:.0f} dB)", rel, case)
    note(f"{label} rel (-{INFO_DB:.0f} dB)", max_rel(err, want, within_db(want, INFO_DB, is_power) & (want != 0)), case)
    over = float((err / np.maximum(tol, 1e-300)).max()) if err.size else 0.0
    note(f"{label} error / bound", over, case)
    check(rel <= RTOL and over <= 1.0, case, f"{label}: relative error {rel:.3g} within {NEGL_DB:.0f} dB of the max, "
          f"{over:.3g} x the allclose bound")


def savgol_weights(n, order):
    """Rows t: weights of the order-th derivative at t of the least-squares
    polynomial of degree min(order, n - 1) through n points (savgol 'interp')."""
    deg = min(order, n - 1)
    u = np.arange(n, dtype=np.float64)
    V = np.vander(u, deg + 1, increasing=True)
    P = np.linalg.pinv(V)  # coefficients = P @ x
    W = np.zeros((n, n))
    if order > deg:
        return W
    for t in range(n):
        g = np.zeros(deg + 1)
        for j in range(order, deg + 1):
            g[j] = np.prod(np.arange(j - order + 1, j + 1)) * t ** (j - order)
        W[t] = g @ P
    return W


def deltas_reference(C, order):
    if C.shape[1] >= 9:
        return librosa.feature.delta(C, width=9, order=order)
    return C @ savgol_weights(C.shape[1], order).T  # librosa refuses: the C code's whole-row fit


def compare(y, spec, out, case):
    """out: frontend_dump's records of y with spec."""
    n_fft, hop = int(spec["n_fft"]), int(spec["hop"])
    center = spec.get("center", "true") == "true"
    frames = 1 + (len(y) + (2 * (n_fft // 2) if center else 0) - n_fft) // hop
    if not center and len(y) < n_fft:
        check(out["features"].shape[1] == 0, case, f"{out['features'].shape[1]} frames for a signal shorter than n_fft")
        return
    check(out["features"].shape[1] == frames, case, f"frames {out['features'].shape[1]} != {frames}")
    ref = reference(y, spec)
    check(out["features"].shape == ref["features"].shape, case,
          f"features shape {out['features'].shape} != librosa {ref['features'].shape}")
    if out["features"].shape != ref["features"].shape:
        return
    power = float(spec.get("power", 2))
    rep = spec.get("representation", "mel")
    comp = spec.get("compression", "db")

    # complex STFT and |X|^power
    D = ref["stft"]
    tol_D = RTOL * np.abs(D) + ATOL * np.abs(D).max()
    check_linear("complex stft", out["stft"], D, tol_D, False, case)
    S = ref["S"]
    tol_S = RTOL * S + ATOL * S.max()

    # mel filterbank
    if "mel" in ref:
        M = out["mel"]
        e = float(np.abs(M - ref["mel"]).max() / max(ref["mel"].max(), 1e-300))
        note("mel filterbank", e, case)
        check(M.shape == ref["mel"].shape and e <= MEL_TOL, case, f"mel filterbank error {e:.3g}")

    # the linear values before compression and their bound
    lin = ref["lin"]
    if rep == "stft":
        tol_lin = tol_S[: lin.shape[0]]
    else:
        tol_lin = ref["mel"] @ tol_S + RTOL * lin  # carried through the filterbank (+ float32 sums)
    lin_is_power = power == 2
    got, want = out["features"], ref["features"]
    nonneg = within_db(lin, NEGL_DB, lin_is_power)

    def db_bound():
        top = float(spec.get("db_top_db", 80))
        ref_value = float(spec.get("db_ref", 1.0))
        amin = float(spec.get("db_amin", 1e-10))
        floor_lin = ref_value * 10 ** ((db(lin, spec).max() - top) / 10) if top > 0 else 0.0
        r = np.maximum(np.maximum(np.abs(lin), floor_lin), amin)
        return 10 * np.log10(1 + tol_lin / r) + DB_EPS

    if rep == "mfcc":
        nb = int(spec["n_bins"])
        n_mels = lin.shape[0]
        dct = np.abs(scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:nb])
        tol_c = dct @ db_bound() + MFCC_EPS
        err = np.abs(got - want)
        floored = float(spec.get("db_top_db", 80)) > 0
        note("mfcc abs" + (" (top_db > 0)" if floored else " (no top_db floor)"), float(err[:nb].max()), case)
        over = float((err[:nb] / tol_c).max())
        if got.shape[0] > nb:
            tag = " (top_db > 0)" if floored else " (no top_db floor)"
            note("delta abs" + tag, float(err[nb : 2 * nb].max()), case)
            note("delta2 abs" + tag, float(err[2 * nb :].max()), case)
            n = got.shape[1]
            for o, rows in ((1, slice(nb, 2 * nb)), (2, slice(2 * nb, 3 * nb))):
                l1 = np.abs(savgol_weights(min(n, 9), o)).sum(axis=1).max()
                tol_d = l1 * scipy.ndimage.maximum_filter1d(tol_c, 9 if n >= 9 else n, axis=1, mode="nearest") + MFCC_EPS
                over = max(over, float((err[rows] / tol_d).max()))
        note("mfcc error / bound", over, case)
        check(over <= 1.0, case, f"mfcc: {over:.3g} x the carried bound (largest error {err.max():.3g})")
    elif comp == "none":
        check_linear("stft |X|^power" if rep == "stft" else "mel", got, want, tol_lin, lin_is_power, case)
    elif comp == "db":
        err = np.abs(got - want)
        e_sel = float(err[nonneg].max()) if nonneg.any() else 0.0
        note(f"db abs (-{NEGL_DB:.0f} dB)", e_sel, case)
        note(f"db abs (-{INFO_DB:.0f} dB)", float(err[within_db(lin, INFO_DB, lin_is_power)].max()), case)
        over = float((err / db_bound()).max())
        note("db error / bound", over, case)
        check(e_sel <= DB_TOL and over <= 1.0, case,
              f"dB: {e_sel:.3g} dB within {NEGL_DB:.0f} dB of the max, {over:.3g} x the carried bound")
    elif comp == "log10_1p_half":
        # numpy's float16 steps applied to the ends of the carried bound on the linear values (the steps are
        # monotonic): every value lies between them, one float16 step of slack; +inf (a power above
        # 65504 / c) exactly where both ends overflow, finite where neither does
        c = float(spec.get("log_c", 10000))

        def half_steps(v):
            with np.errstate(over="ignore"):
                return np.log10(np.float16(c) * np.maximum(v, 0).astype(np.float32).astype(np.float16)
                                + np.float16(1)).astype(np.float32)

        lo, hi = half_steps(lin - tol_lin), half_steps(lin + tol_lin)
        both = np.isfinite(hi)
        slack_lo = np.spacing(lo[both].astype(np.float16)).astype(np.float32)
        slack_hi = np.spacing(hi[both].astype(np.float16)).astype(np.float32)
        inside = (got[both] >= lo[both] - slack_lo) & (got[both] <= hi[both] + slack_hi)
        inf_ok = bool(np.all(np.isinf(got[np.isinf(lo)])) and np.all(np.isfinite(got[both])))
        outside = int((~inside).sum())
        note("log10_1p_half values outside the bound", outside, case)
        note("log10_1p_half overflowing (+inf) values", int(np.isinf(want).sum()), case)
        check(outside == 0 and inf_ok, case,
              f"log10_1p_half: {outside} values outside numpy's float16 steps on the carried bound; infinities agree: {inf_ok}")
    else:
        c = float(spec.get("log_c", 10000))
        err = np.abs(got - want)
        tol = c * tol_lin / ((1 + c * np.abs(lin)) * np.log(10)) + LOG_EPS * np.abs(want)
        sel = nonneg & (want != 0)
        rel = max_rel(err, want, sel)
        note(f"log10_1p rel (-{NEGL_DB:.0f} dB)", rel, case)
        over = float((err / np.maximum(tol, 1e-300)).max())
        note("log10_1p error / bound", over, case)
        check(rel <= RTOL and over <= 1.0, case, f"log10_1p: relative error {rel:.3g}, {over:.3g} x the carried bound")

    # ISTFT: C vs librosa where the window sum is not tiny, and the round trip
    yi = out["istft"][0]
    window = "hann" if spec.get("window", "hann") == "hann" else bh62(n_fft)
    n_frames = min(D.shape[1], int(np.ceil((len(y) + (2 * (n_fft // 2) if center else 0)) / hop)))
    wss = librosa.filters.window_sumsquare(window=window, n_frames=n_frames, hop_length=hop, n_fft=n_fft,
                                           win_length=n_fft, dtype=np.float64)
    wss = librosa.util.fix_length(wss[(n_fft // 2 if center else 0) :], size=len(y))
    sel = wss >= WSS_MIN * wss.max()
    e = float(np.abs(yi - ref["istft"])[sel].max()) if sel.any() else 0.0
    note("istft vs librosa", e, case)
    check(e <= ISTFT_TOL, case, f"istft differs from librosa.istft by {e:.3g}")
    if center and hop <= n_fft // 2:
        e = float(np.abs(yi - y).max())
        note("istft round trip", e, case)
        check(e <= ISTFT_TOL, case, f"istft(stft(y)) differs from y by {e:.3g}")


GEOMETRIES = [  # (sample_rate, n_fft, hop): the papers' front ends
    (12000, 512, 256),   # Choi 2016
    (11025, 512, 256),   # Choi 2016 auralisation
    (16000, 512, 256),   # musicnn
    (22050, 2048, 512),  # librosa defaults
    (44100, 2048, 1024), # Pons 2016
]


def configs(sr, n_fft, hop):
    base = {"sample_rate": sr, "n_fft": n_fft, "hop": hop}
    out = []
    # STFT level: windows x framing x power
    for window, framing, power in itertools.product(["hann", "blackmanharris62"], ["reflect", "constant", "off"], [1, 2]):
        c = dict(base, window=window, power=power, representation="stft", compression="none")
        if framing == "off":
            c["center"] = "false"
        else:
            c["pad"] = framing
        out.append(c)
    out.append(dict(base, representation="stft", n_bins=128 if n_fft > 256 else 64, power=1, compression="db"))
    out.append(dict(base, representation="stft", power=2, compression="log10_1p", log_c=100))
    # mel: scale x norm x compression
    for scale, norm, comp in itertools.product(["slaney", "htk"], ["slaney", "unit_sum", "none"], ["db", "log10_1p", "none"]):
        out.append(dict(base, representation="mel", n_bins=96 if n_fft == 512 else 128, mel_scale=scale, mel_norm=norm,
                        compression=comp))
    out.append(dict(base, representation="mel", n_bins=40, power=1, fmin=50, fmax=min(8000, sr / 2), compression="db",
                    db_ref=0.5, db_amin=1e-5, db_top_db=0))
    out.append(dict(base, representation="mel", n_bins=40, window="blackmanharris62", mel_scale="htk",
                    mel_norm="unit_sum", compression="log10_1p", log_c=10000, pad="constant"))
    out.append(dict(base, representation="mel", n_bins=64, center="false", compression="db", db_top_db=60))
    # musicnn's front end (its extractor.py): Slaney mel, power 2, each step of log10(1 + 10000 x) in float16
    out.append(dict(base, representation="mel", n_bins=96 if n_fft == 512 else 128, compression="log10_1p_half",
                    log_c=10000))
    # mfcc
    for n_mels, n_mfcc, deltas in [(128, 20, "false"), (96, 30, "true"), (40, 13, "true")]:
        out.append(dict(base, representation="mfcc", n_mels=n_mels, n_bins=n_mfcc, mfcc_deltas=deltas))
    out.append(dict(base, representation="mfcc", n_mels=40, n_bins=30, mfcc_deltas="true", mel_scale="htk",
                    mel_norm="unit_sum", db_top_db=0, fmin=20))
    return out


def bench():
    sr = 12000
    y = make_signals(sr, 30.0)["noise"]
    spec = {"sample_rate": sr, "n_fft": 512, "hop": 256, "representation": "mel", "n_bins": 96}
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "sig.f32")
        y.tofile(p)
        r = subprocess.run([DUMP, "--bench", "200", p] + [f"{k}={v}" for k, v in spec.items()], capture_output=True,
                           text=True, check=True)
        c_line = r.stdout.strip()

    def lib():
        S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect")
        return librosa.power_to_db(S)

    lib()
    ts = []
    for _ in range(30):
        t0 = time.perf_counter()
        lib()
        ts.append(time.perf_counter() - t0)
    lib_ms = float(np.median(ts)) * 1e3
    c_ms = float(c_line.split()[0])
    print(f"bench (30 s at 12 kHz, mel 96, dB, one thread): librosa {lib_ms:.2f} ms, C {c_line}; {lib_ms / c_ms:.1f}x")


def main():
    if not os.access(DUMP, os.X_OK):
        print(f"FAIL: {DUMP} is missing (make {BUILD}/tests/oracle/frontend_dump)")
        return 1
    print(f"librosa {librosa.__version__}, numpy {np.__version__}, scipy {scipy.__version__}")
    n_cases = 0
    with tempfile.TemporaryDirectory() as tmp:
        # AURATAG_QUICK=1 (make asan): the first and the last geometry only
        geometries = [GEOMETRIES[0], GEOMETRIES[-1]] if os.environ.get("AURATAG_QUICK") == "1" else GEOMETRIES
        for sr, n_fft, hop in geometries:
            sigs = make_signals(sr)
            for spec in configs(sr, n_fft, hop):
                try:  # the C side of the spec's cases: one run of frontend_dump for all the signals
                    outs = run_dumps(sigs, spec, tmp)
                except Exception as e:
                    outs = e
                for name, y in sigs.items():
                    case = f"{name} " + " ".join(f"{k}={v}" for k, v in spec.items())
                    try:
                        if isinstance(outs, Exception):
                            raise outs
                        compare(y, spec, outs[name], case)
                    except Exception as e:  # a crash of either side is a failure with its message
                        check(False, case, f"{type(e).__name__}: {e}")
                    n_cases += 1
    print(f"{n_cases} cases; largest errors:")
    for metric, (value, case) in sorted(worst.items()):
        print(f"  {metric:32s} {value:.3g}   ({case})")
    if "--bench" in sys.argv:
        bench()
    if failures:
        print(f"{len(failures)} FAILED")
        return 1
    print(f"{n_cases} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
