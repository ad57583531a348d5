/* Test double of the CUDA runtime, for running the CUDA backend's host code
 * on the CPU (tests only; ./auratag links the real libcudart). Signatures
 * come from the real header. What it models (see fake_cuda.h):
 *  - several devices (CUEMU_DEVICES, default FAKE_CUDA_DEVICES) and a current
 *    device per host thread, 0 until cudaSetDevice; compute capability from
 *    CUEMU_CC (e.g. 75), default 9.0;
 *  - allocations, streams and events owned by the device current when they
 *    were made; "device" memory is host memory filled with NaN, so a read of
 *    memory nobody wrote shows up;
 *  - kernel launches (through the emulator's launch hook) refused with
 *    cudaErrorInvalidResourceHandle on a stream of another device, and with
 *    cudaErrorNoKernelImageForDevice below compute capability 8.0; event
 *    records on a stream of the event's device only — as the programming
 *    guide's "Stream and Event Behavior" says; copies may cross devices;
 *  - streams as queues: memsets and copies wait in their stream until
 *    something needs them (a kernel or library call on that stream, a
 *    synchronisation, an event that another stream waits on), so work on two
 *    streams with no event between them runs in the order that exposes the
 *    missing dependency. A copy from pageable host memory takes its data when
 *    issued (the runtime stages it); from page-locked memory when it runs.
 *    Copies to pageable host memory return when done, as the runtime's do;
 *  - the last error per host thread, cleared by cudaGetLastError; sticky
 *    errors (fake_cuda_set_sticky_error) returned by every later call;
 *    cudaStreamQuery answers cudaErrorNotReady while work is pending and,
 *    like the runtime, records it as the last error.
 * Not modelled: what a kernel reads or writes (its arguments are not seen
 * here), peer access, the legacy default stream's implicit synchronisation.
 * The callers serialise their GPU work (prep's workers take turns), so there
 * is no locking here. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuemu_control.h"
#include "fake_cuda.h"

long fake_cuda_live_allocations;
long fake_cuda_pinned_allocations;
size_t fake_cuda_fail_after_bytes = (size_t)-1;
size_t fake_cuda_high_water_bytes;

/* ---- errors ---- */

static _Thread_local cudaError_t last_error;
static cudaError_t sticky;

static cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

#define STICKY_GUARD                    \
  do {                                  \
    if (sticky) return fail(sticky);    \
  } while (0)

void fake_cuda_set_sticky_error(int cuda_error) { sticky = last_error = (cudaError_t)cuda_error; }

cudaError_t cudaGetLastError(void) {
  cudaError_t e = sticky ? sticky : last_error;
  last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return sticky ? sticky : last_error; }

static const struct {
  cudaError_t e;
  const char *name, *text;
} k_errors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorNoKernelImageForDevice, "cudaErrorNoKernelImageForDevice",
     "no kernel image is available for execution on the device"},
};

const char *cudaGetErrorString(cudaError_t error) {
  for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++)
    if (k_errors[i].e == error) return k_errors[i].text;
  return "unrecognized error code";
}

const char *cudaGetErrorName(cudaError_t error) {
  for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++)
    if (k_errors[i].e == error) return k_errors[i].name;
  return "cudaErrorUnknown";
}

/* ---- devices ---- */

static _Thread_local int current;

static int env_int(const char *name, int fallback) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : fallback;
}

static int device_count(void) { return env_int("CUEMU_DEVICES", FAKE_CUDA_DEVICES); }

int fake_cuda_current_device(void) { return current; }

cudaError_t cudaGetDeviceCount(int *count) {
  *count = device_count();
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  STICKY_GUARD;
  if (device < 0 || device >= device_count()) return fail(cudaErrorInvalidDevice);
  current = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
  STICKY_GUARD;
  *device = current;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
  if (device < 0 || device >= device_count()) return fail(cudaErrorInvalidDevice);
  const int cc = env_int("CUEMU_CC", 90);
  memset(prop, 0, sizeof *prop);
  snprintf(prop->name, sizeof prop->name, "cuemu device %d (kernels emulated on the CPU)", device);
  prop->major = cc / 10;
  prop->minor = cc % 10;
  prop->totalGlobalMem = (size_t)1 << 30;
  return cudaSuccess;
}

/* ---- memory: device allocations and page-locked host memory ---- */

enum { KIND_DEVICE, KIND_PINNED };

typedef struct {
  char *base;
  size_t bytes;
  int kind, device;
} Allocation;

static Allocation *allocs;
static size_t n_allocs, cap_allocs;
static size_t device_bytes[64];

static Allocation *find_allocation(const void *p, size_t bytes) {
  const char *c = p;
  for (size_t i = 0; i < n_allocs; i++)
    if (c >= allocs[i].base && c <= allocs[i].base + allocs[i].bytes && bytes <= (size_t)(allocs[i].base + allocs[i].bytes - c))
      return &allocs[i];
  return NULL;
}

int fake_cuda_memory_device(const void *p, size_t bytes) {
  const Allocation *a = find_allocation(p, bytes);
  return a && a->kind == KIND_DEVICE ? a->device : -1;
}

static int is_pinned(const void *p, size_t bytes) {
  const Allocation *a = find_allocation(p, bytes);
  return a && a->kind == KIND_PINNED;
}

static int track(char *base, size_t bytes, int kind, int device) {
  if (n_allocs == cap_allocs) {
    size_t cap = cap_allocs ? 2 * cap_allocs : 64;
    Allocation *grown = realloc(allocs, cap * sizeof *grown);
    if (!grown) return -1;
    allocs = grown;
    cap_allocs = cap;
  }
  allocs[n_allocs++] = (Allocation){base, bytes, kind, device};
  return 0;
}

static Allocation *exact_allocation(const void *p, int kind) {
  for (size_t i = 0; i < n_allocs; i++)
    if (allocs[i].base == p && allocs[i].kind == kind) return &allocs[i];
  return NULL;
}

static void untrack(Allocation *a) { *a = allocs[--n_allocs]; }

static void run_all_streams(void);

/* CUEMU_LAZY_MEMORY=1: memory starts zeroed and untouched (no NaN fill, zero
 * memsets skipped), so that the allocations of a large model can be counted
 * without the host paying for them (tests/cuda/gpu_memory.c). */
static int lazy_memory(void) { return env_int("CUEMU_LAZY_MEMORY", 0) == 1; }

size_t fake_cuda_device_bytes(void) {
  size_t total = 0;
  for (int d = 0; d < device_count(); d++) total += device_bytes[d];
  return total;
}

cudaError_t cudaMalloc(void **ptr, size_t size) {
  STICKY_GUARD;
  *ptr = NULL;
  size_t total = 0;
  for (int d = 0; d < device_count(); d++) total += device_bytes[d];
  if (total + size > fake_cuda_fail_after_bytes) return fail(cudaErrorMemoryAllocation);
  const int lazy = lazy_memory();
  float *p = lazy ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
  if (!p || track((char *)p, size, KIND_DEVICE, current) != 0) {
    free(p);
    return fail(cudaErrorMemoryAllocation);
  }
  if (!lazy)
    for (size_t i = 0; i < size / sizeof(float); i++) p[i] = __builtin_nanf("");
  device_bytes[current] += size;
  if (total + size > fake_cuda_high_water_bytes) fake_cuda_high_water_bytes = total + size;
  fake_cuda_live_allocations++;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
  STICKY_GUARD;
  if (!ptr) return cudaSuccess;
  Allocation *a = exact_allocation(ptr, KIND_DEVICE);
  if (!a) return fail(cudaErrorInvalidValue);
  run_all_streams(); /* cudaFree synchronises the device */
  device_bytes[a->device] -= a->bytes;
  untrack(a);
  fake_cuda_live_allocations--;
  free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t size) {
  STICKY_GUARD;
  *ptr = malloc(size ? size : 1);
  if (!*ptr || track(*ptr, size, KIND_PINNED, -1) != 0) {
    free(*ptr);
    *ptr = NULL;
    return fail(cudaErrorMemoryAllocation);
  }
  fake_cuda_pinned_allocations++;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void *ptr) {
  STICKY_GUARD;
  if (!ptr) return cudaSuccess;
  Allocation *a = exact_allocation(ptr, KIND_PINNED);
  if (!a) return fail(cudaErrorInvalidValue);
  run_all_streams();
  untrack(a);
  fake_cuda_pinned_allocations--;
  free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
  STICKY_GUARD;
  *total = (size_t)1 << 30;
  *free_bytes = *total > device_bytes[current] ? *total - device_bytes[current] : 0;
  return cudaSuccess;
}

/* ---- streams as queues of copies, memsets and event records ---- */

enum { STREAM_MAGIC = 0x5717ea, EVENT_MAGIC = 0xe7e27 };
typedef enum { OP_COPY, OP_SET, OP_RECORD, OP_WAIT } OpKind;

typedef struct FakeStream FakeStream;

typedef struct FakeEvent {
  int magic, device;
  unsigned long recorded, done; /* sequence numbers of the last record and of the last one run */
  FakeStream *stream;           /* where it was last recorded */
} FakeEvent;

typedef struct Op {
  OpKind kind;
  void *dst;
  const void *src;
  void *staged; /* owned copy of pageable source data */
  size_t bytes;
  int value;
  FakeEvent *event;
  FakeStream *wait_on;
  unsigned long seq;
  struct Op *next;
} Op;

struct FakeStream {
  int magic, device, busy_polls;
  Op *head, *tail;
  FakeStream *next_made;
};

static FakeStream *streams_made;
static FakeStream default_streams[64];
static unsigned long sequence;

static FakeStream *stream_of(cudaStream_t s) {
  if (!s) {
    FakeStream *d = &default_streams[current];
    d->magic = STREAM_MAGIC;
    d->device = current;
    return d;
  }
  FakeStream *f = (FakeStream *)(void *)s;
  for (FakeStream *m = streams_made; m; m = m->next_made)
    if (m == f) return f;
  return NULL;
}

int fake_cuda_stream_device(cudaStream_t stream) {
  const FakeStream *f = stream_of(stream);
  return f ? f->device : -1;
}

static void enqueue(FakeStream *st, Op op) {
  Op *o = malloc(sizeof *o);
  if (!o) abort();
  *o = op;
  o->next = NULL;
  if (st->tail) st->tail->next = o;
  else st->head = o;
  st->tail = o;
}

static void run_until(FakeStream *st, const FakeEvent *e, unsigned long seq);

static void run_op(Op *o) {
  switch (o->kind) {
  case OP_COPY: memmove(o->dst, o->staged ? o->staged : o->src, o->bytes); break;
  case OP_SET: memset(o->dst, o->value, o->bytes); break;
  case OP_RECORD:
    if (o->seq > o->event->done) o->event->done = o->seq;
    break;
  case OP_WAIT: run_until(o->wait_on, o->event, o->seq); break;
  }
  free(o->staged);
  free(o);
}

/* Runs st's queue until the event has run record seq (e NULL: to the end). */
static void run_until(FakeStream *st, const FakeEvent *e, unsigned long seq) {
  while (st->head && !(e && e->done >= seq)) {
    Op *o = st->head;
    st->head = o->next;
    if (!st->head) st->tail = NULL;
    run_op(o);
  }
}

void fake_cuda_stream_run(cudaStream_t stream) {
  FakeStream *st = stream_of(stream);
  if (st) run_until(st, NULL, 0);
}

void fake_cuda_stream_busy(cudaStream_t stream, int polls) {
  FakeStream *st = stream_of(stream);
  if (st) st->busy_polls = polls;
}

static void run_all_streams(void) {
  for (FakeStream *m = streams_made; m; m = m->next_made) run_until(m, NULL, 0);
  for (int d = 0; d < 64; d++) run_until(&default_streams[d], NULL, 0);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
  (void)flags;
  STICKY_GUARD;
  FakeStream *f = calloc(1, sizeof *f); /* kept to the end, as the backend keeps its streams */
  if (!f) return fail(cudaErrorMemoryAllocation);
  f->magic = STREAM_MAGIC;
  f->device = current;
  f->next_made = streams_made;
  streams_made = f;
  *stream = (cudaStream_t)(void *)f;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  STICKY_GUARD;
  FakeStream *st = stream_of(stream);
  if (!st) return fail(cudaErrorInvalidResourceHandle);
  run_until(st, NULL, 0);
  st->busy_polls = 0;
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  STICKY_GUARD;
  FakeStream *st = stream_of(stream);
  if (!st) return fail(cudaErrorInvalidResourceHandle);
  if (st->busy_polls > 0 || st->head) {
    /* not done yet; it makes progress meanwhile */
    if (st->busy_polls > 0) st->busy_polls--;
    else run_until(st, NULL, 0);
    return fail(cudaErrorNotReady);
  }
  return cudaSuccess;
}

/* ---- events ---- */

static FakeEvent *event_of(cudaEvent_t e) {
  FakeEvent *f = (FakeEvent *)(void *)e;
  return f && f->magic == EVENT_MAGIC ? f : NULL;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) {
  (void)flags;
  STICKY_GUARD;
  FakeEvent *e = calloc(1, sizeof *e); /* leaked at exit, like the runtime's own */
  if (!e) return fail(cudaErrorMemoryAllocation);
  e->magic = EVENT_MAGIC;
  e->device = current;
  *event = (cudaEvent_t)(void *)e;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  STICKY_GUARD;
  FakeEvent *e = event_of(event);
  FakeStream *st = stream_of(stream);
  if (!e || !st || e->device != st->device) return fail(cudaErrorInvalidResourceHandle);
  e->recorded = ++sequence;
  e->stream = st;
  enqueue(st, (Op){.kind = OP_RECORD, .event = e, .seq = e->recorded});
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  (void)flags;
  STICKY_GUARD;
  FakeEvent *e = event_of(event);
  FakeStream *st = stream_of(stream);
  if (!e || !st) return fail(cudaErrorInvalidResourceHandle);
  if (e->recorded && e->done < e->recorded)
    enqueue(st, (Op){.kind = OP_WAIT, .event = e, .wait_on = e->stream, .seq = e->recorded});
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  STICKY_GUARD;
  FakeEvent *e = event_of(event);
  if (!e) return fail(cudaErrorInvalidResourceHandle);
  if (e->recorded) run_until(e->stream, e, e->recorded); /* never recorded: returns at once */
  return cudaSuccess;
}

/* ---- memset and copies ---- */

cudaError_t cudaMemsetAsync(void *dst, int value, size_t count, cudaStream_t stream) {
  STICKY_GUARD;
  FakeStream *st = stream_of(stream);
  if (!st) return fail(cudaErrorInvalidResourceHandle);
  if (fake_cuda_memory_device(dst, count) < 0) return fail(cudaErrorInvalidValue);
  if (value == 0 && lazy_memory()) return cudaSuccess; /* already zero */
  enqueue(st, (Op){.kind = OP_SET, .dst = dst, .bytes = count, .value = value});
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
  STICKY_GUARD;
  FakeStream *st = stream_of(stream);
  if (!st) return fail(cudaErrorInvalidResourceHandle);
  if (count == 0) return cudaSuccess;
  const int dst_dev = fake_cuda_memory_device(dst, count) >= 0, src_dev = fake_cuda_memory_device(src, count) >= 0;
  const int want_dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const int want_src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  /* a device range that overruns its allocation, or the wrong direction */
  if (kind != cudaMemcpyDefault && (dst_dev != want_dst_dev || src_dev != want_src_dev))
    return fail(cudaErrorInvalidValue);
  Op op = {.kind = OP_COPY, .dst = dst, .src = src, .bytes = count};
  if (!src_dev && !is_pinned(src, count)) { /* pageable source: staged now */
    op.staged = malloc(count);
    if (!op.staged) return fail(cudaErrorMemoryAllocation);
    memcpy(op.staged, src, count);
  }
  enqueue(st, op);
  if (!dst_dev && !is_pinned(dst, count)) run_until(st, NULL, 0); /* to pageable memory: returns when done */
  return cudaSuccess;
}

/* ---- kernel launches (kernels/cuemu.h calls this before each) ---- */

static int before_launch(void *stream, const char *kernel) {
  (void)kernel;
  if (sticky) {
    last_error = sticky;
    return -1;
  }
  FakeStream *st = stream_of((cudaStream_t)stream);
  if (!st || st->device != current) {
    last_error = cudaErrorInvalidResourceHandle;
    return -1;
  }
  /* the emulated kernels stand for a build of sm_80 and sm_90 (+ PTX):
   * an older device has no image to run */
  if (env_int("CUEMU_CC", 90) < 80) {
    last_error = cudaErrorNoKernelImageForDevice;
    return -1;
  }
  run_until(st, NULL, 0);
  return 0;
}

__attribute__((constructor)) static void install_launch_hook(void) { cuemu_set_launch_hook(before_launch); }
