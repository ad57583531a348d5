/* Winograd convolutions through oneDNN for the large 3x3 layers (FCN-4's
 * second and third: 128->384 on 48x341, 384->768 on 12x68).
 *
 * Why: im2col + SGEMM already runs near the FMA peak there, so the only way
 * to go faster is to do fewer multiplications. oneDNN's Winograd F(4x4, 3x3)
 * runs these layers 2.5-2.8x faster than direct convolution in every
 * direction on the project's Zen 4 machines, with an error of about 1e-6
 * relative (docs/cpu-performance.md). It works in oneDNN's blocked layout
 * (nChw16c), so each call reorders its operands in and out of the
 * backend's NCHW; that costs a fraction of the saving on these layers.
 *
 * When: kernel 3x3, stride 1, padding 1 on every side, channels multiples of
 * 16 and at least 64, at least 256 output positions — the layers measured to
 * win in all three directions. The choice is a fixed rule, not a timing, so
 * that two runs with the same thread count compute the same numbers. A shape
 * oneDNN has no Winograd implementation for (no AVX-512, say), or only its
 * reference code for, stays on im2col (cpu_conv.c). On by default;
 * AURATAG_WINOGRAD=0 keeps every layer on im2col (see enabled()).
 *
 * Memory: two blocked buffers shared by every shape (input-sized: the
 * input, then the input gradient; output-sized: the output, then the output
 * gradient), grown to the largest shape and kept: a call uses them only
 * while it runs, and each batch size is a shape of its own (an epoch's last
 * batch, evaluation), which must not cost another pair. Bias is not passed
 * to oneDNN: cpu_conv.c adds it and sums its gradient as for every layer. */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_conv_winograd.h"

#define DNNL_CHECK(call, what)                                                                               \
  do {                                                                                                       \
    dnnl_status_t st_ = (call);                                                                              \
    if (st_ != dnnl_success) at_die_at(__FILE__, __LINE__, "oneDNN failed %s: status %d", (what), (int)st_); \
  } while (0)

typedef struct Reorder {
  dnnl_primitive_t p; /* NULL: the layouts are the same, nothing to do */
} Reorder;

typedef struct WinogradConv {
  ConvShape key;
  int usable;
  dnnl_primitive_t fwd, bwd_data, bwd_weights;
  dnnl_memory_t x_user, w_user, y_user; /* plain NCHW / OIHW views of the caller's arrays */
  dnnl_memory_t x_blk, y_blk;           /* x then dx; y then dy */
  dnnl_memory_t w_fwd, w_data, dw_blk;  /* the weights in each primitive's layout */
  Reorder x_in, w_in_fwd, y_out, dy_in, w_in_data, dx_out, dw_out;
} WinogradConv;

static struct {
  int init;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  WinogradConv *convs;
  int n, cap;
  void *blk[2];         /* the shared blocked buffers: input side, output side */
  size_t blk_bytes[2];
} g;

static int applicable(const ConvShape *s) {
  return s->kh == 3 && s->kw == 3 && s->stride_h == 1 && s->stride_w == 1 && s->pad_top == 1 && s->pad_bottom == 1 &&
         s->pad_left == 1 && s->pad_right == 1 && s->c_in >= 64 && s->c_out >= 64 && s->c_in % 16 == 0 &&
         s->c_out % 16 == 0 && (long)s->h_out * s->w_out >= 256 && s->n > 0;
}

static const char *impl_name(const_dnnl_primitive_desc_t pd) {
  const char *name = "";
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success) return "";
  return name;
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md, void *handle) {
  dnnl_memory_t m;
  DNNL_CHECK(dnnl_memory_create(&m, md, g.engine, handle), "creating memory");
  return m;
}

/* A reorder from one layout to another, or none when they are the same. */
static Reorder reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
  Reorder r = {NULL};
  if (dnnl_memory_desc_equal(from, to)) return r;
  dnnl_primitive_desc_t pd;
  DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, from, g.engine, to, g.engine, NULL), "planning a reorder");
  DNNL_CHECK(dnnl_primitive_create(&r.p, pd), "creating a reorder");
  dnnl_primitive_desc_destroy(pd);
  return r;
}

static void run_reorder(const Reorder *r, dnnl_memory_t from, dnnl_memory_t to) {
  if (!r->p) return;
  dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  DNNL_CHECK(dnnl_primitive_execute(r->p, g.stream, 2, a), "reordering");
}

static int refused(dnnl_primitive_desc_t pd) {
  return strstr(impl_name(pd), "ref") != NULL || strstr(impl_name(pd), "wino") == NULL;
}

/* Shared buffer `side` at least `bytes` long (64-byte aligned, as oneDNN's own). */
static void grow_shared(int side, size_t bytes) {
  if (bytes <= g.blk_bytes[side]) return;
  free(g.blk[side]);
  const size_t rounded = (bytes + 63) & ~(size_t)63;
  g.blk[side] = aligned_alloc(64, rounded);
  if (!g.blk[side]) at_fatal("out of memory: %zu MB for a Winograd convolution's blocked buffer", rounded >> 20);
  g.blk_bytes[side] = rounded;
}

/* The three primitives and their buffers; 0 when oneDNN cannot do this
 * shape with a Winograd implementation of its own. */
static int plan(WinogradConv *c, const ConvShape *s) {
  dnnl_dims_t xd = {s->n, s->c_in, s->h_in, s->w_in}, wd = {s->c_out, s->c_in, 3, 3},
              yd = {s->n, s->c_out, s->h_out, s->w_out}, stride = {1, 1}, pad = {1, 1};
  dnnl_memory_desc_t x_any, w_any, y_any, x_plain, w_plain, y_plain;
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&x_any, 4, xd, dnnl_f32, dnnl_format_tag_any), "describing x");
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any), "describing w");
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&y_any, 4, yd, dnnl_f32, dnnl_format_tag_any), "describing y");
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&x_plain, 4, xd, dnnl_f32, dnnl_nchw), "describing x");
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_plain, 4, wd, dnnl_f32, dnnl_oihw), "describing w");
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&y_plain, 4, yd, dnnl_f32, dnnl_nchw), "describing y");
  dnnl_convolution_desc_t cd;
  dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
  int ok = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_winograd, &x_any, &w_any,
                                              NULL, &y_any, stride, pad, pad) == dnnl_success &&
           dnnl_primitive_desc_create(&fpd, &cd, NULL, g.engine, NULL) == dnnl_success && !refused(fpd);
  ok = ok &&
       dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_winograd, &x_any, &w_any, &y_any, stride, pad,
                                                pad) == dnnl_success &&
       dnnl_primitive_desc_create(&dpd, &cd, NULL, g.engine, fpd) == dnnl_success && !refused(dpd);
  ok = ok &&
       dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_winograd, &x_any, &w_any, NULL, &y_any,
                                                   stride, pad, pad) == dnnl_success &&
       dnnl_primitive_desc_create(&wpd, &cd, NULL, g.engine, fpd) == dnnl_success && !refused(wpd);
  /* one blocked layout for x and dx, one for y and dy, across the directions */
  const dnnl_memory_desc_t *f_x = ok ? dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0) : NULL;
  const dnnl_memory_desc_t *f_y = ok ? dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0) : NULL;
  ok = ok && dnnl_memory_desc_equal(f_x, dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_src_md, 0)) &&
       dnnl_memory_desc_equal(f_y, dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_dst_md, 0)) &&
       dnnl_memory_desc_equal(f_x, dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0)) &&
       dnnl_memory_desc_equal(f_y, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0));
  if (ok) {
    const dnnl_memory_desc_t *f_w = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *d_w = dnnl_primitive_desc_query_md(dpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *w_dw = dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
    DNNL_CHECK(dnnl_primitive_create(&c->fwd, fpd), "creating a Winograd forward convolution");
    DNNL_CHECK(dnnl_primitive_create(&c->bwd_data, dpd), "creating a Winograd backward-data convolution");
    DNNL_CHECK(dnnl_primitive_create(&c->bwd_weights, wpd), "creating a Winograd backward-weights convolution");
    c->x_user = memory(&x_plain, NULL);
    c->w_user = memory(&w_plain, NULL);
    c->y_user = memory(&y_plain, NULL);
    c->x_blk = memory(f_x, NULL); /* bound to the shared buffers at each call */
    c->y_blk = memory(f_y, NULL);
    grow_shared(0, dnnl_memory_desc_get_size(f_x));
    grow_shared(1, dnnl_memory_desc_get_size(f_y));
    c->w_fwd = memory(f_w, DNNL_MEMORY_ALLOCATE);
    c->w_data = memory(d_w, DNNL_MEMORY_ALLOCATE);
    c->dw_blk = memory(w_dw, DNNL_MEMORY_ALLOCATE);
    c->x_in = reorder(&x_plain, f_x);
    c->w_in_fwd = reorder(&w_plain, f_w);
    c->y_out = reorder(f_y, &y_plain);
    c->dy_in = reorder(&y_plain, f_y);
    c->w_in_data = reorder(&w_plain, d_w);
    c->dx_out = reorder(f_x, &x_plain);
    c->dw_out = reorder(w_dw, &w_plain);
  }
  if (fpd) dnnl_primitive_desc_destroy(fpd);
  if (dpd) dnnl_primitive_desc_destroy(dpd);
  if (wpd) dnnl_primitive_desc_destroy(wpd);
  return ok;
}

/* AURATAG_WINOGRAD=0: im2col everywhere (numbers within ~1e-6 of these,
 * 2-3x slower on FCN-4's large layers; for comparing the two). Read at each
 * call, so a test can switch it. */
static int enabled(void) {
  const char *env = getenv("AURATAG_WINOGRAD");
  return !env || strcmp(env, "0") != 0;
}

static WinogradConv *conv_for(const ConvShape *s) {
  if (!enabled() || !applicable(s)) return NULL;
  if (!g.init) {
    DNNL_CHECK(dnnl_engine_create(&g.engine, dnnl_cpu, 0), "creating the CPU engine");
    DNNL_CHECK(dnnl_stream_create(&g.stream, g.engine, dnnl_stream_default_flags), "creating a stream");
    g.init = 1;
  }
  for (int i = 0; i < g.n; i++)
    if (!memcmp(&g.convs[i].key, s, sizeof *s)) return g.convs[i].usable ? &g.convs[i] : NULL;
  if (g.n == g.cap) {
    g.cap = g.cap ? 2 * g.cap : 8;
    g.convs = at_realloc(g.convs, sizeof *g.convs * (size_t)g.cap, "Winograd convolutions");
  }
  WinogradConv *c = &g.convs[g.n++];
  memset(c, 0, sizeof *c);
  c->key = *s;
  c->usable = plan(c, s);
  return c->usable ? c : NULL;
}

static void bind(dnnl_memory_t m, const void *p) {
  DNNL_CHECK(dnnl_memory_set_data_handle(m, (void *)p), "binding memory");
}

static void wait(void) { DNNL_CHECK(dnnl_stream_wait(g.stream), "waiting for oneDNN"); }

static void bind_shared(WinogradConv *c) {
  bind(c->x_blk, g.blk[0]);
  bind(c->y_blk, g.blk[1]);
}

int at_cpu_winograd_forward(const ConvShape *s, const float *x, const float *w, float *y) {
  WinogradConv *c = conv_for(s);
  if (!c) return 0;
  bind_shared(c);
  bind(c->x_user, x);
  bind(c->w_user, w);
  bind(c->y_user, y);
  run_reorder(&c->x_in, c->x_user, c->x_blk);
  run_reorder(&c->w_in_fwd, c->w_user, c->w_fwd);
  dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, c->x_in.p ? c->x_blk : c->x_user},
                          {DNNL_ARG_WEIGHTS, c->w_in_fwd.p ? c->w_fwd : c->w_user},
                          {DNNL_ARG_DST, c->y_out.p ? c->y_blk : c->y_user}};
  DNNL_CHECK(dnnl_primitive_execute(c->fwd, g.stream, 3, a), "running a Winograd forward convolution");
  run_reorder(&c->y_out, c->y_blk, c->y_user);
  wait();
  return 1;
}

int at_cpu_winograd_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx,
                             float *dw) {
  WinogradConv *c = conv_for(s);
  if (!c) return 0;
  bind_shared(c);
  bind(c->y_user, dy);
  run_reorder(&c->dy_in, c->y_user, c->y_blk);
  dnnl_memory_t dy_m = c->dy_in.p ? c->y_blk : c->y_user;
  if (dw) { /* first: it reads x through the input-sized buffer that dx then takes */
    bind(c->x_user, x);
    bind(c->w_user, dw);
    run_reorder(&c->x_in, c->x_user, c->x_blk);
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, c->x_in.p ? c->x_blk : c->x_user},
                            {DNNL_ARG_DIFF_DST, dy_m},
                            {DNNL_ARG_DIFF_WEIGHTS, c->dw_out.p ? c->dw_blk : c->w_user}};
    DNNL_CHECK(dnnl_primitive_execute(c->bwd_weights, g.stream, 3, a), "running a Winograd backward-weights convolution");
    run_reorder(&c->dw_out, c->dw_blk, c->w_user);
  }
  if (dx) {
    bind(c->w_user, w);
    bind(c->x_user, dx);
    run_reorder(&c->w_in_data, c->w_user, c->w_data);
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, dy_m},
                            {DNNL_ARG_WEIGHTS, c->w_in_data.p ? c->w_data : c->w_user},
                            {DNNL_ARG_DIFF_SRC, c->dx_out.p ? c->x_blk : c->x_user}};
    DNNL_CHECK(dnnl_primitive_execute(c->bwd_data, g.stream, 3, a), "running a Winograd backward-data convolution");
    run_reorder(&c->dx_out, c->x_blk, c->x_user);
  }
  wait();
  return 1;
}
