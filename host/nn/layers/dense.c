/* [dense]: y = x . W^T + b over the flattened input (PyTorch's Linear). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"

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

const LayerKind k_layer_dense = {
    .name = "dense",
    .keys = "name, input, units, bias, init",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .forward = forward,
    .backward = backward,
};
