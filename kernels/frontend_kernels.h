/* The GPU front end's kernels (kernels/frontend.cu), launched by
 * host/cuda/cuda_frontend.c around cuFFT and cuBLAS. Same conventions as
 * kernels.h: C launchers, device pointers, the stream last, no error checks
 * (the caller's KERNEL_CHECK). The numerics are those of the CPU front end
 * (host/audio/frontend.c, dsp.c), function by function as named below. */
#ifndef AT_FRONTEND_KERNELS_H
#define AT_FRONTEND_KERNELS_H

#include <stddef.h>

#include "kernels.h" /* cudaStream_t, ATK_REDUCE_BLOCKS */

#ifdef __cplusplus
extern "C" {
#endif

/* What atk_fe_spectrum writes per bin. */
enum { ATK_FE_COMPLEX = 0, ATK_FE_MAGNITUDE = 1, ATK_FE_POWER = 2 };

/* Frames t0 .. t0 + nb - 1 of the signal [samples], windowed, into
 * frames[batch, n_fft] (analyse_frame): frame t reads samples
 * [t hop - offset, t hop - offset + n_fft), outside the signal np.pad
 * 'reflect' (reflect = 1) or zeros. Rows nb .. batch - 1 are zeroed (the
 * batched FFT runs over all of them). */
void atk_fe_frame(const float *signal, long samples, const float *window, int n_fft, int hop, int offset, int reflect,
                  long t0, int nb, int batch, float *frames, cudaStream_t st);

/* spec[nb, n_freq] complex (cuFFT R2C output) -> columns t0 .. t0 + nb - 1
 * of out[rows, ld]: bin k < rows of frame b at out[k ld + t0 + b]: |X|, |X|^2
 * (spectrum_power) or, for ATK_FE_COMPLEX, the (re, im) pair at
 * out[2 (k ld + t0 + b)] (frontend_stft's layout). */
void atk_fe_spectrum(const float *spec, int nb, int n_freq, int rows, int mode, float *out, long ld, long t0,
                     cudaStream_t st);

/* Columns t0 .. t0 + nb - 1 of spectrum[n_freq, frames] complex (frontend_stft's
 * layout) -> spec[batch, n_freq] complex for cuFFT C2R, with the imaginary
 * parts of DC and Nyquist zeroed (irfft ignores them); rows nb .. batch - 1
 * zeroed. */
void atk_fe_unspectrum(const float *spectrum, long frames, int n_freq, long t0, int nb, int batch, float *spec,
                       cudaStream_t st);

/* dsp_power_to_db on x[n] in place: 10 log10(max(x, amin)) - offset with
 * scale = 10 / ln 10, then, when top_db > 0, floored at max - top_db (the max
 * by a fixed two-pass reduction: ATK_REDUCE_BLOCKS partial maxima, then one
 * block; scratch holds ATK_REDUCE_BLOCKS + 1 floats). */
void atk_fe_power_to_db(float *x, size_t n, float amin, float scale, float offset, float top_db, float *scratch,
                        cudaStream_t st);
/* dsp_log10_1p: log10(1 + c x) in place. */
void atk_fe_log10_1p(float *x, size_t n, float c, cudaStream_t st);
/* dsp_log10_1p_half: musicnn's log10(1 + c x), each step in float16. */
void atk_fe_log10_1p_half(float *x, size_t n, float c, cudaStream_t st);

/* Savitzky-Golay along rows (dsp_savgol_interp): y[r, t] for rows of n
 * values, `stride` floats apart, y not aliasing x. Interior t in
 * [half, n - half): sum_j c[j] x[t - half + j] in float, j ascending; the
 * other positions: sum_j w[wt win + j] x[base + j] in double, with base = 0
 * for t < half and n - win otherwise, wt = t - base. For rows shorter than
 * the filter the caller passes win = half = n and the whole-row fit's
 * weights w[n, n]. */
void atk_fe_savgol(const float *x, float *y, int rows, long n, long stride, int win, int half, const float *c,
                   const double *w, cudaStream_t st);

/* Inverse STFT's overlap-add (frontend_istft), gather form: signal[i] for
 * i < keep sums over the frames t < used that cover padded position
 * j = i + offset, t ascending, in double, (frames[t, j - t hop] scale) w and
 * w^2, and writes ola / wss where wss > FLT_MIN (ola otherwise); samples
 * keep .. samples - 1 are zero. frames: [used, n_fft] (unnormalised C2R). */
void atk_fe_overlap_add(const float *frames, long used, int n_fft, int hop, int offset, const float *window,
                        float scale, long keep, float *signal, long samples, cudaStream_t st);

#ifdef __cplusplus
}
#endif

#endif
