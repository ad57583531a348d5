/* The CUDA backend's host code, run on the CPU: its Backend table drives the
 * emulated kernels (kernels/cuemu.h), cuBLAS calls go to the OpenBLAS test
 * double and the CUDA runtime to one that models devices, per-thread current
 * devices and stream queues (tests/cuda/fake/). Convolutions take the gemm
 * engine here (the cuDNN path: test_backend_cudnn.c). The same op-by-op and
 * training comparisons run against a real GPU in `auratag selftest`.
 * The backend runs on device 1 of the double's two, and every comparison
 * runs again from a second host thread (whose current device is 0): an entry
 * point that forgets to select the device fails its first launch there.
 * Also: freed memory balances, running out of GPU memory, a GPU the binary
 * has no kernels for and a sticky error name the cause. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdlib.h>
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

static void old_gpu_child(const void *arg) {
  setenv("CUEMU_CC", "75", 1); /* a Turing card: no sm_75 code in the binary */
  at_backend_cuda((const CudaOptions *)arg);
}

static void sticky_error_child(const void *arg) {
  const Backend *be = at_backend_cuda((const CudaOptions *)arg);
  float *x = be->alloc(sizeof(float) * 64);
  fake_cuda_set_sticky_error(cudaErrorIllegalAddress); /* an earlier kernel's fault */
  be->fill(x, 64, 1.0f);
}

/* The comparisons of this test, from a thread of its own. */
typedef struct {
  const Backend *cpu, *cuda;
  CompareResult ops, training;
} ThreadRun;

static void *compare_on_a_new_thread(void *arg) {
  ThreadRun *r = arg;
  r->ops = backend_compare_ops(r->cpu, r->cuda, 1e-5, NULL, NULL);
  r->training = backend_compare_training(r->cpu, r->cuda, "configs/models/pons_frequency.ini", NULL, 0, 2, 1, 1e-4,
                                         NULL, NULL, NULL);
  return NULL;
}

int main(void) {
  CudaOptions opt = at_cuda_default_options();
  opt.deterministic = 1;
  opt.conv = AT_CONV_GEMM;
  opt.device = 1; /* the second of the double's devices: the first is where a thread starts */
  /* failures first, in children, before this process starts the backend */
  char msg[2048];
  int status = run_in_child(oom_child, &opt, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "out of GPU memory") && strstr(msg, "batch"),
        "allocation failure: status %d, message: %s", status, msg);
  status = run_in_child(bad_device_child, NULL, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "cuda.device = 3"), "bad device: status %d, message: %s", status, msg);
  status = run_in_child(old_gpu_child, &opt, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "compute capability 7.5") && strstr(msg, "make CUDA_ARCH=") &&
            strstr(msg, "sm_80"),
        "GPU without kernels: status %d, message: %s", status, msg);
  status = run_in_child(sticky_error_child, &opt, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "illegal memory access"),
        "sticky error: status %d, message: %s", status, msg);

  const Backend *cuda = at_backend_cuda(&opt), *cpu = at_backend_cpu();
  printf("backend: %s\n", cuda_backend_description());
  CHECK(strstr(cuda_backend_description(), "im2col + cuBLAS") != NULL && strstr(cuda_backend_description(), "device 1"),
        "the gemm engine on device 1: %s", cuda_backend_description());

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

  /* every entry point from a thread whose current device is 0 */
  ThreadRun run = {.cpu = cpu, .cuda = cuda};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, compare_on_a_new_thread, &run) == 0, "pthread_create");
  pthread_join(thread, NULL);
  CHECK(run.ops.failed == 0 && run.ops.checks == ops.checks && run.training.failed == 0,
        "from another thread: %d of %d op comparisons and %d training comparisons failed", run.ops.failed,
        run.ops.checks, run.training.failed);
  printf("from a second host thread: %d op and %d training comparisons, %d failed\n", run.ops.checks,
         run.training.checks, run.ops.failed + run.training.failed);

  printf("%d checks, %d failed\n", ops.checks + tr.checks + tf3.checks + run.ops.checks + 6, failures);
  return failures ? 1 : 0;
}
