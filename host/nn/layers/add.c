/* [add]: the elementwise sum of its inputs (residual connections). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) {
  Layer *L = b->L;
  IniEntry *e = ini_entry(b->s, "inputs");
  for (int k = 0; k < L->n_inputs; k++) {
    Dims dk = layer_source_dims(b->m, L->inputs[k]);
    char dt[64];
    layer_dims_text(dk, dt, sizeof dt);
    const char *nk = L->inputs[k] == AT_INPUT ? "input" : b->m->layers[L->inputs[k]].name;
    if (dk.h != L->in.h || dk.w != L->in.w || dk.c != L->in.c)
      ini_fail(b->s, e, "cannot add '%s' (%s) to the first input (%s): shapes must be equal", nk, dt, b->in_text);
  }
  L->out = L->in;
}

static void forward(LayerPass *p) {
  const size_t count = layer_out_count(p);
  p->be->add(p->buf->out, layer_x(p, 0), layer_x(p, 1), count);
  for (int k = 2; k < p->L->n_inputs; k++) p->be->add(p->buf->out, p->buf->out, layer_x(p, k), count);
}

/* Each input receives the output's gradient unchanged. */
static void backward(LayerPass *p) {
  for (int k = 0; k < p->L->n_inputs; k++)
    if (p->dx[k]) p->be->copy(p->dx[k], p->buf->grad, sizeof(float) * layer_out_count(p));
}

static const char *to_onnx(OnnxLayer *x) {
  onnx_node(x->g, "Sum", x->L->name, x->inputs, x->L->n_inputs, x->output);
  return x->output;
}

const LayerKind k_layer_add = {
    .name = "add",
    .keys = "name, inputs",
    .joins_inputs = 1,
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .forward = forward,
    .backward = backward,
    .to_onnx = to_onnx,
};
