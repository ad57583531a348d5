/* Test double of the CUDA runtime, for running the CUDA backend's host code
 * on the CPU (tests only; ./auratag links the real libcudart). "Device"
 * memory is host memory, filled with NaN when allocated so that a read of
 * memory nobody wrote shows up; the emulated kernels run synchronously, so
 * streams and copies are plain calls. Signatures come from the real header. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cuda.h"

long fake_cuda_live_allocations;
size_t fake_cuda_fail_after_bytes = (size_t)-1; /* simulate running out of memory */
static size_t allocated_bytes;

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  memset(prop, 0, sizeof *prop);
  strcpy(prop->name, "cuemu (kernels emulated on the CPU)");
  prop->major = 9;
  prop->minor = 0;
  prop->totalGlobalMem = (size_t)1 << 30;
  return cudaSuccess;
}

static cudaError_t last_error = cudaSuccess;

cudaError_t cudaGetLastError(void) {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

const char *cudaGetErrorString(cudaError_t error) {
  return error == cudaSuccess ? "no error" : error == cudaErrorMemoryAllocation ? "out of memory" : "fake CUDA error";
}

const char *cudaGetErrorName(cudaError_t error) {
  return error == cudaSuccess ? "cudaSuccess"
         : error == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation"
                                              : "cudaErrorUnknown";
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
  (void)flags;
  static int streams[8], n;
  if (n == 8) return last_error = cudaErrorMemoryAllocation;
  *stream = (cudaStream_t)(void *)&streams[n++];
  return cudaSuccess;
}

/* Events: everything here is synchronous, so an event is done when recorded;
 * as in CUDA, synchronising on one never recorded returns at once. */
typedef struct FakeEvent {
  int recorded;
} FakeEvent; /* leaked at exit, like the runtime's own */

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) {
  (void)flags;
  FakeEvent *e = calloc(1, sizeof *e);
  if (!e) return last_error = cudaErrorMemoryAllocation;
  *event = (cudaEvent_t)(void *)e;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  (void)stream;
  ((FakeEvent *)(void *)event)->recorded = 1;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event ? cudaSuccess : cudaErrorInvalidResourceHandle; }

long fake_cuda_pinned_allocations;

cudaError_t cudaMallocHost(void **ptr, size_t size) {
  *ptr = malloc(size ? size : 1);
  if (!*ptr) return last_error = cudaErrorMemoryAllocation;
  fake_cuda_pinned_allocations++;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void *ptr) {
  if (ptr) fake_cuda_pinned_allocations--;
  free(ptr);
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  (void)stream;
  return cudaSuccess; /* everything here has finished when it returns */
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  (void)stream;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void **ptr, size_t size) {
  if (allocated_bytes + size > fake_cuda_fail_after_bytes) {
    *ptr = NULL;
    return last_error = cudaErrorMemoryAllocation;
  }
  float *p = malloc(size ? size : 1);
  if (!p) return last_error = cudaErrorMemoryAllocation;
  for (size_t i = 0; i < size / sizeof(float); i++) p[i] = __builtin_nanf("");
  allocated_bytes += size;
  fake_cuda_live_allocations++;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
  if (ptr) fake_cuda_live_allocations--;
  free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
  *total = (size_t)1 << 30;
  *free_bytes = *total > allocated_bytes ? *total - allocated_bytes : 0;
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t count, cudaStream_t stream) {
  (void)stream;
  memset(dst, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
  (void)kind;
  (void)stream;
  memmove(dst, src, count);
  return cudaSuccess;
}
