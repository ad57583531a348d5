/* [batchnorm]: batch normalisation per channel or per frequency row (Keras'
 * axis = frequency), PyTorch's semantics (momentum, biased batch variance,
 * unbiased running variance). */
#include "config/ini_file.h"
#include "nn/layers/layer_kind.h"

static BatchNormShape bn_shape(const Layer *L, int n) {
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
  BatchNormShape s = bn_shape(L, p->n);
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
  BatchNormShape s = bn_shape(L, p->n);
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
};
