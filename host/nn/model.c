/* Model memory, initialisation, and the forward / backward passes over the
 * layer graph. Everything here calls the backend table, never a backend. */
#include "nn/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/layers/layer_kind.h"

static Dims dims_of(const Model *m, int src) { return src == AT_INPUT ? m->input : m->layers[src].out; }

/* A ReLU / ELU may write over its input when the input is a layer whose
 * backward needs only its own input (or saved statistics), not its output,
 * and nothing else reads that output. */
static int writes_over_input(const Model *m, const Layer *L) {
  int src = L->inputs[0];
  return L->kind->output == LAYER_OUT_IN_PLACE && src != AT_INPUT && m->layers[src].kind->output_reusable &&
         m->layers[src].consumers == 1;
}

/* d loss / d out of layer i is written when the backward pass reaches i's
 * last consumer (the loss, for the last layer) and read for the last time
 * by i's own backward: buffers whose lives do not overlap can share memory.
 * Greedy interval colouring in backward order gives each gradient a slot;
 * a chain (conv, BN, ReLU, pool, ...) needs two, so the gradients cost two
 * of the largest activations instead of one per layer. */
static int better_slot(size_t a, size_t b, size_t need) { /* the tightest fit, else the largest to grow */
  if ((a >= need) != (b >= need)) return a >= need;
  return a >= need ? a < b : a > b;
}

static void allocate_gradients(Model *m, const Backend *be, size_t nb) {
  const int n = m->n_layers;
  int *born = at_malloc(sizeof(int) * (size_t)n, "gradient plan"); /* backward step that first writes it */
  int *slot_of = at_malloc(sizeof(int) * (size_t)n, "gradient plan");
  int *slot_until = at_malloc(sizeof(int) * (size_t)n, "gradient plan"); /* the step its holder is last read */
  size_t *slot_count = at_calloc((size_t)n, sizeof(size_t), "gradient plan");
  for (int i = 0; i < n; i++) born[i] = i == n - 1 ? n : i;
  for (int j = 0; j < n; j++)
    for (int k = 0; k < m->layers[j].n_inputs; k++) {
      int src = m->layers[j].inputs[k];
      /* a fused chain's input gradient is written by its tail's backward */
      const int writer = m->buffers[j].chain == CHAIN_HEAD ? layer_chain_tail(m, j) : j;
      if (src != AT_INPUT && writer > born[src]) born[src] = writer;
    }
  int slots = 0;
  /* the step index falls during backward: visit gradients by birth, latest first */
  for (int t = n; t >= 0; t--)
    for (int i = n - 1; i >= 0; i--) {
      if (born[i] != t) continue;
      /* a fused chain's batch norm and ReLU never hold a gradient */
      const int inside_chain = m->buffers[i].chain == CHAIN_HEAD || m->buffers[i].chain == CHAIN_INNER;
      const size_t count = inside_chain ? 0 : nb * at_dims_count(m->layers[i].out);
      int pick = -1;
      for (int s = 0; s < slots; s++) /* free: its holder was last read before step t */
        if (slot_until[s] > t && (pick < 0 || better_slot(slot_count[s], slot_count[pick], count))) pick = s;
      if (pick < 0) pick = slots++;
      slot_until[pick] = i;
      if (count > slot_count[pick]) slot_count[pick] = count;
      slot_of[i] = pick;
    }
  m->grad_slots = at_calloc((size_t)(slots ? slots : 1), sizeof(float *), "gradient buffers");
  m->n_grad_slots = slots;
  m->grad_floats = 0;
  for (int s = 0; s < slots; s++) {
    m->grad_slots[s] = be->alloc(sizeof(float) * slot_count[s]);
    m->grad_floats += slot_count[s];
  }
  for (int i = 0; i < n; i++) m->buffers[i].grad = m->grad_slots[slot_of[i]];
  free(born);
  free(slot_of);
  free(slot_until);
  free(slot_count);
}

void model_allocate(Model *m, const Backend *be, int max_batch) {
  AT_ASSERT(!m->be && max_batch > 0);
  m->be = be;
  m->max_batch = max_batch;
  m->weights = be->alloc(sizeof(float) * m->n_weights);
  m->grads = m->inference_only ? NULL : be->alloc(sizeof(float) * m->n_weights);
  m->state = be->alloc(sizeof(float) * (m->n_state ? m->n_state : 1));
  size_t nb = (size_t)max_batch, scratch = 0;
  for (int i = 0; i < m->n_layers; i++) m->buffers[i].chain = CHAIN_NONE;
  int length;
  for (int i = 0; !m->keep_outputs && i < m->n_layers; i++)
    if ((length = layer_chain_fusable(m, i))) {
      m->buffers[i].chain = CHAIN_HEAD;
      if (length == 3) m->buffers[i + 1].chain = CHAIN_INNER;
      m->buffers[i + length - 1].chain = CHAIN_TAIL;
      i += length - 1;
    }
  for (int i = 0; i < m->n_layers; i++) {
    const Layer *L = &m->layers[i];
    size_t count = nb * at_dims_count(L->out);
    /* scratch holds, during this layer's backward, the gradients of inputs
     * that others also feed (summed afterwards) and the spare gradient of
     * the model input: only such layers need it (a chain never does) */
    size_t in_total = 0;
    int uses_scratch = 0;
    for (int k = 0; k < L->n_inputs; k++) {
      const int src = L->inputs[k];
      in_total += nb * at_dims_count(dims_of(m, src));
      uses_scratch |= src == AT_INPUT || m->layers[src].consumers > 1;
    }
    if (uses_scratch && in_total > scratch) scratch = in_total;

    LayerBuffers *B = &m->buffers[i];
    B->in_place = B->chain == CHAIN_NONE && writes_over_input(m, L);
    if (B->chain == CHAIN_HEAD || B->chain == CHAIN_INNER) B->out = NULL; /* the fused chain keeps neither */
    else if (B->in_place) B->out = m->buffers[L->inputs[0]].out;
    else if (L->kind->output == LAYER_OUT_VIEW) B->out = NULL; /* set at each forward */
    else B->out = be->alloc(sizeof(float) * count);
    if (L->kind->allocate) L->kind->allocate(L, B, be, count);
  }
  if (m->inference_only) { /* the loss functions write d loss / d logits: a buffer of their own */
    m->logit_grad = be->alloc(sizeof(float) * nb * (size_t)m->classes);
    return;
  }
  allocate_gradients(m, be, nb);
  m->scratch = be->alloc(sizeof(float) * (scratch ? scratch : 1));
  m->scratch_floats = scratch;
  m->logit_grad = m->buffers[m->n_layers - 1].grad;
}

void model_free(Model *m) {
  if (!m) return;
  if (m->be) {
    const Backend *be = m->be;
    for (int i = 0; i < m->n_layers; i++) {
      LayerBuffers *B = &m->buffers[i];
      if (!B->in_place && m->layers[i].kind->output != LAYER_OUT_VIEW) be->release(B->out);
      be->release(B->switches);
      be->release(B->mask);
      be->release(B->save_mean);
      be->release(B->save_invstd);
    }
    for (int s = 0; s < m->n_grad_slots; s++) be->release(m->grad_slots[s]);
    be->release(m->weights);
    be->release(m->grads);
    be->release(m->state);
    be->release(m->scratch);
    if (m->inference_only) be->release(m->logit_grad);
  }
  free(m->grad_slots);
  free(m->layers);
  free(m->buffers);
  free(m->params);
  free(m->config_text);
  model_set_output_names(m, NULL);
  free(m);
}

void model_set_output_names(Model *m, const char *const *names) {
  for (int i = 0; m->output_names && i < m->classes; i++) free(m->output_names[i]);
  free(m->output_names);
  m->output_names = NULL;
  if (!names) return;
  m->output_names = at_calloc((size_t)m->classes + 1, sizeof(char *), "output names");
  for (int i = 0; i < m->classes; i++) m->output_names[i] = at_strdup(names[i]);
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
    if (p->init != PARAM_INIT_LAYER) {
      const float value = p->init == PARAM_INIT_ONES ? 1.0f : 0.0f;
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
  for (int i = 0; i < m->n_layers; i++) m->buffers[i].batches_tracked = 0;
  free(w);
  free(st);
}

/* ---- forward ---- */

const float *model_forward(Model *m, const float *input, int n, int training, uint64_t seed, uint64_t step) {
  AT_ASSERT(m->be && n >= 1 && n <= m->max_batch);
  m->input_ptr = input;
  for (int i = 0; i < m->n_layers; i++) {
    LayerPass p = layer_pass(m, i, n);
    p.training = training && !p.L->frozen;
    p.seed = seed;
    p.step = step;
    at_backend_set_layer(p.L->name);
    if (p.buf->chain == CHAIN_HEAD) layer_chain_forward(m, i, n, p.training);
    else if (p.buf->chain == CHAIN_NONE) p.L->kind->forward(&p);
  }
  at_backend_set_layer(NULL);
  return m->buffers[m->n_layers - 1].out;
}

/* ---- backward ---- */

/* Where layer L's backward writes the gradient for its input k: straight into
 * the source's gradient buffer the first time, else into scratch (at `offset`)
 * to be added afterwards. NULL when the input is the model input. */
static float *grad_target(Model *m, const Layer *L, int k, size_t offset, int *needs_add) {
  int src = L->inputs[k];
  *needs_add = 0;
  if (src == AT_INPUT) return NULL;
  if (m->buffers[src].grad_ready) {
    *needs_add = 1;
    return m->scratch + offset;
  }
  return m->buffers[src].grad;
}

static void finish_grad(Model *m, const Layer *L, int k, const float *written, int needs_add, int n) {
  int src = L->inputs[k];
  if (src == AT_INPUT) return;
  LayerBuffers *S = &m->buffers[src];
  if (needs_add) m->be->add(S->grad, S->grad, written, (size_t)n * at_dims_count(m->layers[src].out));
  S->grad_ready = 1;
}

int model_layer_index(const Model *m, const char *name) {
  for (int i = 0; i < m->n_layers; i++)
    if (!strcmp(m->layers[i].name, name)) return i;
  return -1;
}

void model_layer_names(const Model *m, char *out, size_t size) {
  size_t used = 0;
  if (size) out[0] = '\0';
  for (int i = 0; i < m->n_layers && used + 1 < size; i++) {
    int k = snprintf(out + used, size - used, "%s%s", i ? ", " : "", m->layers[i].name);
    if (k < 0) break;
    used += (size_t)k;
  }
}

int layer_has_parameters(const Layer *L) { return L->weight >= 0 || L->bias >= 0 || L->running_mean >= 0; }

void model_freeze_layer(Model *m, int layer) {
  AT_ASSERT(layer >= 0 && layer < m->n_layers);
  m->layers[layer].frozen = 1;
}

int model_first_trained_layer(const Model *m) {
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i].n_params > 0 && !m->layers[i].frozen) return i;
  return m->n_layers;
}

static void zero_frozen_gradients(Model *m) {
  for (int pi = 0; pi < m->n_params; pi++) {
    const ParamTensor *p = &m->params[pi];
    if (p->trainable && m->layers[p->layer].frozen) m->be->fill(m->grads + p->offset, p->count, 0.0f);
  }
}

/* The backward pass from layer `top`, whose output gradient is ready,
 * through the layers it depends on (reach: NULL means all of 0 .. top). */
static void backward_from(Model *m, int n, int top, const unsigned char *reach) {
  const int first = model_first_trained_layer(m);
  for (int i = top; i >= first; i--) {
    if (reach && !reach[i]) continue;
    LayerPass p = layer_pass(m, i, n);
    const Layer *L = p.L;
    at_backend_set_layer(L->name);
    if (p.buf->chain == CHAIN_HEAD || p.buf->chain == CHAIN_INNER) continue; /* done by the chain's tail */
    AT_ASSERT(p.buf->grad_ready); /* every layer reaches the output (checked at build) */
    if (p.buf->chain == CHAIN_TAIL) {
      const int head = layer_chain_head(m, i);
      const Layer *H = &m->layers[head];
      int add;
      float *dx = grad_target(m, H, 0, 0, &add);
      AT_ASSERT(dx != p.buf->grad); /* allocate_gradients: the chain reads one while writing the other */
      layer_chain_backward(m, head, n, dx);
      finish_grad(m, H, 0, dx, add, n);
      continue;
    }
    /* each input's gradient: its own region of scratch when it must be summed */
    int adds[AT_MAX_INPUTS];
    size_t offset = 0;
    for (int k = 0; k < L->n_inputs; k++) {
      const size_t count = (size_t)n * at_dims_count(dims_of(m, L->inputs[k]));
      p.dx[k] = grad_target(m, L, k, offset, &adds[k]);
      p.spare[k] = offset + count <= m->scratch_floats ? m->scratch + offset : NULL; /* sized for the layers that need it */
      offset += count;
    }
    L->kind->backward(&p);
    for (int k = 0; k < L->n_inputs; k++) finish_grad(m, L, k, p.dx[k], adds[k], n);
  }
  at_backend_set_layer(NULL);
  zero_frozen_gradients(m);
}

void model_backward(Model *m, int n, const float *dlogits) {
  AT_ASSERT(!m->inference_only);
  LayerBuffers *last = &m->buffers[m->n_layers - 1];
  for (int i = 0; i < m->n_layers; i++) m->buffers[i].grad_ready = 0;
  if (dlogits != last->grad) m->be->copy(last->grad, dlogits, sizeof(float) * (size_t)n * m->classes);
  last->grad_ready = 1;
  backward_from(m, n, m->n_layers - 1, NULL);
}

void model_backward_from_layer(Model *m, int n, int layer, const float *dy) {
  AT_ASSERT(!m->inference_only && layer >= 0 && layer < m->n_layers);
  LayerBuffers *B = &m->buffers[layer];
  AT_ASSERT(B->chain == CHAIN_NONE || B->chain == CHAIN_TAIL);
  unsigned char *reach = at_calloc((size_t)m->n_layers, 1, "layers reached");
  reach[layer] = 1;
  for (int i = layer; i >= 0; i--)
    for (int k = 0; reach[i] && k < m->layers[i].n_inputs; k++)
      if (m->layers[i].inputs[k] != AT_INPUT) reach[m->layers[i].inputs[k]] = 1;
  for (int i = 0; i < m->n_layers; i++) m->buffers[i].grad_ready = 0;
  /* the layers the pass does not reach write no parameter gradient */
  m->be->fill(m->grads, m->n_weights, 0.0f);
  m->be->copy(B->grad, dy, sizeof(float) * (size_t)n * at_dims_count(m->layers[layer].out));
  B->grad_ready = 1;
  backward_from(m, n, layer, reach);
  free(reach);
}

double model_loss(Model *m, int n, const void *targets, int backward) {
  const Backend *be = m->be;
  const float *logits = m->buffers[m->n_layers - 1].out;
  double loss = m->output == OUTPUT_SIGMOID
                    ? be->bce_with_logits(n, m->classes, logits, targets, m->logit_grad)
                    : be->softmax_cross_entropy(n, m->classes, logits, targets, m->logit_grad);
  if (backward) model_backward(m, n, m->logit_grad);
  return loss;
}

void model_probabilities(Model *m, int n, float *probs) {
  const float *logits = m->buffers[m->n_layers - 1].out;
  if (m->output == OUTPUT_SIGMOID) m->be->sigmoid(logits, probs, (size_t)n * m->classes);
  else m->be->softmax(n, m->classes, logits, probs);
}
