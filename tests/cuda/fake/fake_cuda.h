/* Knobs of the CUDA test doubles (tests/cuda/fake/). */
#ifndef AT_FAKE_CUDA_H
#define AT_FAKE_CUDA_H

#include <stddef.h>

extern long fake_cuda_live_allocations;   /* cudaMalloc'd and not yet freed */
extern size_t fake_cuda_fail_after_bytes; /* cudaMalloc fails beyond this total */
extern long fake_cublas_gemm_calls;
extern long fake_cuda_pinned_allocations; /* cudaMallocHost'd and not yet freed */

#endif
