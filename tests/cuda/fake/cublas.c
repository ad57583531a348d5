/* Test double of cuBLAS on OpenBLAS (tests only). cuBLAS is column-major:
 * cblas_sgemm is called with CblasColMajor and the same arguments, so the
 * backend's operand swap for row-major data is exercised as it is on a GPU.
 * Leading dimensions are checked as cuBLAS does. A handle belongs to the
 * device current at cublasCreate ("one handle per device"): using it with
 * another device current, a stream of another device or memory that is not
 * that device's fails. With CUBLAS_TF32_TENSOR_OP_MATH the inputs are
 * rounded to TF32 (10-bit mantissa) first, as tensor cores do. */
#include <cblas.h>
#include <cublas_v2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cuda.h"

long fake_cublas_gemm_calls;

typedef struct FakeBlas {
  int device;
  cudaStream_t stream;
  cublasMath_t math;
} FakeBlas;

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
  FakeBlas *h = calloc(1, sizeof *h); /* kept to the end, as the backend keeps its handle */
  if (!h) return CUBLAS_STATUS_ALLOC_FAILED;
  h->device = fake_cuda_current_device();
  h->math = CUBLAS_DEFAULT_MATH;
  *handle = (cublasHandle_t)(void *)h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  FakeBlas *h = (FakeBlas *)(void *)handle;
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (fake_cuda_stream_device(stream) != h->device) return CUBLAS_STATUS_INVALID_VALUE;
  h->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  FakeBlas *h = (FakeBlas *)(void *)handle;
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

static float *tf32_copy(const float *m, int ld, int rows, int cols) {
  const size_t n = (size_t)ld * (size_t)(cols - 1) + (size_t)rows;
  float *c = malloc(n * sizeof *c);
  if (!c) abort();
  for (size_t i = 0; i < n; i++) c[i] = fake_tf32(m[i]);
  return c;
}

/* Column-major rows x cols with leading dimension ld, on the handle's device. */
static int on_device(const FakeBlas *h, const float *m, int ld, int rows, int cols) {
  if (rows == 0 || cols == 0) return 1;
  const size_t bytes = sizeof(float) * ((size_t)ld * (size_t)(cols - 1) + (size_t)rows);
  return fake_cuda_memory_device(m, bytes) == h->device;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta,
                              float *c, int ldc) {
  FakeBlas *h = (FakeBlas *)(void *)handle;
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
  const int a_cols = ta == CUBLAS_OP_N ? k : m, b_cols = tb == CUBLAS_OP_N ? n : k;
  if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1))
    return CUBLAS_STATUS_INVALID_VALUE;
  /* another device current, or memory the kernel cannot reach: its launch fails */
  if (fake_cuda_current_device() != h->device || !on_device(h, a, lda, a_rows, a_cols) ||
      !on_device(h, b, ldb, b_rows, b_cols) || !on_device(h, c, ldc, m, n))
    return CUBLAS_STATUS_EXECUTION_FAILED;
  fake_cuda_stream_run(h->stream);
  fake_cublas_gemm_calls++;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  /* BLAS semantics: with beta == 0, C is not read (it may hold NaN) */
  if (*beta == 0.0f)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) c[(size_t)j * ldc + i] = 0.0f;
  if (k == 0) return CUBLAS_STATUS_SUCCESS;
  const int tf32 = h->math == CUBLAS_TF32_TENSOR_OP_MATH && fake_tf32_allowed();
  float *a32 = tf32 ? tf32_copy(a, lda, a_rows, a_cols) : NULL, *b32 = tf32 ? tf32_copy(b, ldb, b_rows, b_cols) : NULL;
  cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
              m, n, k, *alpha, tf32 ? a32 : a, lda, tf32 ? b32 : b, ldb, *beta, c, ldc);
  free(a32);
  free(b32);
  return CUBLAS_STATUS_SUCCESS;
}
