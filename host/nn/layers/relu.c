/* [relu]: max(x, 0), in place over its input when the input allows it. */
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) { (void)b; }

static void forward(LayerPass *p) { p->be->relu_forward(layer_x(p, 0), p->buf->out, layer_out_count(p)); }

static void backward(LayerPass *p) {
  if (p->dx[0]) p->be->relu_backward(p->buf->out, p->buf->grad, p->dx[0], layer_out_count(p));
}

/* The rectification of the way up, applied to the signal on the way down. */
static int deconv(LayerPass *p, float *signal, float *below) {
  (void)below;
  p->be->relu_forward(signal, signal, at_dims_count(p->L->out));
  return 0;
}

static const char *to_onnx(OnnxLayer *x) {
  onnx_node(x->g, "Relu", x->L->name, x->inputs, 1, x->output);
  return x->output;
}

const LayerKind k_layer_relu = {
    .name = "relu",
    .keys = "name, input",
    .output = LAYER_OUT_IN_PLACE,
    .build = build,
    .forward = forward,
    .backward = backward,
    .deconv = deconv,
    .to_onnx = to_onnx,
};
