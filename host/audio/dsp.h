/* Private building blocks of the front end (frontend.c): windows, the mel
 * filterbank, the DCT-II matrix, Savitzky-Golay weights, padding, and the
 * compressions. Everything that defines a number is computed in double and
 * rounded once to float, following librosa / scipy / Essentia formula by
 * formula (see each function). */
#ifndef AT_AUDIO_DSP_H
#define AT_AUDIO_DSP_H

#include "audio/frontend.h"

/* The analysis window [n] (frontend.h WindowKind). */
void dsp_window(WindowKind kind, int n, double *w);

/* librosa.core.convert: hz_to_mel / mel_to_hz, slaney (linear below 1 kHz,
 * logarithmic above) or HTK (2595 log10(1 + f / 700)). */
double dsp_hz_to_mel(double hz, MelScale scale);
double dsp_mel_to_hz(double mel, MelScale scale);

/* librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm) as
 * [n_mels, n_fft/2 + 1] doubles. */
void dsp_mel_filterbank(double sr, int n_fft, int n_mels, double fmin, double fmax, MelScale scale, MelNorm norm,
                        double *weights);

/* scipy.fft.dct(type=2, norm='ortho') as a matrix [n_out, n_in]: row k is
 * coefficient k (n_out <= n_in: librosa keeps the first n_mfcc). */
void dsp_dct2_ortho(int n_in, int n_out, double *m);

/* Least-squares polynomial fit of degree `degree` to n equally spaced points
 * 0..n-1, differentiated `deriv` times and evaluated at position t: the
 * weights w[n] with value = sum_i w[i] x[i]. degree <= 2 here (any < n works). */
void dsp_polyfit_deriv_weights(int n, int degree, int deriv, double t, double *w);

/* Savitzky-Golay filtering along rows (scipy.signal.savgol_filter with
 * window_length = width (odd), polyorder = deriv = order, mode='interp'),
 * which is librosa.feature.delta(width, order). x and y: [rows, n], rows
 * apart by `stride` floats; y must not alias x. n < width: one polynomial of
 * degree min(order, n - 1) fitted to the whole row (librosa refuses). */
void dsp_savgol_interp(const float *x, float *y, int rows, long n, long stride, int width, int order);

/* The index into [0, n) that position i (any integer) reads under np.pad
 * 'reflect' (edge not repeated; reflection repeats for pads longer than n). */
long dsp_reflect_index(long i, long n);

/* librosa.power_to_db on [n] values in place: 10 log10(max(x, amin)) -
 * 10 log10(max(amin, ref)), then floored at max - top_db when top_db > 0. */
void dsp_power_to_db(float *x, long n, double ref, double amin, double top_db);
/* log10(1 + c x) in place (x >= 0; as log1p: accurate for small c x). */
void dsp_log10_1p(float *x, long n, double c);
/* The same as musicnn computes it, every step in float16 (at_log10_1p_half). */
void dsp_log10_1p_half(float *x, long n, double c);
/* The vectorisable natural logarithm the two above use (x positive, normal). */
float dsp_log(float x);

#endif
