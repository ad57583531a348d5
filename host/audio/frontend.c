/* The time-frequency front end (frontend.h): FFTW single precision, librosa
 * semantics.
 *
 *  - Frames: centred frames read the signal padded by n_fft/2 on both sides
 *    (np.pad 'reflect' or zeros); frame t covers padded samples
 *    [t hop, t hop + n_fft). Frames that lie inside the signal are windowed
 *    straight from it; only the few edge frames go through the padding.
 *  - Spectra are computed a block of frames at a time (|X|^power for the bins
 *    the output needs), then turned into rows: copied (stft), or summed
 *    through the mel filterbank stored as one band of non-zero weights per
 *    filter (mel, mfcc).
 *  - Compression runs over the whole clip at the end (power_to_db's top_db
 *    floor is relative to the clip's maximum, as in librosa).
 *  - mfcc: the dB mel spectrogram of the clip (a scratch buffer kept in the
 *    plan), the DCT-II (ortho) as a small matrix product, then the deltas
 *    (Savitzky-Golay, width 9, interp edges) of the coefficients.
 *
 * dB of a magnitude spectrogram (power = 1) is 10 log10 |X| here, i.e.
 * power_to_db applied to what the spectrogram holds, as the spec's
 * compression says; amplitude_to_db (20 log10) is power = 2 with db. */
#include "audio/frontend.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/dsp.h"
#include "config/ini_file.h"
#include "core/error.h"

enum { BLOCK = 8, DELTA_WIDTH = 9 };

/* FFTW's planner (and plan destruction) is not thread-safe; execution of
 * distinct plans on their own arrays is. */
static pthread_mutex_t g_fftw_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const WINDOW_NAMES[] = {"hann", "blackmanharris62", NULL};
static const char *const REPR_NAMES[] = {"stft", "mel", "mfcc", "waveform", NULL};
static const char *const SCALE_NAMES[] = {"slaney", "htk", NULL};
static const char *const NORM_NAMES[] = {"slaney", "unit_sum", "none", NULL};
static const char *const COMPRESS_NAMES[] = {"none", "db", "log10_1p", "log10_1p_half", NULL};
static const char *const PAD_NAMES[] = {"reflect", "constant", NULL};

void frontend_spec_defaults(FrontEndSpec *s) {
  memset(s, 0, sizeof *s);
  s->sample_rate = 22050;
  s->n_fft = 2048;
  s->hop = 512;
  s->window = WINDOW_HANN;
  s->center = 1;
  s->pad = PAD_REFLECT;
  s->power = 2;
  s->representation = REPR_MEL;
  s->n_bins = 128;
  s->n_mels = 128;
  s->fmin = 0;
  s->fmax = 0;
  s->mel_scale = MEL_SLANEY;
  s->mel_norm = MEL_NORM_SLANEY;
  s->mfcc_deltas = 0;
  s->compression = COMPRESS_DB;
  s->db_ref = 1.0;
  s->db_amin = 1e-10;
  s->db_top_db = 80.0;
  s->log_c = 10000.0;
}

static double effective_fmax(const FrontEndSpec *s) { return s->fmax > 0 ? s->fmax : s->sample_rate / 2; }
static int n_freq_of(const FrontEndSpec *s) { return s->n_fft / 2 + 1; }
/* Mel bands computed: mel n_bins, mfcc n_mels, stft none. */
static int bands_of(const FrontEndSpec *s) {
  return s->representation == REPR_MEL ? s->n_bins : s->representation == REPR_MFCC ? s->n_mels : 0;
}

/* The first problem of a spec as a message, with the key to blame; NULL if fine. */
static const char *spec_problem(const FrontEndSpec *s, char *msg, size_t size) {
#define BAD(key, ...)                    \
  do {                                   \
    snprintf(msg, size, __VA_ARGS__);    \
    return key;                          \
  } while (0)
  if (!(s->sample_rate >= 1000 && s->sample_rate <= 384000))
    BAD("sample_rate", "sample rate %g Hz is out of range; allowed: [1000, 384000]", s->sample_rate);
  if (s->representation == REPR_WAVEFORM) return NULL; /* the signal itself: nothing else applies */
  if (s->n_fft < 16 || s->n_fft > 65536 || s->n_fft % 2)
    BAD("n_fft", "n_fft %d must be even and in [16, 65536]", s->n_fft);
  if (s->hop < 1 || s->hop > s->n_fft)
    BAD("hop", "hop %d must be in [1, n_fft = %d] (a hop longer than the frame skips samples)", s->hop, s->n_fft);
  if ((unsigned)s->window > WINDOW_BLACKMANHARRIS62) BAD("window", "unknown window %d", (int)s->window);
  if ((unsigned)s->pad > PAD_CONSTANT) BAD("pad", "unknown padding %d", (int)s->pad);
  if (s->power != 1 && s->power != 2) BAD("power", "power %g must be 1 (magnitude) or 2 (power)", s->power);
  const int n_freq = n_freq_of(s);
  switch (s->representation) {
  case REPR_STFT:
    if (s->n_bins < 1 || s->n_bins > n_freq)
      BAD("n_bins", "n_bins %d: an STFT of n_fft %d has %d bins (n_fft/2 + 1); allowed: [1, %d]", s->n_bins, s->n_fft,
          n_freq, n_freq);
    break;
  case REPR_MEL:
    if (s->n_bins < 1 || s->n_bins > 4096) BAD("n_bins", "n_bins %d mel bands is out of range; allowed: [1, 4096]", s->n_bins);
    break;
  case REPR_MFCC:
    if (s->n_mels < 1 || s->n_mels > 4096) BAD("n_mels", "n_mels %d is out of range; allowed: [1, 4096]", s->n_mels);
    if (s->n_bins < 1 || s->n_bins > s->n_mels)
      BAD("n_bins", "n_bins %d MFCCs: the DCT of n_mels = %d bands has at most %d coefficients", s->n_bins, s->n_mels,
          s->n_mels);
    if (s->compression != COMPRESS_DB)
      BAD("compression", "mfcc is the DCT of the dB mel spectrogram: compression must be db");
    break;
  default: BAD("representation", "unknown representation %d", (int)s->representation);
  }
  if (s->representation != REPR_STFT) {
    const double nyq = s->sample_rate / 2;
    if (!(s->fmin >= 0 && s->fmin < nyq)) BAD("fmin", "fmin %g Hz must be in [0, sample_rate / 2 = %g)", s->fmin, nyq);
    if (!(s->fmax >= 0 && s->fmax <= nyq))
      BAD("fmax", "fmax %g Hz is above the Nyquist frequency sample_rate / 2 = %g Hz (0 means sample_rate / 2)", s->fmax,
          nyq);
    if (!(effective_fmax(s) > s->fmin)) BAD("fmax", "fmax %g Hz must be above fmin %g Hz", effective_fmax(s), s->fmin);
    if ((unsigned)s->mel_scale > MEL_HTK) BAD("mel_scale", "unknown mel scale %d", (int)s->mel_scale);
    if ((unsigned)s->mel_norm > MEL_NORM_NONE) BAD("mel_norm", "unknown mel norm %d", (int)s->mel_norm);
  }
  if ((unsigned)s->compression > COMPRESS_LOG10_1P_HALF) BAD("compression", "unknown compression %d", (int)s->compression);
  if (s->compression == COMPRESS_DB) {
    if (!(s->db_ref > 0)) BAD("db_ref", "db_ref %g must be > 0", s->db_ref);
    if (!(s->db_amin > 0)) BAD("db_amin", "db_amin %g must be > 0", s->db_amin);
    if (!(s->db_top_db >= 0)) BAD("db_top_db", "db_top_db %g must be >= 0 (0: no floor)", s->db_top_db);
  }
  if ((s->compression == COMPRESS_LOG10_1P || s->compression == COMPRESS_LOG10_1P_HALF) && !(s->log_c > 0)) BAD("log_c", "log_c %g must be > 0", s->log_c);
  if (s->mfcc_deltas && s->representation != REPR_MFCC) BAD("mfcc_deltas", "mfcc_deltas applies to representation = mfcc only");
  return NULL;
#undef BAD
}

/* A key that does not apply to this spec: an error if present (marks it used). */
static void reject_key(IniSection *sec, const char *key, const char *why) {
  IniEntry *e = ini_entry(sec, key);
  if (e) ini_fail(sec, e, "does not apply here: %s", why);
}

/* representation = waveform: the resampled mono signal is the feature; every
 * other key describes a spectrogram and is an error. */
static void waveform_spec_from_ini(IniSection *sec, FrontEndSpec *s) {
  static const char *const keys[] = {"n_fft", "hop", "window", "center", "pad", "power", "n_bins", "n_mels",
                                     "mfcc_deltas", "fmin", "fmax", "mel_scale", "mel_norm", "compression",
                                     "db_ref", "db_amin", "db_top_db", "log_c", NULL};
  for (int i = 0; keys[i]; i++)
    reject_key(sec, keys[i], "representation = waveform keeps the resampled signal itself (only sample_rate applies)");
  s->n_fft = 0;
  s->hop = 1; /* a frame per sample: hop / sample_rate is a frame's duration, as for spectrograms */
  s->center = 0;
  s->n_bins = 1;
  s->n_mels = 0;
  s->compression = COMPRESS_NONE;
}

void frontend_spec_from_ini(IniSection *sec, FrontEndSpec *s) {
  frontend_spec_defaults(s);
  s->sample_rate = ini_get_float(sec, "sample_rate", s->sample_rate, 1000, 384000);
  s->representation = (Representation)ini_get_choice(sec, "representation", s->representation, REPR_NAMES);
  if (s->representation == REPR_WAVEFORM) {
    waveform_spec_from_ini(sec, s);
    return;
  }
  s->n_fft = (int)ini_get_int(sec, "n_fft", s->n_fft, 16, 65536);
  s->hop = (int)ini_get_int(sec, "hop", s->n_fft / 4, 1, 65536);
  s->window = (WindowKind)ini_get_choice(sec, "window", s->window, WINDOW_NAMES);
  s->center = ini_get_bool(sec, "center", s->center);
  if (s->center) s->pad = (PadMode)ini_get_choice(sec, "pad", s->pad, PAD_NAMES);
  else reject_key(sec, "pad", "frames are not centred (center = false), so nothing is padded");
  s->power = ini_get_float(sec, "power", s->power, 1, 2);
  const Representation r = s->representation;
  s->n_bins = (int)ini_get_int(sec, "n_bins", r == REPR_STFT ? s->n_fft / 2 + 1 : r == REPR_MEL ? 128 : 20, 1, 65537);
  if (r == REPR_MFCC) {
    s->n_mels = (int)ini_get_int(sec, "n_mels", s->n_mels, 1, 4096);
    s->mfcc_deltas = ini_get_bool(sec, "mfcc_deltas", 0);
  } else {
    reject_key(sec, "n_mels", "n_mels is the mfcc's mel bands; for mel, n_bins is the number of bands");
    reject_key(sec, "mfcc_deltas", "deltas are made for representation = mfcc only");
  }
  if (r == REPR_STFT) {
    static const char *const mel_keys[] = {"fmin", "fmax", "mel_scale", "mel_norm", NULL};
    for (int i = 0; mel_keys[i]; i++) reject_key(sec, mel_keys[i], "a mel filterbank setting, and representation = stft");
  } else {
    s->fmin = ini_get_float(sec, "fmin", 0, 0, 384000);
    s->fmax = ini_get_float(sec, "fmax", 0, 0, 384000);
    s->mel_scale = (MelScale)ini_get_choice(sec, "mel_scale", s->mel_scale, SCALE_NAMES);
    s->mel_norm = (MelNorm)ini_get_choice(sec, "mel_norm", s->mel_norm, NORM_NAMES);
  }
  s->compression = (Compression)ini_get_choice(sec, "compression", s->compression, COMPRESS_NAMES);
  if (s->compression == COMPRESS_DB) {
    s->db_ref = ini_get_float(sec, "db_ref", s->db_ref, 1e-30, 1e30);
    s->db_amin = ini_get_float(sec, "db_amin", s->db_amin, 1e-30, 1e30);
    s->db_top_db = ini_get_float(sec, "db_top_db", s->db_top_db, 0, 1000);
  } else {
    static const char *const db_keys[] = {"db_ref", "db_amin", "db_top_db", NULL};
    for (int i = 0; db_keys[i]; i++) reject_key(sec, db_keys[i], "a dB setting, and compression is not db");
  }
  if (s->compression == COMPRESS_LOG10_1P || s->compression == COMPRESS_LOG10_1P_HALF)
    s->log_c = ini_get_float(sec, "log_c", s->log_c, 1e-30, 1e30);
  else reject_key(sec, "log_c", "the C of log10(1 + C x), and compression is not log10_1p or log10_1p_half");

  char msg[256];
  const char *key = spec_problem(s, msg, sizeof msg);
  if (key) {
    IniEntry *e = ini_entry(sec, key);
    ini_fail(sec, e, "%s", msg);
  }
}

void frontend_describe(const FrontEndSpec *s, CacheFrontEnd *out) {
  memset(out, 0, sizeof *out);
  out->sample_rate = s->sample_rate;
  out->n_fft = s->n_fft;
  out->hop = s->hop;
  snprintf(out->window, sizeof out->window, "%s", WINDOW_NAMES[s->window]);
  snprintf(out->representation, sizeof out->representation, "%s", REPR_NAMES[s->representation]);
  out->n_bins = s->n_bins;
  if (s->representation == REPR_WAVEFORM) { /* one row of samples: no STFT, filterbank or compression */
    out->n_fft = 0;
    out->hop = 1;
    out->window[0] = '\0';
    snprintf(out->mel_scale, sizeof out->mel_scale, "none");
    snprintf(out->mel_norm, sizeof out->mel_norm, "none");
    snprintf(out->compression, sizeof out->compression, "none");
    return;
  }
  if (s->representation == REPR_STFT) {
    out->fmin = 0;
    out->fmax = 0;
    snprintf(out->mel_scale, sizeof out->mel_scale, "none");
    snprintf(out->mel_norm, sizeof out->mel_norm, "none");
  } else {
    out->fmin = s->fmin;
    out->fmax = effective_fmax(s);
    snprintf(out->mel_scale, sizeof out->mel_scale, "%s", SCALE_NAMES[s->mel_scale]);
    snprintf(out->mel_norm, sizeof out->mel_norm, "%s", NORM_NAMES[s->mel_norm]);
  }
  snprintf(out->compression, sizeof out->compression, "%s", COMPRESS_NAMES[s->compression]);
  /* everything else that changes the numbers, so that caches compare exactly */
  int n = snprintf(out->details, sizeof out->details, "center=%d power=%g", s->center, s->power);
  if (s->center) n += snprintf(out->details + n, sizeof out->details - (size_t)n, " pad=%s", PAD_NAMES[s->pad]);
  if (s->representation == REPR_MFCC)
    n += snprintf(out->details + n, sizeof out->details - (size_t)n, " n_mels=%d mfcc_deltas=%d", s->n_mels,
                  s->mfcc_deltas);
  if (s->compression == COMPRESS_DB || s->representation == REPR_MFCC)
    n += snprintf(out->details + n, sizeof out->details - (size_t)n, " db_ref=%g db_amin=%g db_top_db=%g", s->db_ref,
                  s->db_amin, s->db_top_db);
  if (s->compression == COMPRESS_LOG10_1P || s->compression == COMPRESS_LOG10_1P_HALF)
    snprintf(out->details + n, sizeof out->details - (size_t)n, " log_c=%g", s->log_c);
}

int frontend_rows(const FrontEndSpec *s) {
  if (s->representation == REPR_WAVEFORM) return 1;
  return s->representation == REPR_MFCC && s->mfcc_deltas ? 3 * s->n_bins : s->n_bins;
}

long frontend_frames(const FrontEndSpec *s, long samples) {
  if (samples <= 0) return 0;
  if (s->representation == REPR_WAVEFORM) return samples;
  const long padded = samples + (s->center ? 2L * (s->n_fft / 2) : 0);
  if (padded < s->n_fft) return 0;
  return 1 + (padded - s->n_fft) / s->hop;
}

/* ------------------------------------------------------------------------ */
/* plans                                                                      */

struct FrontEndPlan {
  FrontEndSpec spec;
  int n_fft, hop, n_freq, offset; /* offset: left padding (n_fft/2 when centred) */
  int n_need;                     /* spectrum bins the output reads */
  float *window;                  /* [n_fft] */
  float *in;                      /* [n_fft] FFTW buffers */
  fftwf_complex *out;             /* [n_freq] */
  fftwf_plan r2c, c2r;
  float *row;                     /* [BLOCK, n_need] |X|^power, frame-major */
  float *block;                   /* [n_need, BLOCK] the same, bin-major */
  /* mel: dense matrix for frontend_mel_matrix, plus one band per filter */
  int n_bands;
  float *mel;           /* [n_bands, n_freq] */
  int *band_lo, *band_len;
  float *band_w;        /* concatenated non-zero bands */
  long *band_off;
  /* mfcc */
  float *dct;           /* [n_mfcc, n_mels] */
  float *scratch;       /* [n_mels, frames], grown on demand */
  size_t scratch_cap;
  /* istft */
  double *win_sq;       /* [n_fft] window squared */
};

static void *scratch_floats(FrontEndPlan *p, size_t n) {
  if (n > p->scratch_cap) {
    at_free_aligned(p->scratch);
    p->scratch = at_malloc_aligned(sizeof(float) * n, "front end scratch");
    p->scratch_cap = n;
  }
  return p->scratch;
}

FrontEndPlan *frontend_plan_create(const FrontEndSpec *s) {
  char msg[256];
  const char *key = spec_problem(s, msg, sizeof msg);
  if (key) at_fatal("front end: %s: %s", key, msg);
  FrontEndPlan *p = at_calloc(1, sizeof *p, "front end plan");
  p->spec = *s;
  if (s->representation == REPR_WAVEFORM) return p; /* a copy: no FFT, window or filterbank */
  p->n_fft = s->n_fft;
  p->hop = s->hop;
  p->n_freq = n_freq_of(s);
  p->offset = s->center ? s->n_fft / 2 : 0;

  double *w = at_malloc(sizeof(double) * p->n_fft, "window");
  dsp_window(s->window, p->n_fft, w);
  p->window = at_malloc_aligned(sizeof(float) * p->n_fft, "window");
  p->win_sq = at_malloc(sizeof(double) * p->n_fft, "window");
  for (int i = 0; i < p->n_fft; i++) {
    p->window[i] = (float)w[i];
    p->win_sq[i] = (double)p->window[i] * p->window[i];
  }
  free(w);

  p->n_bands = bands_of(s);
  p->n_need = s->representation == REPR_STFT ? s->n_bins : 1;
  if (p->n_bands) {
    const size_t nf = (size_t)p->n_freq;
    double *wd = at_malloc(sizeof(double) * p->n_bands * nf, "mel filterbank");
    dsp_mel_filterbank(s->sample_rate, s->n_fft, p->n_bands, s->fmin, effective_fmax(s), s->mel_scale, s->mel_norm, wd);
    p->mel = at_malloc(sizeof(float) * p->n_bands * nf, "mel filterbank");
    p->band_lo = at_malloc(sizeof(int) * p->n_bands, "mel filterbank");
    p->band_len = at_malloc(sizeof(int) * p->n_bands, "mel filterbank");
    p->band_off = at_malloc(sizeof(long) * p->n_bands, "mel filterbank");
    long total = 0;
    for (int m = 0; m < p->n_bands; m++) {
      float *row = p->mel + m * nf;
      int lo = -1, hi = -1;
      for (size_t k = 0; k < nf; k++) {
        row[k] = (float)wd[m * nf + k];
        if (row[k] != 0) {
          if (lo < 0) lo = (int)k;
          hi = (int)k + 1;
        }
      }
      if (lo < 0) lo = hi = 0; /* an empty filter (more bands than the FFT resolves): a zero row, as in librosa */
      p->band_lo[m] = lo;
      p->band_len[m] = hi - lo;
      p->band_off[m] = total;
      total += hi - lo;
      if (hi > p->n_need) p->n_need = hi;
    }
    p->band_w = at_malloc(sizeof(float) * (total ? total : 1), "mel filterbank");
    for (int m = 0; m < p->n_bands; m++)
      memcpy(p->band_w + p->band_off[m], p->mel + m * nf + p->band_lo[m], sizeof(float) * p->band_len[m]);
    free(wd);
  }
  if (s->representation == REPR_MFCC) {
    double *d = at_malloc(sizeof(double) * s->n_bins * s->n_mels, "DCT");
    dsp_dct2_ortho(s->n_mels, s->n_bins, d);
    p->dct = at_malloc(sizeof(float) * s->n_bins * s->n_mels, "DCT");
    for (long i = 0; i < (long)s->n_bins * s->n_mels; i++) p->dct[i] = (float)d[i];
    free(d);
  }
  p->block = at_calloc((size_t)BLOCK * p->n_need, sizeof(float), "spectrum block"); /* partial blocks read zeros */
  p->row = at_calloc((size_t)BLOCK * p->n_need, sizeof(float), "spectrum rows"); /* partial blocks read zeros */

  pthread_mutex_lock(&g_fftw_lock);
  p->in = fftwf_malloc(sizeof(float) * p->n_fft);
  p->out = fftwf_malloc(sizeof(fftwf_complex) * p->n_freq);
  if (p->in && p->out) {
    /* FFTW_ESTIMATE: the same plan, so the same rounding, on every run (a
     * measured plan can change between runs, and caches would not be
     * reproducible bit for bit). */
    p->r2c = fftwf_plan_dft_r2c_1d(p->n_fft, p->in, p->out, FFTW_ESTIMATE);
    p->c2r = fftwf_plan_dft_c2r_1d(p->n_fft, p->out, p->in, FFTW_ESTIMATE);
  }
  pthread_mutex_unlock(&g_fftw_lock);
  if (!p->in || !p->out || !p->r2c || !p->c2r) at_fatal("front end: FFTW could not plan an FFT of size %d", p->n_fft);
  return p;
}

void frontend_plan_free(FrontEndPlan *p) {
  if (!p) return;
  pthread_mutex_lock(&g_fftw_lock);
  if (p->r2c) fftwf_destroy_plan(p->r2c);
  if (p->c2r) fftwf_destroy_plan(p->c2r);
  fftwf_free(p->in);
  fftwf_free(p->out);
  pthread_mutex_unlock(&g_fftw_lock);
  at_free_aligned(p->window);
  free(p->win_sq);
  free(p->mel);
  free(p->band_lo);
  free(p->band_len);
  free(p->band_off);
  free(p->band_w);
  free(p->dct);
  at_free_aligned(p->scratch);
  free(p->block);
  free(p->row);
  free(p);
}

const float *frontend_mel_matrix(const FrontEndPlan *p) { return p->mel; }

/* ------------------------------------------------------------------------ */
/* analysis                                                                   */

/* Windowed frame t of the (padded) signal into p->in, then the FFT. */
static void analyse_frame(FrontEndPlan *p, const float *signal, long samples, long t) {
  const long start = t * p->hop - p->offset;
  const int n = p->n_fft;
  float *restrict in = p->in;
  const float *restrict w = p->window;
  if (start >= 0 && start + n <= samples) {
    const float *restrict x = signal + start;
#pragma omp simd
    for (int i = 0; i < n; i++) in[i] = x[i] * w[i];
  } else {
    const int reflect = p->spec.pad == PAD_REFLECT;
    for (int i = 0; i < n; i++) {
      const long j = start + i;
      float v;
      if (j >= 0 && j < samples) v = signal[j];
      else v = reflect ? signal[dsp_reflect_index(j, samples)] : 0.0f;
      in[i] = v * w[i];
    }
  }
  fftwf_execute(p->r2c);
}

/* |X|^power of the first n_need bins of the last FFT into row b of p->row. */
static void spectrum_power(FrontEndPlan *p, int b) {
  const float *restrict o = (const float *)p->out;
  float *restrict row = p->row + (size_t)b * p->n_need;
  const int n = p->n_need;
  if (p->spec.power == 2) {
#pragma omp simd
    for (int k = 0; k < n; k++) row[k] = o[2 * k] * o[2 * k] + o[2 * k + 1] * o[2 * k + 1];
  } else {
#pragma omp simd
    for (int k = 0; k < n; k++) row[k] = sqrtf(o[2 * k] * o[2 * k] + o[2 * k + 1] * o[2 * k + 1]);
  }
}

/* The block's rows [BLOCK, n_need] into bin-major [n_need, BLOCK], so that a
 * bin's BLOCK frames are contiguous for the filterbank. */
static void transpose_block(FrontEndPlan *p) {
  const int n = p->n_need;
  const float *restrict r = p->row;
  float *restrict d = p->block;
  for (int k = 0; k < n; k++)
#pragma omp simd
    for (int b = 0; b < BLOCK; b++) d[(size_t)k * BLOCK + b] = r[(size_t)b * n + k];
}

/* Spectrogram rows (stft bins or mel bands) [rows, frames] into dst. */
static void spectrogram(FrontEndPlan *p, const float *signal, long samples, long frames, float *dst) {
  const int n_need = p->n_need;
  for (long t0 = 0; t0 < frames; t0 += BLOCK) {
    const int nb = frames - t0 < BLOCK ? (int)(frames - t0) : BLOCK;
    for (int b = 0; b < nb; b++) {
      analyse_frame(p, signal, samples, t0 + b);
      spectrum_power(p, b);
    }
    if (p->n_bands == 0) {
      for (int k = 0; k < p->spec.n_bins; k++) {
        const float *restrict s = p->row + k;
        float *restrict row = dst + (size_t)k * frames + t0;
        for (int b = 0; b < nb; b++) row[b] = s[(size_t)b * n_need];
      }
    } else {
      transpose_block(p);
      /* each band: a short sum over its bins, BLOCK frames wide */
      for (int m = 0; m < p->n_bands; m++) {
        const float *restrict wm = p->band_w + p->band_off[m];
        const float *restrict s = p->block + (size_t)p->band_lo[m] * BLOCK;
        const int len = p->band_len[m];
        float acc[BLOCK];
#pragma omp simd
        for (int b = 0; b < BLOCK; b++) acc[b] = 0;
        for (int k = 0; k < len; k++) {
          const float wk = wm[k];
#pragma omp simd
          for (int b = 0; b < BLOCK; b++) acc[b] += wk * s[(size_t)k * BLOCK + b];
        }
        float *restrict row = dst + (size_t)m * frames + t0;
        if (nb == BLOCK) {
#pragma omp simd
          for (int b = 0; b < BLOCK; b++) row[b] = acc[b];
        } else {
          for (int b = 0; b < nb; b++) row[b] = acc[b];
        }
      }
    }
  }
}

static void compress(const FrontEndSpec *s, float *x, long n) {
  if (s->compression == COMPRESS_DB) dsp_power_to_db(x, n, s->db_ref, s->db_amin, s->db_top_db);
  else if (s->compression == COMPRESS_LOG10_1P) dsp_log10_1p(x, n, s->log_c);
  else if (s->compression == COMPRESS_LOG10_1P_HALF) dsp_log10_1p_half(x, n, s->log_c);
}

void frontend_compute(FrontEndPlan *p, const float *signal, long samples, float *features) {
  const FrontEndSpec *s = &p->spec;
  const long frames = frontend_frames(s, samples);
  if (frames == 0) return;
  if (s->representation == REPR_WAVEFORM) {
    memcpy(features, signal, sizeof(float) * (size_t)samples);
    return;
  }
  if (s->representation != REPR_MFCC) {
    spectrogram(p, signal, samples, frames, features);
    compress(s, features, (long)s->n_bins * frames);
    return;
  }
  const int n_mels = s->n_mels, n_mfcc = s->n_bins;
  float *mel = scratch_floats(p, (size_t)n_mels * frames);
  spectrogram(p, signal, samples, frames, mel);
  compress(s, mel, (long)n_mels * frames);
  for (int k = 0; k < n_mfcc; k++) { /* DCT-II (ortho) over the bands, vectorised over frames */
    float *restrict out = features + (size_t)k * frames;
    for (long t = 0; t < frames; t++) out[t] = 0;
    for (int m = 0; m < n_mels; m++) {
      const float c = p->dct[(size_t)k * n_mels + m];
      const float *restrict in = mel + (size_t)m * frames;
#pragma omp simd
      for (long t = 0; t < frames; t++) out[t] += c * in[t];
    }
  }
  if (s->mfcc_deltas) {
    dsp_savgol_interp(features, features + (size_t)n_mfcc * frames, n_mfcc, frames, frames, DELTA_WIDTH, 1);
    dsp_savgol_interp(features, features + (size_t)2 * n_mfcc * frames, n_mfcc, frames, frames, DELTA_WIDTH, 2);
  }
}

void frontend_stft(FrontEndPlan *p, const float *signal, long samples, float *spectrum) {
  if (p->spec.representation == REPR_WAVEFORM) at_fatal("front end: representation = waveform has no STFT");
  const long frames = frontend_frames(&p->spec, samples);
  const float *o = (const float *)p->out;
  for (long t = 0; t < frames; t++) {
    analyse_frame(p, signal, samples, t);
    for (int k = 0; k < p->n_freq; k++) {
      spectrum[((size_t)k * frames + t) * 2] = o[2 * k];
      spectrum[((size_t)k * frames + t) * 2 + 1] = o[2 * k + 1];
    }
  }
}

/* librosa.istft(S, hop_length, n_fft, window, center, length=samples):
 * overlap-add of irfft(frame) x window over the frames that reach the output,
 * divided by the overlapped squared window where that exceeds the smallest
 * normal float; samples past the last frame are 0. */
void frontend_istft(FrontEndPlan *p, const float *spectrum, long frames, float *signal, long samples) {
  if (p->spec.representation == REPR_WAVEFORM) at_fatal("front end: representation = waveform has no STFT");
  if (samples <= 0) return;
  const int n = p->n_fft, hop = p->hop;
  const long padded = samples + 2L * p->offset;
  long used = (padded + hop - 1) / hop;
  if (used > frames) used = frames;
  memset(signal, 0, sizeof(float) * samples);
  if (used <= 0) return;
  const long total = n + (long)hop * (used - 1); /* the overlap-add buffer, in padded coordinates */
  const long keep = total - p->offset < samples ? total - p->offset : samples;
  double *ola = at_calloc((size_t)total * 2, sizeof(double), "istft");
  double *wss = ola + total;
  float *restrict in = p->in;
  float *o = (float *)p->out;
  const float scale = 1.0f / n;
  for (long t = 0; t < used; t++) {
    for (int k = 0; k < p->n_freq; k++) {
      o[2 * k] = spectrum[((size_t)k * frames + t) * 2];
      o[2 * k + 1] = spectrum[((size_t)k * frames + t) * 2 + 1];
    }
    o[1] = 0; /* irfft ignores the imaginary parts of DC and Nyquist */
    o[2 * (p->n_freq - 1) + 1] = 0;
    fftwf_execute(p->c2r);
    double *restrict y = ola + t * hop, *restrict q = wss + t * hop;
    const float *restrict w = p->window;
    for (int i = 0; i < n; i++) {
      y[i] += (double)(in[i] * scale) * w[i];
      q[i] += p->win_sq[i];
    }
  }
  for (long i = 0; i < keep; i++) {
    const long j = i + p->offset;
    signal[i] = (float)(wss[j] > FLT_MIN ? ola[j] / wss[j] : ola[j]);
  }
  free(ola);
}

int frontend_find_non_finite(const float *x, size_t n, int rows, long frames, char *why, size_t why_size) {
  size_t at = 0;
  while (at < n && isfinite(x[at])) at++;
  if (at == n) return 0;
  const size_t per = (size_t)rows * (size_t)frames;
  snprintf(why, why_size, "the front end gave a non-finite value (%g) at example %zu, bin %zu, frame %zu", (double)x[at],
           at / per, at / (size_t)frames % (size_t)rows, at % (size_t)frames);
  return 1;
}
