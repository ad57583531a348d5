/* [conv] and [conv1d]: 2-D convolution, and the 1-D convolution over time of
 * the frequency rows taken as channels (a conv with kh = 1 over C*H input
 * channels). They share everything but the reading of size, stride and
 * padding, hence one file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

extern const LayerKind k_layer_conv1d;
static int is_1d(const Layer *L) { return L->kind == &k_layer_conv1d; }

static ConvShape conv_shape(const Layer *L, int n) {
  ConvShape s = {0};
  const int one_d = is_1d(L);
  s.n = n;
  s.c_in = one_d ? L->in.c * L->in.h : L->in.c;
  s.h_in = one_d ? 1 : L->in.h;
  s.w_in = L->in.w;
  s.c_out = L->out.c;
  s.h_out = L->out.h;
  s.w_out = L->out.w;
  s.kh = L->kh;
  s.kw = L->kw;
  s.stride_h = L->stride_h;
  s.stride_w = L->stride_w;
  s.pad_top = L->pad_top;
  s.pad_bottom = L->pad_bottom;
  s.pad_left = L->pad_left;
  s.pad_right = L->pad_right;
  return s;
}

/* 'same' padding as TensorFlow/Keras and PyTorch pad it: the extra row of an
 * even total goes to the bottom / right. */
static void same_padding(int in, int k, int stride, int *before, int *after) {
  int out = (in + stride - 1) / stride;
  int total = (out - 1) * stride + k - in;
  if (total < 0) total = 0;
  *before = total / 2;
  *after = total - *before;
}

static void parse_padding(IniSection *s, Layer *L, Dims in, int one_d) {
  IniEntry *e = ini_entry(s, "padding");
  const char *v = e ? e->value : "same";
  if (!strcmp(v, "same")) {
    if (!one_d) same_padding(in.h, L->kh, L->stride_h, &L->pad_top, &L->pad_bottom);
    same_padding(in.w, L->kw, L->stride_w, &L->pad_left, &L->pad_right);
    return;
  }
  if (!strcmp(v, "valid")) return;
  int a[4], n = 0;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", v);
  for (char *tok = strtok(buf, ",x"); tok && n < 5; tok = strtok(NULL, ",x")) {
    char *end;
    long x = strtol(tok, &end, 10);
    while (*end == ' ') end++;
    if (end == tok || *end || x < 0 || x > 4096)
      ini_fail(s, e, "'%s' is not a padding; write same, valid, P, PFREQxPTIME or TOP,BOTTOM,LEFT,RIGHT (non-negative)", v);
    if (n < 4) a[n] = (int)x;
    n++;
  }
  if (one_d) {
    if (n == 1) L->pad_left = L->pad_right = a[0];
    else if (n == 2) L->pad_left = a[0], L->pad_right = a[1];
    else ini_fail(s, e, "'%s': a conv1d takes same, valid, P or LEFT,RIGHT", v);
    return;
  }
  if (n == 1) L->pad_top = L->pad_bottom = L->pad_left = L->pad_right = a[0];
  else if (n == 2) L->pad_top = L->pad_bottom = a[0], L->pad_left = L->pad_right = a[1];
  else if (n == 4) L->pad_top = a[0], L->pad_bottom = a[1], L->pad_left = a[2], L->pad_right = a[3];
  else ini_fail(s, e, "'%s': write same, valid, P, PFREQxPTIME or TOP,BOTTOM,LEFT,RIGHT", v);
}

static void build_conv(LayerBuild *b, int one_d) {
  Layer *L = b->L;
  IniSection *s = b->s;
  Dims in = L->in;
  L->filters = (int)ini_require_int(s, "filters", 1, 1 << 16);
  if (one_d) {
    L->kh = 1;
    L->kw = (int)ini_require_int(s, "size", 1, 1 << 16);
    L->stride_h = 1;
    L->stride_w = (int)ini_get_int(s, "stride", 1, 1, 1 << 16);
  } else {
    if (!ini_get_pair(s, "size", &L->kh, &L->kw, 0, 0, 1, 1 << 16))
      ini_fail(s, NULL, "missing required key 'size' (FREQxTIME, e.g. 3x3 or 1x60)");
    ini_get_pair(s, "stride", &L->stride_h, &L->stride_w, 1, 1, 1, 1 << 16);
  }
  L->has_bias = ini_get_bool(s, "bias", 1);
  L->init = layer_read_init(b);
  int c_in = one_d ? in.c * in.h : in.c;
  int h_in = one_d ? 1 : in.h;
  parse_padding(s, L, in, one_d);
  int hp = h_in + L->pad_top + L->pad_bottom, wp = in.w + L->pad_left + L->pad_right;
  if (L->kh > hp || L->kw > wp)
    ini_fail(s, NULL, "kernel %dx%d does not fit its input %s (%dx%d after padding; shapes are FREQxTIMExCHANNELS)",
             L->kh, L->kw, b->in_text, hp, wp);
  L->out.c = L->filters;
  L->out.h = (hp - L->kh) / L->stride_h + 1;
  L->out.w = (wp - L->kw) / L->stride_w + 1;
  if (one_d) {
    int dims[3] = {L->filters, c_in, L->kw};
    L->weight = layer_add_param(b->m, b->index, "weight", 1, PARAM_INIT_LAYER, 3, dims);
  } else {
    int dims[4] = {L->filters, c_in, L->kh, L->kw};
    L->weight = layer_add_param(b->m, b->index, "weight", 1, PARAM_INIT_LAYER, 4, dims);
  }
  if (L->has_bias) L->bias = layer_add_param(b->m, b->index, "bias", 1, PARAM_INIT_ZEROS, 1, &L->filters);
  L->macs = (double)at_dims_count(L->out) * c_in * L->kh * L->kw;
}

static void build_2d(LayerBuild *b) { build_conv(b, 0); }
static void build_1d(LayerBuild *b) { build_conv(b, 1); }

static void forward(LayerPass *p) {
  ConvShape s = conv_shape(p->L, p->n);
  p->be->conv2d_forward(&s, layer_x(p, 0), layer_param(p, p->L->weight), layer_param(p, p->L->bias), p->buf->out);
}

static void backward(LayerPass *p) {
  ConvShape s = conv_shape(p->L, p->n);
  p->be->conv2d_backward(&s, layer_x(p, 0), layer_param(p, p->L->weight), p->buf->grad, p->dx[0],
                         layer_grad(p, p->L->weight), layer_grad(p, p->L->bias));
}

/* Transposed convolution with the layer's own weights (the backward-data
 * pass: kernels flipped, channels transposed), no bias. */
static int deconv(LayerPass *p, float *signal, float *below) {
  ConvShape s = conv_shape(p->L, 1);
  p->be->conv2d_backward(&s, layer_x(p, 0), layer_param(p, p->L->weight), signal, below, NULL, NULL);
  return 1;
}

static const char *to_onnx(OnnxLayer *x) {
  const Layer *L = x->L;
  const char *in = x->inputs[0];
  const int c_in = is_1d(L) ? L->in.c * L->in.h : L->in.c;
  if (is_1d(L)) { /* the frequency rows become channels: [batch, C*H, 1, W] */
    const char *rows = onnx_name(x->g, L->name, "rows");
    onnx_reshape_to(x->g, L->name, in, (Dims){c_in, 1, L->in.w}, rows);
    in = rows;
  }
  const int64_t wdims[4] = {L->filters, c_in, L->kh, L->kw}, bdims[1] = {L->filters};
  const char *args[3] = {in, onnx_floats(x->g, onnx_name(x->g, L->name, "weight"), onnx_layer_param(x, L->weight), 4, wdims),
                         L->has_bias ? onnx_floats(x->g, onnx_name(x->g, L->name, "bias"), onnx_layer_param(x, L->bias), 1, bdims) : NULL};
  OnnxNode *n = onnx_node(x->g, "Conv", L->name, args, L->has_bias ? 3 : 2, x->output);
  const int64_t kernel[2] = {L->kh, L->kw}, strides[2] = {L->stride_h, L->stride_w};
  const int64_t pads[4] = {L->pad_top, L->pad_left, L->pad_bottom, L->pad_right}; /* ONNX: begins, then ends */
  onnx_attr_ints(n, "kernel_shape", kernel, 2);
  onnx_attr_ints(n, "strides", strides, 2);
  onnx_attr_ints(n, "pads", pads, 4);
  return x->output;
}

const LayerKind k_layer_conv = {
    .name = "conv",
    .keys = "name, input, filters, size, stride, padding, bias, init",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .opens_conv_block = 1,
    .build = build_2d,
    .forward = forward,
    .backward = backward,
    .deconv = deconv,
    .to_onnx = to_onnx,
};

/* The deconvnet of Choi et al. inverts 2-D convolutions only (today's rule;
 * the transposed conv1d would work the same way if ever wanted). */
const LayerKind k_layer_conv1d = {
    .name = "conv1d",
    .keys = "name, input, filters, size, stride, padding, bias, init",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build_1d,
    .forward = forward,
    .backward = backward,
    .to_onnx = to_onnx,
};
