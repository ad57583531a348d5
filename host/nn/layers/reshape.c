/* [reshape]: the same values seen as another FREQxTIMExCHANNELS shape (a view
 * of its input's buffer, no copy). */
#include <stdio.h>

#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) {
  Layer *L = b->L;
  IniEntry *e = ini_entry(b->s, "shape");
  int h, w, c;
  if (!e) ini_fail(b->s, NULL, "missing required key 'shape' (FREQxTIMExCHANNELS)");
  int used = 0;
  if (sscanf(e->value, "%dx%dx%d%n", &h, &w, &c, &used) != 3 || e->value[used] != '\0' || h < 1 || w < 1 || c < 1)
    ini_fail(b->s, e, "'%s' is not a shape; write FREQxTIMExCHANNELS with positive sizes", e->value);
  Dims o = {c, h, w};
  if (at_dims_count(o) != at_dims_count(L->in))
    ini_fail(b->s, e, "cannot reshape %s (%zu values) to %s (%zu values)", b->in_text, at_dims_count(L->in), e->value,
             at_dims_count(o));
  L->out = o;
}

/* shared with flatten.c: both are views of their input */
void layer_view_forward(LayerPass *p) { p->buf->out = (float *)layer_x(p, 0); }
void layer_view_backward(LayerPass *p) {
  if (p->dx[0]) p->be->copy(p->dx[0], p->buf->grad, sizeof(float) * layer_in_count(p));
}

static const char *to_onnx(OnnxLayer *x) {
  onnx_reshape_to(x->g, x->L->name, x->inputs[0], x->L->out, x->output);
  return x->output;
}

const LayerKind k_layer_reshape = {
    .name = "reshape",
    .keys = "name, input, shape (FREQxTIMExCHANNELS)",
    .output = LAYER_OUT_VIEW,
    .build = build,
    .forward = layer_view_forward,
    .backward = layer_view_backward,
    .to_onnx = to_onnx,
};
