/* The GPU front end (cuda_frontend.h). Per call: the signal goes up once,
 * frames are windowed and transformed a batch at a time (cuFFT R2C over
 * [batch, n_fft]), the spectra land straight in the features' bin-major
 * layout, the filterbank and the DCT are GEMMs, then compression (and
 * deltas) run in place and the features come down once.
 *
 * The numbers that define the front end are the CPU's: the window and the
 * DCT are made by the same dsp.c functions and rounded to float the same
 * way, the mel filterbank is read from a CPU plan (frontend_mel_matrix), and
 * the delta weights come from dsp_polyfit_deriv_weights. */
#include "cuda/cuda_frontend.h"

#include <cufft.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/dsp.h"
#include "core/error.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_internal.h"
#include "frontend_kernels.h"

#define CUFFT_CHECK(call, what) fe_cufft_check((call), (what), __FILE__, __LINE__)

enum {
  DELTA_WIDTH = 9,                 /* librosa.feature.delta's default, as frontend.c */
  BATCH_FLOATS = 1 << 23,          /* default cap of one FFT batch's real input: 32 MiB */
  SHORT_WEIGHTS = 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 /* whole-row fits of 1 .. 8 frames */
};

static const char *cufft_result_name(cufftResult r) {
  switch (r) {
  case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
  case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
  case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
  case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
  case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
  case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
  case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
  case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
  case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
  case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
  case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
  case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
  case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
  case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
  default: return "unknown cuFFT status";
  }
}

static void fe_cufft_check(cufftResult r, const char *what, const char *file, int line) {
  if (r == CUFFT_SUCCESS) return;
  at_fatal("cuFFT failed %s (%s:%d): %s (status %d)%s", what, file, line, cufft_result_name(r), (int)r,
           r == CUFFT_ALLOC_FAILED ? ". Out of GPU memory: free the GPU, or use the CPU front end (backend = cpu)"
                                   : "");
}

/* A device buffer grown on demand and kept. */
typedef struct {
  float *p;
  size_t floats;
} DevBuf;

/* One batched 1-D plan. */
typedef struct {
  cufftHandle h;
  int batch; /* 0: no plan */
} FftPlan;

/* The plans of one direction, by batch size. A signal of F frames runs in
 * batches of the next power of two >= F, or of the cap when F reaches it
 * (batch_for), padded with silent frames whose outputs nobody reads; slot k
 * holds the plan of 2^k frames, or of the cap when 2^(k-1) < cap < 2^k. So
 * files of every length make at most ceil(log2 cap) + 1 plans per direction,
 * each once, instead of one per new frame count (each with a work area and a
 * wait on the stream), and a short file pads at most to twice its frames.
 * Not one plan at the cap: the default cap is 16384 frames at n_fft 512,
 * which would pad a 30 s clip's 1875 frames (16 kHz, hop 256) 8x in FFT
 * work and buffers (and the emulated tests run every padded FFT on the
 * CPU); the work areas of the kept plans add up to at most twice the
 * largest one's. */
enum { PLAN_SLOTS = 32 }; /* ceil(log2 INT_MAX) + 1 */
typedef struct {
  FftPlan at[PLAN_SLOTS];
} FftPlans;

struct CudaFrontEnd {
  FrontEndSpec spec;
  int n_fft, hop, n_freq, offset;
  int n_bands;  /* mel bands under the filterbank (mel n_bins, mfcc n_mels, stft 0) */
  int n_need;   /* spectrum bins the output reads (stft n_bins, mel: up to the last non-zero weight) */
  long max_batch;
  float *window;     /* [n_fft] */
  float *mel;        /* [n_bands, n_freq] */
  float *dct;        /* [n_mfcc, n_mels] */
  float *delta_c;    /* [2][DELTA_WIDTH]: the interior filters of orders 1 and 2 */
  double *delta_w;   /* [2][DELTA_WIDTH^2 + SHORT_WEIGHTS]: edge fits, then whole-row fits */
  float *reduce;     /* [ATK_REDUCE_BLOCKS + 1] the dB maximum */
  DevBuf in, real, cplx, power, melspec, out;
  FftPlans r2c, c2r;
};

/* A constant table to the GPU, once (waits: the host copy is freed next). */
static float *upload(const void *host, size_t bytes, const char *what) {
  void *d = NULL;
  CUDA_CHECK(cudaMalloc(&d, bytes ? bytes : 1), what);
  if (bytes) CUDA_CHECK(cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, at_cuda.stream), what);
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), what);
  return d;
}

static float *grow(DevBuf *b, size_t floats, const char *what) {
  if (floats <= b->floats) return b->p;
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "waiting before growing a front end buffer");
  if (b->p) CUDA_CHECK(cudaFree(b->p), "freeing a front end buffer");
  b->p = NULL;
  b->floats = 0;
  cudaError_t err = cudaMalloc((void **)&b->p, floats * sizeof(float));
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    at_fatal("out of GPU memory in the front end: %.1f MiB for %s: %s. Free the GPU, or compute features on the CPU "
             "(backend = cpu)",
             floats * sizeof(float) / 1048576.0, what, cudaGetErrorString(err));
  }
  b->floats = floats;
  return b->p;
}

static void dev_free(void *p) {
  if (p) CUDA_CHECK(cudaFree(p), "freeing front end memory");
}

/* ---- set-up ---- */

/* Offsets into one order's delta_w block. */
static size_t short_offset(int n) { /* sum of m^2 for m < n */
  return (size_t)DELTA_WIDTH * DELTA_WIDTH + (size_t)(n - 1) * n * (2 * n - 1) / 6;
}

/* dsp_savgol_interp's weights, for both orders: the edge fits of the full
 * filter (its centre row, rounded to float, is the interior filter) and the
 * whole-row fits used for rows shorter than the filter. */
static void delta_weights(float *c, double *w) {
  const size_t per = (size_t)DELTA_WIDTH * DELTA_WIDTH + SHORT_WEIGHTS;
  for (int order = 1; order <= 2; order++) {
    double *wo = w + (order - 1) * per;
    for (int t = 0; t < DELTA_WIDTH; t++)
      dsp_polyfit_deriv_weights(DELTA_WIDTH, order, order, (double)t, wo + (size_t)t * DELTA_WIDTH);
    for (int j = 0; j < DELTA_WIDTH; j++)
      c[(order - 1) * DELTA_WIDTH + j] = (float)wo[(size_t)(DELTA_WIDTH / 2) * DELTA_WIDTH + j];
    for (int n = 1; n < DELTA_WIDTH; n++) {
      const int deg = order < n - 1 ? order : n - 1;
      double *ws = wo + short_offset(n);
      for (int t = 0; t < n; t++) dsp_polyfit_deriv_weights(n, deg, order, (double)t, ws + (size_t)t * n);
    }
  }
}

CudaFrontEnd *cuda_frontend_create(const FrontEndSpec *s) {
  AT_ASSERT(at_cuda.ready && "start the CUDA backend (at_backend_cuda) before the GPU front end");
  at_cuda_select_device(); /* after the check: it selects the backend's configured GPU */
  AT_ASSERT(s->representation != REPR_WAVEFORM && "a waveform has no GPU front end: feature_maker copies it on the host");
  FrontEndPlan *cpu = frontend_plan_create(s); /* checks the spec; lends the mel filterbank */
  CudaFrontEnd *f = at_calloc(1, sizeof *f, "GPU front end");
  f->spec = *s;
  f->n_fft = s->n_fft;
  f->hop = s->hop;
  f->n_freq = s->n_fft / 2 + 1;
  f->offset = s->center ? s->n_fft / 2 : 0;
  f->n_bands = s->representation == REPR_MEL ? s->n_bins : s->representation == REPR_MFCC ? s->n_mels : 0;
  f->max_batch = 0;

  /* the window exactly as frontend_plan_create makes it */
  double *wd = at_malloc(sizeof(double) * f->n_fft, "window");
  float *wf = at_malloc(sizeof(float) * f->n_fft, "window");
  dsp_window(s->window, f->n_fft, wd);
  for (int i = 0; i < f->n_fft; i++) wf[i] = (float)wd[i];
  f->window = upload(wf, sizeof(float) * f->n_fft, "uploading the window");
  free(wd);
  free(wf);

  if (f->n_bands) {
    const float *mel = frontend_mel_matrix(cpu);
    const size_t nf = (size_t)f->n_freq;
    /* the GEMM stops at the last bin any filter weighs (the CPU's n_need) */
    f->n_need = 1;
    for (int m = 0; m < f->n_bands; m++)
      for (int k = f->n_freq - 1; k >= f->n_need; k--)
        if (mel[m * nf + k] != 0) {
          f->n_need = k + 1;
          break;
        }
    f->mel = upload(mel, sizeof(float) * f->n_bands * nf, "uploading the mel filterbank");
  } else {
    f->n_need = s->n_bins;
  }
  if (s->representation == REPR_MFCC) {
    const size_t n = (size_t)s->n_bins * s->n_mels;
    double *d = at_malloc(sizeof(double) * n, "DCT");
    float *df = at_malloc(sizeof(float) * n, "DCT");
    dsp_dct2_ortho(s->n_mels, s->n_bins, d);
    for (size_t i = 0; i < n; i++) df[i] = (float)d[i];
    f->dct = upload(df, sizeof(float) * n, "uploading the DCT");
    free(d);
    free(df);
    if (s->mfcc_deltas) {
      const size_t per = (size_t)DELTA_WIDTH * DELTA_WIDTH + SHORT_WEIGHTS;
      float c[2 * DELTA_WIDTH];
      double *w = at_malloc(sizeof(double) * 2 * per, "delta weights");
      delta_weights(c, w);
      f->delta_c = upload(c, sizeof c, "uploading the delta filters");
      f->delta_w = (double *)upload(w, sizeof(double) * 2 * per, "uploading the delta weights");
      free(w);
    }
  }
  CUDA_CHECK(cudaMalloc((void **)&f->reduce, sizeof(float) * (ATK_REDUCE_BLOCKS + 1)), "allocating the dB maximum");
  frontend_plan_free(cpu);
  return f;
}

static void plan_destroy(FftPlan *p) {
  if (p->batch) CUFFT_CHECK(cufftDestroy(p->h), "destroying an FFT plan");
  p->batch = 0;
}

/* The caller has waited for the stream. */
static void plans_destroy(FftPlans *ps) {
  for (int k = 0; k < PLAN_SLOTS; k++) plan_destroy(&ps->at[k]);
}

void cuda_frontend_free(CudaFrontEnd *f) {
  if (!f) return; /* nothing on the GPU */
  at_cuda_select_device();
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "waiting before freeing the front end");
  plans_destroy(&f->r2c);
  plans_destroy(&f->c2r);
  dev_free(f->window);
  dev_free(f->mel);
  dev_free(f->dct);
  dev_free(f->delta_c);
  dev_free(f->delta_w);
  dev_free(f->reduce);
  DevBuf *bufs[] = {&f->in, &f->real, &f->cplx, &f->power, &f->melspec, &f->out};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dev_free(bufs[i]->p);
  free(f);
}

void cuda_frontend_set_max_batch(CudaFrontEnd *f, long frames) { f->max_batch = frames > 0 ? frames : 0; }

/* The smallest k with 2^k >= n (n >= 1). */
static int ceil_log2(long n) {
  int k = 0;
  while ((1L << k) < n) k++;
  return k;
}

/* Frames per FFT batch for a signal of `frames` frames (FftPlans): the
 * plan's batch, which the buffers are sized for; the last batch is padded. */
static int batch_for(const CudaFrontEnd *f, long frames) {
  long cap = f->max_batch ? f->max_batch : BATCH_FLOATS / f->n_fft;
  if (cap < 1) cap = 1;
  if (cap > INT_MAX) cap = INT_MAX;
  if (frames >= cap) return (int)cap;
  const long pow2 = 1L << ceil_log2(frames);
  return (int)(pow2 < cap ? pow2 : cap);
}

/* The plan for this batch size (from batch_for), on the backend's stream,
 * made on first use and kept. */
static cufftHandle plan_for(FftPlans *ps, cufftType type, int n_fft, int batch) {
  FftPlan *p = &ps->at[ceil_log2(batch)];
  if (p->batch == batch) return p->h;
  if (p->batch) { /* the cap changed (set_max_batch): queued FFTs may still use the old plan */
    CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "waiting before replacing an FFT plan");
    plan_destroy(p);
  }
  int n = n_fft, real_len = n_fft, cplx_len = n_fft / 2 + 1;
  const int r2c = type == CUFFT_R2C;
  /* explicit layouts: frames n_fft floats apart, spectra n_fft/2 + 1 complex */
  CUFFT_CHECK(cufftPlanMany(&p->h, 1, &n, r2c ? &real_len : &cplx_len, 1, r2c ? real_len : cplx_len,
                            r2c ? &cplx_len : &real_len, 1, r2c ? cplx_len : real_len, type, batch),
              r2c ? "planning the STFT's batched real-to-complex FFTs (cufftPlanMany)"
                  : "planning the inverse STFT's batched complex-to-real FFTs (cufftPlanMany)");
  p->batch = batch;
  CUFFT_CHECK(cufftSetStream(p->h, at_cuda.stream), "binding an FFT plan to the stream (cufftSetStream)");
  return p->h;
}

/* ---- analysis ---- */

static void check_frames(long frames) {
  /* GEMM dimensions are ints */
  if (frames > INT_MAX) at_fatal("front end: %ld frames is too long a signal for the GPU front end", frames);
}

/* The signal (already in f->in) -> |X|^power (or the complex spectrum) of
 * bins [0, rows) into out[rows, frames], a batch of frames at a time. */
static void spectra(CudaFrontEnd *f, long samples, long frames, int mode, int rows, float *out) {
  const int batch = batch_for(f, frames);
  float *real = grow(&f->real, (size_t)batch * f->n_fft, "framed signal");
  float *cplx = grow(&f->cplx, (size_t)batch * f->n_freq * 2, "spectra");
  cufftHandle plan = plan_for(&f->r2c, CUFFT_R2C, f->n_fft, batch);
  for (long t0 = 0; t0 < frames; t0 += batch) {
    const int nb = frames - t0 < batch ? (int)(frames - t0) : batch;
    atk_fe_frame(f->in.p, samples, f->window, f->n_fft, f->hop, f->offset, f->spec.pad == PAD_REFLECT, t0, nb, batch,
                 real, at_cuda.stream);
    KERNEL_CHECK("fe_frame");
    CUFFT_CHECK(cufftExecR2C(plan, real, (cufftComplex *)cplx), "computing the STFT (cufftExecR2C)");
    atk_fe_spectrum(cplx, nb, f->n_freq, rows, mode, out, frames, t0, at_cuda.stream);
    KERNEL_CHECK("fe_spectrum");
  }
}

/* Row-major GEMM in full FP32: the filterbank and the DCT are held to the
 * CPU's numbers, which TF32's 10-bit mantissa would not meet. */
static void fe_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
  if (at_cuda.opt.tf32)
    CUBLAS_CHECK(cublasSetMathMode(at_cuda.blas, CUBLAS_DEFAULT_MATH), "switching cuBLAS to FP32 for the front end");
  at_cuda_sgemm(0, 0, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  if (at_cuda.opt.tf32)
    CUBLAS_CHECK(cublasSetMathMode(at_cuda.blas, CUBLAS_TF32_TENSOR_OP_MATH), "switching cuBLAS back to TF32");
}

static void compress(CudaFrontEnd *f, float *x, size_t n) {
  const FrontEndSpec *s = &f->spec;
  if (s->compression == COMPRESS_DB) {
    /* dsp_power_to_db's constants, rounded as it rounds them */
    const float amin = s->db_amin > FLT_MIN ? (float)s->db_amin : FLT_MIN;
    const float scale = (float)(10.0 / M_LN10);
    const float offset = (float)(10.0 * log10(s->db_amin > s->db_ref ? s->db_amin : s->db_ref));
    atk_fe_power_to_db(x, n, amin, scale, offset, s->db_top_db > 0 ? (float)s->db_top_db : 0.0f, f->reduce,
                       at_cuda.stream);
    KERNEL_CHECK("fe_power_to_db");
  } else if (s->compression == COMPRESS_LOG10_1P) {
    atk_fe_log10_1p(x, n, (float)s->log_c, at_cuda.stream);
    KERNEL_CHECK("fe_log10_1p");
  } else if (s->compression == COMPRESS_LOG10_1P_HALF) {
    atk_fe_log10_1p_half(x, n, (float)s->log_c, at_cuda.stream);
    KERNEL_CHECK("fe_log10_1p_half");
  }
}

/* Deltas of orders 1 and 2 of the n_mfcc rows at out into the next 2 n_mfcc. */
static void deltas(CudaFrontEnd *f, float *out, long frames) {
  const int n_mfcc = f->spec.n_bins;
  const size_t per = (size_t)DELTA_WIDTH * DELTA_WIDTH + SHORT_WEIGHTS;
  for (int order = 1; order <= 2; order++) {
    const double *w = f->delta_w + (order - 1) * per;
    const float *c = f->delta_c + (order - 1) * DELTA_WIDTH;
    float *y = out + (size_t)order * n_mfcc * frames;
    if (frames >= DELTA_WIDTH) /* librosa's filter, polynomial edges */
      atk_fe_savgol(out, y, n_mfcc, frames, frames, DELTA_WIDTH, DELTA_WIDTH / 2, c, w, at_cuda.stream);
    else /* one polynomial over the whole short row, as frontend.c does */
      atk_fe_savgol(out, y, n_mfcc, frames, frames, (int)frames, (int)frames, c, w + short_offset((int)frames),
                    at_cuda.stream);
    KERNEL_CHECK("fe_savgol");
  }
}

static void signal_up(CudaFrontEnd *f, const float *signal, long samples) {
  float *d = grow(&f->in, (size_t)samples, "the signal");
  CUDA_CHECK(cudaMemcpyAsync(d, signal, sizeof(float) * (size_t)samples, cudaMemcpyHostToDevice, at_cuda.stream),
             "copying the signal to the GPU");
}

static void result_down(void *host, const float *dev, size_t floats, const char *what) {
  CUDA_CHECK(cudaMemcpyAsync(host, dev, sizeof(float) * floats, cudaMemcpyDeviceToHost, at_cuda.stream), what);
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), what);
}

void cuda_frontend_compute(CudaFrontEnd *f, const float *signal, long samples, float *features) {
  at_cuda_select_device();
  const FrontEndSpec *s = &f->spec;
  const long frames = frontend_frames(s, samples);
  if (frames == 0) return;
  check_frames(frames);
  const int rows = frontend_rows(s), mode = s->power == 2 ? ATK_FE_POWER : ATK_FE_MAGNITUDE;
  const int nt = (int)frames;
  float *out = grow(&f->out, (size_t)rows * frames, "features");
  signal_up(f, signal, samples);
  if (s->representation == REPR_STFT) {
    spectra(f, samples, frames, mode, s->n_bins, out);
    compress(f, out, (size_t)s->n_bins * frames);
  } else {
    float *power = grow(&f->power, (size_t)f->n_need * frames, "spectrogram");
    spectra(f, samples, frames, mode, f->n_need, power);
    const int n_freq = f->n_freq, n_need = f->n_need, bands = f->n_bands;
    if (s->representation == REPR_MEL) {
      fe_sgemm(bands, nt, n_need, f->mel, n_freq, power, nt, out, nt);
      compress(f, out, (size_t)bands * frames);
    } else { /* mfcc: the DCT-II (ortho) of the dB mel spectrogram, then deltas */
      float *mel = grow(&f->melspec, (size_t)bands * frames, "mel spectrogram");
      fe_sgemm(bands, nt, n_need, f->mel, n_freq, power, nt, mel, nt);
      compress(f, mel, (size_t)bands * frames);
      fe_sgemm(s->n_bins, nt, bands, f->dct, bands, mel, nt, out, nt);
      if (s->mfcc_deltas) deltas(f, out, frames);
    }
  }
  result_down(features, out, (size_t)rows * frames, "copying the features from the GPU");
}

void cuda_frontend_stft(CudaFrontEnd *f, const float *signal, long samples, float *spectrum) {
  at_cuda_select_device();
  const long frames = frontend_frames(&f->spec, samples);
  if (frames == 0) return;
  check_frames(frames);
  float *out = grow(&f->out, (size_t)2 * f->n_freq * frames, "STFT");
  signal_up(f, signal, samples);
  spectra(f, samples, frames, ATK_FE_COMPLEX, f->n_freq, out);
  result_down(spectrum, out, (size_t)2 * f->n_freq * frames, "copying the STFT from the GPU");
}

/* ---- synthesis ---- */

void cuda_frontend_istft(CudaFrontEnd *f, const float *spectrum, long frames, float *signal, long samples) {
  at_cuda_select_device();
  if (samples <= 0) return;
  const int n = f->n_fft, hop = f->hop;
  /* the frames that reach the output, as frontend_istft counts them */
  const long padded = samples + 2L * f->offset;
  long used = (padded + hop - 1) / hop;
  if (used > frames) used = frames;
  if (used <= 0) {
    memset(signal, 0, sizeof(float) * (size_t)samples);
    return;
  }
  check_frames(frames);
  const long total = n + (long)hop * (used - 1);
  const long keep = total - f->offset < samples ? total - f->offset : samples;
  const int batch = batch_for(f, used);
  const long batches = (used + batch - 1) / batch;
  float *in = grow(&f->in, (size_t)2 * f->n_freq * frames, "the spectrum");
  CUDA_CHECK(cudaMemcpyAsync(in, spectrum, sizeof(float) * 2 * (size_t)f->n_freq * (size_t)frames,
                             cudaMemcpyHostToDevice, at_cuda.stream),
             "copying the spectrum to the GPU");
  /* every batch's frames, the last one padded, stay for the overlap-add,
   * which reads the first `used` (padded frames' C2R output is never read) */
  float *real = grow(&f->real, (size_t)batches * batch * n, "inverse FFTs");
  float *cplx = grow(&f->cplx, (size_t)batch * f->n_freq * 2, "spectra");
  cufftHandle plan = plan_for(&f->c2r, CUFFT_C2R, n, batch);
  for (long t0 = 0; t0 < used; t0 += batch) {
    const int nb = used - t0 < batch ? (int)(used - t0) : batch;
    atk_fe_unspectrum(in, frames, f->n_freq, t0, nb, batch, cplx, at_cuda.stream);
    KERNEL_CHECK("fe_unspectrum");
    CUFFT_CHECK(cufftExecC2R(plan, (cufftComplex *)cplx, real + (size_t)t0 * n),
                "computing the inverse STFT (cufftExecC2R)");
  }
  float *out = grow(&f->out, (size_t)samples, "the signal");
  atk_fe_overlap_add(real, used, n, hop, f->offset, f->window, 1.0f / n, keep, out, samples, at_cuda.stream);
  KERNEL_CHECK("fe_overlap_add");
  result_down(signal, out, (size_t)samples, "copying the signal from the GPU");
}

/* ---- registration with the rest of auratag (audio/feature_maker.h) ---- */

static void *ops_create(const FrontEndSpec *s) { return cuda_frontend_create(s); }
static void ops_release(void *f) { cuda_frontend_free(f); }
static void ops_compute(void *f, const float *signal, long samples, float *features) {
  cuda_frontend_compute(f, signal, samples, features);
}
static void ops_stft(void *f, const float *signal, long samples, float *spectrum) {
  cuda_frontend_stft(f, signal, samples, spectrum);
}
static void ops_istft(void *f, const float *spectrum, long frames, float *signal, long samples) {
  cuda_frontend_istft(f, spectrum, frames, signal, samples);
}

static const GpuFrontEndOps k_ops = {ops_create, ops_release, ops_compute, ops_stft, ops_istft};

const GpuFrontEndOps *cuda_frontend_ops(void) { return &k_ops; }
