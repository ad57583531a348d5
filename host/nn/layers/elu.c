/* [elu]: x for x > 0, alpha (e^x - 1) otherwise; in place over its input
 * when the input allows it (backward reads only the output). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) { b->L->alpha = (float)ini_get_float(b->s, "alpha", 1.0, 0.0, 1e6); }

static void forward(LayerPass *p) {
  p->be->elu_forward(layer_x(p, 0), p->buf->out, layer_out_count(p), p->L->alpha);
}

static void backward(LayerPass *p) {
  if (p->dx[0]) p->be->elu_backward(p->buf->out, p->buf->grad, p->dx[0], layer_out_count(p), p->L->alpha);
}

/* As for ReLU: the deconvnet rectifies the signal on the way down. */
static int deconv(LayerPass *p, float *signal, float *below) {
  (void)below;
  p->be->relu_forward(signal, signal, at_dims_count(p->L->out));
  return 0;
}

static const char *to_onnx(OnnxLayer *x) {
  onnx_attr_float(onnx_node(x->g, "Elu", x->L->name, x->inputs, 1, x->output), "alpha", x->L->alpha);
  return x->output;
}

const LayerKind k_layer_elu = {
    .name = "elu",
    .keys = "name, input, alpha",
    .output = LAYER_OUT_IN_PLACE,
    .build = build,
    .forward = forward,
    .backward = backward,
    .deconv = deconv,
    .to_onnx = to_onnx,
};
