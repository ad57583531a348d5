/* cuemu: runs CUDA kernels on the CPU, for tests only (never in ./auratag).
 *
 * A kernel source (a .cu file in kernels/, the C-like subset of CUDA) is compiled as
 * C++17 with this header in front (launch.h does it under -DAT_CUEMU). Then:
 *  - every CUDA thread is a fiber (ucontext); the blocks of a launch run one
 *    after another on the calling OS thread, the fibers of a block in turns;
 *  - __syncthreads() parks the fiber until every thread of the block reached
 *    it; a block in which some threads finished while others wait at a
 *    barrier aborts with "__syncthreads divergence" (undefined on a GPU);
 *  - __shared__ is block-local static storage (static thread_local: one OS
 *    thread runs one block at a time); each block finds it filled with NaN
 *    (CUEMU_SHARED_POISON) so that reads before writes show up;
 *  - warp shuffles exchange values through per-warp slots with a warp-level
 *    barrier; atomics are plain read-modify-writes (fibers never preempt);
 *  - the order in which fibers run each phase, and the order of the blocks,
 *    is forward, reversed or shuffled (cuemu_set_order): a kernel whose
 *    result depends on it has a race.
 * Written from CUDA's documented semantics; nothing is taken from other
 * emulators. */
#ifndef AT_CUEMU_H
#define AT_CUEMU_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <functional>

#include "cuemu_control.h"

/* ---- CUDA's vocabulary ---- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static thread_local

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef struct CUstream_st *cudaStream_t;

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
static const int warpSize = 32;

/* ---- the scheduler ---- */
namespace cuemu {

enum FiberState { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct Fiber {
  ucontext_t ctx;
  char *stack;
  FiberState state;
  uint3 tid;
  unsigned linear;
};

enum { STACK_BYTES = 256 * 1024, MAX_THREADS = 1024, SLOT_BYTES = 8 };

struct Block {
  const char *kernel;
  const std::function<void()> *body;
  Fiber fibers[MAX_THREADS];
  unsigned n;
  Fiber *current;
  ucontext_t scheduler;
  /* warp shuffle slots: [warp][lane] */
  unsigned char slots[MAX_THREADS / 32][32][SLOT_BYTES];
  void *fake_stack; /* AddressSanitizer's fiber bookkeeping */
};

inline thread_local Block *block_now;
inline int order_mode = CUEMU_ORDER_FORWARD;
inline uint64_t order_seed = 1;
inline unsigned long launches = 0;
inline unsigned long shared_epoch = 0; /* bumped per launch: __shared__ is refilled with NaN */
/* Set by the CUDA runtime's test double: checks a launch's stream as the
 * runtime does and runs the work queued before it; non-zero: the launch
 * fails (the double has recorded the error) and the kernel does not run. */
inline int (*launch_hook)(void *stream, const char *kernel) = nullptr;

[[noreturn]] inline void fail(const char *what, const char *kernel) {
  fprintf(stderr, "cuemu: %s in kernel %s\n", what, kernel ? kernel : "?");
  fflush(stderr);
  abort();
}

#if defined(__SANITIZE_ADDRESS__)
extern "C" void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#define CUEMU_ASAN 1
#else
#define CUEMU_ASAN 0
#endif

inline uint64_t next_random(uint64_t *s) {
  /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* order[0..n) = 0..n-1 forward, reversed or shuffled */
inline void make_order(unsigned *order, unsigned n, uint64_t *rng) {
  for (unsigned i = 0; i < n; i++) order[i] = order_mode == CUEMU_ORDER_REVERSE ? n - 1 - i : i;
  if (order_mode == CUEMU_ORDER_SHUFFLE)
    for (unsigned i = n; i > 1; i--) {
      unsigned j = (unsigned)(next_random(rng) % i);
      unsigned t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
}

inline void fiber_entry() {
  Block *b = block_now;
#if CUEMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  (*b->body)();
  b->current->state = DONE;
#if CUEMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, nullptr, 0); /* this fiber is gone */
#endif
  swapcontext(&b->current->ctx, &b->scheduler);
}

/* From a fiber back to the scheduler, with the fiber's state already set. */
inline void yield_to_scheduler() {
  Block *b = block_now;
#if CUEMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, nullptr, 0);
  swapcontext(&b->current->ctx, &b->scheduler);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  swapcontext(&b->current->ctx, &b->scheduler);
#endif
  threadIdx = b->current->tid;
}

inline void resume(Block *b, Fiber *f) {
  b->current = f;
  threadIdx = f->tid;
#if CUEMU_ASAN
  __sanitizer_start_switch_fiber(&b->fake_stack, f->stack, STACK_BYTES);
  swapcontext(&b->scheduler, &f->ctx);
  __sanitizer_finish_switch_fiber(b->fake_stack, nullptr, nullptr);
#else
  swapcontext(&b->scheduler, &f->ctx);
#endif
}

inline char *stack_for(unsigned i) {
  static char *stacks[MAX_THREADS];
  if (!stacks[i]) {
    stacks[i] = (char *)malloc(STACK_BYTES);
    if (!stacks[i]) fail("out of memory for fiber stacks", "(launch)");
  }
  return stacks[i];
}

/* Out of line: getcontext returns twice, and gcc -O1 warns (-Wclobbered)
 * about any caller's loop variable live across it. */
__attribute__((noinline)) inline void init_fiber(Fiber *f, char *stack) {
  f->stack = stack;
  f->state = RUNNABLE;
  getcontext(&f->ctx);
  f->ctx.uc_stack.ss_sp = f->stack;
  f->ctx.uc_stack.ss_size = STACK_BYTES;
  f->ctx.uc_link = nullptr;
  makecontext(&f->ctx, fiber_entry, 0);
}

inline void run_block(Block *b, uint64_t *rng) {
  static unsigned order[MAX_THREADS];
  for (unsigned i = 0; i < b->n; i++) init_fiber(&b->fibers[i], stack_for(i));
  for (;;) {
    make_order(order, b->n, rng);
    for (unsigned k = 0; k < b->n; k++) {
      Fiber *f = &b->fibers[order[k]];
      if (f->state == RUNNABLE) resume(b, f);
    }
    /* nobody runnable: release what can be released */
    unsigned done = 0, at_block = 0;
    for (unsigned i = 0; i < b->n; i++) {
      done += b->fibers[i].state == DONE;
      at_block += b->fibers[i].state == AT_BLOCK_BARRIER;
    }
    if (done == b->n) return;
    int released = 0;
    for (unsigned w = 0; w * 32 < b->n; w++) {
      unsigned lo = w * 32, hi = lo + 32 < b->n ? lo + 32 : b->n, waiting = 0;
      for (unsigned i = lo; i < hi; i++) waiting += b->fibers[i].state == AT_WARP_BARRIER;
      if (waiting == 0) continue;
      if (waiting != hi - lo) fail("warp divergence: a warp shuffle or __syncwarp reached by only some lanes", b->kernel);
      for (unsigned i = lo; i < hi; i++) b->fibers[i].state = RUNNABLE;
      released = 1;
    }
    if (released) continue;
    if (at_block + done != b->n) fail("deadlock (internal: fibers neither runnable nor waiting)", b->kernel);
    if (done) fail("__syncthreads divergence: some threads of the block finished while others wait at a barrier",
                   b->kernel);
    for (unsigned i = 0; i < b->n; i++) b->fibers[i].state = RUNNABLE;
  }
}

inline void launch(const char *kernel, dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()> &body) {
  static Block the_block; /* large: not on the stack */
  const unsigned long nthreads = (unsigned long)block.x * block.y * block.z;
  if (nthreads == 0 || nthreads > MAX_THREADS || block.z > 64)
    fail("invalid block size (1..1024 threads, z <= 64)", kernel);
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
    fail("invalid grid size", kernel);
  if (shared_bytes) fail("dynamic shared memory is not emulated (use static __shared__ arrays)", kernel);
  if (block_now) fail("kernel launched from inside a kernel", kernel);
  launches++;
  uint64_t rng = order_seed * 0x2545F4914F6CDD1Dull + launches;
  Block *b = &the_block;
  b->kernel = kernel;
  b->body = &body;
  b->n = (unsigned)nthreads;
  for (unsigned i = 0; i < b->n; i++) {
    Fiber *f = &b->fibers[i];
    f->linear = i;
    f->tid.x = i % block.x;
    f->tid.y = (i / block.x) % block.y;
    f->tid.z = i / (block.x * block.y);
  }
  blockDim = block;
  gridDim = grid;
  const unsigned long nblocks = (unsigned long)grid.x * grid.y * grid.z;
  /* block order: permuted like the threads (a window of 2^20 blocks at most
   * is permuted; larger grids run forward beyond it) */
  static unsigned border[1u << 20];
  const unsigned window = nblocks < (1ul << 20) ? (unsigned)nblocks : (1u << 20);
  make_order(border, window, &rng);
  block_now = b;
  for (unsigned long k = 0; k < nblocks; k++) {
    shared_epoch++; /* every block starts with NaN in its __shared__ arrays */
    unsigned long lin = k < window ? border[k] : k;
    blockIdx.x = (unsigned)(lin % grid.x);
    blockIdx.y = (unsigned)((lin / grid.x) % grid.y);
    blockIdx.z = (unsigned)(lin / ((unsigned long)grid.x * grid.y));
    run_block(b, &rng);
  }
  block_now = nullptr;
}

/* __shared__ storage is static: poison it once per block, on first touch by
 * a kernel that asks (see CUEMU_SHARED_POISON below). */
inline void poison_shared(void *p, size_t bytes, unsigned long *epoch) {
  if (*epoch == shared_epoch) return;
  *epoch = shared_epoch;
  unsigned char *c = (unsigned char *)p;
  for (size_t i = 0; i + 4 <= bytes; i += 4) {
    const uint32_t nan_bits = 0x7fc00000u;
    memcpy(c + i, &nan_bits, 4);
  }
}

inline Block *in_kernel(const char *what) {
  if (!block_now) fail(what, "(host code: called outside a kernel)");
  return block_now;
}

inline void block_barrier() {
  Block *b = in_kernel("__syncthreads");
  b->current->state = AT_BLOCK_BARRIER;
  yield_to_scheduler();
}

inline void warp_barrier(unsigned mask) {
  Block *b = in_kernel("warp-synchronous operation");
  const unsigned lane0 = b->current->linear & ~31u;
  const unsigned lanes = b->n - lane0 < 32 ? b->n - lane0 : 32;
  const unsigned full = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
  if ((mask & full) != full) fail("partial-warp masks are not emulated (use all lanes)", b->kernel);
  b->current->state = AT_WARP_BARRIER;
  yield_to_scheduler();
}

inline void *exchange(const void *value, size_t bytes, unsigned mask, unsigned src_lane) {
  Block *b = in_kernel("warp shuffle");
  const unsigned me = b->current->linear, warp = me / 32, lane = me % 32;
  memcpy(b->slots[warp][lane], value, bytes);
  warp_barrier(mask);
  static thread_local unsigned char got[SLOT_BYTES];
  const unsigned lanes = b->n - warp * 32 < 32 ? b->n - warp * 32 : 32;
  /* CUDA: a source lane outside the warp's width wraps; inactive lanes are undefined */
  src_lane %= 32;
  if (src_lane >= lanes) fail("warp shuffle reads a lane that does not exist in this block", b->kernel);
  unsigned char mine[SLOT_BYTES];
  memcpy(mine, b->slots[warp][src_lane], bytes);
  warp_barrier(mask); /* nobody overwrites a slot before every lane has read */
  memcpy(got, mine, bytes);
  return got;
}

}  // namespace cuemu

/* Fills a __shared__ array with NaN once per block: kernels that read shared
 * memory before writing it then produce NaN in the tests. Empty under nvcc. */
#define CUEMU_SHARED_POISON(array)                                            \
  do {                                                                        \
    static thread_local unsigned long cuemu_epoch_ = 0;                       \
    cuemu::poison_shared((void *)(array), sizeof(array), &cuemu_epoch_);      \
  } while (0)

inline void __syncthreads() { cuemu::block_barrier(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { cuemu::warp_barrier(mask); }

#define CUEMU_SHFL(T)                                                                         \
  inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {                         \
    Block_lane_check(width);                                                                  \
    T r;                                                                                      \
    memcpy(&r, cuemu::exchange(&v, sizeof v, mask, (unsigned)src), sizeof r);                 \
    return r;                                                                                 \
  }                                                                                           \
  inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {               \
    Block_lane_check(width);                                                                  \
    T r;                                                                                      \
    unsigned me = cuemu::in_kernel("__shfl_xor_sync")->current->linear % 32;                  \
    memcpy(&r, cuemu::exchange(&v, sizeof v, mask, me ^ (unsigned)lane_mask), sizeof r);      \
    return r;                                                                                 \
  }                                                                                           \
  inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {             \
    Block_lane_check(width);                                                                  \
    unsigned me = cuemu::in_kernel("__shfl_down_sync")->current->linear % 32;                 \
    /* CUDA: lanes whose source is past the warp keep their own value */                    \
    unsigned src = me + delta < 32 ? me + delta : me;                                         \
    cuemu::Block *b_ = cuemu::block_now;                                                      \
    unsigned lanes_ = b_->n - (b_->current->linear & ~31u);                                   \
    if (lanes_ < 32 && src >= lanes_) src = me;                                               \
    T r;                                                                                      \
    memcpy(&r, cuemu::exchange(&v, sizeof v, mask, src), sizeof r);                           \
    return r;                                                                                 \
  }

inline void Block_lane_check(int width) {
  if (width != 32) cuemu::fail("shuffle widths other than 32 are not emulated", cuemu::block_now ? cuemu::block_now->kernel : "?");
}
CUEMU_SHFL(float)
CUEMU_SHFL(double)
CUEMU_SHFL(int)
CUEMU_SHFL(unsigned)
#undef CUEMU_SHFL

/* Atomics: fibers never preempt each other, so a plain read-modify-write is
 * atomic. They return the old value, as CUDA's do. */
inline float atomicAdd(float *p, float v) { float o = *p; *p = o + v; return o; }
inline double atomicAdd(double *p, double v) { double o = *p; *p = o + v; return o; }
inline int atomicAdd(int *p, int v) { int o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
  unsigned long long o = *p; *p = o + v; return o;
}
inline int atomicMax(int *p, int v) { int o = *p; if (v > o) *p = v; return o; }
inline int atomicMin(int *p, int v) { int o = *p; if (v < o) *p = v; return o; }
inline unsigned atomicOr(unsigned *p, unsigned v) { unsigned o = *p; *p = o | v; return o; }
inline int atomicCAS(int *p, int cmp, int v) { int o = *p; if (o == cmp) *p = v; return o; }
inline unsigned atomicCAS(unsigned *p, unsigned cmp, unsigned v) { unsigned o = *p; if (o == cmp) *p = v; return o; }
inline void __threadfence() {}

/* Intrinsics used by the kernels */
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __ldg(const float *p) { return *p; }
inline int __ldg(const int *p) { return *p; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }

template <typename F>
inline void cuemu_launch(const char *kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, F body) {
  if (cuemu::launch_hook && cuemu::launch_hook((void *)stream, kernel) != 0) return;
  std::function<void()> fn(body);
  cuemu::launch(kernel, grid, block, shared_bytes, fn);
}

#endif
