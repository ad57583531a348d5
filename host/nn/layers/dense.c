/* [dense]: y = x . W^T + b over the flattened input (PyTorch's Linear). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) {
  Layer *L = b->L;
  L->units = (int)ini_require_int(b->s, "units", 1, 1 << 24);
  L->has_bias = ini_get_bool(b->s, "bias", 1);
  L->init = layer_read_init(b);
  int dims[2] = {L->units, (int)at_dims_count(L->in)};
  L->weight = layer_add_param(b->m, b->index, "weight", 1, PARAM_INIT_LAYER, 2, dims);
  if (L->has_bias) L->bias = layer_add_param(b->m, b->index, "bias", 1, PARAM_INIT_ZEROS, 1, &L->units);
  L->out = (Dims){L->units, 1, 1};
  L->macs = (double)dims[0] * dims[1];
}

static void forward(LayerPass *p) {
  const Layer *L = p->L;
  p->be->dense_forward(p->n, (int)at_dims_count(L->in), L->units, layer_x(p, 0), layer_param(p, L->weight),
                       layer_param(p, L->bias), p->buf->out);
}

static void backward(LayerPass *p) {
  const Layer *L = p->L;
  p->be->dense_backward(p->n, (int)at_dims_count(L->in), L->units, layer_x(p, 0), layer_param(p, L->weight),
                        p->buf->grad, p->dx[0], layer_grad(p, L->weight), layer_grad(p, L->bias));
}

/* Flatten (C, F, T order, as the dense layer reads its input), Gemm with the
 * [units, inputs] weight transposed, back to [batch, units, 1, 1]. */
static const char *to_onnx(OnnxLayer *x) {
  const Layer *L = x->L;
  const char *flat = onnx_name(x->g, L->name, "flat"), *gemm = onnx_name(x->g, L->name, "gemm");
  onnx_attr_int(onnx_node(x->g, "Flatten", onnx_name(x->g, L->name, "flatten"), x->inputs, 1, flat), "axis", 1);
  const int64_t wdims[2] = {L->units, (int64_t)at_dims_count(L->in)}, bdims[1] = {L->units};
  const char *args[3] = {flat, onnx_floats(x->g, onnx_name(x->g, L->name, "weight"), onnx_layer_param(x, L->weight), 2, wdims),
                         L->has_bias ? onnx_floats(x->g, onnx_name(x->g, L->name, "bias"), onnx_layer_param(x, L->bias), 1, bdims) : NULL};
  onnx_attr_int(onnx_node(x->g, "Gemm", L->name, args, L->has_bias ? 3 : 2, gemm), "transB", 1);
  onnx_reshape_to(x->g, L->name, gemm, L->out, x->output);
  return x->output;
}

const LayerKind k_layer_dense = {
    .name = "dense",
    .keys = "name, input, units, bias, init",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .forward = forward,
    .backward = backward,
    .to_onnx = to_onnx,
};
