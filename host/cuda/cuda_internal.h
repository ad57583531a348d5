/* State shared by the files of the CUDA backend (host/cuda/ only). */
#ifndef AT_CUDA_INTERNAL_H
#define AT_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "cuda/cuda_backend.h"
#include "config/device_settings.h"

/* Device scratch slots, each grown on demand and kept: one per purpose so
 * that an operation never hands out a buffer it is still reading. */
enum {
  AT_SCRATCH_COL = 0,   /* im2col columns (gemm engine) */
  AT_SCRATCH_PAD_X,     /* zero-padded input (asymmetric padding) */
  AT_SCRATCH_PAD_DX,    /* its gradient */
  AT_SCRATCH_BN,        /* a dx nobody asked for (cuDNN batch norm writes one) */
  AT_SCRATCH_CHAIN,     /* batch norm -> ReLU -> max-pool: the inner tensor, shared by every chain */
  AT_SCRATCH_CHAIN_DY,  /* and its pooled gradient where the ReLU passed (or zeros, frozen) */
  AT_CUDA_SCRATCH_SLOTS
};

typedef struct CudaContext {
  int ready;
  CudaOptions opt;
  cudaStream_t stream;
  cudaStream_t copy_stream;  /* input uploads beside the computation */
  cudaEvent_t uploaded[2];   /* per upload slot */
  cudaEvent_t compute_mark;  /* uploads wait for the compute stream's work queued before them */
  cublasHandle_t blas;
  int cudnn;          /* convolutions and per-channel BN through cuDNN */
  double *reduce;     /* ATK_REDUCE_BLOCKS partial sums + 1 result */
  unsigned *count;    /* non-finite counter */
  float *scratch[AT_CUDA_SCRATCH_SLOTS];
  size_t scratch_floats[AT_CUDA_SCRATCH_SLOTS];
  char description[512];
} CudaContext;

extern CudaContext at_cuda;

/* Makes the configured GPU current on the calling thread. The current
 * device is per host thread and starts at 0, so every entry point of the
 * backend and the front end calls this first: work reached from another
 * thread (prep's workers, an MPI rank's local GPU N) must not land on GPU 0. */
void at_cuda_select_device(void);

float *at_cuda_scratch(int slot, size_t floats);
/* Row-major GEMM with at_cpu_sgemm's arguments, on cuBLAS. */
void at_cuda_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                   int ldb, float beta, float *c, int ldc);

/* The CUSTOM operations of AT_BACKEND_OPS (nn/backend.h), written by hand:
 * at_cuda_conv2d_* in cuda_conv.c, the others in cuda_backend.c. The KERNEL
 * operations need no code here: cuda_backend.c wraps their launchers. */
#define AT_CUDA_DECL_MEM(ret, name, params)
#define AT_CUDA_DECL_KERNEL(ret, name, params)
#define AT_CUDA_DECL_CUSTOM(ret, name, params) ret at_cuda_##name params;
#define AT_CUDA_DECL(kind, ret, name, params, args) AT_CUDA_DECL_##kind(ret, name, params)
AT_BACKEND_OPS(AT_CUDA_DECL)

#endif
