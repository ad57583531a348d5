/* Windows, mel filterbank, DCT, Savitzky-Golay, padding, compressions
 * (dsp.h). The formulas follow the reference implementations line by line:
 * scipy.signal.get_window, Essentia's Windowing, librosa.filters.mel,
 * librosa.core.convert, scipy.fft.dct, scipy.signal.savgol_filter. */
#include "audio/dsp.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/scalar_math.h"

void dsp_window(WindowKind kind, int n, double *w) {
  if (kind == WINDOW_HANN) {
    /* scipy.signal.get_window('hann', n, fftbins=True): the symmetric window
     * of n + 1 points without its last, i.e. 0.5 - 0.5 cos(2 pi i / n).
     * scipy evaluates the general cosine window as sum_k a_k cos(k fac) with
     * fac = linspace(-pi, pi, n + 1): the same function. */
    for (int i = 0; i < n; i++) w[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / n);
    return;
  }
  /* Essentia Windowing(type='blackmanharris62'): symmetric (period n - 1),
   * mirrored from the first half, then normalized=true (its default): scaled
   * so that the window sums to 2 (a 0 dB sinusoid peaks at 1 in the
   * spectrum). Pons et al. (CBMI 2016) used these defaults. */
  const double a0 = 0.44959, a1 = 0.49364, a2 = 0.05677;
  const double f = 2.0 * M_PI / (n - 1);
  if (n % 2) w[n / 2] = a0 - a1 * cos(f * (n / 2)) + a2 * cos(f * 2 * (n / 2));
  for (int i = 0; i < n / 2; i++) w[i] = w[n - i - 1] = a0 - a1 * cos(f * i) + a2 * cos(f * 2 * i);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += fabs(w[i]);
  if (sum > 0)
    for (int i = 0; i < n; i++) w[i] *= 2.0 / sum;
}

/* librosa.core.convert constants (slaney: Auditory Toolbox). */
#define SLANEY_F_SP (200.0 / 3.0)
#define SLANEY_MIN_LOG_HZ 1000.0
#define SLANEY_MIN_LOG_MEL (SLANEY_MIN_LOG_HZ / SLANEY_F_SP)

static double slaney_logstep(void) { return log(6.4) / 27.0; }

double dsp_hz_to_mel(double hz, MelScale scale) {
  if (scale == MEL_HTK) return 2595.0 * log10(1.0 + hz / 700.0);
  if (hz >= SLANEY_MIN_LOG_HZ) return SLANEY_MIN_LOG_MEL + log(hz / SLANEY_MIN_LOG_HZ) / slaney_logstep();
  return hz / SLANEY_F_SP;
}

double dsp_mel_to_hz(double mel, MelScale scale) {
  if (scale == MEL_HTK) return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
  if (mel >= SLANEY_MIN_LOG_MEL) return SLANEY_MIN_LOG_HZ * exp(slaney_logstep() * (mel - SLANEY_MIN_LOG_MEL));
  return SLANEY_F_SP * mel;
}

void dsp_mel_filterbank(double sr, int n_fft, int n_mels, double fmin, double fmax, MelScale scale, MelNorm norm,
                        double *weights) {
  const int n_freq = n_fft / 2 + 1;
  double *fft_f = at_malloc(sizeof(double) * n_freq, "mel filterbank");
  double *mel_f = at_malloc(sizeof(double) * (n_mels + 2), "mel filterbank");
  /* np.fft.rfftfreq(n_fft, 1 / sr): k * (1 / (n_fft * (1 / sr))) */
  const double val = 1.0 / (n_fft * (1.0 / sr));
  for (int k = 0; k < n_freq; k++) fft_f[k] = k * val;
  /* mel_frequencies: np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2) -> hz */
  const double lo = dsp_hz_to_mel(fmin, scale), hi = dsp_hz_to_mel(fmax, scale);
  const int n_pts = n_mels + 2;
  const double step = (hi - lo) / (n_pts - 1);
  for (int i = 0; i < n_pts; i++) mel_f[i] = dsp_mel_to_hz(i == n_pts - 1 ? hi : i * step + lo, scale);
  for (int m = 0; m < n_mels; m++) {
    const double d0 = mel_f[m + 1] - mel_f[m], d1 = mel_f[m + 2] - mel_f[m + 1];
    double *row = weights + (size_t)m * n_freq;
    for (int k = 0; k < n_freq; k++) {
      const double lower = -(mel_f[m] - fft_f[k]) / d0, upper = (mel_f[m + 2] - fft_f[k]) / d1;
      const double v = lower < upper ? lower : upper;
      row[k] = v > 0 ? v : 0;
    }
    if (norm == MEL_NORM_SLANEY) {
      const double enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
      for (int k = 0; k < n_freq; k++) row[k] *= enorm;
    } else if (norm == MEL_NORM_UNIT_SUM) {
      /* librosa.util.normalize(norm=1): rows whose L1 norm is below the
       * smallest normal float (empty filters) are left as they are. */
      double sum = 0;
      for (int k = 0; k < n_freq; k++) sum += fabs(row[k]);
      if (sum >= FLT_MIN)
        for (int k = 0; k < n_freq; k++) row[k] /= sum;
    }
  }
  free(fft_f);
  free(mel_f);
}

void dsp_dct2_ortho(int n_in, int n_out, double *m) {
  for (int k = 0; k < n_out; k++) {
    const double scale = k == 0 ? sqrt(1.0 / n_in) : sqrt(2.0 / n_in);
    for (int i = 0; i < n_in; i++) m[(size_t)k * n_in + i] = scale * cos(M_PI * k * (2.0 * i + 1.0) / (2.0 * n_in));
  }
}

void dsp_polyfit_deriv_weights(int n, int degree, int deriv, double t, double *w) {
  enum { MAXD = 8 };
  AT_ASSERT(degree >= 0 && degree < MAXD && degree < n && deriv >= 0);
  const int d = degree + 1;
  if (deriv > degree) {
    memset(w, 0, sizeof(double) * n);
    return;
  }
  /* Centred abscissae for conditioning: p(u) = sum_j a_j u^j, u = i - c. */
  const double c = (n - 1) / 2.0;
  double ata[MAXD][MAXD + 1] = {{0}};
  for (int i = 0; i < n; i++) {
    double pw[2 * MAXD];
    pw[0] = 1;
    for (int j = 1; j < 2 * d; j++) pw[j] = pw[j - 1] * (i - c);
    for (int r = 0; r < d; r++)
      for (int s = 0; s < d; s++) ata[r][s] += pw[r + s];
  }
  /* g_j = d^deriv/du^deriv u^j at u = t - c; solve (A'A) z = g; w = A z. */
  for (int j = 0; j < d; j++) {
    double g = 0;
    if (j >= deriv) {
      g = 1;
      for (int q = 0; q < deriv; q++) g *= j - q;
      for (int q = 0; q < j - deriv; q++) g *= t - c;
    }
    ata[j][d] = g;
  }
  for (int col = 0; col < d; col++) { /* Gauss-Jordan with partial pivoting */
    int piv = col;
    for (int r = col + 1; r < d; r++)
      if (fabs(ata[r][col]) > fabs(ata[piv][col])) piv = r;
    if (piv != col)
      for (int s = 0; s <= d; s++) {
        double tmp = ata[col][s];
        ata[col][s] = ata[piv][s];
        ata[piv][s] = tmp;
      }
    for (int r = 0; r < d; r++) {
      if (r == col) continue;
      const double f = ata[r][col] / ata[col][col];
      for (int s = col; s <= d; s++) ata[r][s] -= f * ata[col][s];
    }
  }
  double z[MAXD];
  for (int j = 0; j < d; j++) z[j] = ata[j][d] / ata[j][j];
  for (int i = 0; i < n; i++) {
    double v = 0, p = 1;
    for (int j = 0; j < d; j++, p *= i - c) v += z[j] * p;
    w[i] = v;
  }
}

void dsp_savgol_interp(const float *x, float *y, int rows, long n, long stride, int width, int order) {
  if (n <= 0 || rows <= 0) return;
  if (n < width) {
    /* One polynomial over the whole (short) row. */
    const int deg = order < n - 1 ? order : (int)n - 1;
    double *w = at_malloc(sizeof(double) * n * n, "delta weights");
    for (long t = 0; t < n; t++) dsp_polyfit_deriv_weights((int)n, deg, order, (double)t, w + t * n);
    for (int r = 0; r < rows; r++) {
      const float *xr = x + r * stride;
      float *yr = y + r * stride;
      for (long t = 0; t < n; t++) {
        double v = 0;
        for (long j = 0; j < n; j++) v += w[t * n + j] * xr[j];
        yr[t] = (float)v;
      }
    }
    free(w);
    return;
  }
  const int half = width / 2;
  double *w = at_malloc(sizeof(double) * width * width, "delta weights");
  for (int t = 0; t < width; t++) dsp_polyfit_deriv_weights(width, order, order, (double)t, w + (size_t)t * width);
  float *c = at_malloc(sizeof(float) * width, "delta weights");
  for (int j = 0; j < width; j++) c[j] = (float)w[(size_t)half * width + j];
  for (int r = 0; r < rows; r++) {
    const float *xr = x + r * stride;
    float *yr = y + r * stride;
    /* interior: the convolution (vectorised over t) */
    for (long t = half; t < n - half; t++) yr[t] = 0;
    for (int j = 0; j < width; j++) {
      const float cj = c[j];
      const float *xs = xr + j - half;
#pragma omp simd
      for (long t = half; t < n - half; t++) yr[t] += cj * xs[t];
    }
    /* edges: the polynomial fitted to the first / last `width` points */
    for (int t = 0; t < half; t++) {
      double v = 0, u = 0;
      const double *wl = w + (size_t)t * width, *wr = w + (size_t)(width - half + t) * width;
      for (int j = 0; j < width; j++) {
        v += wl[j] * xr[j];
        u += wr[j] * xr[n - width + j];
      }
      yr[t] = (float)v;
      yr[n - half + t] = (float)u;
    }
  }
  free(c);
  free(w);
}

long dsp_reflect_index(long i, long n) {
  if (n <= 1) return 0;
  const long period = 2 * (n - 1);
  long j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - j;
}

/* Natural logarithm of a positive normal float, written so that loops over
 * it vectorise (#pragma omp simd): x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * log(m) by the Cephes single-precision polynomial in m - 1 (about 1 ulp),
 * ln 2 split in two for the exponent. Not for 0, denormals, inf or NaN. */
static inline float log_positive(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  u -= 0x3f3504f3u; /* sqrt(1/2) */
  const int32_t e = (int32_t)u >> 23;
  const uint32_t mb = (u & 0x007fffffu) + 0x3f3504f3u;
  float m;
  memcpy(&m, &mb, sizeof m);
  const float z = m - 1.0f, zz = z * z;
  float y = 7.0376836292e-2f;
  y = y * z - 1.1514610310e-1f;
  y = y * z + 1.1676998740e-1f;
  y = y * z - 1.2420140846e-1f;
  y = y * z + 1.4249322787e-1f;
  y = y * z - 1.6668057665e-1f;
  y = y * z + 2.0000714765e-1f;
  y = y * z - 2.4999993993e-1f;
  y = y * z + 3.3333331174e-1f;
  y = y * z * zz;
  const float fe = (float)e;
  y += -2.12194440e-4f * fe;
  y += -0.5f * zz;
  return z + y + 0.693359375f * fe;
}

void dsp_power_to_db(float *x, long n, double ref, double amin, double top_db) {
  if (n <= 0) return;
  const float a = amin > FLT_MIN ? (float)amin : FLT_MIN, scale = (float)(10.0 / M_LN10);
  const float offset = (float)(10.0 * log10(amin > ref ? amin : ref));
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (long i = 0; i < n; i++) {
    const float v = scale * log_positive(x[i] > a ? x[i] : a) - offset;
    x[i] = v;
    mx = v > mx ? v : mx;
  }
  if (top_db > 0) {
    const float floor_db = mx - (float)top_db;
#pragma omp simd
    for (long i = 0; i < n; i++) x[i] = x[i] > floor_db ? x[i] : floor_db;
  }
}

void dsp_log10_1p(float *x, long n, double c) {
  const float cf = (float)c, inv_ln10 = (float)(1.0 / M_LN10);
  /* log1p(y) = log(u) + (y - (u - 1)) / u with u = 1 + y rounded: the second
   * term restores what rounding u lost (fdlibm's correction), so small y
   * keep their full relative precision (y -> 0: 0 + y / 1). */
#pragma omp simd
  for (long i = 0; i < n; i++) {
    const float y = cf * x[i], u = 1.0f + y;
    x[i] = (log_positive(u) + (y - (u - 1.0f)) / u) * inv_ln10;
  }
}

void dsp_log10_1p_half(float *x, long n, double c) {
  for (long i = 0; i < n; i++) x[i] = at_log10_1p_half(x[i], (float)c);
}

float dsp_log(float x) { return log_positive(x); }
