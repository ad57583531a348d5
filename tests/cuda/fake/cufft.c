/* Test double of cuFFT on FFTW (tests only; ./auratag links the real
 * libcufft). The batched 1-D real transforms the GPU front end uses:
 * cufftPlanMany (rank 1, R2C or C2R, basic or advanced layout), cufftSetStream,
 * cufftExecR2C, cufftExecC2R (unnormalised, as cuFFT's and FFTW's are) and
 * cufftDestroy. Each cuFFT plan is an FFTW plan_many with FFTW_ESTIMATE |
 * FFTW_UNALIGNED, executed on the caller's arrays ("device" memory is host
 * memory here). Arguments are checked as cuFFT documents; what cuFFT supports
 * but the front end does not use (C2C, doubles, rank > 1, in-place) answers
 * CUFFT_NOT_IMPLEMENTED, so a new use shows up as a clear failure. A plan
 * belongs to the device current when it was made: executing it with another
 * device current answers CUFFT_INVALID_DEVICE ("execution of a plan was on
 * different GPU than plan creation"); a stream or memory of another device
 * fails too. Execution runs the stream's queued work first (stream order). */
#include <cufft.h>
#include <fftw3.h>
#include <stdlib.h>

#include "fake_cuda.h"

enum { MAX_PLANS = 64 };

typedef struct {
  int live;
  cufftType type;
  int n, batch, istride, idist, ostride, odist; /* the layout, for C2R's Hermitian check */
  size_t in_bytes, out_bytes;                   /* the extents the transforms read and write */
  int device;
  cudaStream_t stream;
  fftwf_plan plan;
} FakePlan;

static FakePlan plans[MAX_PLANS];
long fake_cufft_live_plans; /* made and not yet destroyed */
long fake_cufft_plans_made; /* cufftPlanMany successes (plan caching) */
long fake_cufft_exec_calls;

/* Handles are 1 + the slot: 0 (a zeroed handle) is never valid. */
static FakePlan *plan_of(cufftHandle h) {
  if (h < 1 || h > MAX_PLANS || !plans[h - 1].live) return NULL;
  return &plans[h - 1];
}

cufftResult cufftPlanMany(cufftHandle *plan, int rank, int *n, int *inembed, int istride, int idist, int *onembed,
                          int ostride, int odist, cufftType type, int batch) {
  if (!plan || !n) return CUFFT_INVALID_VALUE;
  if (type == CUFFT_C2C || type == CUFFT_D2Z || type == CUFFT_Z2D || type == CUFFT_Z2Z) return CUFFT_NOT_IMPLEMENTED;
  if (type != CUFFT_R2C && type != CUFFT_C2R) return CUFFT_INVALID_TYPE;
  if (rank < 1 || rank > 3) return CUFFT_INVALID_VALUE;
  if (rank != 1) return CUFFT_NOT_IMPLEMENTED;
  if (n[0] < 2 || batch < 1) return CUFFT_INVALID_SIZE;
  const int real_len = n[0], cplx_len = n[0] / 2 + 1;
  const int in_len = type == CUFFT_R2C ? real_len : cplx_len, out_len = type == CUFFT_R2C ? cplx_len : real_len;
  /* NULL embeds: the basic layout, the strides and distances are ignored */
  if (!inembed || !onembed) {
    inembed = onembed = NULL;
    istride = ostride = 1;
    idist = in_len;
    odist = out_len;
  } else if (inembed[0] < in_len || onembed[0] < out_len || istride < 1 || ostride < 1 || idist < 1 || odist < 1) {
    return CUFFT_INVALID_VALUE;
  }
  int slot = 0;
  while (slot < MAX_PLANS && plans[slot].live) slot++;
  if (slot == MAX_PLANS) return CUFFT_ALLOC_FAILED;
  /* FFTW plans on arrays of the layout's extent; FFTW_ESTIMATE does not touch them */
  const size_t in_extent = (size_t)(batch - 1) * idist + (size_t)(in_len - 1) * istride + 1;
  const size_t out_extent = (size_t)(batch - 1) * odist + (size_t)(out_len - 1) * ostride + 1;
  const size_t in_bytes = in_extent * (type == CUFFT_R2C ? sizeof(float) : sizeof(fftwf_complex));
  const size_t out_bytes = out_extent * (type == CUFFT_R2C ? sizeof(fftwf_complex) : sizeof(float));
  void *in = fftwf_malloc(in_bytes), *out = fftwf_malloc(out_bytes);
  if (!in || !out) {
    fftwf_free(in);
    fftwf_free(out);
    return CUFFT_ALLOC_FAILED;
  }
  const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED; /* executed on other, arbitrarily aligned arrays */
  fftwf_plan p = type == CUFFT_R2C ? fftwf_plan_many_dft_r2c(1, n, batch, in, inembed, istride, idist, out, onembed,
                                                             ostride, odist, flags)
                                   : fftwf_plan_many_dft_c2r(1, n, batch, in, inembed, istride, idist, out, onembed,
                                                             ostride, odist, flags);
  fftwf_free(in);
  fftwf_free(out);
  if (!p) return CUFFT_SETUP_FAILED;
  plans[slot] = (FakePlan){.live = 1, .type = type, .n = n[0], .batch = batch, .istride = istride, .idist = idist,
                           .ostride = ostride, .odist = odist, .in_bytes = in_bytes, .out_bytes = out_bytes,
                           .device = fake_cuda_current_device(), .plan = p};
  *plan = slot + 1;
  fake_cufft_live_plans++;
  fake_cufft_plans_made++;
  return CUFFT_SUCCESS;
}

cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream) {
  FakePlan *p = plan_of(plan);
  if (!p) return CUFFT_INVALID_PLAN;
  if (fake_cuda_stream_device(stream) != p->device) return CUFFT_INVALID_VALUE;
  p->stream = stream;
  return CUFFT_SUCCESS;
}

/* The device checks of an execution; then the stream's queued work runs. */
static cufftResult ready_to_run(FakePlan *p, const void *in, const void *out) {
  if (fake_cuda_current_device() != p->device) return CUFFT_INVALID_DEVICE;
  if (fake_cuda_memory_device(in, p->in_bytes) != p->device || fake_cuda_memory_device(out, p->out_bytes) != p->device)
    return CUFFT_EXEC_FAILED;
  fake_cuda_stream_run(p->stream);
  return CUFFT_SUCCESS;
}

cufftResult cufftExecR2C(cufftHandle plan, cufftReal *idata, cufftComplex *odata) {
  FakePlan *p = plan_of(plan);
  if (!p || p->type != CUFFT_R2C) return CUFFT_INVALID_PLAN;
  if (!idata || !odata) return CUFFT_INVALID_VALUE;
  if ((void *)idata == (void *)odata) return CUFFT_NOT_IMPLEMENTED; /* planned out of place */
  cufftResult r = ready_to_run(p, idata, odata);
  if (r != CUFFT_SUCCESS) return r;
  fftwf_execute_dft_r2c(p->plan, idata, (fftwf_complex *)odata);
  fake_cufft_exec_calls++;
  return CUFFT_SUCCESS;
}

cufftResult cufftExecC2R(cufftHandle plan, cufftComplex *idata, cufftReal *odata) {
  FakePlan *p = plan_of(plan);
  if (!p || p->type != CUFFT_C2R) return CUFFT_INVALID_PLAN;
  if (!idata || !odata) return CUFFT_INVALID_VALUE;
  if ((void *)idata == (void *)odata) return CUFFT_NOT_IMPLEMENTED;
  cufftResult r = ready_to_run(p, idata, odata);
  if (r != CUFFT_SUCCESS) return r;
  /* cuFFT's C2R assumes Hermitian input: a non-zero imaginary part at DC or
   * (n even) Nyquist gives undefined results, where FFTW ignores it. Such a
   * transform's output is NaN here, so that a caller passing one shows. */
  const int nc = p->n / 2 + 1;
  int *bad = calloc((size_t)p->batch, sizeof(int));
  if (!bad) return CUFFT_ALLOC_FAILED;
  for (int b = 0; b < p->batch; b++) {
    const cufftComplex *z = idata + (size_t)b * p->idist;
    bad[b] = z[0].y != 0 || (p->n % 2 == 0 && z[(size_t)(nc - 1) * p->istride].y != 0);
  }
  /* like cuFFT's out-of-place C2R, FFTW's may overwrite the input */
  fftwf_execute_dft_c2r(p->plan, (fftwf_complex *)idata, odata);
  for (int b = 0; b < p->batch; b++)
    if (bad[b])
      for (int i = 0; i < p->n; i++) odata[(size_t)b * p->odist + (size_t)i * p->ostride] = __builtin_nanf("");
  free(bad);
  fake_cufft_exec_calls++;
  return CUFFT_SUCCESS;
}

cufftResult cufftDestroy(cufftHandle plan) {
  FakePlan *p = plan_of(plan);
  if (!p) return CUFFT_INVALID_PLAN;
  fftwf_destroy_plan(p->plan);
  p->live = 0;
  fake_cufft_live_plans--;
  return CUFFT_SUCCESS;
}
