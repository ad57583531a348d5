/* Helpers of the im2col + GEMM convolution and of asymmetric padding (CPU
 * reference: host/cpu/cpu_conv.c).
 *
 * For one example x[c_in, h_in, w_in], col[K, P] has K = c_in*kh*kw rows,
 * row r = (c*kh + i)*kw + j, and P = h_out*w_out columns, column
 * p = oh*w_out + ow; col[r, p] = x[c, oh*sh - pad_top + i, ow*sw - pad_left + j]
 * or 0 outside the input: the CPU's layout, so the same GEMMs apply
 *     y_n = W[c_out, K] . col,   dW += dy_n . col^T,   dcol = W^T . dy_n.
 * col2im is the gather form: one thread per input element adds the dcol
 * entries that read it in ascending (i, j) order -- the CPU's order -- so it
 * needs no atomics and matches the CPU bit for bit. */
#include "launch.h"

#include "kernels.h"


#define GRID_STRIDE_LOOP(i, n)                                                    \
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
       i += (size_t)gridDim.x * blockDim.x)

/* threads per block of bias_grad (the reduction tree assumes a power of two) */
#define BIAS_THREADS 256

/* One thread per col element; consecutive threads fill consecutive columns
 * (coalesced writes, reads at the stride). */
static __global__ void __launch_bounds__(ATK_THREADS)
    im2col_kernel(ConvShape s, const float *__restrict__ x, float *__restrict__ col, size_t total) {
  const size_t P = (size_t)s.h_out * s.w_out;
  const int taps = s.kh * s.kw;
  GRID_STRIDE_LOOP(idx, total) {
    const int r = (int)(idx / P);
    const int p = (int)(idx - (size_t)r * P);
    const int c = r / taps, ij = r - c * taps;
    const int i = ij / s.kw, j = ij - i * s.kw;
    const int oh = p / s.w_out, ow = p - oh * s.w_out;
    const int ih = oh * s.stride_h - s.pad_top + i;
    const int iw = ow * s.stride_w - s.pad_left + j;
    const int inside = (unsigned)ih < (unsigned)s.h_in && (unsigned)iw < (unsigned)s.w_in;
    col[idx] = inside ? x[((size_t)c * s.h_in + ih) * s.w_in + iw] : 0.0f;
  }
}

/* One thread per input element: dx[c, ih, iw] = sum over the taps (i, j),
 * ascending, of dcol[(c*kh + i)*kw + j, oh*w_out + ow] where
 * ih = oh*sh - pad_top + i and iw = ow*sw - pad_left + j. */
static __global__ void __launch_bounds__(ATK_THREADS)
    col2im_kernel(ConvShape s, const float *__restrict__ col, float *__restrict__ dx, size_t total) {
  const size_t P = (size_t)s.h_out * s.w_out;
  const size_t plane = (size_t)s.h_in * s.w_in;
  GRID_STRIDE_LOOP(idx, total) {
    const int c = (int)(idx / plane);
    const int e = (int)(idx - (size_t)c * plane);
    const int ih = e / s.w_in, iw = e - ih * s.w_in;
    float acc = 0.0f;
    for (int i = 0; i < s.kh; i++) {
      const int num_h = ih + s.pad_top - i; /* = oh * stride_h */
      if (num_h < 0) break;                 /* only smaller for larger i */
      const int oh = num_h / s.stride_h;
      if (oh * s.stride_h != num_h || oh >= s.h_out) continue;
      const float *row = col + (size_t)(c * s.kh + i) * s.kw * P + (size_t)oh * s.w_out;
      for (int j = 0; j < s.kw; j++) {
        const int num_w = iw + s.pad_left - j;
        if (num_w < 0) break;
        const int ow = num_w / s.stride_w;
        if (ow * s.stride_w != num_w || ow >= s.w_out) continue;
        acc += row[(size_t)j * P + ow];
      }
    }
    dx[idx] = acc;
  }
}

static __global__ void __launch_bounds__(ATK_THREADS)
    bias_add_kernel(const float *__restrict__ bias, float *__restrict__ y, int c, size_t plane, size_t total) {
  GRID_STRIDE_LOOP(idx, total) y[idx] += bias[(idx / plane) % (size_t)c];
}

/* One block per channel: each thread sums its fixed share of the channel's
 * n * plane elements in double, then a fixed tree adds the partials. */
static __global__ void __launch_bounds__(BIAS_THREADS)
    bias_grad_kernel(const float *__restrict__ dy, float *__restrict__ db, int n, int c, size_t plane) {
  __shared__ double red[BIAS_THREADS];
  CUEMU_SHARED_POISON(red);
  const int ch = blockIdx.x;
  const unsigned t = threadIdx.x;
  const size_t m = (size_t)n * plane;
  /* element e = ex * plane + p, at (ex * c + ch) * plane + p; (ex, p) kept
   * up to date without a division per element */
  const size_t dex = BIAS_THREADS / plane, dp = BIAS_THREADS % plane;
  size_t ex = t / plane, p = t % plane;
  const float *base = dy + (size_t)ch * plane;
  const size_t ex_stride = (size_t)c * plane;
  double acc = 0.0;
  for (size_t e = t; e < m; e += BIAS_THREADS) {
    acc += (double)base[ex * ex_stride + p];
    p += dp;
    ex += dex;
    if (p >= plane) {
      p -= plane;
      ex++;
    }
  }
  red[t] = acc;
  __syncthreads();
  for (unsigned half = BIAS_THREADS / 2; half > 0; half /= 2) {
    if (t < half) red[t] += red[t + half];
    __syncthreads();
  }
  if (t == 0) db[ch] = (float)red[0];
}

/* One thread per element of the padded tensor: the interior copies x, the
 * border is zero. */
static __global__ void __launch_bounds__(ATK_THREADS)
    pad2d_kernel(const float *__restrict__ x, float *__restrict__ xp, int h, int w, int top, int left, int hp,
                 int wp, size_t total) {
  const size_t pplane = (size_t)hp * wp, plane = (size_t)h * w;
  GRID_STRIDE_LOOP(idx, total) {
    const size_t pc = idx / pplane; /* (example, channel) */
    const int e = (int)(idx - pc * pplane);
    const int yy = e / wp - top, xx = e % wp - left;
    const int inside = (unsigned)yy < (unsigned)h && (unsigned)xx < (unsigned)w;
    xp[idx] = inside ? x[pc * plane + (size_t)yy * w + xx] : 0.0f;
  }
}

/* One thread per element of the cropped (unpadded) tensor. */
static __global__ void __launch_bounds__(ATK_THREADS)
    crop2d_kernel(const float *__restrict__ dxp, float *__restrict__ dx, int h, int w, int top, int left, int hp,
                  int wp, size_t total) {
  const size_t pplane = (size_t)hp * wp, plane = (size_t)h * w;
  GRID_STRIDE_LOOP(idx, total) {
    const size_t pc = idx / plane;
    const int e = (int)(idx - pc * plane);
    const int yy = e / w, xx = e - yy * w;
    dx[idx] = dxp[pc * pplane + (size_t)(yy + top) * wp + (xx + left)];
  }
}

void atk_im2col(ConvShape s, const float *x, float *col, cudaStream_t st) {
  const size_t total = (size_t)s.c_in * s.kh * s.kw * s.h_out * s.w_out;
  if (total == 0) return;
  KLAUNCH(im2col_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, s, x, col, total);
}

void atk_col2im(ConvShape s, const float *col, float *dx, cudaStream_t st) {
  const size_t total = (size_t)s.c_in * s.h_in * s.w_in;
  if (total == 0) return;
  KLAUNCH(col2im_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, s, col, dx, total);
}

void atk_bias_add(int n, int c, int plane, const float *bias, float *y, cudaStream_t st) {
  const size_t total = (size_t)n * c * plane;
  if (total == 0) return;
  KLAUNCH(bias_add_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, bias, y, c, (size_t)plane,
          total);
}

void atk_bias_grad(int n, int c, int plane, const float *dy, float *db, cudaStream_t st) {
  if (c <= 0) return;
  if (plane <= 0) n = 0; /* nothing to sum: db = 0 (and no division by a zero plane) */
  KLAUNCH(bias_grad_kernel, (unsigned)c, BIAS_THREADS, 0, st, dy, db, n, c, (size_t)(plane > 0 ? plane : 1));
}

void atk_pad2d(int n, int c, int h, int w, int top, int bottom, int left, int right, const float *x, float *xp,
               cudaStream_t st) {
  const int hp = h + top + bottom, wp = w + left + right;
  const size_t total = (size_t)n * c * hp * wp;
  if (total == 0) return;
  KLAUNCH(pad2d_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, x, xp, h, w, top, left, hp, wp,
          total);
}

void atk_crop2d(int n, int c, int h, int w, int top, int bottom, int left, int right, const float *dxp, float *dx,
                cudaStream_t st) {
  const int hp = h + top + bottom, wp = w + left + right;
  const size_t total = (size_t)n * c * h * w;
  if (total == 0) return;
  KLAUNCH(crop2d_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, dxp, dx, h, w, top, left, hp, wp,
          total);
}
