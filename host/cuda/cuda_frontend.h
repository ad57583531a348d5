/* The front end on the GPU: the twin of host/audio/frontend.h's
 * frontend_compute / frontend_stft / frontend_istft, with the same contracts
 * (host signal in, host features out, [rows, frames] row-major) and the same
 * numerics up to rounding: cuFFT for the FFTs, cuBLAS (FP32, never TF32) for
 * the mel filterbank and the DCT with the matrices the CPU plan uses, and
 * kernels/frontend.cu for the rest. Only in builds with the CUDA backend
 * (host/cuda/); the rest of auratag reaches it through a registered pointer.
 *
 * The CUDA backend must be started first (at_backend_cuda): the front end
 * queues its work on the backend's stream and cuBLAS handle. One call at a
 * time per front end, from the thread that drives the backend; each entry
 * point but set_max_batch first makes the backend's GPU current on the
 * calling thread (at_cuda_select_device). */
#ifndef AT_CUDA_FRONTEND_H
#define AT_CUDA_FRONTEND_H

#include "audio/feature_maker.h"
#include "audio/frontend.h"

typedef struct CudaFrontEnd CudaFrontEnd;

/* Checks the spec (as frontend_plan_create, same messages) and uploads the
 * window, the mel filterbank, the DCT and the delta weights once. */
CudaFrontEnd *cuda_frontend_create(const FrontEndSpec *s);
void cuda_frontend_free(CudaFrontEnd *f);

/* frontend_compute: features [frontend_rows, frontend_frames(samples)]. */
void cuda_frontend_compute(CudaFrontEnd *f, const float *signal, long samples, float *features);
/* frontend_stft: [n_fft/2 + 1, frames] complex as interleaved (re, im). */
void cuda_frontend_stft(CudaFrontEnd *f, const float *signal, long samples, float *spectrum);
/* frontend_istft: `frames` is the spectrum's column count; writes `samples`. */
void cuda_frontend_istft(CudaFrontEnd *f, const float *spectrum, long frames, float *signal, long samples);

/* The FFTs run over batches of at most this many frames: a signal of F
 * frames in batches of the next power of two >= F, or of this cap, the last
 * batch padded with silent frames; cuFFT plans are made once per batch size
 * and kept (at most ceil(log2 cap) + 1 per direction). 0: the default, about
 * 32 MiB of frames. For tests, which use it to cross batch boundaries on
 * short signals. */
void cuda_frontend_set_max_batch(CudaFrontEnd *f, long frames);

/* The table main() registers (at_frontend_register_gpu). */
const GpuFrontEndOps *cuda_frontend_ops(void);

#endif
