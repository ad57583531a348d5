/* Test double of cuBLAS on OpenBLAS (tests only). cuBLAS is column-major:
 * cblas_sgemm is called with CblasColMajor and the same arguments, so the
 * backend's operand swap for row-major data is exercised as it is on a GPU.
 * Leading dimensions are checked as cuBLAS does. */
#include <cblas.h>
#include <cublas_v2.h>
#include <stdlib.h>

#include "fake_cuda.h"

long fake_cublas_gemm_calls;

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
  static int the_handle;
  *handle = (cublasHandle_t)(void *)&the_handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  (void)handle;
  (void)stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  (void)handle;
  (void)mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta,
                              float *c, int ldc) {
  (void)handle;
  if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
  if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1))
    return CUBLAS_STATUS_INVALID_VALUE;
  fake_cublas_gemm_calls++;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  /* BLAS semantics: with beta == 0, C is not read (it may hold NaN) */
  if (*beta == 0.0f)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) c[(size_t)j * ldc + i] = 0.0f;
  cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
              m, n, k, *alpha, a, lda, b, ldb, *beta, c, ldc);
  return CUBLAS_STATUS_SUCCESS;
}
