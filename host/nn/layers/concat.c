/* [concat]: its inputs joined along channels (frequency and time must match). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) {
  Layer *L = b->L;
  IniEntry *e = ini_entry(b->s, "inputs");
  L->out.c = 0;
  for (int k = 0; k < L->n_inputs; k++) {
    Dims dk = layer_source_dims(b->m, L->inputs[k]);
    char dt[64];
    layer_dims_text(dk, dt, sizeof dt);
    const char *nk = L->inputs[k] == AT_INPUT ? "input" : b->m->layers[L->inputs[k]].name;
    if (dk.h != L->in.h || dk.w != L->in.w)
      ini_fail(b->s, e, "cannot concatenate along channels: '%s' is %s but the first input is %s; "
               "frequency and time must match (flatten the branches first to join them as vectors)", nk, dt, b->in_text);
    L->out.c += dk.c;
  }
}

static void channels_of(const LayerPass *p, int *channels) {
  for (int k = 0; k < p->L->n_inputs; k++) channels[k] = layer_source_dims(p->m, p->L->inputs[k]).c;
}

static void forward(LayerPass *p) {
  const float *xs[AT_MAX_INPUTS];
  int channels[AT_MAX_INPUTS];
  channels_of(p, channels);
  for (int k = 0; k < p->L->n_inputs; k++) xs[k] = layer_x(p, k);
  p->be->concat_forward(p->n, p->L->out.h * p->L->out.w, p->L->n_inputs, channels, xs, p->buf->out);
}

static void backward(LayerPass *p) {
  float *dxs[AT_MAX_INPUTS];
  int channels[AT_MAX_INPUTS];
  channels_of(p, channels);
  /* the op writes every part: the model input's into scratch, then dropped */
  for (int k = 0; k < p->L->n_inputs; k++) dxs[k] = p->dx[k] ? p->dx[k] : p->spare[k];
  p->be->concat_backward(p->n, p->L->out.h * p->L->out.w, p->L->n_inputs, channels, p->buf->grad, dxs);
}

/* Along the channels. */
static const char *to_onnx(OnnxLayer *x) {
  onnx_attr_int(onnx_node(x->g, "Concat", x->L->name, x->inputs, x->L->n_inputs, x->output), "axis", 1);
  return x->output;
}

const LayerKind k_layer_concat = {
    .name = "concat",
    .keys = "name, inputs",
    .joins_inputs = 1,
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .forward = forward,
    .backward = backward,
    .to_onnx = to_onnx,
};
