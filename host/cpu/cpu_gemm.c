/* Row-major SGEMM for the CPU backend: C = alpha * op(A) . op(B) + beta * C.
 *
 * Two providers, both threaded on the process's OpenMP pool (libgomp):
 *  - oneDNN's dnnl_sgemm (default): its JIT picks kernels from the CPU's ISA
 *    flags, so it uses AVX-512 on any CPU that has it;
 *  - OpenBLAS's cblas_sgemm: Debian's 0.3.21 DYNAMIC_ARCH build picks kernels
 *    by CPU model and falls back to Haswell (AVX2) kernels on CPUs newer than
 *    it knows (e.g. AMD family 1Ah), about half the speed.
 * AURATAG_GEMM=openblas selects OpenBLAS (read once, at the first call). Both
 * are deterministic for a fixed shape and thread count. */
#include <cblas.h>
#include <dnnl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

enum { GEMM_UNSET = 0, GEMM_ONEDNN = 1, GEMM_OPENBLAS = 2 };
static atomic_int g_provider;

static int provider(void) {
  int p = atomic_load_explicit(&g_provider, memory_order_relaxed);
  if (p != GEMM_UNSET) return p;
  const char *env = getenv("AURATAG_GEMM");
  p = GEMM_ONEDNN;
  if (env && *env) {
    if (!strcmp(env, "openblas"))
      p = GEMM_OPENBLAS;
    else if (strcmp(env, "onednn") != 0)
      at_fatal("AURATAG_GEMM=%s is not a GEMM provider; use onednn (default) or openblas", env);
  }
  atomic_store(&g_provider, p);
  return p;
}

const char *at_cpu_gemm_provider(void) { return provider() == GEMM_OPENBLAS ? "openblas" : "onednn"; }

void at_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0) return;
  AT_ASSERT(k > 0);
  if (provider() == GEMM_OPENBLAS) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b,
                                ldb, beta, c, ldc);
  if (st != dnnl_success)
    at_die_at(__FILE__, __LINE__, "dnnl_sgemm(%c, %c, %d, %d, %d) failed with status %d",
              trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, (int)st);
}
