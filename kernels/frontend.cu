/* The GPU front end's kernels (frontend_kernels.h): framing, spectra,
 * compressions, deltas and the inverse STFT's overlap-add around cuFFT and
 * cuBLAS. CPU reference: host/audio/frontend.c and dsp.c; each kernel follows
 * the function named in its comment, operation for operation, so that the
 * two paths differ only by rounding (FFT, GEMM summation order, fused
 * multiply-adds). No atomics: every output is written by one thread. */
#include "launch.h"

#include <float.h>

#include "core/scalar_math.h"
#include "frontend_kernels.h"

#ifndef CUEMU_SHARED_POISON
#define CUEMU_SHARED_POISON(a) ((void)0)
#endif

#define FULL_MASK 0xffffffffu
/* Transposes go through 32 x 32 tiles, 32 x 8 threads each. */
#define TILE 32
#define TILE_ROWS 8

/* dsp_reflect_index: np.pad 'reflect' (edge not repeated, repeating for pads
 * longer than the signal). */
static __device__ __forceinline__ long reflect_index(long i, long n) {
  if (n <= 1) return 0;
  const long period = 2 * (n - 1);
  long j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - j;
}

/* ---- analysis ---- */

/* One block per frame row of the batch (grid.x = batch), threads across the
 * frame: coalesced reads of the signal and the window. */
__global__ void __launch_bounds__(ATK_THREADS) fe_frame_kernel(const float *signal, long samples, const float *window,
                                                               int n_fft, int hop, int offset, int reflect, long t0,
                                                               int nb, float *frames) {
  const int b = (int)blockIdx.x;
  float *row = frames + (size_t)b * n_fft;
  if (b >= nb) { /* padding rows of a partial batch */
    for (int i = (int)threadIdx.x; i < n_fft; i += (int)blockDim.x) row[i] = 0.0f;
    return;
  }
  const long start = (t0 + b) * (long)hop - offset;
  for (int i = (int)threadIdx.x; i < n_fft; i += (int)blockDim.x) {
    const long j = start + i;
    float v;
    if (j >= 0 && j < samples) v = signal[j];
    else v = reflect ? signal[reflect_index(j, samples)] : 0.0f;
    row[i] = v * window[i];
  }
}

/* spec[b, k] (frame-major, cuFFT's layout) -> out[k, t0 + b] (bin-major, the
 * features' layout) through a shared tile, so that both the reads (along k)
 * and the writes (along b) are coalesced. grid: (frame tiles, bin tiles). */
__global__ void __launch_bounds__(TILE * TILE_ROWS) fe_spectrum_kernel(const float *spec, int nb, int n_freq, int rows,
                                                                      int mode, float *out, long ld, long t0) {
  __shared__ float re[TILE][TILE + 1]; /* + 1: no bank conflicts on the transposed read */
  __shared__ float im[TILE][TILE + 1];
  CUEMU_SHARED_POISON(re);
  CUEMU_SHARED_POISON(im);
  const int b0 = (int)blockIdx.x * TILE, k0 = (int)blockIdx.y * TILE;
  const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
  for (int i = ty; i < TILE; i += TILE_ROWS) {
    const int b = b0 + i, k = k0 + tx;
    if (b < nb && k < rows) {
      const float *z = spec + 2 * ((size_t)b * n_freq + k);
      const float x = z[0], y = z[1];
      if (mode == ATK_FE_COMPLEX) {
        re[i][tx] = x;
        im[i][tx] = y;
      } else {
        const float p = x * x + y * y; /* spectrum_power */
        re[i][tx] = mode == ATK_FE_POWER ? p : sqrtf(p);
      }
    }
  }
  __syncthreads();
  for (int i = ty; i < TILE; i += TILE_ROWS) {
    const int k = k0 + i, b = b0 + tx;
    if (k < rows && b < nb) {
      const size_t o = (size_t)k * ld + t0 + b;
      if (mode == ATK_FE_COMPLEX) {
        out[2 * o] = re[tx][i];
        out[2 * o + 1] = im[tx][i];
      } else {
        out[o] = re[tx][i];
      }
    }
  }
}

/* The inverse layout change: spectrum[k, t0 + b] -> spec[b, k], DC's and
 * Nyquist's imaginary parts zeroed as frontend_istft does before its irfft.
 * grid: (batch tiles, bin tiles). */
__global__ void __launch_bounds__(TILE * TILE_ROWS) fe_unspectrum_kernel(const float *spectrum, long frames, int n_freq,
                                                                        long t0, int nb, int batch, float *spec) {
  __shared__ float re[TILE][TILE + 1];
  __shared__ float im[TILE][TILE + 1];
  CUEMU_SHARED_POISON(re);
  CUEMU_SHARED_POISON(im);
  const int b0 = (int)blockIdx.x * TILE, k0 = (int)blockIdx.y * TILE;
  const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
  for (int i = ty; i < TILE; i += TILE_ROWS) {
    const int k = k0 + i, b = b0 + tx;
    if (k < n_freq && b < nb) {
      const float *z = spectrum + 2 * ((size_t)k * frames + t0 + b);
      re[i][tx] = z[0];
      im[i][tx] = k == 0 || k == n_freq - 1 ? 0.0f : z[1];
    }
  }
  __syncthreads();
  for (int i = ty; i < TILE; i += TILE_ROWS) {
    const int b = b0 + i, k = k0 + tx;
    if (b < batch && k < n_freq) {
      const size_t o = 2 * ((size_t)b * n_freq + k);
      spec[o] = b < nb ? re[tx][i] : 0.0f;
      spec[o + 1] = b < nb ? im[tx][i] : 0.0f;
    }
  }
}

/* ---- compression ---- */

/* Max of v over the block's ATK_THREADS threads (blockDim.x must be
 * ATK_THREADS), valid in thread 0; NaN is skipped as in dsp_power_to_db's
 * `v > mx ? v : mx`. Max is exact in any order; the fixed tree keeps the
 * kernel free of atomics. Once per kernel (the slots are not guarded). */
static __device__ float block_max(float v) {
  __shared__ float part[ATK_THREADS];
  CUEMU_SHARED_POISON(part);
  part[threadIdx.x] = v;
  __syncthreads();
  float m = -INFINITY;
  if (threadIdx.x < 32) {
    for (unsigned j = threadIdx.x; j < ATK_THREADS; j += 32) m = part[j] > m ? part[j] : m;
    for (unsigned d = 16; d > 0; d /= 2) {
      const float o = __shfl_down_sync(FULL_MASK, m, d);
      m = o > m ? o : m;
    }
  }
  return m;
}

/* dB in place (dsp_power_to_db's first loop) and each block's maximum into
 * partial[blockIdx.x]. Launched with ATK_REDUCE_BLOCKS blocks. */
__global__ void __launch_bounds__(ATK_THREADS) fe_db_kernel(float *x, size_t n, float amin, float scale, float offset,
                                                            float *partial) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  float mx = -INFINITY;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = x[i];
    const float d = scale * logf(v > amin ? v : amin) - offset;
    x[i] = d;
    mx = d > mx ? d : mx;
  }
  mx = block_max(mx);
  if (threadIdx.x == 0) partial[blockIdx.x] = mx;
}

/* One block: the clip's maximum into partial[ATK_REDUCE_BLOCKS]. */
__global__ void __launch_bounds__(ATK_THREADS) fe_max_final_kernel(float *partial) {
  float mx = -INFINITY;
  for (unsigned b = threadIdx.x; b < ATK_REDUCE_BLOCKS; b += blockDim.x) mx = partial[b] > mx ? partial[b] : mx;
  mx = block_max(mx);
  if (threadIdx.x == 0) partial[ATK_REDUCE_BLOCKS] = mx;
}

/* power_to_db's top_db floor: max(x, max - top_db). */
__global__ void __launch_bounds__(ATK_THREADS) fe_floor_kernel(float *x, size_t n, const float *partial, float top_db) {
  const float floor_db = partial[ATK_REDUCE_BLOCKS] - top_db;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    x[i] = x[i] > floor_db ? x[i] : floor_db;
}

/* dsp_log10_1p; log1pf keeps small c x accurate as the CPU's corrected log does. */
__global__ void __launch_bounds__(ATK_THREADS) fe_log10_1p_kernel(float *x, size_t n, float c) {
  const float inv_ln10 = 0.43429448190325182765f;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) x[i] = log1pf(c * x[i]) * inv_ln10;
}

/* dsp_log10_1p_half: musicnn's float16 steps, the formula the CPU uses. */
__global__ void __launch_bounds__(ATK_THREADS) fe_log10_1p_half_kernel(float *x, size_t n, float c) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) x[i] = at_log10_1p_half(x[i], c);
}

/* ---- deltas ---- */

/* dsp_savgol_interp, one output per thread (see frontend_kernels.h). */
__global__ void __launch_bounds__(ATK_THREADS) fe_savgol_kernel(const float *x, float *y, int rows, long n, long stride,
                                                                int win, int half, const float *c, const double *w) {
  const size_t total = (size_t)rows * (size_t)n;
  const size_t step = (size_t)gridDim.x * blockDim.x;
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += step) {
    const long r = (long)(idx / (size_t)n), t = (long)(idx % (size_t)n);
    const float *xr = x + r * stride;
    float out;
    if (t >= half && t < n - half) {
      const float *xs = xr + t - half;
      float acc = 0.0f;
      for (int j = 0; j < win; j++) acc += c[j] * xs[j];
      out = acc;
    } else { /* the polynomial fitted to the first / last `win` points */
      const long base = t < half ? 0 : n - win;
      const double *wt = w + (size_t)(t - base) * win;
      double v = 0.0;
      for (int j = 0; j < win; j++) v += wt[j] * xr[base + j];
      out = (float)v;
    }
    y[r * stride + t] = out;
  }
}

/* ---- synthesis ---- */

/* frontend_istft's overlap-add, gathered per output sample: the frames
 * covering it in ascending order, as the CPU's scatter adds them. */
__global__ void __launch_bounds__(ATK_THREADS) fe_overlap_add_kernel(const float *frames, long used, int n_fft, int hop,
                                                                     int offset, const float *window, float scale,
                                                                     long keep, float *signal, long samples) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)samples; i += stride) {
    float out = 0.0f;
    if ((long)i < keep) {
      const long j = (long)i + offset; /* padded position */
      long t = j < n_fft ? 0 : (j - n_fft) / hop + 1;
      long t_hi = j / hop;
      if (t_hi > used - 1) t_hi = used - 1;
      double ola = 0.0, wss = 0.0;
      for (; t <= t_hi; t++) {
        const int k = (int)(j - t * hop);
        const float wk = window[k];
        ola += (double)(frames[(size_t)t * n_fft + k] * scale) * wk;
        wss += (double)wk * wk;
      }
      out = (float)(wss > FLT_MIN ? ola / wss : ola);
    }
    signal[i] = out;
  }
}

/* ---- launchers ---- */

static inline unsigned tiles(long n) { return (unsigned)((n + TILE - 1) / TILE); }

extern "C" void atk_fe_frame(const float *signal, long samples, const float *window, int n_fft, int hop, int offset,
                             int reflect, long t0, int nb, int batch, float *frames, cudaStream_t st) {
  if (batch <= 0) return;
  KLAUNCH(fe_frame_kernel, (unsigned)batch, ATK_THREADS, 0, st, signal, samples, window, n_fft, hop, offset, reflect,
          t0, nb, frames);
}

extern "C" void atk_fe_spectrum(const float *spec, int nb, int n_freq, int rows, int mode, float *out, long ld,
                                long t0, cudaStream_t st) {
  if (nb <= 0 || rows <= 0) return;
  KLAUNCH(fe_spectrum_kernel, dim3(tiles(nb), tiles(rows)), dim3(TILE, TILE_ROWS), 0, st, spec, nb, n_freq, rows, mode,
          out, ld, t0);
}

extern "C" void atk_fe_unspectrum(const float *spectrum, long frames, int n_freq, long t0, int nb, int batch,
                                  float *spec, cudaStream_t st) {
  if (batch <= 0) return;
  KLAUNCH(fe_unspectrum_kernel, dim3(tiles(batch), tiles(n_freq)), dim3(TILE, TILE_ROWS), 0, st, spectrum, frames,
          n_freq, t0, nb, batch, spec);
}

extern "C" void atk_fe_power_to_db(float *x, size_t n, float amin, float scale, float offset, float top_db,
                                   float *scratch, cudaStream_t st) {
  if (n == 0) return;
  /* a fixed grid: which thread sees which element depends on n only */
  KLAUNCH(fe_db_kernel, ATK_REDUCE_BLOCKS, ATK_THREADS, 0, st, x, n, amin, scale, offset, scratch);
  if (!(top_db > 0)) return;
  KLAUNCH(fe_max_final_kernel, 1, ATK_THREADS, 0, st, scratch);
  KLAUNCH(fe_floor_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, n, scratch, top_db);
}

extern "C" void atk_fe_log10_1p(float *x, size_t n, float c, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(fe_log10_1p_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, n, c);
}

extern "C" void atk_fe_log10_1p_half(float *x, size_t n, float c, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(fe_log10_1p_half_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, n, c);
}

extern "C" void atk_fe_savgol(const float *x, float *y, int rows, long n, long stride, int win, int half,
                              const float *c, const double *w, cudaStream_t st) {
  if (rows <= 0 || n <= 0) return;
  KLAUNCH(fe_savgol_kernel, atk_blocks_for((size_t)rows * (size_t)n, ATK_THREADS), ATK_THREADS, 0, st, x, y, rows, n,
          stride, win, half, c, w);
}

extern "C" void atk_fe_overlap_add(const float *frames, long used, int n_fft, int hop, int offset, const float *window,
                                   float scale, long keep, float *signal, long samples, cudaStream_t st) {
  if (samples <= 0) return;
  KLAUNCH(fe_overlap_add_kernel, atk_blocks_for((size_t)samples, ATK_THREADS), ATK_THREADS, 0, st, frames, used, n_fft,
          hop, offset, window, scale, keep, signal, samples);
}
