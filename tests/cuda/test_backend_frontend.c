/* The GPU front end (host/cuda/cuda_frontend.c) on the CPU: its kernels run
 * under the emulator, cuFFT is the FFTW test double (tests/cuda/fake/cufft.c),
 * cuBLAS the OpenBLAS one. For front ends covering every option (windows,
 * centring and padding, power, stft / mel scales and norms / mfcc with and
 * without deltas, every compression; odd lengths, signals shorter than a
 * frame, FFT batches split across calls) it must match the CPU front end:
 *  - features: each value within 1e-4 of the CPU's relative to itself, or
 *    1e-5 relative to the largest |value| of the output (negligible bins);
 *  - STFT: within 1e-5 of the largest magnitude;
 *  - ISTFT: the CPU's ISTFT within 1e-5 (where the window sum is not tiny),
 *    and the round trip istft(stft(x)) within 1e-5 of x;
 * and be identical under every thread order of the emulated kernels. Also:
 * memory and cuFFT plans balance, plans are cached (over files of every
 * length too: one per power-of-two batch size), and failures (the backend
 * not started, a bad spec, cuFFT refusing) stop with clear messages. */
#include <cuda_runtime.h>
#include <cufft.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "audio/dsp.h"
#include "audio/frontend.h"
#include "core/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_frontend.h"
#include "fake/fake_cuda.h"
#include "kernel_test.h"
#include "nn/backend.h"

extern long fake_cufft_live_plans, fake_cufft_plans_made, fake_cufft_exec_calls;

static int checks;

/* ---- test signals ---- */

/* Tones (one amplitude-modulated, one chirp) over white noise loud enough
 * that no STFT bin sits at the FFT's rounding floor, where dB values of two
 * correct FFTs differ by more than any tolerance says; 40-55 % of the way
 * through, the same 60 dB quieter, then silence up to 65 %, so that dB
 * values reach the top_db floor and amin. */
static void make_signal(float *x, long n, double sr, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  for (long i = 0; i < n; i++) {
    const double t = i / sr, f = (double)i / n;
    const double gain = f < 0.40 ? 1 : f < 0.55 ? 1e-3 : f < 0.65 ? 0 : 1;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const double noise = (double)(s >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;
    x[i] = (float)(gain * (0.4 * sin(2 * M_PI * 440 * t) +
                           0.25 * sin(2 * M_PI * 1234.5 * t + 0.3) * (1 + 0.5 * sin(6 * M_PI * t)) +
                           0.15 * sin(2 * M_PI * (200 + 900 * t) * t) + 0.2 * noise));
  }
}

/* ---- comparisons ---- */

/* Elements of got outside max(rel |want|, abs_frac max|want|) of want (NaN
 * counts); *worst: the largest error as a multiple of what was allowed. */
static long count_bad(const float *got, const float *want, size_t n, double rel, double abs_frac, double *worst) {
  double mx = 0;
  for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)want[i]));
  long bad = 0;
  *worst = 0;
  for (size_t i = 0; i < n; i++) {
    const double err = fabs((double)got[i] - (double)want[i]);
    const double allowed = fmax(rel * fabs((double)want[i]), abs_frac * mx);
    /* equal values pass, the same infinity included (musicnn's float16 overflow) */
    const double ratio = got[i] == want[i] ? 0 : allowed > 0 ? err / allowed : err > 0 ? INFINITY : 0;
    if (!(ratio <= 1) || isnan(got[i])) bad++;
    if (!(ratio <= *worst)) *worst = isnan(got[i]) ? INFINITY : ratio;
  }
  return bad;
}

static void expect_close(const char *what, const char *name, const float *got, const float *want, size_t n, double rel,
                         double abs_frac) {
  double worst;
  const long bad = count_bad(got, want, n, rel, abs_frac, &worst);
  checks++;
  CHECK(bad == 0, "%s: %s: %ld of %zu values off (worst %.2f x the tolerance)", name, what, bad, n, worst);
  printf("%s  %-44s %-26s %7zu values, worst %.3f of the tolerance\n", bad ? "FAIL" : "PASS", name, what, n, worst);
}

/* The ISTFT's window sum at each output sample (frontend_istft's wss). */
static void window_sums(const FrontEndSpec *s, long used, long samples, double *wss) {
  double *wd = malloc(sizeof(double) * s->n_fft);
  dsp_window(s->window, s->n_fft, wd);
  const long offset = s->center ? s->n_fft / 2 : 0;
  for (long i = 0; i < samples; i++) {
    const long j = i + offset;
    double q = 0;
    for (long t = 0; t < used; t++) {
      const long k = j - t * s->hop;
      if (k >= 0 && k < s->n_fft) q += (double)(float)wd[k] * (float)wd[k];
    }
    wss[i] = q;
  }
  free(wd);
}

/* got vs want where the window sum is at least 1 % of its largest value (the
 * ISTFT divides by it: rounding grows where it vanishes); elsewhere finite. */
static void expect_close_conditioned(const char *what, const char *name, const float *got, const float *want,
                                     const double *wss, long n, double abs_tol) {
  double mx = 0;
  for (long i = 0; i < n; i++) mx = fmax(mx, wss[i]);
  long bad = 0, used = 0;
  double worst = 0;
  for (long i = 0; i < n; i++) {
    const double err = fabs((double)got[i] - (double)want[i]);
    if (wss[i] >= 0.01 * mx) {
      used++;
      if (!(err <= abs_tol)) bad++;
      worst = isnan(err) || err > worst ? err : worst;
    } else if (!isfinite(got[i])) {
      bad++;
    }
  }
  checks++;
  CHECK(bad == 0, "%s: %s: %ld of %ld samples off by more than %.0e (worst %.2e)", name, what, bad, n, abs_tol, worst);
  printf("%s  %-44s %-26s %7ld samples (%ld conditioned), worst %.2e\n", bad ? "FAIL" : "PASS", name, what, n, used,
         worst);
}

/* ---- one front end ---- */

typedef struct {
  const char *name;
  FrontEndSpec spec;
  long samples;
  long max_batch; /* 0: default batches */
  int orders;     /* also run under reversed and shuffled thread orders */
} Case;

static void run_case(const Case *c) {
  const FrontEndSpec *s = &c->spec;
  const long n = c->samples, frames = frontend_frames(s, n);
  const int rows = frontend_rows(s), n_freq = s->n_fft / 2 + 1;
  float *x = malloc(sizeof(float) * n);
  make_signal(x, n, s->sample_rate, (uint64_t)n);
  const size_t nf = (size_t)rows * frames, ns = (size_t)2 * n_freq * frames;
  float *want = kt_alloc_nan(nf), *got = kt_alloc_nan(nf);
  float *spec_cpu = kt_alloc_nan(ns), *spec_gpu = kt_alloc_nan(ns);
  float *y_cpu = kt_alloc_nan((size_t)n), *y_gpu = kt_alloc_nan((size_t)n), *y_rt = kt_alloc_nan((size_t)n);

  FrontEndPlan *cpu = frontend_plan_create(s);
  CudaFrontEnd *gpu = cuda_frontend_create(s);
  cuda_frontend_set_max_batch(gpu, c->max_batch);
  char what[64];

  frontend_compute(cpu, x, n, want);
  cuda_frontend_compute(gpu, x, n, got);
  snprintf(what, sizeof what, "features [%d x %ld]", rows, frames);
  /* float16 steps: a power that differs in its last float bits may round to the neighbouring float16 */
  expect_close(what, c->name, got, want, nf, s->compression == COMPRESS_LOG10_1P_HALF ? 2e-3 : 1e-4, 1e-5);

  if (s->compression == COMPRESS_DB && s->db_top_db > 0 && s->representation != REPR_MFCC && n >= 4000) {
    /* the quiet part of the signal reaches the floor: the test covers it */
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < nf; i++) lo = fminf(lo, want[i]), hi = fmaxf(hi, want[i]);
    checks++;
    CHECK(fabs(hi - lo - s->db_top_db) < 1e-3, "%s: the dB range %g .. %g does not reach the top_db floor", c->name, lo,
          hi);
  }

  /* a second call with the same length reuses the FFT plan and gives the same */
  const long made = fake_cufft_plans_made;
  float *again = kt_alloc_nan(nf);
  cuda_frontend_compute(gpu, x, n, again);
  checks++;
  CHECK(memcmp(again, got, sizeof(float) * nf) == 0 && fake_cufft_plans_made == made,
        "%s: a second call differs or planned again (%ld plans made, %ld before)", c->name, fake_cufft_plans_made, made);

  if (c->orders) {
    const int orders[2] = {CUEMU_ORDER_REVERSE, CUEMU_ORDER_SHUFFLE};
    for (int o = 0; o < 2; o++) {
      cuemu_set_order(orders[o], 1234 + o);
      cuda_frontend_compute(gpu, x, n, again);
      cuemu_set_order(CUEMU_ORDER_FORWARD, 1);
      checks++;
      KT_EXPECT_IDENTICAL(again, got, sizeof(float) * nf, "%s  features, %s threads", c->name, kt_order_names[o + 1]);
    }
  }
  free(again);

  frontend_stft(cpu, x, n, spec_cpu);
  cuda_frontend_stft(gpu, x, n, spec_gpu);
  expect_close("STFT", c->name, spec_gpu, spec_cpu, ns, 0, 1e-5);

  /* ISTFT of the CPU's STFT on both; the GPU's round trip of its own STFT */
  double *wss = malloc(sizeof(double) * n);
  const long padded = n + 2L * (s->center ? s->n_fft / 2 : 0);
  const long used = (padded + s->hop - 1) / s->hop < frames ? (padded + s->hop - 1) / s->hop : frames;
  window_sums(s, used, n, wss);
  /* non-zero imaginary parts at DC and Nyquist: irfft (and the CPU) ignore
   * them; cuFFT's C2R would not, so the GPU path must drop them */
  for (long t = 0; t < frames; t++) {
    spec_cpu[2 * t + 1] = 0.5f;
    spec_cpu[2 * ((size_t)(n_freq - 1) * frames + t) + 1] = -0.25f;
  }
  frontend_istft(cpu, spec_cpu, frames, y_cpu, n);
  cuda_frontend_istft(gpu, spec_cpu, frames, y_gpu, n);
  expect_close_conditioned("ISTFT vs CPU ISTFT", c->name, y_gpu, y_cpu, wss, n, 1e-5);
  cuda_frontend_istft(gpu, spec_gpu, frames, y_rt, n);
  expect_close_conditioned("ISTFT round trip", c->name, y_rt, x, wss, n, 1e-5);

  /* fewer samples than the frames cover (frames past the output unused),
   * then more (zeros past the last frame): exactly the CPU's samples count */
  const long shorter = n / 2 + 1, longer = n + 3 * s->hop + 5;
  float *a = kt_alloc_nan((size_t)longer), *b = kt_alloc_nan((size_t)longer);
  double *wl = malloc(sizeof(double) * longer);
  const long lens[2] = {shorter, longer};
  for (int k = 0; k < 2; k++) {
    const long m = lens[k];
    const long pm = m + 2L * (s->center ? s->n_fft / 2 : 0), um = (pm + s->hop - 1) / s->hop;
    window_sums(s, um < frames ? um : frames, m, wl);
    for (long i = 0; i < longer; i++) a[i] = b[i] = NAN;
    frontend_istft(cpu, spec_cpu, frames, a, m);
    cuda_frontend_istft(gpu, spec_cpu, frames, b, m);
    int tail_ok = 1; /* past the frames: exact zeros on both; beyond m: untouched */
    for (long i = 0; i < longer; i++)
      if ((i < m && wl[i] == 0 && b[i] != a[i]) || (i >= m && !isnan(b[i]))) tail_ok = 0;
    checks++;
    CHECK(tail_ok, "%s: ISTFT of %ld samples: zeros past the frames or writes past the end differ", c->name, m);
    expect_close_conditioned(k ? "ISTFT, longer output" : "ISTFT, shorter output", c->name, b, a, wl, m, 1e-5);
  }
  free(a);
  free(b);
  free(wl);

  free(wss);
  cuda_frontend_free(gpu);
  frontend_plan_free(cpu);
  free(x);
  free(want);
  free(got);
  free(spec_cpu);
  free(spec_gpu);
  free(y_cpu);
  free(y_gpu);
  free(y_rt);
}

/* ---- specs ---- */

static FrontEndSpec base(double sr, int n_fft, int hop) {
  FrontEndSpec s;
  frontend_spec_defaults(&s);
  s.sample_rate = sr;
  s.n_fft = n_fft;
  s.hop = hop;
  return s;
}

static FrontEndSpec stft(double sr, int n_fft, int hop, int n_bins) {
  FrontEndSpec s = base(sr, n_fft, hop);
  s.representation = REPR_STFT;
  s.n_bins = n_bins;
  return s;
}

static FrontEndSpec mel(double sr, int n_fft, int hop, int bands, MelScale scale, MelNorm norm) {
  FrontEndSpec s = base(sr, n_fft, hop);
  s.representation = REPR_MEL;
  s.n_bins = bands;
  s.mel_scale = scale;
  s.mel_norm = norm;
  return s;
}

static FrontEndSpec mfcc(double sr, int n_fft, int hop, int n_mfcc, int n_mels, int deltas) {
  FrontEndSpec s = base(sr, n_fft, hop);
  s.representation = REPR_MFCC;
  s.n_bins = n_mfcc;
  s.n_mels = n_mels;
  s.mfcc_deltas = deltas;
  return s;
}

enum { MAX_CASES = 32 };

static int build_cases(Case *cs) {
  int k = 0;
  FrontEndSpec s;
  /* stft */
  s = stft(16000, 512, 128, 257); /* hann, reflect, power 2, dB top_db 80 */
  cs[k++] = (Case){"stft hann reflect p2 dB80", s, 16001, 0, 1};
  s = stft(8000, 256, 100, 100);
  s.window = WINDOW_BLACKMANHARRIS62, s.pad = PAD_CONSTANT, s.power = 1;
  s.compression = COMPRESS_LOG10_1P, s.log_c = 10000;
  cs[k++] = (Case){"stft bh62 constant p1 log10_1p, 100 bins", s, 12345, 0, 0};
  s = stft(8000, 256, 64, 129);
  s.center = 0, s.compression = COMPRESS_NONE;
  cs[k++] = (Case){"stft hann uncentred p2 none", s, 8191, 0, 0};
  s = stft(11025, 384, 96, 193);
  s.power = 1, s.db_top_db = 0, s.db_ref = 3.5, s.db_amin = 1e-5;
  cs[k++] = (Case){"stft p1 dB (no floor, ref 3.5, amin 1e-5)", s, 9999, 0, 0};
  s = stft(16000, 512, 128, 257);
  cs[k++] = (Case){"stft reflect, 200 samples (< n_fft)", s, 200, 0, 0};
  s.pad = PAD_CONSTANT;
  cs[k++] = (Case){"stft constant, 1 sample", s, 1, 0, 0};
  /* mel */
  s = mel(16000, 512, 160, 64, MEL_SLANEY, MEL_NORM_SLANEY);
  cs[k++] = (Case){"mel slaney/slaney reflect dB80", s, 20011, 0, 1};
  cs[k++] = (Case){"mel slaney/slaney, FFT batches of 7", s, 20011, 7, 1};
  s = mel(16000, 400, 160, 40, MEL_HTK, MEL_NORM_UNIT_SUM);
  s.fmin = 50, s.fmax = 6000, s.power = 1, s.pad = PAD_CONSTANT, s.db_top_db = 0, s.db_amin = 1e-5, s.db_ref = 10;
  cs[k++] = (Case){"mel htk/unit_sum p1 constant dB", s, 15997, 0, 0};
  s = mel(8000, 256, 128, 96, MEL_HTK, MEL_NORM_NONE); /* more bands than bins: empty filters */
  s.window = WINDOW_BLACKMANHARRIS62, s.center = 0, s.compression = COMPRESS_LOG10_1P, s.log_c = 100;
  cs[k++] = (Case){"mel htk/none bh62 uncentred log10_1p", s, 12001, 0, 0};
  s = mel(16000, 512, 256, 96, MEL_SLANEY, MEL_NORM_SLANEY); /* musicnn's */
  s.compression = COMPRESS_LOG10_1P_HALF, s.log_c = 10000;
  cs[k++] = (Case){"mel musicnn log10_1p_half", s, 16000, 0, 0};
  s = mel(12000, 256, 64, 48, MEL_SLANEY, MEL_NORM_UNIT_SUM);
  s.compression = COMPRESS_NONE, s.fmin = 100;
  cs[k++] = (Case){"mel slaney/unit_sum none", s, 7777, 0, 0};
  s = mel(8000, 256, 80, 32, MEL_SLANEY, MEL_NORM_NONE);
  s.db_top_db = 60;
  cs[k++] = (Case){"mel slaney/none dB60, batches of 5", s, 4321, 5, 0};
  /* mfcc */
  s = mfcc(16000, 512, 160, 20, 64, 0);
  cs[k++] = (Case){"mfcc 20/64 dB80", s, 16003, 0, 0};
  s = mfcc(16000, 512, 128, 13, 40, 1);
  s.window = WINDOW_BLACKMANHARRIS62, s.pad = PAD_CONSTANT, s.power = 1, s.db_top_db = 0, s.mel_scale = MEL_HTK;
  cs[k++] = (Case){"mfcc 13/40 deltas bh62 constant p1", s, 24001, 0, 1};
  s = mfcc(8000, 256, 64, 20, 40, 1);
  s.mel_norm = MEL_NORM_UNIT_SUM, s.center = 0;
  cs[k++] = (Case){"mfcc deltas uncentred, batches of 3", s, 8005, 3, 0};
  /* deltas of short rows: 9 frames (the filter), 8 and 3 (one polynomial), 1 */
  s = mfcc(16000, 512, 128, 13, 40, 1);
  cs[k++] = (Case){"mfcc deltas, 9 frames", s, 1024, 0, 0};
  cs[k++] = (Case){"mfcc deltas, 8 frames", s, 1000, 0, 0};
  cs[k++] = (Case){"mfcc deltas, 3 frames (300 < n_fft)", s, 300, 0, 1};
  cs[k++] = (Case){"mfcc deltas, 1 frame (1 sample)", s, 1, 0, 0};
  AT_ASSERT(k <= MAX_CASES);
  return k;
}

/* ---- many lengths through one front end ---- */

static int ceil_log2(long n) {
  int k = 0;
  while ((1L << k) < n) k++;
  return k;
}

/* tag and prep run one front end over files of every length: its cuFFT plans
 * must not be remade per frame count. With a cap of 12 frames per batch, 20
 * signals of 1 .. 60 frames (most in one short batch, some over several),
 * in an order that revisits small and large sizes: each matches the CPU
 * (features, STFT, the ISTFT round trip), and the plans made stay within one
 * per power-of-two batch size up to the cap (and the cap) per direction;
 * a second pass over the same lengths makes none. */
static void run_lengths(void) {
  enum { CAP = 12, N_LEN = 20 };
  static const int frame_counts[N_LEN] = {5, 1, 41, 3, 12, 7, 60, 2, 9, 13, 4, 25, 6, 11, 30, 10, 14, 47, 17, 23};
  const char *name = "lengths 1 .. 60 frames, batches of 12";
  FrontEndSpec s = mel(8000, 128, 32, 16, MEL_SLANEY, MEL_NORM_SLANEY);
  s.compression = COMPRESS_LOG10_1P, s.log_c = 10000; /* dB: the emulated maximum would add seconds */
  const int rows = frontend_rows(&s), n_freq = s.n_fft / 2 + 1;
  FrontEndPlan *cpu = frontend_plan_create(&s);
  CudaFrontEnd *gpu = cuda_frontend_create(&s);
  cuda_frontend_set_max_batch(gpu, CAP);
  const long made0 = fake_cufft_plans_made, live0 = fake_cufft_live_plans;
  const long bound = 2L * (ceil_log2(CAP) + 1); /* R2C and C2R */
  long most_live = 0, after_first = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < N_LEN; i++) {
      const long f = frame_counts[i], n = (f - 1) * s.hop + (f * 13) % s.hop; /* centred: f frames */
      const long frames = frontend_frames(&s, n);
      AT_ASSERT(frames == f);
      const size_t nf = (size_t)rows * frames, ns = (size_t)2 * n_freq * frames;
      float *x = malloc(sizeof(float) * n);
      make_signal(x, n, s.sample_rate, (uint64_t)n);
      float *want = kt_alloc_nan(nf), *got = kt_alloc_nan(nf), *spec_cpu = kt_alloc_nan(ns),
            *spec_gpu = kt_alloc_nan(ns), *y = kt_alloc_nan((size_t)n);
      double *wss = malloc(sizeof(double) * n);
      char what[64];
      frontend_compute(cpu, x, n, want);
      cuda_frontend_compute(gpu, x, n, got);
      snprintf(what, sizeof what, "features [%d x %ld]", rows, frames);
      expect_close(what, name, got, want, nf, 1e-4, 1e-5);
      frontend_stft(cpu, x, n, spec_cpu);
      cuda_frontend_stft(gpu, x, n, spec_gpu);
      snprintf(what, sizeof what, "STFT, %ld frames", frames);
      expect_close(what, name, spec_gpu, spec_cpu, ns, 0, 1e-5);
      cuda_frontend_istft(gpu, spec_gpu, frames, y, n);
      window_sums(&s, frames, n, wss);
      snprintf(what, sizeof what, "ISTFT round trip, %ld fr", frames);
      expect_close_conditioned(what, name, y, x, wss, n, 1e-5);
      if (fake_cufft_live_plans - live0 > most_live) most_live = fake_cufft_live_plans - live0;
      free(x);
      free(want);
      free(got);
      free(spec_cpu);
      free(spec_gpu);
      free(y);
      free(wss);
    }
    const long made = fake_cufft_plans_made - made0;
    /* the first pass plans within the bound, the second not at all */
    const int ok = made <= bound && most_live <= bound && (pass == 0 || made == after_first);
    checks++;
    CHECK(ok, "%s: pass %d: %ld cuFFT plans made (%ld after pass 1), at most %ld live; the bound is %ld", name,
          pass + 1, made, after_first, most_live, bound);
    printf("%s  %-44s pass %d: %ld cuFFT plans made in all (bound %ld), at most %ld live\n", ok ? "PASS" : "FAIL", name,
           pass + 1, made, bound, most_live);
    after_first = made;
  }
  cuda_frontend_free(gpu);
  frontend_plan_free(cpu);
}

/* ---- failures, each in a child ---- */

static void before_backend_child(const void *arg) {
  (void)arg;
  FrontEndSpec s;
  frontend_spec_defaults(&s);
  cuda_frontend_create(&s);
}

static void bad_spec_child(const void *arg) {
  (void)arg;
  FrontEndSpec s = base(16000, 511, 128);
  cuda_frontend_create(&s);
}

/* cuFFT refusing to plan (the double runs out of plan slots) */
static void cufft_failure_child(const void *arg) {
  (void)arg;
  int n = 64;
  cufftHandle h;
  while (cufftPlanMany(&h, 1, &n, NULL, 1, 64, NULL, 1, 33, CUFFT_R2C, 1) == CUFFT_SUCCESS) {
  }
  FrontEndSpec s = stft(8000, 256, 64, 129);
  CudaFrontEnd *f = cuda_frontend_create(&s);
  float x[1000] = {0}, *y = malloc(sizeof(float) * 129 * 20);
  cuda_frontend_compute(f, x, 1000, y);
}

/* The double's argument checks, in order (each call may depend on the last). */
#define EXPECT_STATUS(call, want)                                                                             \
  do {                                                                                                        \
    const cufftResult r_ = (call);                                                                            \
    checks++;                                                                                                 \
    CHECK(r_ == (want), "cuFFT double: %s: status %d, expected %d", #call, (int)r_, (int)(want));             \
  } while (0)

static void double_checks(void) {
  int n = 64, small = 16, zero = 0;
  cufftHandle h = 0;
  float *in = NULL, host_in[64];
  cufftComplex *out = NULL, host_out[33];
  /* the double executes on device memory only (as cuFFT does) */
  CHECK(cudaMalloc((void **)&in, sizeof host_in) == cudaSuccess &&
            cudaMalloc((void **)&out, sizeof host_out) == cudaSuccess,
        "cuFFT double: allocating its arrays");
  EXPECT_STATUS(cufftPlanMany(&h, 2, &n, NULL, 1, 64, NULL, 1, 33, CUFFT_R2C, 1), CUFFT_NOT_IMPLEMENTED);
  EXPECT_STATUS(cufftPlanMany(&h, 0, &n, NULL, 1, 64, NULL, 1, 33, CUFFT_R2C, 1), CUFFT_INVALID_VALUE);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &n, NULL, 1, 64, NULL, 1, 33, CUFFT_R2C, 0), CUFFT_INVALID_SIZE);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &zero, NULL, 1, 64, NULL, 1, 33, CUFFT_R2C, 1), CUFFT_INVALID_SIZE);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &n, NULL, 1, 64, NULL, 1, 33, (cufftType)0x99, 1), CUFFT_INVALID_TYPE);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &n, NULL, 1, 64, NULL, 1, 33, CUFFT_C2C, 1), CUFFT_NOT_IMPLEMENTED);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &n, &small, 1, 64, &n, 1, 33, CUFFT_R2C, 1), CUFFT_INVALID_VALUE);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &n, &n, 0, 64, &n, 1, 33, CUFFT_R2C, 1), CUFFT_INVALID_VALUE);
  EXPECT_STATUS(cufftPlanMany(NULL, 1, &n, NULL, 1, 64, NULL, 1, 33, CUFFT_R2C, 1), CUFFT_INVALID_VALUE);
  EXPECT_STATUS(cufftExecR2C(0, in, out), CUFFT_INVALID_PLAN);
  EXPECT_STATUS(cufftPlanMany(&h, 1, &n, NULL, 1, 33, NULL, 1, 64, CUFFT_C2R, 1), CUFFT_SUCCESS);
  EXPECT_STATUS(cufftExecR2C(h, in, out), CUFFT_INVALID_PLAN);
  EXPECT_STATUS(cufftExecC2R(h, NULL, in), CUFFT_INVALID_VALUE);
  EXPECT_STATUS(cufftSetStream(h, NULL), CUFFT_SUCCESS);
  /* a unit impulse's spectrum: all ones, back to n times the impulse (unnormalised) */
  for (int k = 0; k < 33; k++) host_out[k].x = 1, host_out[k].y = 0;
  cudaMemcpyAsync(out, host_out, sizeof host_out, cudaMemcpyHostToDevice, NULL);
  EXPECT_STATUS(cufftExecC2R(h, out, in), CUFFT_SUCCESS);
  cudaMemcpyAsync(host_in, in, sizeof host_in, cudaMemcpyDeviceToHost, NULL);
  cudaStreamSynchronize(NULL);
  checks++;
  CHECK(fabsf(host_in[0] - 64) < 1e-4f && fabsf(host_in[1]) < 1e-4f && fabsf(host_in[63]) < 1e-4f,
        "cuFFT double: C2R is unnormalised: %g %g %g", host_in[0], host_in[1], host_in[63]);
  EXPECT_STATUS(cufftExecC2R(h, host_out, in), CUFFT_EXEC_FAILED); /* host memory */
  EXPECT_STATUS(cufftDestroy(h), CUFFT_SUCCESS);
  EXPECT_STATUS(cufftDestroy(h), CUFFT_INVALID_PLAN);
  EXPECT_STATUS(cufftSetStream(h, NULL), CUFFT_INVALID_PLAN);
  cudaFree(in);
  cudaFree(out);
  printf("cuFFT double: argument checks done\n");
}

int main(void) {
  char msg[2048];
  int status = run_in_child(before_backend_child, NULL, msg, sizeof msg);
  checks++;
  CHECK(status == 3 && strstr(msg, "at_backend_cuda"), "front end before the backend: status %d, message: %s", status,
        msg);

  CudaOptions opt = at_cuda_default_options();
  opt.deterministic = 1;
  at_backend_cuda(&opt);
  printf("backend: %s\n", cuda_backend_description());

  status = run_in_child(bad_spec_child, NULL, msg, sizeof msg);
  checks++;
  CHECK(status == 1 && strstr(msg, "n_fft 511"), "bad spec: status %d, message: %s", status, msg);
  status = run_in_child(cufft_failure_child, NULL, msg, sizeof msg);
  checks++;
  CHECK(status == 1 && strstr(msg, "cuFFT failed planning") && strstr(msg, "CUFFT_ALLOC_FAILED"),
        "cuFFT failure: status %d, message: %s", status, msg);
  double_checks();

  const long live0 = fake_cuda_live_allocations, plans0 = fake_cufft_live_plans;
  Case cs[MAX_CASES];
  const int n = build_cases(cs);
  for (int i = 0; i < n; i++) run_case(&cs[i]);
  run_lengths();
  checks++;
  CHECK(fake_cuda_live_allocations == live0 && fake_cufft_live_plans == plans0,
        "GPU memory or cuFFT plans leaked: %ld allocations (%ld before), %ld plans (%ld before)",
        fake_cuda_live_allocations, live0, fake_cufft_live_plans, plans0);
  printf("%d front ends, %ld FFT batches\n", n, fake_cufft_exec_calls);

  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
