/* Checked calls into the CUDA runtime and libraries: a failure stops with
 * what was being done, where, the library's own words and what to try
 * (llm.c's cudaCheck, with the reason spelled out). Private to host/cuda/. */
#ifndef AT_CUDA_CHECK_H
#define AT_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/error.h"

#define CUDA_CHECK(call, what) at_cuda_check((call), (what), __FILE__, __LINE__)
#define CUBLAS_CHECK(call, what) at_cublas_check((call), (what), __FILE__, __LINE__)
/* After a kernel launch: a bad launch configuration shows up here. */
#define KERNEL_CHECK(name) at_cuda_check(cudaGetLastError(), "launching kernel " name, __FILE__, __LINE__)

void at_cuda_check(cudaError_t err, const char *what, const char *file, int line);
void at_cublas_check(cublasStatus_t st, const char *what, const char *file, int line);

#endif
