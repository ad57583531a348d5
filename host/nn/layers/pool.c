/* [maxpool] and [avgpool]: pooling without padding (floor semantics), a
 * window FREQxTIME or global over frequency, time or both. They share the
 * reading of the window, hence one file. */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

PoolShape layer_pool_shape(const Layer *L, int n) {
  PoolShape s = {n, L->in.c, L->in.h, L->in.w, L->out.h, L->out.w, L->kh, L->kw, L->stride_h, L->stride_w};
  return s;
}

static void build(LayerBuild *b) {
  Layer *L = b->L;
  IniSection *s = b->s;
  static const char *const globals[] = {"none", "frequency", "time", "all", NULL};
  int global = ini_get_choice(s, "global", 0, globals);
  int has_size = ini_get_pair(s, "size", &L->kh, &L->kw, 0, 0, 1, 1 << 20);
  if (global && has_size) ini_fail(s, ini_entry(s, "size"), "give either 'size' or 'global', not both");
  if (global == 1) L->kh = L->in.h, L->kw = 1;
  else if (global == 2) L->kh = 1, L->kw = L->in.w;
  else if (global == 3) L->kh = L->in.h, L->kw = L->in.w;
  else if (!has_size) ini_fail(s, NULL, "missing 'size' (FREQxTIME, e.g. 2x4) or 'global' (frequency|time|all)");
  ini_get_pair(s, "stride", &L->stride_h, &L->stride_w, L->kh, L->kw, 1, 1 << 20);
  if (L->kh > L->in.h || L->kw > L->in.w)
    ini_fail(s, NULL, "pool %dx%d is larger than its input %s (FREQxTIMExCHANNELS); the window must fit (%dx%d at most)",
             L->kh, L->kw, b->in_text, L->in.h, L->in.w);
  L->out.c = L->in.c;
  L->out.h = (L->in.h - L->kh) / L->stride_h + 1;
  L->out.w = (L->in.w - L->kw) / L->stride_w + 1;
}

/* ---- max ---- */

static void max_allocate(const Layer *L, LayerBuffers *buf, const Backend *be, size_t count) {
  (void)L;
  buf->switches = be->alloc(sizeof(int32_t) * count);
}

static void max_forward(LayerPass *p) {
  PoolShape s = layer_pool_shape(p->L, p->n);
  p->be->maxpool_forward(&s, layer_x(p, 0), p->buf->out, p->buf->switches);
}

static void max_backward(LayerPass *p) {
  PoolShape s = layer_pool_shape(p->L, p->n);
  if (p->dx[0]) p->be->maxpool_backward(&s, p->buf->grad, p->buf->switches, p->dx[0]);
}

/* Unpooling through the switches recorded on the way up. */
static int max_deconv(LayerPass *p, float *signal, float *below) {
  PoolShape s = layer_pool_shape(p->L, 1);
  p->be->maxpool_backward(&s, signal, p->buf->switches, below);
  return 1;
}

/* No padding, floor semantics: ONNX's defaults (ceil_mode 0). */
static const char *pool_to_onnx(OnnxLayer *x, const char *op) {
  const Layer *L = x->L;
  OnnxNode *n = onnx_node(x->g, op, L->name, x->inputs, 1, x->output);
  const int64_t kernel[2] = {L->kh, L->kw}, strides[2] = {L->stride_h, L->stride_w};
  onnx_attr_ints(n, "kernel_shape", kernel, 2);
  onnx_attr_ints(n, "strides", strides, 2);
  return x->output;
}
static const char *max_to_onnx(OnnxLayer *x) { return pool_to_onnx(x, "MaxPool"); }
static const char *avg_to_onnx(OnnxLayer *x) { return pool_to_onnx(x, "AveragePool"); }

const LayerKind k_layer_maxpool = {
    .name = "maxpool",
    .keys = "name, input, size, stride, global (frequency|time|all)",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .allocate = max_allocate,
    .forward = max_forward,
    .backward = max_backward,
    .deconv = max_deconv,
    .to_onnx = max_to_onnx,
};

/* ---- average ---- */

static void avg_forward(LayerPass *p) {
  PoolShape s = layer_pool_shape(p->L, p->n);
  p->be->avgpool_forward(&s, layer_x(p, 0), p->buf->out);
}

static void avg_backward(LayerPass *p) {
  PoolShape s = layer_pool_shape(p->L, p->n);
  if (p->dx[0]) p->be->avgpool_backward(&s, p->buf->grad, p->dx[0]);
}

const LayerKind k_layer_avgpool = {
    .name = "avgpool",
    .keys = "name, input, size, stride, global (frequency|time|all)",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .forward = avg_forward,
    .backward = avg_backward,
    .to_onnx = avg_to_onnx,
};
