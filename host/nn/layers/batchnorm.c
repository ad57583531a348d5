/* [batchnorm]: batch normalisation per channel or per frequency row (Keras'
 * axis = frequency), PyTorch's semantics (momentum, biased batch variance,
 * unbiased running variance). */
#include <math.h>
#include <stdlib.h>

#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

BatchNormShape layer_bn_shape(const Layer *L, int n) {
  BatchNormShape s = {n, L->in.c, L->in.h, L->in.w, L->bn_axis, L->bn_eps, L->bn_momentum};
  return s;
}

static int features(const Layer *L) { return L->bn_axis == AT_BN_PER_CHANNEL ? L->in.c : L->in.h; }

static void build(LayerBuild *b) {
  static const char *const axes[] = {"channel", "frequency", NULL};
  Layer *L = b->L;
  L->bn_axis = (BatchNormAxis)ini_get_choice(b->s, "axis", 0, axes);
  L->bn_momentum = (float)ini_get_float(b->s, "momentum", 0.1, 0.0, 1.0);
  L->bn_eps = (float)ini_get_float(b->s, "eps", 1e-5, 1e-12, 1.0);
  int f = features(L);
  /* gamma 1, beta 0, running mean 0, running variance 1 (as PyTorch) */
  L->weight = layer_add_param(b->m, b->index, "weight", 1, PARAM_INIT_ONES, 1, &f);
  L->bias = layer_add_param(b->m, b->index, "bias", 1, PARAM_INIT_ZEROS, 1, &f);
  L->running_mean = layer_add_param(b->m, b->index, "running_mean", 0, PARAM_INIT_ZEROS, 1, &f);
  L->running_var = layer_add_param(b->m, b->index, "running_var", 0, PARAM_INIT_ONES, 1, &f);
}

static void allocate(const Layer *L, LayerBuffers *buf, const Backend *be, size_t count) {
  (void)count;
  buf->save_mean = be->alloc(sizeof(float) * (size_t)features(L));
  buf->save_invstd = be->alloc(sizeof(float) * (size_t)features(L));
}

static void forward(LayerPass *p) {
  const Layer *L = p->L;
  BatchNormShape s = layer_bn_shape(L, p->n);
  if (p->training) {
    p->be->batchnorm_forward_train(&s, layer_x(p, 0), layer_param(p, L->weight), layer_param(p, L->bias), p->buf->out,
                                   p->buf->save_mean, p->buf->save_invstd, layer_param(p, L->running_mean),
                                   layer_param(p, L->running_var));
    p->buf->batches_tracked++;
  } else {
    p->be->batchnorm_forward_infer(&s, layer_x(p, 0), layer_param(p, L->weight), layer_param(p, L->bias),
                                   layer_param(p, L->running_mean), layer_param(p, L->running_var), p->buf->out);
  }
}

static void backward(LayerPass *p) {
  const Layer *L = p->L;
  BatchNormShape s = layer_bn_shape(L, p->n);
  if (L->frozen) {
    if (!p->dx[0]) return;
    /* Inference mode is y = gamma (x - mean) / sqrt(var + eps) + beta with
     * fixed statistics, so dx = gamma dy / sqrt(var + eps): the same map with
     * mean and beta 0 (save_mean is unused in this mode and serves as zeros). */
    p->be->fill(p->buf->save_mean, (size_t)features(L), 0.0f);
    p->be->batchnorm_forward_infer(&s, p->buf->grad, layer_param(p, L->weight), p->buf->save_mean, p->buf->save_mean,
                                   layer_param(p, L->running_var), p->dx[0]);
    return;
  }
  p->be->batchnorm_backward(&s, layer_x(p, 0), p->buf->grad, layer_param(p, L->weight), p->buf->save_mean,
                            p->buf->save_invstd, p->dx[0], layer_grad(p, L->weight), layer_grad(p, L->bias));
}

/* Identity: the deconvnet reconstructs the pattern that drives a feature,
 * and BN only rescales channels. */
static int deconv(LayerPass *p, float *signal, float *below) {
  (void)p, (void)signal, (void)below;
  return 0;
}

/* Per channel: BatchNormalization (inference form). Per frequency row: the
 * same map as y = a x + b with a = gamma / sqrt(var + eps), b = beta - a mean
 * broadcast over [1, 1, frequency, 1]. */
static const char *to_onnx(OnnxLayer *x) {
  const Layer *L = x->L;
  const int f = features(L);
  const float *gamma = onnx_layer_param(x, L->weight), *beta = onnx_layer_param(x, L->bias);
  const float *mean = onnx_layer_param(x, L->running_mean), *var = onnx_layer_param(x, L->running_var);
  if (L->bn_axis == AT_BN_PER_CHANNEL) {
    const int64_t dims[1] = {f};
    const char *args[5] = {x->inputs[0], onnx_floats(x->g, onnx_name(x->g, L->name, "weight"), gamma, 1, dims),
                           onnx_floats(x->g, onnx_name(x->g, L->name, "bias"), beta, 1, dims),
                           onnx_floats(x->g, onnx_name(x->g, L->name, "running_mean"), mean, 1, dims),
                           onnx_floats(x->g, onnx_name(x->g, L->name, "running_var"), var, 1, dims)};
    OnnxNode *n = onnx_node(x->g, "BatchNormalization", L->name, args, 5, x->output);
    onnx_attr_float(n, "epsilon", L->bn_eps);
    return x->output;
  }
  float *a = malloc(sizeof(float) * 2 * (size_t)f), *b = a + f;
  for (int i = 0; i < f; i++) {
    const double scale = gamma[i] / sqrt((double)var[i] + L->bn_eps);
    a[i] = (float)scale;
    b[i] = (float)(beta[i] - scale * mean[i]);
  }
  const int64_t dims[4] = {1, 1, f, 1};
  const char *scaled = onnx_name(x->g, L->name, "scaled");
  const char *mul[2] = {x->inputs[0], onnx_floats(x->g, onnx_name(x->g, L->name, "scale"), a, 4, dims)};
  onnx_node(x->g, "Mul", onnx_name(x->g, L->name, "mul"), mul, 2, scaled);
  const char *add[2] = {scaled, onnx_floats(x->g, onnx_name(x->g, L->name, "shift"), b, 4, dims)};
  onnx_node(x->g, "Add", L->name, add, 2, x->output);
  free(a);
  return x->output;
}

const LayerKind k_layer_batchnorm = {
    .name = "batchnorm",
    .keys = "name, input, axis (channel|frequency), momentum, eps",
    .output = LAYER_OUT_OWN,
    .output_reusable = 1,
    .build = build,
    .allocate = allocate,
    .forward = forward,
    .backward = backward,
    .deconv = deconv,
    .to_onnx = to_onnx,
};
