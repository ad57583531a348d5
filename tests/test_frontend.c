/* The time-frequency front end (audio/frontend.h), without Python:
 *  - frames: the count formula (centred or not, short and empty signals) and
 *    np.pad 'reflect' indexing, repeated for pads longer than the signal;
 *  - known answers: a sine on an FFT bin peaks at that bin with A n / 4 (hann)
 *    or A (Essentia's blackmanharris62, which sums to 2), neighbours n / 8 for
 *    hann; Parseval over the one-sided spectrum; hann / bh62 window values;
 *  - mel filterbank: scale conversions (slaney 1 kHz = 15 mel, htk 700 Hz =
 *    2595 log10 2), norm none: peaks <= 1 and neighbouring triangles summing
 *    to 1 between the outer centres; unit_sum: rows sum to 1; slaney: areas
 *    2 / (f[i+2] - f[i]) x the triangle; all: non-negative, one band each;
 *  - DCT-II ortho orthonormal; MFCC of a flat spectrum is a lone c0;
 *  - deltas (Savitzky-Golay 'interp') of ramps and parabolas, edges included,
 *    and of rows shorter than the window;
 *  - compressions: power_to_db values and top_db floor, log10(1 + C x) down to
 *    tiny C x, the vectorised log against libm over 60 decades;
 *  - frontend_compute against a plain recomputation from frontend_stft and
 *    the dense mel matrix (stft, mel, mfcc + deltas; partial frame blocks);
 *  - ISTFT round trips <= 1e-5 (hann n_fft / 4 and n_fft / 2 hops, reflect
 *    and zero padding, blackmanharris62);
 *  - plans made and used on several threads at once give the same numbers;
 *  - [frontend] sections: values read, describe(), and bad specs rejected
 *    with their own message and file:line (forked children, exit status 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audio/dsp.h"
#include "audio/frontend.h"
#include "test_util.h"
#include "config/ini_file.h"
#include "core/error.h"


static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform [-1, 1) */
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (float)((g_rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static float *noise(long n, float amp) {
  float *x = malloc(sizeof(float) * (n ? n : 1));
  for (long i = 0; i < n; i++) x[i] = amp * frand();
  return x;
}

static FrontEndSpec spec_of(double sr, int n_fft, int hop, Representation r, int n_bins) {
  FrontEndSpec s;
  frontend_spec_defaults(&s);
  s.sample_rate = sr;
  s.n_fft = n_fft;
  s.hop = hop;
  s.representation = r;
  s.n_bins = n_bins;
  return s;
}

/* ------------------------------------------------------------------------ */

static void test_frames(void) {
  FrontEndSpec s = spec_of(12000, 512, 256, REPR_MEL, 96);
  const long lens[] = {1, 2, 255, 256, 257, 511, 512, 513, 349440, 360000};
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    long n = lens[i];
    s.center = 1;
    CHECK(frontend_frames(&s, n) == 1 + n / 256, "centred frames(%ld) = %ld", n, frontend_frames(&s, n));
    s.center = 0;
    long want = n < 512 ? 0 : 1 + (n - 512) / 256;
    CHECK(frontend_frames(&s, n) == want, "uncentred frames(%ld) = %ld, want %ld", n, frontend_frames(&s, n), want);
  }
  s.center = 1;
  CHECK(frontend_frames(&s, 349440) == 1366, "Choi's 29.12 s at 12 kHz gives %ld frames, not 1366", frontend_frames(&s, 349440));
  CHECK(frontend_frames(&s, 0) == 0, "an empty signal has no frames");
  CHECK(frontend_rows(&s) == 96, "mel rows");
  s.representation = REPR_MFCC;
  s.n_bins = 30;
  s.mfcc_deltas = 1;
  CHECK(frontend_rows(&s) == 90, "mfcc + deltas rows %d", frontend_rows(&s));

  /* np.pad([1, 2, 3], 4, 'reflect') = [1 2 3 2 1 2 3 2 1 2 3] */
  const long want[] = {0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2};
  int bad = 0;
  for (long i = -4; i <= 6; i++) bad += dsp_reflect_index(i, 3) != want[i + 4];
  CHECK(bad == 0, "reflect indices differ from np.pad in %d places", bad);
  CHECK(dsp_reflect_index(-5, 1) == 0 && dsp_reflect_index(7, 1) == 0, "reflecting a single sample");
  CHECK(dsp_reflect_index(-1, 10) == 1 && dsp_reflect_index(10, 10) == 8 && dsp_reflect_index(-9, 10) == 9 &&
            dsp_reflect_index(-10, 10) == 8,
        "reflect edges");
}

static void test_windows(void) {
  double w[2048];
  dsp_window(WINDOW_HANN, 8, w);
  const double hann8[] = {0, 0.1464466094067262, 0.5, 0.8535533905932737, 1, 0.8535533905932737, 0.5, 0.1464466094067262};
  double e = 0;
  for (int i = 0; i < 8; i++) e = fmax(e, fabs(w[i] - hann8[i]));
  CHECK(e < 1e-15, "periodic hann(8) differs from scipy by %g", e);
  dsp_window(WINDOW_BLACKMANHARRIS62, 2048, w);
  double sum = 0, asym = 0;
  for (int i = 0; i < 2048; i++) {
    sum += w[i];
    asym = fmax(asym, fabs(w[i] - w[2047 - i]));
  }
  CHECK(fabs(sum - 2) < 1e-12 && asym == 0, "blackmanharris62: sum %.15g (want 2), asymmetry %g", sum, asym);
  const double raw0 = 0.44959 - 0.49364 + 0.05677; /* the end points before scaling */
  CHECK(fabs(w[0] / w[1023] - raw0 / (0.44959 - 0.49364 * cos(2 * M_PI * 1023 / 2047) + 0.05677 * cos(4 * M_PI * 1023 / 2047))) < 1e-12,
        "blackmanharris62 shape");
}

/* A sine exactly on bin k0: the peak, its neighbours, and nothing else. */
static void test_sine_peak(WindowKind win) {
  const int n_fft = 512, hop = 128, k0 = 37;
  const double sr = 16000, f = k0 * sr / n_fft, amp = 0.6;
  const long n = 8192;
  float *x = malloc(sizeof(float) * n);
  for (long i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * M_PI * f * i / sr + 0.4));
  FrontEndSpec s = spec_of(sr, n_fft, hop, REPR_STFT, n_fft / 2 + 1);
  s.window = win;
  s.power = 1;
  s.compression = COMPRESS_NONE;
  FrontEndPlan *p = frontend_plan_create(&s);
  const long frames = frontend_frames(&s, n);
  float *mag = malloc(sizeof(float) * (n_fft / 2 + 1) * frames);
  frontend_compute(p, x, n, mag);
  const double peak = win == WINDOW_HANN ? amp * n_fft / 4 : amp; /* bh62 sums to 2 */
  int bad_peak = 0, bad_side = 0, bad_rest = 0;
  for (long t = 4; t < frames - 4; t++) { /* frames inside the signal */
    int arg = 0;
    for (int k = 0; k <= n_fft / 2; k++)
      if (mag[(size_t)k * frames + t] > mag[(size_t)arg * frames + t]) arg = k;
    if (arg != k0 || fabs(mag[(size_t)k0 * frames + t] / peak - 1) > 1e-5) bad_peak++;
    if (win == WINDOW_HANN) {
      for (int d = -1; d <= 1; d += 2)
        if (fabs(mag[(size_t)(k0 + d) * frames + t] / (amp * n_fft / 8) - 1) > 1e-5) bad_side++;
      for (int k = 0; k <= n_fft / 2; k++)
        if (abs(k - k0) > 1 && mag[(size_t)k * frames + t] > 1e-5 * peak) bad_rest++;
    } else {
      for (int k = 0; k <= n_fft / 2; k++) /* 62 dB sidelobes, a few bins wide main lobe */
        if (abs(k - k0) > 4 && mag[(size_t)k * frames + t] > 1e-3 * peak) bad_rest++;
    }
  }
  const char *name = win == WINDOW_HANN ? "hann" : "blackmanharris62";
  CHECK(bad_peak == 0, "%s: %d frames miss the peak at bin %d with %g", name, bad_peak, k0, peak);
  CHECK(bad_side == 0, "%s: %d neighbour bins are not A n / 8", name, bad_side);
  CHECK(bad_rest == 0, "%s: %d bins away from the peak are not ~0", name, bad_rest);
  frontend_plan_free(p);
  free(mag);
  free(x);
}

/* Parseval: sum over the two-sided spectrum = n_fft x sum of the windowed frame squared. */
static void test_parseval(void) {
  const int n_fft = 2048, hop = 512;
  const long n = 20000;
  float *x = noise(n, 0.5f);
  FrontEndSpec s = spec_of(22050, n_fft, hop, REPR_STFT, n_fft / 2 + 1);
  FrontEndPlan *p = frontend_plan_create(&s);
  const long frames = frontend_frames(&s, n);
  float *X = malloc(sizeof(float) * 2 * (n_fft / 2 + 1) * frames);
  frontend_stft(p, x, n, X);
  double w[2048], worst = 0;
  dsp_window(WINDOW_HANN, n_fft, w);
  for (long t = 2; t < frames - 2; t++) {
    double time_e = 0, freq_e = 0;
    for (int i = 0; i < n_fft; i++) {
      double v = x[t * hop - n_fft / 2 + i] * w[i];
      time_e += v * v;
    }
    for (int k = 0; k <= n_fft / 2; k++) {
      double re = X[((size_t)k * frames + t) * 2], im = X[((size_t)k * frames + t) * 2 + 1];
      freq_e += (k == 0 || k == n_fft / 2 ? 1 : 2) * (re * re + im * im);
    }
    worst = fmax(worst, fabs(freq_e / (n_fft * time_e) - 1));
  }
  CHECK(worst < 1e-5, "Parseval off by %g", worst);
  frontend_plan_free(p);
  free(X);
  free(x);
}

static void test_mel_scale(void) {
  CHECK(fabs(dsp_hz_to_mel(1000, MEL_SLANEY) - 15) < 1e-12, "slaney 1 kHz = %.15g mel", dsp_hz_to_mel(1000, MEL_SLANEY));
  CHECK(fabs(dsp_hz_to_mel(500, MEL_SLANEY) - 7.5) < 1e-12, "slaney 500 Hz");
  CHECK(fabs(dsp_hz_to_mel(6400, MEL_SLANEY) - 42) < 1e-12, "slaney 6.4 kHz = 15 + 27 mel: %.15g", dsp_hz_to_mel(6400, MEL_SLANEY));
  CHECK(fabs(dsp_hz_to_mel(700, MEL_HTK) - 2595 * log10(2.0)) < 1e-9, "htk 700 Hz");
  double worst = 0;
  for (double f = 0; f <= 24000; f += 37.5)
    for (int sc = 0; sc < 2; sc++) worst = fmax(worst, fabs(dsp_mel_to_hz(dsp_hz_to_mel(f, sc), sc) - f));
  CHECK(worst < 1e-8, "mel round trip off by %g Hz", worst);
}

static void test_mel_filterbank(void) {
  const double sr = 22050;
  const int n_fft = 2048, n_mels = 64, nf = n_fft / 2 + 1;
  for (int sc = 0; sc < 2; sc++) {
    double *w[3];
    for (int norm = 0; norm < 3; norm++) {
      w[norm] = malloc(sizeof(double) * n_mels * nf);
      dsp_mel_filterbank(sr, n_fft, n_mels, 30, 10000, sc, norm, w[norm]);
    }
    const char *scn = sc == MEL_SLANEY ? "slaney" : "htk";
    /* the band edges */
    double pts[66];
    const double lo = dsp_hz_to_mel(30, sc), hi = dsp_hz_to_mel(10000, sc);
    for (int i = 0; i < n_mels + 2; i++) pts[i] = dsp_mel_to_hz(lo + (hi - lo) * i / (n_mels + 1), sc);
    int bad_neg = 0, bad_support = 0, bad_peak = 0, bad_sum = 0, bad_unit = 0, bad_area = 0, bad_band = 0;
    for (int m = 0; m < n_mels; m++) {
      double peak = 0, sum1 = 0;
      int first = -1, last = -1, gaps = 0;
      for (int k = 0; k < nf; k++) {
        double f = k * sr / n_fft, v = w[MEL_NORM_NONE][m * nf + k];
        if (v < 0) bad_neg++;
        if (v > 0 && (f <= pts[m] || f >= pts[m + 2])) bad_support++;
        if (v > 0) {
          if (first >= 0 && last != k - 1) gaps++;
          if (first < 0) first = k;
          last = k;
        }
        peak = fmax(peak, v);
        sum1 += w[MEL_NORM_UNIT_SUM][m * nf + k];
        /* slaney norm = none x 2 / (f[m+2] - f[m]) */
        if (fabs(w[MEL_NORM_SLANEY][m * nf + k] - v * 2 / (pts[m + 2] - pts[m])) > 1e-9 * (1 + v)) bad_area++;
      }
      if (peak > 1 + 1e-12 || (pts[m + 2] - pts[m] > 4 * sr / n_fft && peak < 0.5)) bad_peak++;
      if (fabs(sum1 - 1) > 1e-12) bad_unit++;
      if (gaps) bad_band++;
    }
    /* neighbouring triangles sum to 1 between the first and last centres */
    for (int k = 0; k < nf; k++) {
      double f = k * sr / n_fft, s = 0;
      if (f <= pts[1] || f >= pts[n_mels]) continue;
      for (int m = 0; m < n_mels; m++) s += w[MEL_NORM_NONE][m * nf + k];
      if (fabs(s - 1) > 1e-9) bad_sum++;
    }
    CHECK(!bad_neg && !bad_support && !bad_band, "%s: %d negative, %d outside their band, %d split filters", scn, bad_neg,
          bad_support, bad_band);
    CHECK(!bad_peak, "%s: %d filters peak above 1 or far below", scn, bad_peak);
    CHECK(!bad_sum, "%s: %d bins where the unnormalised triangles do not sum to 1", scn, bad_sum);
    CHECK(!bad_unit, "%s: %d unit_sum rows do not sum to 1", scn, bad_unit);
    CHECK(!bad_area, "%s: %d slaney-normalised weights are not 2 / (f[m+2] - f[m]) x the triangle", scn, bad_area);
    for (int norm = 0; norm < 3; norm++) free(w[norm]);
  }
  /* more bands than the FFT resolves: empty filters are zero rows, unit_sum leaves them */
  double *w = malloc(sizeof(double) * 256 * 257);
  dsp_mel_filterbank(22050, 512, 256, 0, 11025, MEL_SLANEY, MEL_NORM_UNIT_SUM, w);
  int empty = 0, bad = 0;
  for (int m = 0; m < 256; m++) {
    double s = 0;
    for (int k = 0; k < 257; k++) s += w[m * 257 + k];
    if (s == 0) empty++;
    else if (fabs(s - 1) > 1e-12) bad++;
  }
  CHECK(empty > 0 && bad == 0, "256 bands on 257 bins: %d empty (want some, as librosa warns), %d bad sums", empty, bad);
  free(w);
}

static void test_dct(void) {
  const int n = 40;
  double *d = malloc(sizeof(double) * n * n);
  dsp_dct2_ortho(n, n, d);
  double worst = 0;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      double s = 0;
      for (int i = 0; i < n; i++) s += d[a * n + i] * d[b * n + i];
      worst = fmax(worst, fabs(s - (a == b)));
    }
  CHECK(worst < 1e-12, "DCT-II ortho is not orthonormal: %g", worst);
  /* a flat input: only c0 = sqrt(n) x value */
  double c0 = 0, rest = 0;
  for (int k = 0; k < n; k++) {
    double s = 0;
    for (int i = 0; i < n; i++) s += d[k * n + i] * -20.0;
    if (k == 0) c0 = s;
    else rest = fmax(rest, fabs(s));
  }
  CHECK(fabs(c0 + 20 * sqrt(n)) < 1e-9 && rest < 1e-9, "DCT of a constant: c0 %g, others %g", c0, rest);
  free(d);
}

static void test_deltas(void) {
  const long n = 50;
  float x[3 * 50], y[3 * 50];
  for (long t = 0; t < n; t++) {
    x[t] = 0.5f * t - 3;       /* ramp */
    x[n + t] = (float)(t * t); /* parabola */
    x[2 * n + t] = 7;          /* constant */
  }
  dsp_savgol_interp(x, y, 3, n, n, 9, 1);
  int bad = 0;
  for (long t = 0; t < n; t++) {
    if (fabs(y[t] - 0.5) > 1e-5) bad++;
    /* parabola: the least-squares line through 9 points has slope 2 x centre,
     * the edges take the slope of the first / last window: 2 x 4, 2 x (n - 5) */
    double want = t < 4 ? 8 : t >= n - 4 ? 2.0 * (n - 5) : 2.0 * t;
    if (fabs(y[n + t] - want) > 1e-3) bad++;
    if (fabs(y[2 * n + t]) > 1e-5) bad++;
  }
  CHECK(bad == 0, "first-order deltas of ramp / parabola / constant: %d wrong", bad);
  dsp_savgol_interp(x, y, 3, n, n, 9, 2);
  bad = 0;
  for (long t = 0; t < n; t++)
    if (fabs(y[t]) > 1e-5 || fabs(y[n + t] - 2) > 1e-3 || fabs(y[2 * n + t]) > 1e-5) bad++;
  CHECK(bad == 0, "second-order deltas: %d wrong", bad);
  /* shorter than the window: one fit over the whole row */
  float xs[5] = {1, 3, 5, 7, 9}, ys[5];
  dsp_savgol_interp(xs, ys, 1, 5, 5, 9, 1);
  bad = 0;
  for (int t = 0; t < 5; t++) bad += fabs(ys[t] - 2) > 1e-5;
  dsp_savgol_interp(xs, ys, 1, 1, 1, 9, 1);
  bad += ys[0] != 0;
  CHECK(bad == 0, "deltas of short rows: %d wrong", bad);
}

static void test_compression(void) {
  float x[6] = {1, 10, 0.5f, 1e-12f, 0, 1e6f};
  dsp_power_to_db(x, 6, 1.0, 1e-10, 0);
  const double want[6] = {0, 10, 10 * log10(0.5), -100, -100, 60};
  double e = 0;
  for (int i = 0; i < 6; i++) e = fmax(e, fabs(x[i] - want[i]));
  CHECK(e < 1e-4, "power_to_db values off by %g dB", e);
  float z[4] = {1e6f, 1, 1e-3f, 0};
  dsp_power_to_db(z, 4, 10.0, 1e-10, 80);
  CHECK(fabs(z[0] - 50) < 1e-4 && fabs(z[1] + 10) < 1e-4 && fabs(z[2] + 30) < 1e-4 && fabs(z[3] + 30) < 1e-4,
        "ref 10 and top_db 80: %g %g %g %g", z[0], z[1], z[2], z[3]);
  float l[5] = {0, 1e-13f, 1e-4f, 1, 100};
  dsp_log10_1p(l, 5, 10000);
  const double lw[5] = {0, log1p(1e-9) / M_LN10, log10(2.0), log10(10001.0), log10(1000001.0)};
  e = 0;
  for (int i = 0; i < 5; i++) e = fmax(e, fabs(l[i] - lw[i]) / fmax(fabs(lw[i]), 1e-30));
  CHECK(e < 1e-6, "log10(1 + C x) off by %g relative", e);
  /* musicnn's float16 steps: numpy's np.log10(np.float16(10000) * x.astype(np.float16) + np.float16(1)) */
  float hx[6] = {0, 1e-4f, 1, 6.5f, 7, 0.123f};
  const float hw[6] = {0, 0.301025390625f, 4.0f, 4.8125f, INFINITY, 3.08984375f};
  dsp_log10_1p_half(hx, 6, 10000);
  int same = 1;
  for (int i = 0; i < 6; i++) same &= hx[i] == hw[i];
  CHECK(same, "log10_1p_half: %g %g %g %g %g %g, numpy float16 gives 0 0.301025390625 4 4.8125 inf 3.08984375", hx[0],
        hx[1], hx[2], hx[3], hx[4], hx[5]);
  double worst = 0;
  for (double lx = -30; lx <= 30; lx += 0.0137) {
    float v = (float)pow(10, lx);
    double got = dsp_log(v), ref = log((double)v);
    worst = fmax(worst, fabs(got - ref) / fmax(fabs(ref), 1.0));
  }
  for (double d = -0.3; d <= 0.45; d += 1e-4) { /* near 1, relative to log itself */
    float v = (float)(1 + d);
    double ref = log((double)v);
    if (ref != 0) worst = fmax(worst, fabs(dsp_log(v) - ref) / fabs(ref) * 1e-1);
  }
  CHECK(worst < 3e-7, "vectorised log off by %g", worst);
}

/* frontend_compute against a plain double-precision recomputation from
 * frontend_stft and the dense mel matrix. */
static void test_compute_vs_plain(Representation r, int power, Compression comp, int deltas) {
  const int n_fft = 512, hop = 160;
  const long n = 16000 + 77; /* frames not a multiple of the block */
  float *x = noise(n, 0.3f);
  FrontEndSpec s = spec_of(16000, n_fft, hop, r, r == REPR_STFT ? 200 : r == REPR_MEL ? 80 : 20);
  s.power = power;
  s.compression = comp;
  s.n_mels = 60;
  s.mfcc_deltas = deltas;
  s.db_top_db = 60;
  FrontEndPlan *p = frontend_plan_create(&s);
  const long frames = frontend_frames(&s, n);
  const int rows = frontend_rows(&s), nf = n_fft / 2 + 1;
  float *got = malloc(sizeof(float) * rows * frames), *X = malloc(sizeof(float) * 2 * nf * frames);
  frontend_compute(p, x, n, got);
  frontend_stft(p, x, n, X);
  double *S = malloc(sizeof(double) * nf * frames);
  for (long i = 0; i < (long)nf * frames; i++) {
    double m = hypot(X[2 * i], X[2 * i + 1]);
    S[i] = power == 2 ? m * m : m;
  }
  const int lin_rows = r == REPR_STFT ? s.n_bins : r == REPR_MEL ? s.n_bins : s.n_mels;
  double *lin = malloc(sizeof(double) * lin_rows * frames);
  const float *M = frontend_mel_matrix(p);
  CHECK((M != NULL) == (r != REPR_STFT), "mel matrix presence");
  for (int row = 0; row < lin_rows; row++)
    for (long t = 0; t < frames; t++) {
      double v = 0;
      if (r == REPR_STFT) v = S[(size_t)row * frames + t];
      else
        for (int k = 0; k < nf; k++) v += M[(size_t)row * nf + k] * S[(size_t)k * frames + t];
      lin[(size_t)row * frames + t] = v;
    }
  double mx = -INFINITY, top = 0;
  for (long i = 0; i < (long)lin_rows * frames; i++) top = fmax(top, lin[i]);
  if (comp == COMPRESS_DB)
    for (long i = 0; i < (long)lin_rows * frames; i++) {
      lin[i] = 10 * log10(fmax(lin[i], 1e-10));
      mx = fmax(mx, lin[i]);
    }
  if (comp == COMPRESS_DB)
    for (long i = 0; i < (long)lin_rows * frames; i++) lin[i] = fmax(lin[i], mx - 60);
  if (comp == COMPRESS_LOG10_1P)
    for (long i = 0; i < (long)lin_rows * frames; i++) lin[i] = log10(1 + 10000 * lin[i]);
  double worst = 0;
  if (r != REPR_MFCC) {
    for (long i = 0; i < (long)lin_rows * frames; i++) {
      double tol = comp == COMPRESS_NONE ? 1e-5 * fabs(lin[i]) + 1e-6 * top : 1e-4 * fabs(lin[i]) + 1e-4;
      worst = fmax(worst, fabs(got[i] - lin[i]) / tol);
    }
  } else {
    double *d = malloc(sizeof(double) * s.n_bins * s.n_mels);
    dsp_dct2_ortho(s.n_mels, s.n_bins, d);
    float *c = malloc(sizeof(float) * s.n_bins * frames);
    for (int k = 0; k < s.n_bins; k++)
      for (long t = 0; t < frames; t++) {
        double v = 0;
        for (int m = 0; m < s.n_mels; m++) v += d[k * s.n_mels + m] * lin[(size_t)m * frames + t];
        c[(size_t)k * frames + t] = (float)v;
        worst = fmax(worst, fabs(got[(size_t)k * frames + t] - v) / 1e-3);
      }
    if (deltas) {
      float *dl = malloc(sizeof(float) * s.n_bins * frames);
      for (int o = 1; o <= 2; o++) {
        dsp_savgol_interp(c, dl, s.n_bins, frames, frames, 9, o);
        for (long i = 0; i < (long)s.n_bins * frames; i++)
          worst = fmax(worst, fabs(got[(size_t)o * s.n_bins * frames + i] - dl[i]) / 1e-3);
      }
      free(dl);
    }
    free(c);
    free(d);
  }
  const char *rn = r == REPR_STFT ? "stft" : r == REPR_MEL ? "mel" : "mfcc";
  CHECK(worst <= 1, "%s power %d compression %d deltas %d: %g x the tolerance from the plain computation", rn, power,
        (int)comp, deltas, worst);
  frontend_plan_free(p);
  free(lin);
  free(S);
  free(X);
  free(got);
  free(x);
}

static void test_istft(int n_fft, int hop, WindowKind win, int center, PadMode pad) {
  const long n = 12345;
  float *x = noise(n, 0.9f), *y = malloc(sizeof(float) * n);
  FrontEndSpec s = spec_of(16000, n_fft, hop, REPR_STFT, n_fft / 2 + 1);
  s.window = win;
  s.center = center;
  s.pad = pad;
  FrontEndPlan *p = frontend_plan_create(&s);
  const long frames = frontend_frames(&s, n);
  float *X = malloc(sizeof(float) * 2 * (n_fft / 2 + 1) * frames);
  frontend_stft(p, x, n, X);
  for (long i = 0; i < n; i++) y[i] = 1e9f;
  frontend_istft(p, X, frames, y, n);
  double worst = 0;
  for (long i = 0; i < n; i++) worst = fmax(worst, fabs(y[i] - x[i]));
  CHECK(worst <= 1e-5, "istft(stft(x)) n_fft %d hop %d %s pad %s: max error %g", n_fft, hop,
        win == WINDOW_HANN ? "hann" : "bh62", pad == PAD_REFLECT ? "reflect" : "constant", worst);
  /* fewer output samples than the frames cover, and more (zeros past the end) */
  float *y2 = malloc(sizeof(float) * (n + 3000));
  frontend_istft(p, X, frames, y2, n + 3000);
  double w2 = 0, tail = 0;
  for (long i = 0; i < n; i++) w2 = fmax(w2, fabs(y2[i] - x[i]));
  for (long i = n + n_fft; i < n + 3000; i++) tail = fmax(tail, fabs(y2[i]));
  CHECK(w2 <= 1e-5 && tail == 0, "istft longer than the signal: error %g, tail %g", w2, tail);
  frontend_istft(p, X, frames, y2, 1000);
  w2 = 0;
  for (long i = 0; i < 1000; i++) w2 = fmax(w2, fabs(y2[i] - x[i]));
  CHECK(w2 <= 1e-5, "istft shorter than the signal: error %g", w2);
  frontend_plan_free(p);
  free(X);
  free(y2);
  free(y);
  free(x);
}

static void test_threads(void) {
  const long n = 48000;
  float *x = noise(n, 0.5f);
  FrontEndSpec s = spec_of(16000, 512, 256, REPR_MEL, 96);
  const long frames = frontend_frames(&s, n);
  float *ref = malloc(sizeof(float) * 96 * frames);
  FrontEndPlan *p = frontend_plan_create(&s);
  frontend_compute(p, x, n, ref);
  frontend_plan_free(p);
  int bad = 0;
#pragma omp parallel num_threads(4) reduction(+ : bad)
  {
    float *mine = malloc(sizeof(float) * 96 * frames);
    for (int rep = 0; rep < 5; rep++) {
      FrontEndPlan *q = frontend_plan_create(&s);
      frontend_compute(q, x, n, mine);
      bad += memcmp(mine, ref, sizeof(float) * 96 * frames) != 0;
      frontend_plan_free(q);
    }
    free(mine);
  }
  CHECK(bad == 0, "%d threaded computations differ from the single-threaded one", bad);
  /* an empty signal: nothing written */
  p = frontend_plan_create(&s);
  float sentinel = 42;
  frontend_compute(p, x, 0, &sentinel);
  CHECK(sentinel == 42, "an empty signal wrote features");
  frontend_plan_free(p);
  free(ref);
  free(x);
}

/* ------------------------------------------------------------------------ */
/* [frontend] sections                                                        */

static const char *const SINGLETONS[] = {"frontend", NULL};

static void spec_from_text(const char *body, FrontEndSpec *s) {
  char text[2048];
  snprintf(text, sizeof text, "[frontend]\n%s", body);
  IniFile *ini = ini_load_text(text, "test.ini", SINGLETONS);
  frontend_spec_from_ini(ini_section(ini, "frontend"), s);
  ini_free(ini);
}

static void test_ini(void) {
  FrontEndSpec s;
  spec_from_text("sample_rate = 12000\nn_fft = 512\nhop = 256\nn_bins = 96\n", &s);
  CHECK(s.sample_rate == 12000 && s.n_fft == 512 && s.hop == 256 && s.representation == REPR_MEL && s.n_bins == 96 &&
            s.center && s.pad == PAD_REFLECT && s.power == 2 && s.compression == COMPRESS_DB && s.db_top_db == 80,
        "Choi's front end read wrongly");
  CacheFrontEnd fe;
  frontend_describe(&s, &fe);
  CHECK(fe.sample_rate == 12000 && fe.n_fft == 512 && fe.hop == 256 && !strcmp(fe.window, "hann") &&
            !strcmp(fe.representation, "mel") && fe.n_bins == 96 && fe.fmin == 0 && fe.fmax == 6000 &&
            !strcmp(fe.mel_scale, "slaney") && !strcmp(fe.mel_norm, "slaney") && !strcmp(fe.compression, "db"),
        "describe: %s %s %g %s %s %s", fe.window, fe.representation, fe.fmax, fe.mel_scale, fe.mel_norm, fe.compression);
  spec_from_text("sample_rate = 44100\nn_fft = 2048\nhop = 1024\nwindow = blackmanharris62\nn_bins = 40\n"
                 "mel_scale = htk\nmel_norm = unit_sum\ncompression = log10_1p\nlog_c = 10000\npad = constant\n",
                 &s);
  frontend_describe(&s, &fe);
  CHECK(s.window == WINDOW_BLACKMANHARRIS62 && s.mel_scale == MEL_HTK && s.mel_norm == MEL_NORM_UNIT_SUM &&
            s.compression == COMPRESS_LOG10_1P && s.log_c == 10000 && s.pad == PAD_CONSTANT &&
            !strcmp(fe.window, "blackmanharris62") && !strcmp(fe.mel_norm, "unit_sum") && !strcmp(fe.compression, "log10_1p"),
        "Pons's front end read wrongly");
  spec_from_text("sample_rate = 11025\nn_fft = 512\nhop = 256\nrepresentation = stft\npower = 1\ncompression = none\n", &s);
  frontend_describe(&s, &fe);
  CHECK(s.representation == REPR_STFT && s.n_bins == 257 && s.power == 1 && !strcmp(fe.representation, "stft") &&
            !strcmp(fe.mel_scale, "none") && fe.n_bins == 257,
        "Choi's auralisation STFT read wrongly");
  spec_from_text("representation = mfcc\nn_bins = 30\nmfcc_deltas = true\nn_mels = 96\ncenter = false\n", &s);
  CHECK(s.representation == REPR_MFCC && s.n_bins == 30 && s.mfcc_deltas && s.n_mels == 96 && !s.center &&
            frontend_rows(&s) == 90,
        "mfcc read wrongly");
}

typedef struct BadCase {
  const char *body, *want;
} BadCase;

static void parse_bad_spec(const void *arg) {
  FrontEndSpec s;
  spec_from_text(((const BadCase *)arg)->body, &s);
}

static void expect_fatal(const BadCase *c) {
  char msg[4096];
  int code = run_in_child(parse_bad_spec, c, msg, sizeof msg);
  if (code == 1 && strstr(msg, c->want) && strstr(msg, "test.ini:")) printf("PASS %s\n", msg);
  else {
    printf("FAIL spec '%s': exit %d, message '%s' (wanted status 1, test.ini:LINE and '%s')\n", c->body, code, msg, c->want);
    failures++;
  }
}

static void test_bad_specs(void) {
  static const BadCase cases[] = {
      {"n_fft = 512\nhop = 1024\n", "hop 1024 must be in [1, n_fft = 512]"},
      {"n_fft = 511\n", "n_fft 511 must be even"},
      {"sample_rate = 12000\nfmax = 8000\n", "fmax 8000 Hz is above the Nyquist frequency"},
      {"fmin = 5000\nfmax = 4000\n", "fmax 4000 Hz must be above fmin 5000 Hz"},
      {"representation = stft\nn_fft = 512\nn_bins = 300\n", "an STFT of n_fft 512 has 257 bins"},
      {"power = 1.5\n", "power 1.5 must be 1 (magnitude) or 2 (power)"},
      {"power = 3\n", "out of range"},
      {"window = hamming\n", "choose one of: hann, blackmanharris62"},
      {"representation = cqt\n", "choose one of: stft, mel, mfcc"},
      {"mel_norm = l2\n", "choose one of: slaney, unit_sum, none"},
      {"representation = mfcc\ncompression = none\n", "compression must be db"},
      {"representation = mfcc\nn_mels = 20\nn_bins = 30\n", "at most 20 coefficients"},
      {"center = false\npad = reflect\n", "frames are not centred"},
      {"representation = stft\nfmin = 20\n", "a mel filterbank setting"},
      {"compression = db\nlog_c = 100\n", "compression is not log10_1p"},
      {"compression = none\ndb_top_db = 80\n", "compression is not db"},
      {"representation = mel\nmfcc_deltas = true\n", "representation = mfcc only"},
      {"representation = mel\nn_mels = 40\n", "for mel, n_bins is the number of bands"},
      {"db_top_db = -1\n", "out of range"},
      {"hop = 0\n", "out of range"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) expect_fatal(&cases[i]);
}

int main(void) {
  test_frames();
  test_windows();
  test_sine_peak(WINDOW_HANN);
  test_sine_peak(WINDOW_BLACKMANHARRIS62);
  test_parseval();
  test_mel_scale();
  test_mel_filterbank();
  test_dct();
  test_deltas();
  test_compression();
  for (int pw = 1; pw <= 2; pw++) {
    test_compute_vs_plain(REPR_STFT, pw, COMPRESS_NONE, 0);
    test_compute_vs_plain(REPR_MEL, pw, COMPRESS_NONE, 0);
    test_compute_vs_plain(REPR_MEL, pw, COMPRESS_DB, 0);
  }
  test_compute_vs_plain(REPR_STFT, 2, COMPRESS_LOG10_1P, 0);
  test_compute_vs_plain(REPR_MEL, 2, COMPRESS_LOG10_1P, 0);
  test_compute_vs_plain(REPR_MFCC, 2, COMPRESS_DB, 0);
  test_compute_vs_plain(REPR_MFCC, 2, COMPRESS_DB, 1);
  test_istft(512, 128, WINDOW_HANN, 1, PAD_REFLECT);
  test_istft(512, 256, WINDOW_HANN, 1, PAD_REFLECT);
  test_istft(512, 256, WINDOW_HANN, 1, PAD_CONSTANT);
  test_istft(2048, 512, WINDOW_HANN, 1, PAD_REFLECT);
  test_istft(2048, 1024, WINDOW_BLACKMANHARRIS62, 1, PAD_REFLECT);
  test_threads();
  test_ini();
  test_bad_specs();
  if (failures) {
    printf("%d FAILED\n", failures);
    return 1;
  }
  printf("all front-end tests passed\n");
  return 0;
}
