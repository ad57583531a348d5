/* The CUDA backend's host code, run on the CPU: its Backend table drives the
 * emulated kernels (kernels/cuemu.h), cuBLAS calls go to the OpenBLAS test
 * double and the CUDA runtime to a malloc-based one (tests/cuda/fake/);
 * cuDNN is absent, so convolutions take the gemm engine. The same op-by-op
 * and training comparisons run against a real GPU in `auratag selftest`.
 * Also: freed memory balances, running out of GPU memory names the cause. */
#include <string.h>

#include "cuda/cuda_backend.h"
#include "fake/fake_cuda.h"
#include "kernel_test.h"
#include "selftest/backend_compare.h"
#include "nn/model.h"

static void oom_child(const void *arg) {
  const Backend *be = at_backend_cuda((const CudaOptions *)arg);
  fake_cuda_fail_after_bytes = 0;
  be->alloc(1 << 20);
}

static void bad_device_child(const void *arg) {
  (void)arg;
  CudaOptions o = at_cuda_default_options();
  o.device = 3;
  at_backend_cuda(&o);
}

int main(void) {
  CudaOptions opt = at_cuda_default_options();
  opt.deterministic = 1;
  /* failures first, in children, before this process starts the backend */
  char msg[2048];
  int status = run_in_child(oom_child, &opt, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "out of GPU memory") && strstr(msg, "batch"),
        "allocation failure: status %d, message: %s", status, msg);
  status = run_in_child(bad_device_child, NULL, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "cuda.device = 3"), "bad device: status %d, message: %s", status, msg);

  const Backend *cuda = at_backend_cuda(&opt), *cpu = at_backend_cpu();
  printf("backend: %s\n", cuda_backend_description());
  CHECK(strstr(cuda_backend_description(), "im2col + cuBLAS") != NULL, "without cuDNN the gemm engine runs: %s",
        cuda_backend_description());

  long live0 = fake_cuda_live_allocations;
  CompareResult ops = backend_compare_ops(cpu, cuda, 1e-5, compare_print_sink, stdout);
  printf("ops: %d comparisons, %d failed, worst %.2e (%s)\n", ops.checks, ops.failed, ops.worst, ops.worst_what);
  CHECK(ops.failed == 0 && ops.checks > 100, "op comparison: %d of %d failed", ops.failed, ops.checks);

  /* whole training steps of Pons' nets at their real 40x80 input, small
   * batches (the emulated kernels run each GPU thread as a fiber) */
  CompareResult tr = backend_compare_training(cpu, cuda, "configs/models/pons_timefreq.ini", NULL, 0, 3, 2, 1e-4,
                                              compare_print_sink, stdout, NULL);
  CHECK(tr.failed == 0, "pons_timefreq training: %d of %d failed", tr.failed, tr.checks);
  CompareResult tf3 = backend_compare_training(cpu, cuda, "configs/models/pons_frequency.ini", NULL, 0, 2, 2, 1e-4,
                                               compare_print_sink, stdout, NULL);
  CHECK(tf3.failed == 0, "pons_frequency training: %d of %d failed", tf3.failed, tf3.checks);
  /* uploads from page-locked staging through both slots */
  {
    long pinned0 = fake_cuda_pinned_allocations;
    float *h = cuda->host_alloc(sizeof(float) * 1000);
    float *d[2] = {cuda->alloc(sizeof(float) * 1000), cuda->alloc(sizeof(float) * 1000)};
    float back[1000];
    int same = 1;
    for (int slot = 0; slot < 2; slot++) {
      for (int i = 0; i < 1000; i++) h[i] = (float)(i * (slot + 1));
      cuda->upload_async(slot, d[slot], h, sizeof(float) * 1000);
      cuda->upload_wait(slot);
      cuda->to_host(back, d[slot], sizeof back);
      for (int i = 0; i < 1000; i++) same &= back[i] == (float)(i * (slot + 1));
    }
    CHECK(same, "upload_async / upload_wait did not deliver the staged data");
    CHECK(fake_cuda_pinned_allocations == pinned0 + 1, "host_alloc is not page-locked memory");
    cuda->host_release(h);
    cuda->release(d[0]);
    cuda->release(d[1]);
    CHECK(fake_cuda_pinned_allocations == pinned0, "page-locked memory not freed");
  }

  /* the backend keeps its grown scratch buffers; a second run allocates
   * nothing that it does not free */
  long live1 = fake_cuda_live_allocations;
  CHECK(live1 >= live0 && live1 <= live0 + 4, "GPU allocations: %ld live after, %ld before", live1, live0);
  CompareResult again = backend_compare_training(cpu, cuda, "configs/models/pons_frequency.ini", NULL, 0, 2, 1, 1e-4,
                                                 NULL, NULL, NULL);
  CHECK(again.failed == 0 && fake_cuda_live_allocations == live1, "GPU allocations leaked: %ld live, %ld before",
        fake_cuda_live_allocations, live1);

  printf("%d checks, %d failed\n", ops.checks + tr.checks + tf3.checks + 3, failures);
  return failures ? 1 : 0;
}
