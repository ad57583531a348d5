/* [flatten]: the input as one vector of C*H*W channels (a view, no copy). */
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) { b->L->out = (Dims){(int)at_dims_count(b->L->in), 1, 1}; }

void layer_view_forward(LayerPass *p);  /* reshape.c */
void layer_view_backward(LayerPass *p); /* reshape.c */

static const char *to_onnx(OnnxLayer *x) {
  onnx_reshape_to(x->g, x->L->name, x->inputs[0], x->L->out, x->output);
  return x->output;
}

const LayerKind k_layer_flatten = {
    .name = "flatten",
    .keys = "name, input",
    .output = LAYER_OUT_VIEW,
    .build = build,
    .forward = layer_view_forward,
    .backward = layer_view_backward,
    .to_onnx = to_onnx,
};
