/* The CUDA backend: the production path. One process drives one GPU.
 *
 *  - convolutions: cuDNN (algorithm per layer shape, cached; one workspace
 *    shared by all layers, capped), or im2col kernels + cuBLAS (`gemm`
 *    engine: builds without cuDNN, tests on the CPU, a cross-check);
 *  - batch norm per channel: cuDNN; per frequency, and with the gemm
 *    engine: kernels/batchnorm.cu;
 *  - dense layers: cuBLAS (row-major through the operand swap);
 *  - everything else: the hand-written kernels of kernels/ (kernels.h).
 * All work is queued on one stream; to_host waits for it. Batch uploads
 * run on a second stream, ordered after the work queued before them.
 *
 * Threads: the current GPU is a property of each host thread (it starts at
 * device 0), while the backend's streams, memory, cuBLAS/cuDNN handles and
 * cuFFT plans belong to the configured device. So every entry point — the
 * Backend table's operations, at_backend_cuda, the GPU front end
 * (cuda_frontend.h) and the NCCL all-reduce — first makes the configured
 * device current on the calling thread (at_cuda_select_device), and any
 * thread may call them; calls must not overlap (one stream, one caller at a
 * time: prep's workers take turns). A new entry point does the same. */
#ifndef AT_CUDA_BACKEND_H
#define AT_CUDA_BACKEND_H

#include <stddef.h>

#include "nn/backend.h"
#include "config/device_settings.h"

/* Number of usable GPUs, or 0 with the reason in why (no driver, no device). */
int cuda_device_count(char *why, size_t why_size);

/* The backend, initialised on first call with the given options (NULL:
 * defaults); later calls return the same table (options must agree). Stops
 * with a clear message when no GPU can be used. */
const Backend *at_backend_cuda(const CudaOptions *opt);

/* NCCL sum of n floats on the device across the ranks (dist_register_device_allreduce). */
int cuda_nccl_allreduce(float *buf, size_t n, double timeout);

/* What the backend runs: device name, engine, math mode (for logs). */
const char *cuda_backend_description(void);

#endif
