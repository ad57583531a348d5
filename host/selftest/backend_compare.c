/* Backend against backend, op by op and step by step (backend_compare.h). */
#include "selftest/backend_compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"

typedef struct Ctx {
  const Backend *ref, *dev;
  double tol;
  CompareSink sink;
  void *sink_ctx;
  CompareResult r;
  uint64_t seed;
} Ctx;

/* One tensor on both backends. */
typedef struct Pair {
  void *r, *d;
  size_t bytes;
} Pair;

static Pair pair_alloc(Ctx *c, size_t bytes) {
  Pair p = {c->ref->alloc(bytes), c->dev->alloc(bytes), bytes};
  return p;
}

static Pair pair_upload(Ctx *c, const void *host, size_t bytes) {
  Pair p = pair_alloc(c, bytes);
  c->ref->to_device(p.r, host, bytes);
  c->dev->to_device(p.d, host, bytes);
  return p;
}

/* Random floats in [lo, hi) from the run's seed, uploaded to both. */
static Pair pair_random(Ctx *c, size_t n, float lo, float hi) {
  float *h = at_malloc(sizeof(float) * (n ? n : 1), "comparison data");
  for (size_t i = 0; i < n; i++) h[i] = lo + (hi - lo) * at_rng_uniform(c->seed, 77, i);
  c->seed++;
  Pair p = pair_upload(c, h, sizeof(float) * n);
  free(h);
  return p;
}

static void pair_free(Ctx *c, Pair *p) {
  c->ref->release(p->r);
  c->dev->release(p->d);
  p->r = p->d = NULL;
}

void compare_record(CompareResult *r, const char *what, double err, double tol, CompareSink sink, void *ctx) {
  r->checks++;
  if (!(err <= tol)) r->failed++; /* NaN fails */
  if (!(err <= r->worst)) {
    r->worst = err;
    snprintf(r->worst_what, sizeof r->worst_what, "%s", what);
  }
  if (sink) sink(what, err, tol, ctx);
}

static void record(Ctx *c, const char *what, double err, double tol) {
  compare_record(&c->r, what, err, tol, c->sink, c->sink_ctx);
}

static double scaled_error(const float *got, const float *want, size_t n) {
  double scale = 0, diff = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(got[i]) != isnan(want[i])) return INFINITY;
    if (isnan(want[i])) continue;
    double w = fabs((double)want[i]);
    if (w > scale) scale = w;
    double d = fabs((double)got[i] - (double)want[i]);
    if (!(d <= diff)) diff = d;
  }
  return diff / fmax(scale, 1e-30);
}

static void compare_floats(Ctx *c, const char *what, Pair *p, size_t n, double tol) {
  float *a = at_malloc(sizeof(float) * (n ? n : 1), "comparison"), *b = at_malloc(sizeof(float) * (n ? n : 1), "comparison");
  c->ref->to_host(a, p->r, sizeof(float) * n);
  c->dev->to_host(b, p->d, sizeof(float) * n);
  record(c, what, scaled_error(b, a, n), tol);
  free(a);
  free(b);
}

static void compare_bytes(Ctx *c, const char *what, Pair *p) {
  unsigned char *a = at_malloc(p->bytes + 1, "comparison"), *b = at_malloc(p->bytes + 1, "comparison");
  c->ref->to_host(a, p->r, p->bytes);
  c->dev->to_host(b, p->d, p->bytes);
  record(c, what, memcmp(a, b, p->bytes) ? INFINITY : 0.0, 0.0);
  free(a);
  free(b);
}

static void compare_scalar(Ctx *c, const char *what, double got, double want, double tol) {
  record(c, what, fabs(got - want) / fmax(fabs(want), 1e-30), tol);
}

#define F(p) ((float *)(p))

/* ---- the ops ---- */

static void elementwise(Ctx *c, size_t n) {
  char what[96];
  Pair a = pair_random(c, n, -2, 2), b = pair_random(c, n, -2, 2), y = pair_alloc(c, sizeof(float) * n);
  c->ref->add(F(y.r), F(a.r), F(b.r), n);
  c->dev->add(F(y.d), F(a.d), F(b.d), n);
  snprintf(what, sizeof what, "add n=%zu", n);
  compare_floats(c, what, &y, n, 0);
  c->ref->scale(F(y.r), n, -0.37f);
  c->dev->scale(F(y.d), n, -0.37f);
  snprintf(what, sizeof what, "scale n=%zu", n);
  compare_floats(c, what, &y, n, 0);
  snprintf(what, sizeof what, "sum_squares n=%zu", n);
  compare_scalar(c, what, c->dev->sum_squares(F(a.d), n), c->ref->sum_squares(F(a.r), n), 1e-12);
  snprintf(what, sizeof what, "all_finite n=%zu", n);
  record(c, what, c->dev->all_finite(F(a.d), n) == c->ref->all_finite(F(a.r), n) ? 0 : INFINITY, 0);
  c->ref->fill(F(y.r), n, 1.5f);
  c->dev->fill(F(y.d), n, 1.5f);
  snprintf(what, sizeof what, "fill n=%zu", n);
  compare_floats(c, what, &y, n, 0);
  /* one NaN in the middle must be found */
  float nan_value = NAN;
  c->dev->to_device(F(y.d) + n / 2, &nan_value, sizeof nan_value);
  snprintf(what, sizeof what, "all_finite finds a NaN n=%zu", n);
  record(c, what, c->dev->all_finite(F(y.d), n) == 0 ? 0 : INFINITY, 0);

  Pair x = pair_random(c, n, -3, 3), dy = pair_random(c, n, -1, 1), dx = pair_alloc(c, sizeof(float) * n);
  c->ref->relu_forward(F(x.r), F(y.r), n);
  c->dev->relu_forward(F(x.d), F(y.d), n);
  snprintf(what, sizeof what, "relu forward n=%zu", n);
  compare_floats(c, what, &y, n, 0);
  c->ref->relu_backward(F(y.r), F(dy.r), F(dx.r), n);
  c->dev->relu_backward(F(y.d), F(dy.d), F(dx.d), n);
  snprintf(what, sizeof what, "relu backward n=%zu", n);
  compare_floats(c, what, &dx, n, 0);
  c->ref->elu_forward(F(x.r), F(y.r), n, 1.0f);
  c->dev->elu_forward(F(x.d), F(y.d), n, 1.0f);
  snprintf(what, sizeof what, "elu forward n=%zu", n);
  compare_floats(c, what, &y, n, c->tol);
  c->ref->elu_backward(F(y.r), F(dy.r), F(dx.r), n, 1.0f);
  c->dev->elu_backward(F(y.d), F(dy.d), F(dx.d), n, 1.0f);
  snprintf(what, sizeof what, "elu backward n=%zu", n);
  compare_floats(c, what, &dx, n, c->tol);
  c->ref->sigmoid(F(x.r), F(y.r), n);
  c->dev->sigmoid(F(x.d), F(y.d), n);
  snprintf(what, sizeof what, "sigmoid n=%zu", n);
  compare_floats(c, what, &y, n, c->tol);
  Pair mask = pair_alloc(c, n);
  c->ref->dropout_forward(F(x.r), F(y.r), mask.r, n, 0.3f, 1234, 5);
  c->dev->dropout_forward(F(x.d), F(y.d), mask.d, n, 0.3f, 1234, 5);
  snprintf(what, sizeof what, "dropout mask n=%zu", n);
  compare_bytes(c, what, &mask);
  snprintf(what, sizeof what, "dropout forward n=%zu", n);
  compare_floats(c, what, &y, n, 0);
  c->ref->dropout_backward(F(dy.r), mask.r, F(dx.r), n, 0.3f);
  c->dev->dropout_backward(F(dy.d), mask.d, F(dx.d), n, 0.3f);
  snprintf(what, sizeof what, "dropout backward n=%zu", n);
  compare_floats(c, what, &dx, n, 0);
  Pair *all[] = {&a, &b, &y, &x, &dy, &dx, &mask};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(c, all[i]);
}

/* A convolution forward and backward on both backends. backward_first: the
 * backward pass meets the shape first (cuDNN's algorithm search in benchmark
 * mode then runs inside it, on its own buffers: the inputs must be left as
 * they were, which is checked). */
static void conv(Ctx *c, ConvShape s, int with_bias, int backward_first) {
  s.h_out = (s.h_in + s.pad_top + s.pad_bottom - s.kh) / s.stride_h + 1;
  s.w_out = (s.w_in + s.pad_left + s.pad_right - s.kw) / s.stride_w + 1;
  const size_t nx = (size_t)s.n * s.c_in * s.h_in * s.w_in, nw = (size_t)s.c_out * s.c_in * s.kh * s.kw;
  const size_t ny = (size_t)s.n * s.c_out * s.h_out * s.w_out;
  char what[112], name[64];
  snprintf(name, sizeof name, "%dx%dx%dx%d k%dx%d s%d pad%d/%d/%d/%d%s", s.n, s.c_in, s.h_in, s.w_in, s.kh, s.kw,
           s.stride_h, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right, backward_first ? " (backward first)" : "");
  Pair x = pair_random(c, nx, -1, 1), w = pair_random(c, nw, -0.5f, 0.5f), b = pair_random(c, (size_t)s.c_out, -1, 1);
  Pair y = pair_alloc(c, sizeof(float) * ny), dy = pair_random(c, ny, -1, 1);
  Pair dx = pair_alloc(c, sizeof(float) * nx), dw = pair_alloc(c, sizeof(float) * nw),
       db = pair_alloc(c, sizeof(float) * (size_t)s.c_out);
  for (int pass = 0; pass < 2; pass++) {
    if ((pass == 0) != (backward_first != 0)) {
      c->ref->conv2d_forward(&s, F(x.r), F(w.r), with_bias ? F(b.r) : NULL, F(y.r));
      c->dev->conv2d_forward(&s, F(x.d), F(w.d), with_bias ? F(b.d) : NULL, F(y.d));
      snprintf(what, sizeof what, "conv forward %s", name);
      compare_floats(c, what, &y, ny, c->tol);
      continue;
    }
    c->ref->conv2d_backward(&s, F(x.r), F(w.r), F(dy.r), F(dx.r), F(dw.r), with_bias ? F(db.r) : NULL);
    c->dev->conv2d_backward(&s, F(x.d), F(w.d), F(dy.d), F(dx.d), F(dw.d), with_bias ? F(db.d) : NULL);
    snprintf(what, sizeof what, "conv backward dx %s", name);
    compare_floats(c, what, &dx, nx, c->tol);
    snprintf(what, sizeof what, "conv backward dw %s", name);
    compare_floats(c, what, &dw, nw, c->tol);
    snprintf(what, sizeof what, "conv backward leaves dy %s", name);
    compare_floats(c, what, &dy, ny, 0);
    snprintf(what, sizeof what, "conv backward leaves x %s", name);
    compare_floats(c, what, &x, nx, 0);
    if (with_bias) {
      snprintf(what, sizeof what, "conv backward dbias %s", name);
      compare_floats(c, what, &db, (size_t)s.c_out, c->tol);
    }
  }
  Pair *all[] = {&x, &w, &b, &y, &dy, &dx, &dw, &db};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(c, all[i]);
}

static void pool(Ctx *c, PoolShape s) {
  s.h_out = (s.h_in - s.kh) / s.stride_h + 1;
  s.w_out = (s.w_in - s.kw) / s.stride_w + 1;
  const size_t nx = (size_t)s.n * s.c * s.h_in * s.w_in, ny = (size_t)s.n * s.c * s.h_out * s.w_out;
  char what[96], name[64];
  snprintf(name, sizeof name, "%dx%dx%dx%d k%dx%d s%dx%d", s.n, s.c, s.h_in, s.w_in, s.kh, s.kw, s.stride_h,
           s.stride_w);
  /* values from a small set: ties happen and must break the same way */
  float *h = at_malloc(sizeof(float) * nx, "pool data");
  for (size_t i = 0; i < nx; i++) h[i] = (float)(int)(8 * at_rng_uniform(c->seed, 78, i)) - 4.0f;
  c->seed++;
  Pair x = pair_upload(c, h, sizeof(float) * nx);
  free(h);
  Pair y = pair_alloc(c, sizeof(float) * ny), sw = pair_alloc(c, sizeof(int32_t) * ny), dy = pair_random(c, ny, -1, 1);
  Pair dx = pair_alloc(c, sizeof(float) * nx);
  c->ref->maxpool_forward(&s, F(x.r), F(y.r), sw.r);
  c->dev->maxpool_forward(&s, F(x.d), F(y.d), sw.d);
  snprintf(what, sizeof what, "maxpool forward %s", name);
  compare_floats(c, what, &y, ny, 0);
  snprintf(what, sizeof what, "maxpool switches %s", name);
  compare_bytes(c, what, &sw);
  c->ref->maxpool_backward(&s, F(dy.r), sw.r, F(dx.r));
  c->dev->maxpool_backward(&s, F(dy.d), sw.d, F(dx.d));
  snprintf(what, sizeof what, "maxpool backward %s", name);
  compare_floats(c, what, &dx, nx, c->tol);
  c->ref->avgpool_forward(&s, F(x.r), F(y.r));
  c->dev->avgpool_forward(&s, F(x.d), F(y.d));
  snprintf(what, sizeof what, "avgpool forward %s", name);
  compare_floats(c, what, &y, ny, c->tol);
  c->ref->avgpool_backward(&s, F(dy.r), F(dx.r));
  c->dev->avgpool_backward(&s, F(dy.d), F(dx.d));
  snprintf(what, sizeof what, "avgpool backward %s", name);
  compare_floats(c, what, &dx, nx, c->tol);
  Pair *all[] = {&x, &y, &sw, &dy, &dx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(c, all[i]);
}

static void batchnorm(Ctx *c, BatchNormShape s) {
  const size_t nx = (size_t)s.n * s.c * s.h * s.w, nf = (size_t)at_bn_features(&s);
  char what[96], name[64];
  snprintf(name, sizeof name, "%dx%dx%dx%d %s", s.n, s.c, s.h, s.w,
           s.axis == AT_BN_PER_CHANNEL ? "per channel" : "per frequency");
  Pair x = pair_random(c, nx, -2, 3), g = pair_random(c, nf, 0.5f, 1.5f), b = pair_random(c, nf, -1, 1);
  Pair rm = pair_random(c, nf, -0.1f, 0.1f), rv = pair_random(c, nf, 0.9f, 1.1f);
  Pair y = pair_alloc(c, sizeof(float) * nx), sm = pair_alloc(c, sizeof(float) * nf), si = pair_alloc(c, sizeof(float) * nf);
  Pair dy = pair_random(c, nx, -1, 1), dx = pair_alloc(c, sizeof(float) * nx), dg = pair_alloc(c, sizeof(float) * nf),
       dbt = pair_alloc(c, sizeof(float) * nf);
  c->ref->batchnorm_forward_train(&s, F(x.r), F(g.r), F(b.r), F(y.r), F(sm.r), F(si.r), F(rm.r), F(rv.r));
  c->dev->batchnorm_forward_train(&s, F(x.d), F(g.d), F(b.d), F(y.d), F(sm.d), F(si.d), F(rm.d), F(rv.d));
  snprintf(what, sizeof what, "batchnorm train y %s", name);
  compare_floats(c, what, &y, nx, c->tol);
  snprintf(what, sizeof what, "batchnorm running mean %s", name);
  compare_floats(c, what, &rm, nf, c->tol);
  snprintf(what, sizeof what, "batchnorm running var %s", name);
  compare_floats(c, what, &rv, nf, c->tol);
  snprintf(what, sizeof what, "batchnorm saved invstd %s", name);
  compare_floats(c, what, &si, nf, c->tol);
  c->ref->batchnorm_backward(&s, F(x.r), F(dy.r), F(g.r), F(sm.r), F(si.r), F(dx.r), F(dg.r), F(dbt.r));
  c->dev->batchnorm_backward(&s, F(x.d), F(dy.d), F(g.d), F(sm.d), F(si.d), F(dx.d), F(dg.d), F(dbt.d));
  snprintf(what, sizeof what, "batchnorm backward dx %s", name);
  compare_floats(c, what, &dx, nx, c->tol);
  snprintf(what, sizeof what, "batchnorm backward dgamma %s", name);
  compare_floats(c, what, &dg, nf, c->tol);
  snprintf(what, sizeof what, "batchnorm backward dbeta %s", name);
  compare_floats(c, what, &dbt, nf, c->tol);
  c->ref->batchnorm_forward_infer(&s, F(x.r), F(g.r), F(b.r), F(rm.r), F(rv.r), F(y.r));
  c->dev->batchnorm_forward_infer(&s, F(x.d), F(g.d), F(b.d), F(rm.d), F(rv.d), F(y.d));
  snprintf(what, sizeof what, "batchnorm inference %s", name);
  compare_floats(c, what, &y, nx, c->tol);
  Pair *all[] = {&x, &g, &b, &rm, &rv, &y, &sm, &si, &dy, &dx, &dg, &dbt};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(c, all[i]);
}

/* Batch norm -> ReLU -> max-pool as one operation, training then inference
 * (and a frozen backward). Integer inputs from a small set: equal inputs
 * normalise to equal values on both backends, so ties break alike. */
static void bn_relu_maxpool(Ctx *c, BatchNormShape b, PoolShape p, int relu) {
  p.n = b.n, p.c = b.c, p.h_in = b.h, p.w_in = b.w;
  p.h_out = (p.h_in - p.kh) / p.stride_h + 1;
  p.w_out = (p.w_in - p.kw) / p.stride_w + 1;
  const size_t nx = (size_t)b.n * b.c * b.h * b.w, ny = (size_t)p.n * p.c * p.h_out * p.w_out, nf = (size_t)b.c;
  char what[128], name[64];
  snprintf(name, sizeof name, "%dx%dx%dx%d pool %dx%d s%dx%d%s", b.n, b.c, b.h, b.w, p.kh, p.kw, p.stride_h, p.stride_w,
           relu ? "" : " (no ReLU)");
  float *h = at_malloc(sizeof(float) * nx, "chain data");
  for (size_t i = 0; i < nx; i++) h[i] = (float)(int)(9 * at_rng_uniform(c->seed, 79, i)) - 4.0f;
  c->seed++;
  Pair x = pair_upload(c, h, sizeof(float) * nx);
  free(h);
  Pair g = pair_random(c, nf, -1.5f, 1.5f), bt = pair_random(c, nf, -0.5f, 0.5f), rm = pair_random(c, nf, -0.1f, 0.1f),
       rv = pair_random(c, nf, 0.9f, 1.1f), sm = pair_alloc(c, sizeof(float) * nf), si = pair_alloc(c, sizeof(float) * nf),
       y = pair_alloc(c, sizeof(float) * ny), sw = pair_alloc(c, sizeof(int32_t) * ny), dy = pair_random(c, ny, -1, 1),
       dx = pair_alloc(c, sizeof(float) * nx), dg = pair_alloc(c, sizeof(float) * nf),
       dbt = pair_alloc(c, sizeof(float) * nf);
  for (int training = 1; training >= 0; training--) {
    const char *mode = training ? "train" : "inference/frozen";
    c->ref->bn_relu_maxpool_forward(&b, &p, relu, training, F(x.r), F(g.r), F(bt.r), F(sm.r), F(si.r), F(rm.r), F(rv.r),
                                    F(y.r), sw.r);
    c->dev->bn_relu_maxpool_forward(&b, &p, relu, training, F(x.d), F(g.d), F(bt.d), F(sm.d), F(si.d), F(rm.d), F(rv.d),
                                    F(y.d), sw.d);
    snprintf(what, sizeof what, "bn+relu+maxpool %s y %s", mode, name);
    compare_floats(c, what, &y, ny, c->tol);
    snprintf(what, sizeof what, "bn+relu+maxpool %s switches %s", mode, name);
    compare_bytes(c, what, &sw);
    snprintf(what, sizeof what, "bn+relu+maxpool %s running var %s", mode, name);
    compare_floats(c, what, &rv, nf, c->tol);
    c->ref->bn_relu_maxpool_backward(&b, &p, relu, training, F(x.r), F(y.r), F(dy.r), sw.r, F(g.r), F(sm.r), F(si.r),
                                     F(rv.r), F(dx.r), F(dg.r), F(dbt.r));
    c->dev->bn_relu_maxpool_backward(&b, &p, relu, training, F(x.d), F(y.d), F(dy.d), sw.d, F(g.d), F(sm.d), F(si.d),
                                     F(rv.d), F(dx.d), F(dg.d), F(dbt.d));
    snprintf(what, sizeof what, "bn+relu+maxpool %s backward dx %s", mode, name);
    compare_floats(c, what, &dx, nx, c->tol);
    if (training) {
      snprintf(what, sizeof what, "bn+relu+maxpool backward dgamma %s", name);
      compare_floats(c, what, &dg, nf, c->tol);
      snprintf(what, sizeof what, "bn+relu+maxpool backward dbeta %s", name);
      compare_floats(c, what, &dbt, nf, c->tol);
    }
  }
  Pair *all[] = {&x, &g, &bt, &rm, &rv, &sm, &si, &y, &sw, &dy, &dx, &dg, &dbt};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(c, all[i]);
}

static void dense_concat_losses(Ctx *c, int n, int in, int out) {
  char what[96];
  Pair x = pair_random(c, (size_t)n * in, -1, 1), w = pair_random(c, (size_t)out * in, -0.5f, 0.5f),
       b = pair_random(c, (size_t)out, -1, 1), y = pair_alloc(c, sizeof(float) * n * out),
       dy = pair_random(c, (size_t)n * out, -1, 1), dx = pair_alloc(c, sizeof(float) * n * in),
       dw = pair_alloc(c, sizeof(float) * out * in), db = pair_alloc(c, sizeof(float) * out);
  c->ref->dense_forward(n, in, out, F(x.r), F(w.r), F(b.r), F(y.r));
  c->dev->dense_forward(n, in, out, F(x.d), F(w.d), F(b.d), F(y.d));
  snprintf(what, sizeof what, "dense forward %dx%d->%d", n, in, out);
  compare_floats(c, what, &y, (size_t)n * out, c->tol);
  c->ref->dense_backward(n, in, out, F(x.r), F(w.r), F(dy.r), F(dx.r), F(dw.r), F(db.r));
  c->dev->dense_backward(n, in, out, F(x.d), F(w.d), F(dy.d), F(dx.d), F(dw.d), F(db.d));
  snprintf(what, sizeof what, "dense backward dx %dx%d->%d", n, in, out);
  compare_floats(c, what, &dx, (size_t)n * in, c->tol);
  snprintf(what, sizeof what, "dense backward dw %dx%d->%d", n, in, out);
  compare_floats(c, what, &dw, (size_t)out * in, c->tol);
  snprintf(what, sizeof what, "dense backward db %dx%d->%d", n, in, out);
  compare_floats(c, what, &db, (size_t)out, c->tol);

  /* concat of three parts with 2, 5, 1 channels over a 3x7 plane */
  const int ch[3] = {2, 5, 1}, plane = 21, total = 8;
  Pair parts[3], grads[3];
  const float *xr[3], *xd[3];
  float *gr[3], *gd[3];
  for (int i = 0; i < 3; i++) {
    parts[i] = pair_random(c, (size_t)n * ch[i] * plane, -1, 1);
    grads[i] = pair_alloc(c, sizeof(float) * n * ch[i] * plane);
    xr[i] = F(parts[i].r), xd[i] = F(parts[i].d), gr[i] = F(grads[i].r), gd[i] = F(grads[i].d);
  }
  Pair cat = pair_alloc(c, sizeof(float) * n * total * plane);
  c->ref->concat_forward(n, plane, 3, ch, xr, F(cat.r));
  c->dev->concat_forward(n, plane, 3, ch, xd, F(cat.d));
  compare_floats(c, "concat forward", &cat, (size_t)n * total * plane, 0);
  c->ref->concat_backward(n, plane, 3, ch, F(cat.r), gr);
  c->dev->concat_backward(n, plane, 3, ch, F(cat.d), gd);
  for (int i = 0; i < 3; i++) {
    snprintf(what, sizeof what, "concat backward part %d", i);
    compare_floats(c, what, &grads[i], (size_t)n * ch[i] * plane, 0);
    pair_free(c, &parts[i]);
    pair_free(c, &grads[i]);
  }
  pair_free(c, &cat);

  /* losses on [n, out] logits */
  const size_t no = (size_t)n * out;
  Pair logits = pair_random(c, no, -6, 6), targets = pair_random(c, no, 0, 1), dl = pair_alloc(c, sizeof(float) * no);
  float *tt = at_malloc(sizeof(float) * no, "targets");
  c->ref->to_host(tt, targets.r, sizeof(float) * no);
  for (size_t i = 0; i < no; i++) tt[i] = tt[i] < 0.3f ? 1.0f : 0.0f;
  c->ref->to_device(targets.r, tt, sizeof(float) * no);
  c->dev->to_device(targets.d, tt, sizeof(float) * no);
  free(tt);
  double lr = c->ref->bce_with_logits(n, out, F(logits.r), F(targets.r), F(dl.r));
  double ld = c->dev->bce_with_logits(n, out, F(logits.d), F(targets.d), F(dl.d));
  compare_scalar(c, "bce_with_logits loss", ld, lr, c->tol);
  compare_floats(c, "bce_with_logits dlogits", &dl, no, c->tol);
  int32_t *lab = at_malloc(sizeof(int32_t) * (size_t)n, "labels");
  for (int i = 0; i < n; i++) lab[i] = (int32_t)((i * 7 + 3) % out);
  Pair labels = pair_upload(c, lab, sizeof(int32_t) * (size_t)n);
  free(lab);
  lr = c->ref->softmax_cross_entropy(n, out, F(logits.r), labels.r, F(dl.r));
  ld = c->dev->softmax_cross_entropy(n, out, F(logits.d), labels.d, F(dl.d));
  compare_scalar(c, "softmax_cross_entropy loss", ld, lr, c->tol);
  compare_floats(c, "softmax_cross_entropy dlogits", &dl, no, c->tol);
  c->ref->softmax(n, out, F(logits.r), F(y.r));
  c->dev->softmax(n, out, F(logits.d), F(y.d));
  compare_floats(c, "softmax", &y, no, c->tol);
  Pair *all[] = {&x, &w, &b, &y, &dy, &dx, &dw, &db, &logits, &targets, &dl, &labels};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(c, all[i]);
}

static void optimisers(Ctx *c, size_t n) {
  Pair p = pair_random(c, n, -1, 1), m = pair_alloc(c, sizeof(float) * n), v = pair_alloc(c, sizeof(float) * n);
  SgdConfig sgd = {.lr = 0.05f, .momentum = 0.9f, .dampening = 0.0f, .weight_decay = 1e-3f, .nesterov = 1};
  for (int step = 0; step < 3; step++) {
    Pair g = pair_random(c, n, -1, 1);
    c->ref->sgd_update(&sgd, F(p.r), F(g.r), F(m.r), n, step == 0);
    c->dev->sgd_update(&sgd, F(p.d), F(g.d), F(m.d), n, step == 0);
    pair_free(c, &g);
  }
  compare_floats(c, "sgd nesterov + weight decay, 3 steps", &p, n, c->tol);
  AdamConfig adam = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f, .step = 0};
  c->ref->fill(F(m.r), n, 0), c->dev->fill(F(m.d), n, 0);
  for (int step = 1; step <= 3; step++) {
    Pair g = pair_random(c, n, -1, 1);
    adam.step = step;
    c->ref->adam_update(&adam, F(p.r), F(g.r), F(m.r), F(v.r), n);
    c->dev->adam_update(&adam, F(p.d), F(g.d), F(m.d), F(v.d), n);
    pair_free(c, &g);
  }
  compare_floats(c, "adam, 3 steps", &p, n, c->tol);
  pair_free(c, &p);
  pair_free(c, &m);
  pair_free(c, &v);
}

/* The memory operations: staged upload through both slots, device copy,
 * download; the bytes must come back identical on both backends. */
static void memory_one(const Backend *be, void *dst, size_t n, int slot) {
  float *h = be->host_alloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) h[i] = (float)i * 0.25f - (float)slot;
  float *staged = be->alloc(sizeof(float) * n);
  be->upload_async(slot, staged, h, sizeof(float) * n);
  be->upload_wait(slot);
  be->copy(dst, staged, sizeof(float) * n);
  be->synchronize();
  be->release(staged);
  be->host_release(h);
}

static void memory(Ctx *c) {
  const size_t n = 1000;
  for (int slot = 0; slot < 2; slot++) {
    Pair y = pair_alloc(c, sizeof(float) * n);
    memory_one(c->ref, y.r, n, slot);
    memory_one(c->dev, y.d, n, slot);
    char what[96];
    snprintf(what, sizeof what, "upload_async slot %d, copy, to_host n=%zu", slot, n);
    compare_bytes(c, what, &y);
    pair_free(c, &y);
  }
}

static void elementwise_sizes(Ctx *c) {
  elementwise(c, 1);
  elementwise(c, 257);
  elementwise(c, 10007);
}

static void convolutions(Ctx *c) {
  /* n, c_in, h, w, c_out, h_out, w_out (computed), kh, kw, stride, pads t/b/l/r */
  conv(c, (ConvShape){2, 3, 9, 11, 4, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1}, 1, 0);
  conv(c, (ConvShape){3, 2, 5, 17, 3, 0, 0, 1, 6, 1, 1, 0, 0, 2, 3}, 1, 0); /* Pons-style 1xn, "same" uneven */
  conv(c, (ConvShape){2, 1, 12, 7, 5, 0, 0, 4, 1, 2, 1, 0, 0, 0, 0}, 0, 0); /* mx1, stride 2, valid */
  conv(c, (ConvShape){1, 4, 8, 8, 2, 0, 0, 2, 2, 2, 2, 0, 1, 0, 1}, 1, 0);
  conv(c, (ConvShape){2, 3, 7, 10, 5, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1}, 1, 1); /* a shape met backward first */
}

static void pools(Ctx *c) {
  pool(c, (PoolShape){2, 3, 8, 16, 0, 0, 2, 4, 2, 4});
  pool(c, (PoolShape){1, 2, 9, 11, 0, 0, 3, 3, 2, 2}); /* overlapping windows, remainder */
  pool(c, (PoolShape){2, 2, 5, 13, 0, 0, 1, 13, 1, 13}); /* global over time */
}

static void batchnorms(Ctx *c) {
  batchnorm(c, (BatchNormShape){3, 4, 5, 7, AT_BN_PER_CHANNEL, 1e-5f, 0.1f});
  batchnorm(c, (BatchNormShape){2, 3, 6, 9, AT_BN_PER_FREQUENCY, 1e-3f, 0.01f});
}

static void chains(Ctx *c) {
  bn_relu_maxpool(c, (BatchNormShape){3, 5, 8, 13, AT_BN_PER_CHANNEL, 1e-5f, 0.1f},
                  (PoolShape){.kh = 2, .kw = 4, .stride_h = 2, .stride_w = 4}, 1);
  bn_relu_maxpool(c, (BatchNormShape){2, 4, 7, 9, AT_BN_PER_CHANNEL, 1e-3f, 0.01f},
                  (PoolShape){.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2}, 1);
  bn_relu_maxpool(c, (BatchNormShape){2, 6, 10, 7, AT_BN_PER_CHANNEL, 1e-3f, 0.01f},
                  (PoolShape){.kh = 10, .kw = 1, .stride_h = 10, .stride_w = 1}, 0);
}

static void dense_and_outputs(Ctx *c) { dense_concat_losses(c, 5, 37, 11); }
static void optimisers_sized(Ctx *c) { optimisers(c, 1001); }

/* One entry per operation of the Backend table (ggml's test-backend-ops):
 * the comparison that exercises it. Several operations share a comparison
 * when one's output is the other's input (forward, then backward). The
 * comparisons run once each, in the order they first appear here. */
typedef struct OpComparison {
  const char *op;
  void (*run)(Ctx *c);
} OpComparison;

static const OpComparison k_op_comparisons[] = {
    {"fill", elementwise_sizes},
    {"add", elementwise_sizes},
    {"scale", elementwise_sizes},
    {"sum_squares", elementwise_sizes},
    {"all_finite", elementwise_sizes},
    {"relu_forward", elementwise_sizes},
    {"relu_backward", elementwise_sizes},
    {"elu_forward", elementwise_sizes},
    {"elu_backward", elementwise_sizes},
    {"sigmoid", elementwise_sizes},
    {"dropout_forward", elementwise_sizes},
    {"dropout_backward", elementwise_sizes},
    {"conv2d_forward", convolutions},
    {"conv2d_backward", convolutions},
    {"maxpool_forward", pools},
    {"maxpool_backward", pools},
    {"avgpool_forward", pools},
    {"avgpool_backward", pools},
    {"batchnorm_forward_train", batchnorms},
    {"batchnorm_forward_infer", batchnorms},
    {"batchnorm_backward", batchnorms},
    {"bn_relu_maxpool_forward", chains},
    {"bn_relu_maxpool_backward", chains},
    {"dense_forward", dense_and_outputs},
    {"dense_backward", dense_and_outputs},
    {"concat_forward", dense_and_outputs},
    {"concat_backward", dense_and_outputs},
    {"bce_with_logits", dense_and_outputs},
    {"softmax_cross_entropy", dense_and_outputs},
    {"softmax", dense_and_outputs},
    {"sgd_update", optimisers_sized},
    {"adam_update", optimisers_sized},
    /* every comparison moves data with these; memory() checks the rest */
    {"alloc", memory},
    {"release", memory},
    {"to_device", memory},
    {"to_host", memory},
    {"copy", memory},
    {"synchronize", memory},
    {"host_alloc", memory},
    {"host_release", memory},
    {"upload_async", memory},
    {"upload_wait", memory},
};
enum { N_OP_COMPARISONS = sizeof k_op_comparisons / sizeof k_op_comparisons[0] };

static int has_comparison(const char *op) {
  for (int i = 0; i < N_OP_COMPARISONS; i++)
    if (!strcmp(k_op_comparisons[i].op, op)) return 1;
  return 0;
}

int backend_ops_without_comparison(char *names, size_t size) {
  static const char *const ops[] = {
#define AT_OP_NAME(kind, ret, name, params, args) #name,
      AT_BACKEND_OPS(AT_OP_NAME)
#undef AT_OP_NAME
  };
  int missing = 0;
  if (size) names[0] = '\0';
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    if (has_comparison(ops[i])) continue;
    missing++;
    size_t used = strlen(names);
    if (used < size) snprintf(names + used, size - used, "%s%s", used ? ", " : "", ops[i]);
  }
  return missing;
}

CompareResult backend_compare_ops(const Backend *ref, const Backend *dev, double tol, CompareSink sink, void *ctx) {
  Ctx c = {.ref = ref, .dev = dev, .tol = tol, .sink = sink, .sink_ctx = ctx, .seed = 2024};
  char missing[112], what[160]; /* the first ones are enough to name */
  if (backend_ops_without_comparison(missing, sizeof missing)) {
    snprintf(what, sizeof what, "backend ops without a comparison entry: %s", missing);
    record(&c, what, INFINITY, 0);
  }
  for (int i = 0; i < N_OP_COMPARISONS; i++) {
    int ran = 0;
    for (int j = 0; j < i; j++) ran |= k_op_comparisons[j].run == k_op_comparisons[i].run;
    if (!ran) k_op_comparisons[i].run(&c);
  }
  return c.r;
}

/* ---- whole training steps ---- */

static Model *model_on(const Backend *be, const char *config, const char *const *ov, int n_ov, int batch) {
  Model *m = model_from_config(config, ov, n_ov);
  model_allocate(m, be, batch);
  model_init_weights(m, 42);
  return m;
}

CompareResult backend_compare_training(const Backend *ref, const Backend *dev, const char *model_config,
                                       const char *const *overrides, int n_overrides, int batch, int steps,
                                       double tol, CompareSink sink, void *ctx, double *ms_per_step) {
  Ctx c = {.ref = ref, .dev = dev, .tol = tol, .sink = sink, .sink_ctx = ctx, .seed = 99};
  Model *mr = model_on(ref, model_config, overrides, n_overrides, batch);
  Model *md = model_on(dev, model_config, overrides, n_overrides, batch);
  const size_t nx = (size_t)batch * at_dims_count(mr->input);
  Pair x = pair_random(&c, nx, -1, 1);
  Pair t;
  if (mr->output == OUTPUT_SIGMOID) {
    float *h = at_malloc(sizeof(float) * (size_t)batch * mr->classes, "targets");
    for (size_t i = 0; i < (size_t)batch * mr->classes; i++) h[i] = at_rng_uniform(5, 6, i) < 0.3f;
    t = pair_upload(&c, h, sizeof(float) * (size_t)batch * mr->classes);
    free(h);
  } else {
    int32_t *h = at_malloc(sizeof(int32_t) * (size_t)batch, "labels");
    for (int i = 0; i < batch; i++) h[i] = i % mr->classes;
    t = pair_upload(&c, h, sizeof(int32_t) * (size_t)batch);
    free(h);
  }
  Optimizer *opr = optimizer_create(ref, OPT_ADAM, mr->n_weights), *opd = optimizer_create(dev, OPT_ADAM, md->n_weights);
  opr->adam.lr = opd->adam.lr = 1e-3f;
  opr->adam.eps = opd->adam.eps = 1e-6f;
  char what[160];
  for (int s = 0; s < steps; s++) {
    model_forward(mr, F(x.r), batch, 1, 7, (uint64_t)s);
    double lr = model_loss(mr, batch, t.r, 1);
    double t0 = at_now_seconds();
    model_forward(md, F(x.d), batch, 1, 7, (uint64_t)s);
    double ld = model_loss(md, batch, t.d, 1);
    optimizer_step(opd, md->weights, md->grads);
    dev->synchronize();
    if (ms_per_step && s == steps - 1) *ms_per_step = 1000.0 * (at_now_seconds() - t0);
    optimizer_step(opr, mr->weights, mr->grads);
    snprintf(what, sizeof what, "%.40s training step %d loss", mr->name, s + 1);
    compare_scalar(&c, what, ld, lr, tol);
  }
  /* every parameter tensor after the last step */
  for (int i = 0; i < mr->n_params; i++) {
    const ParamTensor *p = &mr->params[i];
    Pair pp = {model_param_data(mr, p), model_param_data(md, &md->params[i]), sizeof(float) * p->count};
    snprintf(what, sizeof what, "%.40s after %d steps: %.40s.%.31s", mr->name, steps, mr->layers[p->layer].name,
             p->name);
    compare_floats(&c, what, &pp, p->count, tol);
  }
  optimizer_free(opr);
  optimizer_free(opd);
  pair_free(&c, &x);
  pair_free(&c, &t);
  model_free(mr);
  model_free(md);
  return c.r;
}

void compare_print_sink(const char *what, double err, double tol, void *ctx) {
  FILE *out = ctx ? (FILE *)ctx : stdout;
  fprintf(out, "%s  %-64s max rel diff %.2e (tolerance %.0e)\n", err <= tol ? "PASS" : "FAIL", what, err, tol);
}
