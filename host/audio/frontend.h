/* The time-frequency front end: a mono signal at the dataset's sample rate
 * -> STFT -> magnitude or power -> (mel filterbank) -> (MFCC + deltas) ->
 * compression -> features [bins, frames], with librosa's numerics (tested
 * against librosa to 1e-4 relative on non-negligible bins).
 *
 * Parameters come from the [frontend] section of a dataset config
 * (configs/datasets/<name>.ini) and are written into every cache's attributes
 * (data/cache.h CacheFrontEnd) so that a model is only ever fed spectrograms made
 * the way it was trained. */
#ifndef AT_AUDIO_FRONTEND_H
#define AT_AUDIO_FRONTEND_H

#include <stddef.h>

#include "data/cache.h"

struct IniSection;

typedef enum { WINDOW_HANN, WINDOW_BLACKMANHARRIS62 } WindowKind;
typedef enum { REPR_STFT, REPR_MEL, REPR_MFCC, REPR_WAVEFORM } Representation;
typedef enum { MEL_SLANEY, MEL_HTK } MelScale;
typedef enum { MEL_NORM_SLANEY, MEL_NORM_UNIT_SUM, MEL_NORM_NONE } MelNorm;
typedef enum { COMPRESS_NONE, COMPRESS_DB, COMPRESS_LOG10_1P, COMPRESS_LOG10_1P_HALF } Compression;
typedef enum { PAD_REFLECT, PAD_CONSTANT } PadMode;

typedef struct FrontEndSpec {
  double sample_rate;  /* Hz; audio is resampled to it */
  int n_fft, hop;
  WindowKind window;   /* hann: periodic (librosa / scipy 'hann', fftbins=True);
                          blackmanharris62: Essentia's 62 dB Blackman-Harris as its
                          Windowing makes it by default: symmetric (cos(2 pi i / (n - 1))),
                          normalized=true (scaled to sum 2) */
  int center;          /* 1: pad n_fft/2 on both sides (librosa center=True), as `pad` says */
  PadMode pad;         /* center's padding: reflect (np.pad 'reflect': librosa < 0.10 and the
                          papers' code) or constant zeros (librosa >= 0.10's default) */
  double power;        /* 1: magnitude, 2: power */
  Representation representation;
  int n_bins;          /* stft: n_fft/2 + 1 (or fewer: the lowest bins); mel: bands; mfcc: coefficients */
  int n_mels;          /* mfcc only: mel bands under the DCT (librosa's default 128) */
  double fmin, fmax;   /* mel filterbank range (fmax 0: sample_rate / 2) */
  MelScale mel_scale;
  MelNorm mel_norm;
  int mfcc_deltas;     /* 1: append delta and delta-delta (3 x n_bins rows; librosa.feature.delta, width 9) */
  Compression compression;
  double db_ref, db_amin, db_top_db; /* 10 log10(max(S, amin) / ref), floored at max - top_db (0: no floor);
                                        10 log10 also when power = 1 (power_to_db of what S holds);
                                        mfcc: the dB of the mel spectrogram under the DCT (must be db) */
  double log_c;        /* log10(1 + C x) (Pons: C = 10000) */
} FrontEndSpec;

/* librosa-like defaults: 22050 Hz, n_fft 2048, hop 512, hann, centred with
 * reflection, power 2, 128 slaney-normalised slaney-scale mel bands, dB (ref 1,
 * amin 1e-10, top_db 80). */
void frontend_spec_defaults(FrontEndSpec *s);
/* Reads a [frontend] section strictly (unknown keys are left to
 * ini_check_all_used; ranges and combinations are checked here, with
 * file:line errors). Keys (default):
 *   sample_rate (22050)  n_fft (2048, even)  hop (n_fft / 4, <= n_fft)
 *   window = hann | blackmanharris62       center = true | false
 *   pad = reflect | constant (centred only) power = 1 | 2
 *   representation = stft | mel | mfcc | waveform
 *   waveform: the resampled mono signal itself, one row of `samples` frames
 *   (end-to-end models such as SampleCNN); only sample_rate applies
 *   n_bins (stft n_fft/2 + 1, mel 128, mfcc 20)
 *   n_mels (mfcc only, 128)  mfcc_deltas (mfcc only, false)
 *   fmin (0)  fmax (0 = sample_rate / 2)  mel_scale = slaney | htk
 *   mel_norm = slaney | unit_sum | none    (mel and mfcc only)
 *   compression = db | log10_1p | log10_1p_half | none     db_ref (1) db_amin (1e-10)
 *   db_top_db (80; db only)  log_c (10000; log10_1p and log10_1p_half)
 *   log10_1p_half is musicnn's: each step in float16 (core/scalar_math.h)
 * A key that does not apply (pad with center = false, fmin with stft, log_c
 * with db, ...) is an error, not silently ignored. */
void frontend_spec_from_ini(struct IniSection *section, FrontEndSpec *s);
/* The cache's description of this front end (cache attributes). */
void frontend_describe(const FrontEndSpec *s, CacheFrontEnd *out);

int frontend_rows(const FrontEndSpec *s);                 /* feature rows per frame */
/* Frames for a signal of this length: 1 + (samples + 2 (n_fft/2) - n_fft) / hop
 * centred, 1 + (samples - n_fft) / hop otherwise; 0 for an empty signal or an
 * uncentred one shorter than n_fft. */
long frontend_frames(const FrontEndSpec *s, long samples);
/* The one rule for features that are not finite (a file whose samples are
 * far outside [-1, 1] can overflow the front end): every command refuses the
 * file. Features are [examples][rows][frames]; returns 1 and describes the
 * first non-finite value in `why` (example, bin, frame), or returns 0. */
int frontend_find_non_finite(const float *x, size_t n, int rows, long frames, char *why, size_t why_size);

/* A plan holds FFTW plans, the window and the filterbank: make one per
 * thread (FFTW planning is not thread-safe; creation is serialised inside). */
typedef struct FrontEndPlan FrontEndPlan;
FrontEndPlan *frontend_plan_create(const FrontEndSpec *s);
void frontend_plan_free(FrontEndPlan *p);
/* features: [frontend_rows, frontend_frames(samples)] row-major, float32.
 * Deltas of fewer than 9 frames (librosa refuses): one polynomial fitted to
 * the whole row. Uses the plan's buffers: one call at a time per plan. */
void frontend_compute(FrontEndPlan *p, const float *signal, long samples, float *features);

/* Building blocks, also used by auralisation (complex STFT in, ISTFT out):
 * stft: [n_fft/2 + 1, frames] complex as interleaved (re, im) floats. */
void frontend_stft(FrontEndPlan *p, const float *signal, long samples, float *spectrum);
/* Inverse of frontend_stft (overlap-add with the window, librosa.istft
 * semantics for the same window/center, i.e. librosa.istft(length=samples));
 * `frames` is the spectrum's column count; writes `samples` samples (zeros
 * past the last frame). */
void frontend_istft(FrontEndPlan *p, const float *spectrum, long frames, float *signal, long samples);
/* The mel filterbank [bands, n_fft/2 + 1] (librosa.filters.mel): bands =
 * n_bins for mel, n_mels for mfcc; NULL for stft. */
const float *frontend_mel_matrix(const FrontEndPlan *p);

#endif
