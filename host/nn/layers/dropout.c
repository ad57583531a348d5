/* [dropout]: inverted dropout while training (masks from the run's seed and
 * step, the same on every backend), identity otherwise (and when frozen). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

static void build(LayerBuild *b) { b->L->p = (float)ini_get_float(b->s, "p", 0.5, 0.0, 0.999); }

static void allocate(const Layer *L, LayerBuffers *buf, const Backend *be, size_t count) {
  (void)L;
  buf->mask = be->alloc(count);
}

static void forward(LayerPass *p) {
  const size_t count = layer_out_count(p);
  if (p->training && p->L->p > 0)
    /* stream: one per (step, layer), so that no two masks repeat */
    p->be->dropout_forward(layer_x(p, 0), p->buf->out, p->buf->mask, count, p->L->p, p->seed,
                           (p->step << 12) + (uint64_t)p->index);
  else
    p->be->copy(p->buf->out, layer_x(p, 0), sizeof(float) * count);
}

static void backward(LayerPass *p) {
  if (!p->dx[0]) return;
  const size_t count = layer_out_count(p);
  if (p->L->p > 0 && !p->L->frozen) p->be->dropout_backward(p->buf->grad, p->buf->mask, p->dx[0], count, p->L->p);
  else p->be->copy(p->dx[0], p->buf->grad, sizeof(float) * count);
}

/* Identity (the deconvnet runs in eval mode). */
static int deconv(LayerPass *p, float *signal, float *below) {
  (void)p, (void)signal, (void)below;
  return 0;
}

/* Removed: identity in inference. */
static const char *to_onnx(OnnxLayer *x) { return x->inputs[0]; }

const LayerKind k_layer_dropout = {
    .name = "dropout",
    .keys = "name, input, p",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .allocate = allocate,
    .forward = forward,
    .backward = backward,
    .deconv = deconv,
    .to_onnx = to_onnx,
};
