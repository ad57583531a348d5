/* The CPU backend's table, its memory operations and the shared scratch
 * buffer used by the convolution. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

/* ---- memory ---- */

void *at_cpu_alloc(size_t bytes) {
  void *p = at_malloc_aligned(bytes, "a CPU tensor");
  memset(p, 0, bytes);
  return p;
}

void at_cpu_release(void *p) { at_free_aligned(p); }

void at_cpu_copy(void *dst, const void *src, size_t bytes) {
  if (bytes && dst != src) memcpy(dst, src, bytes);
}

void at_cpu_synchronize(void) {}

/* The CPU has nothing to overlap: an upload is a copy. */
static void cpu_upload_async(int slot, void *dst, const void *src, size_t bytes) {
  (void)slot;
  at_cpu_copy(dst, src, bytes);
}

static void cpu_upload_wait(int slot) { (void)slot; }

/* ---- scratch ----
 * One cached buffer, lent to one caller at a time. The conv layers of a network
 * run one after another, so after the first (largest) layer has grown it the
 * hot path never allocates. A caller that finds it lent out (two threads
 * running ops at once) gets a private buffer instead of waiting. */

static float *g_scratch;
static size_t g_scratch_cap; /* floats */
static atomic_flag g_scratch_busy = ATOMIC_FLAG_INIT;
static atomic_int g_scratch_atexit;

static void scratch_free_at_exit(void) { at_cpu_scratch_free(); }

float *at_cpu_scratch_borrow(size_t floats) {
  if (floats == 0) floats = 1;
  if (atomic_flag_test_and_set(&g_scratch_busy))
    return at_malloc_aligned(floats * sizeof(float), "convolution scratch");
  if (g_scratch_cap < floats) {
    at_free_aligned(g_scratch);
    g_scratch = NULL;
    g_scratch_cap = 0;
    /* grow with headroom so that slightly larger layers do not reallocate */
    size_t cap = floats + floats / 8;
    g_scratch = at_malloc_aligned(cap * sizeof(float), "convolution scratch");
    g_scratch_cap = cap;
    if (atomic_exchange(&g_scratch_atexit, 1) == 0) atexit(scratch_free_at_exit);
  }
  return g_scratch;
}

void at_cpu_scratch_return(float *p) {
  if (p == NULL) return;
  if (p == g_scratch)
    atomic_flag_clear(&g_scratch_busy);
  else
    at_free_aligned(p);
}

void at_cpu_scratch_free(void) {
  if (atomic_flag_test_and_set(&g_scratch_busy)) return; /* lent out: leave it */
  at_free_aligned(g_scratch);
  g_scratch = NULL;
  g_scratch_cap = 0;
  atomic_flag_clear(&g_scratch_busy);
}

/* ---- the table ---- */

/* memory by hand; every other operation is at_cpu_NAME (nn/backend.h) */
#define AT_CPU_ENTRY_MEM(name)
#define AT_CPU_ENTRY_KERNEL(name) .name = at_cpu_##name,
#define AT_CPU_ENTRY_CUSTOM(name) .name = at_cpu_##name,
#define AT_CPU_ENTRY(kind, ret, name, params, args) AT_CPU_ENTRY_##kind(name)

static const Backend g_cpu = {
    .name = "cpu",
    .alloc = at_cpu_alloc,
    .release = at_cpu_release,
    .to_device = at_cpu_copy,
    .to_host = at_cpu_copy,
    .copy = at_cpu_copy,
    .synchronize = at_cpu_synchronize,
    .host_alloc = at_cpu_alloc,
    .host_release = at_cpu_release,
    .upload_async = cpu_upload_async,
    .upload_wait = cpu_upload_wait,

    AT_BACKEND_OPS(AT_CPU_ENTRY)
};

const Backend *at_backend_cpu(void) { return &g_cpu; }
