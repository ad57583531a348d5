/* Model memory, initialisation, and the forward / backward passes over the
 * layer graph. Everything here calls the backend table, never a backend. */
#include "nn/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"

static const float *input_of(const Model *m, const Layer *L, int k) {
  int src = L->inputs[k];
  return src == AT_INPUT ? m->input_ptr : m->layers[src].out_buf;
}

static Dims dims_of(const Model *m, int src) { return src == AT_INPUT ? m->input : m->layers[src].out; }

/* A layer whose backward needs only its input (or saved statistics), not its
 * output, may have its output overwritten by a following ReLU / ELU. */
static int output_reusable(const Layer *src) {
  switch (src->type) {
    case LAYER_CONV: case LAYER_CONV1D: case LAYER_BATCHNORM: case LAYER_MAXPOOL: case LAYER_AVGPOOL:
    case LAYER_DROPOUT: case LAYER_DENSE: case LAYER_CONCAT: case LAYER_ADD:
      return src->consumers == 1;
    default:
      return 0;
  }
}

void model_allocate(Model *m, const Backend *be, int max_batch) {
  AT_ASSERT(!m->be && max_batch > 0);
  m->be = be;
  m->max_batch = max_batch;
  m->weights = be->alloc(sizeof(float) * m->n_weights);
  m->grads = be->alloc(sizeof(float) * m->n_weights);
  m->state = be->alloc(sizeof(float) * (m->n_state ? m->n_state : 1));
  size_t nb = (size_t)max_batch, scratch = 0;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    size_t count = nb * at_dims_count(L->out);
    size_t in_total = 0;
    for (int k = 0; k < L->n_inputs; k++) in_total += nb * at_dims_count(dims_of(m, L->inputs[k]));
    if (in_total > scratch) scratch = in_total;

    int src = L->inputs[0];
    L->in_place = (L->type == LAYER_RELU || L->type == LAYER_ELU) && src != AT_INPUT &&
                  output_reusable(&m->layers[src]);
    if (L->in_place) {
      L->out_buf = m->layers[src].out_buf;
    } else if (L->type == LAYER_RESHAPE || L->type == LAYER_FLATTEN) {
      L->out_buf = NULL; /* a view of its input, set at each forward */
    } else {
      L->out_buf = be->alloc(sizeof(float) * count);
    }
    L->grad_buf = be->alloc(sizeof(float) * count);
    if (L->type == LAYER_MAXPOOL) L->switches = be->alloc(sizeof(int32_t) * count);
    if (L->type == LAYER_DROPOUT) L->mask = be->alloc(count);
    if (L->type == LAYER_BATCHNORM) {
      int f = L->bn_axis == AT_BN_PER_CHANNEL ? L->in.c : L->in.h;
      L->save_mean = be->alloc(sizeof(float) * (size_t)f);
      L->save_invstd = be->alloc(sizeof(float) * (size_t)f);
    }
  }
  m->scratch = be->alloc(sizeof(float) * (scratch ? scratch : 1));
  m->logit_grad = m->layers[m->n_layers - 1].grad_buf;
}

void model_free(Model *m) {
  if (!m) return;
  if (m->be) {
    const Backend *be = m->be;
    for (int i = 0; i < m->n_layers; i++) {
      Layer *L = &m->layers[i];
      if (!L->in_place && L->type != LAYER_RESHAPE && L->type != LAYER_FLATTEN) be->release(L->out_buf);
      be->release(L->grad_buf);
      be->release(L->switches);
      be->release(L->mask);
      be->release(L->save_mean);
      be->release(L->save_invstd);
    }
    be->release(m->weights);
    be->release(m->grads);
    be->release(m->state);
    be->release(m->scratch);
  }
  free(m->layers);
  free(m->params);
  free(m->config_text);
  free(m);
}

/* ---- initialisation ---- */

static void fans(const ParamTensor *p, double *fan_in, double *fan_out) {
  double receptive = 1;
  for (int d = 2; d < p->ndim; d++) receptive *= p->dims[d];
  *fan_in = p->dims[1] * receptive;
  *fan_out = p->dims[0] * receptive;
}

void model_init_weights(Model *m, uint64_t seed) {
  AT_ASSERT(m->be);
  float *w = at_malloc(sizeof(float) * (m->n_weights ? m->n_weights : 1), "initial weights");
  float *st = at_malloc(sizeof(float) * (m->n_state ? m->n_state : 1), "initial statistics");
  for (int pi = 0; pi < m->n_params; pi++) {
    const ParamTensor *p = &m->params[pi];
    const Layer *L = &m->layers[p->layer];
    float *dst = (p->trainable ? w : st) + p->offset;
    float value = 0.0f;
    int is_weight = !strcmp(p->name, "weight");
    if (L->type == LAYER_BATCHNORM) {
      value = (is_weight || !strcmp(p->name, "running_var")) ? 1.0f : 0.0f;
      is_weight = 0;
    }
    if (!is_weight) {
      for (size_t i = 0; i < p->count; i++) dst[i] = value;
      continue;
    }
    double fan_in, fan_out;
    fans(p, &fan_in, &fan_out);
    /* Stream = parameter index: each tensor's values do not depend on the others. */
    for (size_t i = 0; i < p->count; i++) {
      double u = at_rng_uniform(seed, (uint64_t)pi, i);
      switch (L->init) {
        case INIT_HE_NORMAL: dst[i] = (float)(sqrt(2.0 / fan_in) * at_rng_normal(seed, (uint64_t)pi, i)); break;
        case INIT_GLOROT_NORMAL:
          dst[i] = (float)(sqrt(2.0 / (fan_in + fan_out)) * at_rng_normal(seed, (uint64_t)pi, i));
          break;
        case INIT_HE_UNIFORM: dst[i] = (float)((2.0 * u - 1.0) * sqrt(6.0 / fan_in)); break;
        case INIT_GLOROT_UNIFORM: dst[i] = (float)((2.0 * u - 1.0) * sqrt(6.0 / (fan_in + fan_out))); break;
      }
    }
  }
  m->be->to_device(m->weights, w, sizeof(float) * m->n_weights);
  m->be->to_device(m->state, st, sizeof(float) * m->n_state);
  for (int i = 0; i < m->n_layers; i++) m->layers[i].bn_batches_tracked = 0;
  free(w);
  free(st);
}

/* ---- forward ---- */

ConvShape model_conv_shape(const Layer *L, int n) {
  ConvShape s = {0};
  const int one_d = L->type == LAYER_CONV1D;
  s.n = n;
  s.c_in = one_d ? L->in.c * L->in.h : L->in.c;
  s.h_in = one_d ? 1 : L->in.h;
  s.w_in = L->in.w;
  s.c_out = L->out.c;
  s.h_out = L->out.h;
  s.w_out = L->out.w;
  s.kh = L->kh;
  s.kw = L->kw;
  s.stride_h = L->stride_h;
  s.stride_w = L->stride_w;
  s.pad_top = L->pad_top;
  s.pad_bottom = L->pad_bottom;
  s.pad_left = L->pad_left;
  s.pad_right = L->pad_right;
  return s;
}

PoolShape model_pool_shape(const Layer *L, int n) {
  PoolShape s = {n, L->in.c, L->in.h, L->in.w, L->out.h, L->out.w, L->kh, L->kw, L->stride_h, L->stride_w};
  return s;
}

static BatchNormShape bn_shape(const Layer *L, int n) {
  BatchNormShape s = {n, L->in.c, L->in.h, L->in.w, L->bn_axis, L->bn_eps, L->bn_momentum};
  return s;
}

static float *param_ptr(const Model *m, int index) {
  return index < 0 ? NULL : model_param_data(m, &m->params[index]);
}

static float *grad_ptr(const Model *m, int index) {
  return index < 0 ? NULL : m->grads + m->params[index].offset;
}

const float *model_forward(Model *m, const float *input, int n, int training, uint64_t seed, uint64_t step) {
  const Backend *be = m->be;
  AT_ASSERT(be && n >= 1 && n <= m->max_batch);
  m->input_ptr = input;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    at_backend_set_layer(L->name);
    const float *x = input_of(m, L, 0);
    const size_t count = (size_t)n * at_dims_count(L->out);
    switch (L->type) {
      case LAYER_CONV:
      case LAYER_CONV1D: {
        ConvShape s = model_conv_shape(L, n);
        be->conv2d_forward(&s, x, param_ptr(m, L->weight), param_ptr(m, L->bias), L->out_buf);
        break;
      }
      case LAYER_BATCHNORM: {
        BatchNormShape s = bn_shape(L, n);
        if (training) {
          be->batchnorm_forward_train(&s, x, param_ptr(m, L->weight), param_ptr(m, L->bias), L->out_buf,
                                      L->save_mean, L->save_invstd, param_ptr(m, L->running_mean),
                                      param_ptr(m, L->running_var));
          L->bn_batches_tracked++;
        } else {
          be->batchnorm_forward_infer(&s, x, param_ptr(m, L->weight), param_ptr(m, L->bias),
                                      param_ptr(m, L->running_mean), param_ptr(m, L->running_var), L->out_buf);
        }
        break;
      }
      case LAYER_RELU: be->relu_forward(x, L->out_buf, count); break;
      case LAYER_ELU: be->elu_forward(x, L->out_buf, count, L->alpha); break;
      case LAYER_MAXPOOL: {
        PoolShape s = model_pool_shape(L, n);
        be->maxpool_forward(&s, x, L->out_buf, L->switches);
        break;
      }
      case LAYER_AVGPOOL: {
        PoolShape s = model_pool_shape(L, n);
        be->avgpool_forward(&s, x, L->out_buf);
        break;
      }
      case LAYER_DROPOUT:
        if (training && L->p > 0)
          be->dropout_forward(x, L->out_buf, L->mask, count, L->p, seed, (step << 12) + (uint64_t)i);
        else
          be->copy(L->out_buf, x, sizeof(float) * count);
        break;
      case LAYER_DENSE:
        be->dense_forward(n, (int)at_dims_count(L->in), L->units, x, param_ptr(m, L->weight),
                          param_ptr(m, L->bias), L->out_buf);
        break;
      case LAYER_CONCAT: {
        const float *xs[AT_MAX_INPUTS];
        int channels[AT_MAX_INPUTS];
        for (int k = 0; k < L->n_inputs; k++) {
          xs[k] = input_of(m, L, k);
          channels[k] = dims_of(m, L->inputs[k]).c;
        }
        be->concat_forward(n, L->out.h * L->out.w, L->n_inputs, channels, xs, L->out_buf);
        break;
      }
      case LAYER_ADD:
        be->add(L->out_buf, x, input_of(m, L, 1), count);
        for (int k = 2; k < L->n_inputs; k++) be->add(L->out_buf, L->out_buf, input_of(m, L, k), count);
        break;
      case LAYER_RESHAPE:
      case LAYER_FLATTEN: L->out_buf = (float *)x; break;
      default: AT_ASSERT(0);
    }
  }
  at_backend_set_layer(NULL);
  return m->layers[m->n_layers - 1].out_buf;
}

/* ---- backward ---- */

/* Where layer L's backward writes the gradient for its input k: straight into
 * the source's gradient buffer the first time, else into scratch (at `offset`)
 * to be added afterwards. NULL when the input is the model input. */
static float *grad_target(Model *m, const Layer *L, int k, size_t offset, int *needs_add) {
  int src = L->inputs[k];
  *needs_add = 0;
  if (src == AT_INPUT) return NULL;
  if (m->layers[src].grad_ready) {
    *needs_add = 1;
    return m->scratch + offset;
  }
  return m->layers[src].grad_buf;
}

static void finish_grad(Model *m, const Layer *L, int k, const float *written, int needs_add, int n) {
  int src = L->inputs[k];
  if (src == AT_INPUT) return;
  Layer *S = &m->layers[src];
  if (needs_add) m->be->add(S->grad_buf, S->grad_buf, written, (size_t)n * at_dims_count(S->out));
  S->grad_ready = 1;
}

void model_backward(Model *m, int n, const float *dlogits) {
  const Backend *be = m->be;
  Layer *last = &m->layers[m->n_layers - 1];
  for (int i = 0; i < m->n_layers; i++) m->layers[i].grad_ready = 0;
  if (dlogits != last->grad_buf) be->copy(last->grad_buf, dlogits, sizeof(float) * (size_t)n * m->classes);
  last->grad_ready = 1;

  for (int i = m->n_layers - 1; i >= 0; i--) {
    Layer *L = &m->layers[i];
    at_backend_set_layer(L->name);
    AT_ASSERT(L->grad_ready); /* every layer reaches the output (checked at build) */
    const float *x = input_of(m, L, 0);
    const float *dy = L->grad_buf;
    const size_t count = (size_t)n * at_dims_count(L->out);
    const size_t in_count = (size_t)n * at_dims_count(L->in);
    int add0;
    float *dx = grad_target(m, L, 0, 0, &add0);
    switch (L->type) {
      case LAYER_CONV:
      case LAYER_CONV1D: {
        ConvShape s = model_conv_shape(L, n);
        be->conv2d_backward(&s, x, param_ptr(m, L->weight), dy, dx, grad_ptr(m, L->weight), grad_ptr(m, L->bias));
        break;
      }
      case LAYER_BATCHNORM: {
        BatchNormShape s = bn_shape(L, n);
        be->batchnorm_backward(&s, x, dy, param_ptr(m, L->weight), L->save_mean, L->save_invstd, dx,
                               grad_ptr(m, L->weight), grad_ptr(m, L->bias));
        break;
      }
      case LAYER_RELU: if (dx) be->relu_backward(L->out_buf, dy, dx, count); break;
      case LAYER_ELU: if (dx) be->elu_backward(L->out_buf, dy, dx, count, L->alpha); break;
      case LAYER_MAXPOOL: {
        PoolShape s = model_pool_shape(L, n);
        if (dx) be->maxpool_backward(&s, dy, L->switches, dx);
        break;
      }
      case LAYER_AVGPOOL: {
        PoolShape s = model_pool_shape(L, n);
        if (dx) be->avgpool_backward(&s, dy, dx);
        break;
      }
      case LAYER_DROPOUT:
        if (!dx) break;
        if (L->p > 0) be->dropout_backward(dy, L->mask, dx, count, L->p);
        else be->copy(dx, dy, sizeof(float) * count);
        break;
      case LAYER_DENSE:
        be->dense_backward(n, (int)at_dims_count(L->in), L->units, x, param_ptr(m, L->weight), dy, dx,
                           grad_ptr(m, L->weight), grad_ptr(m, L->bias));
        break;
      case LAYER_CONCAT: {
        float *dxs[AT_MAX_INPUTS];
        int channels[AT_MAX_INPUTS], adds[AT_MAX_INPUTS];
        size_t offset = 0;
        for (int k = 0; k < L->n_inputs; k++) {
          Dims dk = dims_of(m, L->inputs[k]);
          channels[k] = dk.c;
          dxs[k] = grad_target(m, L, k, offset, &adds[k]);
          if (!dxs[k]) dxs[k] = m->scratch + offset; /* model input: computed, then dropped */
          offset += (size_t)n * at_dims_count(dk);
        }
        be->concat_backward(n, L->out.h * L->out.w, L->n_inputs, channels, dy, dxs);
        for (int k = 0; k < L->n_inputs; k++) finish_grad(m, L, k, dxs[k], adds[k], n);
        continue;
      }
      case LAYER_ADD:
        for (int k = 0; k < L->n_inputs; k++) {
          int add;
          float *dk = grad_target(m, L, k, 0, &add);
          if (!dk) continue;
          if (add) be->add(m->layers[L->inputs[k]].grad_buf, m->layers[L->inputs[k]].grad_buf, dy, count);
          else be->copy(dk, dy, sizeof(float) * count);
          m->layers[L->inputs[k]].grad_ready = 1;
        }
        continue;
      case LAYER_RESHAPE:
      case LAYER_FLATTEN:
        if (dx) be->copy(dx, dy, sizeof(float) * in_count);
        break;
      default: AT_ASSERT(0);
    }
    finish_grad(m, L, 0, dx, add0, n);
  }
  at_backend_set_layer(NULL);
}

double model_loss(Model *m, int n, const void *targets, int backward) {
  const Backend *be = m->be;
  const float *logits = m->layers[m->n_layers - 1].out_buf;
  double loss = m->output == OUTPUT_SIGMOID
                    ? be->bce_with_logits(n, m->classes, logits, targets, m->logit_grad)
                    : be->softmax_cross_entropy(n, m->classes, logits, targets, m->logit_grad);
  if (backward) model_backward(m, n, m->logit_grad);
  return loss;
}

void model_probabilities(Model *m, int n, float *probs) {
  const float *logits = m->layers[m->n_layers - 1].out_buf;
  if (m->output == OUTPUT_SIGMOID) m->be->sigmoid(logits, probs, (size_t)n * m->classes);
  else m->be->softmax(n, m->classes, logits, probs);
}
