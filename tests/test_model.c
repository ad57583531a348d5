/* Model-level tests on the CPU backend:
 *  - central differences of the loss against model_backward for sampled
 *    parameters of every tensor, through a graph with branches, fan-out,
 *    concat, add, reshape, conv1d, per-frequency BN, ELU and dropout; and
 *    with layers frozen (BN and dropout in inference mode, zero gradients);
 *  - determinism: two runs with the same seed are bit-identical;
 *  - weights: save -> load round trip is exact, and a loaded model computes
 *    the same logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/weights_h5.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"

static int failures = 0;

static void report(int ok, const char *what, double value) {
  printf("%s %s (%.3g)\n", ok ? "PASS" : "FAIL", what, value);
  if (!ok) failures++;
}

typedef struct Run {
  Model *m;
  float *x;
  void *targets;
  int n;
} Run;

/* keep_outputs: no fused chains (Model.keep_outputs) */
static Run setup_with(const char *config, const char *const *overrides, int n_overrides, int keep_outputs, int n,
                      uint64_t seed) {
  Run r = {0};
  const Backend *be = at_backend_cpu();
  r.m = model_from_config(config, overrides, n_overrides);
  r.n = n;
  r.m->keep_outputs = keep_outputs;
  model_allocate(r.m, be, n);
  model_init_weights(r.m, seed);
  size_t count = (size_t)n * at_dims_count(r.m->input);
  r.x = be->alloc(sizeof(float) * count);
  for (size_t i = 0; i < count; i++) r.x[i] = at_rng_normal(seed, 99, i);
  if (r.m->output == OUTPUT_SIGMOID) {
    float *t = be->alloc(sizeof(float) * (size_t)n * r.m->classes);
    for (int i = 0; i < n * r.m->classes; i++) t[i] = at_rng_uniform(seed, 98, (uint64_t)i) < 0.4f;
    r.targets = t;
  } else {
    int32_t *t = be->alloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) t[i] = i % r.m->classes;
    r.targets = t;
  }
  return r;
}

static Run setup(const char *config, int n, uint64_t seed) { return setup_with(config, NULL, 0, 0, n, seed); }

static void teardown(Run *r) {
  const Backend *be = r->m->be;
  be->release(r->x);
  be->release(r->targets);
  model_free(r->m);
}

/* Loss in training mode with fixed dropout masks (same seed and step). BN
 * running statistics are restored so that repeated evaluations match. */
static double loss_at(Run *r, float *state_backup) {
  memcpy(r->m->state, state_backup, sizeof(float) * r->m->n_state);
  model_forward(r->m, r->x, r->n, 1, 5, 0);
  return model_loss(r->m, r->n, r->targets, 0);
}

/* frozen: NULL, or layer names to freeze (NULL-terminated): they run in
 * inference mode (BN on running statistics made non-trivial here), their
 * gradients must be exactly zero, and the rest must still match. */
static void gradient_check_with(const char *config, const char *const *overrides, int n_overrides,
                                const char *const *frozen) {
  Run r = setup_with(config, overrides, n_overrides, 0, 3, 11);
  Model *m = r.m;
  for (int k = 0; frozen && frozen[k]; k++) {
    const int index = model_layer_index(m, frozen[k]);
    if (index < 0) {
      report(0, frozen[k], 0);
      continue;
    }
    model_freeze_layer(m, index);
  }
  for (int pi = 0; frozen && pi < m->n_params; pi++) { /* running statistics other than 0 and 1 */
    const ParamTensor *p = &m->params[pi];
    const int is_var = !strcmp(p->name, "running_var");
    for (size_t i = 0; !p->trainable && i < p->count; i++)
      m->state[p->offset + i] = is_var ? (float)(0.5 + at_rng_uniform(21, (uint64_t)pi, i))
                                       : (float)(0.3 * at_rng_normal(21, (uint64_t)pi, i));
  }
  float *state = malloc(sizeof(float) * (m->n_state + 1));
  memcpy(state, m->state, sizeof(float) * m->n_state);
  loss_at(&r, state);
  model_loss(m, r.n, r.targets, 1);
  float *grads = malloc(sizeof(float) * m->n_weights);
  memcpy(grads, m->grads, sizeof(float) * m->n_weights);
  double worst = 0;
  int checked = 0, skipped = 0, frozen_nonzero = 0, frozen_checked = 0;
  for (int pi = 0; pi < m->n_params; pi++) {
    const ParamTensor *p = &m->params[pi];
    if (!p->trainable) continue;
    if (m->layers[p->layer].frozen) {
      for (size_t i = 0; i < p->count; i++) frozen_nonzero += grads[p->offset + i] != 0.0f;
      frozen_checked++;
      continue;
    }
    for (int k = 0; k < 6; k++) {
      size_t i = p->offset + (size_t)(at_rng_uniform(3, (uint64_t)pi, (uint64_t)k) * p->count);
      float saved = m->weights[i];
      double d[2];
      for (int s = 0; s < 2; s++) { /* steps h and h/2: disagreement = a kink was crossed */
        double h = s ? 1e-3 : 2e-3;
        m->weights[i] = saved + (float)h;
        double lp = loss_at(&r, state);
        m->weights[i] = saved - (float)h;
        double lm = loss_at(&r, state);
        d[s] = (lp - lm) / (2 * h);
      }
      m->weights[i] = saved;
      if (fabs(d[0] - d[1]) > 1e-3 * fmax(fabs(d[1]), 1e-2)) {
        skipped++;
        continue;
      }
      double err = fabs(d[1] - grads[i]) / fmax(fmax(fabs(d[1]), fabs(grads[i])), 1e-2);
      if (err > worst) worst = err;
      if (err > 2e-2)
        printf("  %s/%s[%zu]: analytic %.6g, numeric %.6g\n", m->layers[p->layer].name, p->name, i - p->offset,
               grads[i], d[1]);
      checked++;
    }
  }
  char what[256];
  snprintf(what, sizeof what, "%s%s: model gradients match central differences (%d checked, %d near kinks skipped)",
           config, frozen ? " with frozen layers" : "", checked, skipped);
  report(worst <= 2e-2 && checked > 0, what, worst);
  if (frozen) {
    snprintf(what, sizeof what, "%s: the %d tensors of frozen layers have zero gradients", config, frozen_checked);
    report(frozen_nonzero == 0 && frozen_checked > 0, what, frozen_nonzero);
    model_forward(m, r.x, r.n, 1, 5, 1);
    int moved = 0;
    for (size_t i = 0; i < m->n_state; i++) moved += m->state[i] != state[i];
    int frozen_bn_state = 0; /* every BN here is frozen: a training pass leaves all statistics alone */
    for (int pi = 0; pi < m->n_params; pi++) frozen_bn_state += !m->params[pi].trainable;
    snprintf(what, sizeof what, "%s: a training pass leaves frozen batch norms' running statistics unchanged", config);
    report(moved == 0 && frozen_bn_state > 0, what, moved);
  }
  free(grads);
  free(state);
  teardown(&r);
}

/* Three Adam steps with dropout and BN; returns a heap copy of the weights
 * and BN statistics. */
static void gradient_check(const char *config, const char *const *frozen) {
  gradient_check_with(config, NULL, 0, frozen);
}

static float *train_three_steps(const char *config, size_t *count) {
  Run r = setup(config, 4, 21);
  Model *m = r.m;
  Optimizer *opt = optimizer_create(m->be, OPT_ADAM, m->n_weights);
  for (int step = 0; step < 3; step++) {
    model_forward(m, r.x, r.n, 1, 21, (uint64_t)step);
    model_loss(m, r.n, r.targets, 1);
    optimizer_step(opt, m->weights, m->grads);
  }
  *count = m->n_weights + m->n_state;
  float *out = malloc(sizeof(float) * *count);
  memcpy(out, m->weights, sizeof(float) * m->n_weights);
  memcpy(out + m->n_weights, m->state, sizeof(float) * m->n_state);
  optimizer_free(opt);
  teardown(&r);
  return out;
}

static void determinism(const char *config) {
  size_t na, nb;
  float *a = train_three_steps(config, &na);
  float *b = train_three_steps(config, &nb);
  char what[256];
  snprintf(what, sizeof what, "%s: two runs with the same seed are bit-identical", config);
  report(na == nb && memcmp(a, b, sizeof(float) * na) == 0, what, 0);
  free(a);
  free(b);
}

static void weights_round_trip(const char *config) {
  char path[] = "/tmp/auratag-test-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  Run r = setup(config, 2, 31);
  /* Train a step so that running statistics and num_batches_tracked are non-trivial. */
  model_forward(r.m, r.x, r.n, 1, 31, 0);
  model_loss(r.m, r.n, r.targets, 1);
  weights_save(r.m, path);
  const float *logits = model_forward(r.m, r.x, r.n, 0, 0, 0);
  float expect[64];
  memcpy(expect, logits, sizeof(float) * (size_t)r.n * r.m->classes);

  Model *copy = model_from_config(config, NULL, 0);
  model_allocate(copy, at_backend_cpu(), 2);
  weights_load(copy, path);
  int same = memcmp(copy->weights, r.m->weights, sizeof(float) * r.m->n_weights) == 0 &&
             memcmp(copy->state, r.m->state, sizeof(float) * r.m->n_state) == 0;
  for (int i = 0; i < r.m->n_layers; i++) same &= copy->buffers[i].batches_tracked == r.m->buffers[i].batches_tracked;
  const float *again = model_forward(copy, r.x, 2, 0, 0, 0);
  same &= memcmp(again, expect, sizeof(float) * (size_t)r.n * r.m->classes) == 0;
  char what[256];
  snprintf(what, sizeof what, "%s: weights save -> load is exact and gives the same logits", config);
  report(same, what, 0);
  model_free(copy);
  teardown(&r);
  remove(path);
}

/* The gradient buffers are shared by layers whose gradients never live at
 * the same time (model.c: allocate_gradients): a chain needs two of the
 * largest layer's size and no scratch; a graph with branches needs more,
 * and the gradient checks above run on it. */
static void gradient_memory(const char *config, int want_slots, int want_scratch) {
  Model *m = model_from_config(config, NULL, 0);
  model_allocate(m, at_backend_cpu(), 3);
  size_t largest = 0;
  for (int i = 0; i < m->n_layers; i++)
    if (at_dims_count(m->layers[i].out) > largest) largest = at_dims_count(m->layers[i].out);
  char what[160];
  snprintf(what, sizeof what, "%s: %d gradient buffers (want %d), %zu floats (want %s 2 x 3 x %zu), scratch %zu", config,
           m->n_grad_slots, want_slots, m->grad_floats, want_slots == 2 ? "" : ">", largest, m->scratch_floats);
  const int sized = want_slots == 2 ? m->grad_floats == 2 * 3 * largest : m->grad_floats > 2 * 3 * largest;
  report(m->n_grad_slots == want_slots && sized && (m->scratch_floats > 0) == want_scratch, what, 0);
  model_free(m);
}

/* Three Adam steps with batch norm -> ReLU -> max-pool fused (the default)
 * and run as three layers (keep_outputs): the same logits, weights and
 * statistics bit for bit, with fewer floats held. `freeze`: a batch norm to
 * freeze first (the chain's frozen backward), or NULL. */
static float *fused_steps(const char *config, const char *const *overrides, int n_overrides, int keep,
                          const char *freeze, size_t *count, int *chains, size_t *held) {
  Run r = setup_with(config, overrides, n_overrides, keep, 3, 41);
  Model *m = r.m;
  if (freeze) model_freeze_layer(m, model_layer_index(m, freeze));
  *chains = 0;
  *held = m->grad_floats;
  for (int i = 0; i < m->n_layers; i++) {
    *chains += m->buffers[i].chain == CHAIN_HEAD;
    if (m->buffers[i].out && !m->buffers[i].in_place) *held += (size_t)r.n * at_dims_count(m->layers[i].out);
  }
  Optimizer *opt = optimizer_create(m->be, OPT_ADAM, m->n_weights);
  const size_t logits = (size_t)r.n * m->classes;
  *count = logits + m->n_weights + m->n_state;
  float *out = malloc(sizeof(float) * *count);
  for (int step = 0; step < 3; step++) {
    model_forward(m, r.x, r.n, 1, 21, (uint64_t)step);
    model_loss(m, r.n, r.targets, 1);
    optimizer_step(opt, m->weights, m->grads);
  }
  memcpy(out, model_forward(m, r.x, r.n, 0, 0, 0), sizeof(float) * logits); /* inference through the chains too */
  memcpy(out + logits, m->weights, sizeof(float) * m->n_weights);
  memcpy(out + logits + m->n_weights, m->state, sizeof(float) * m->n_state);
  optimizer_free(opt);
  teardown(&r);
  return out;
}

static void fused_chains(const char *config, const char *const *overrides, int n_overrides, const char *freeze,
                         int want_chains) {
  size_t na, nb, held_fused, held_separate;
  int chains, none;
  float *a = fused_steps(config, overrides, n_overrides, 0, freeze, &na, &chains, &held_fused);
  float *b = fused_steps(config, overrides, n_overrides, 1, freeze, &nb, &none, &held_separate);
  char what[320];
  snprintf(what, sizeof what,
           "%s%s: %d fused batch norm (-> ReLU) -> max-pool chains (want %d) train and infer as the separate layers, "
           "bit for bit, holding %zu floats instead of %zu",
           config, freeze ? " (a chain's batch norm frozen)" : "", chains, want_chains, held_fused, held_separate);
  report(chains == want_chains && none == 0 && na == nb && !memcmp(a, b, sizeof(float) * na) &&
             held_fused < held_separate,
         what, 0);
  free(a);
  free(b);
}

/* A model allocated for forward passes only (Model.inference_only, as every
 * evaluating command does) holds no gradient memory and computes the same
 * logits and loss as one allocated for training. */
static void inference_only(const char *config) {
  Run a = setup(config, 3, 51);
  Model *m = model_from_config(config, NULL, 0);
  m->inference_only = 1;
  model_allocate(m, at_backend_cpu(), 3);
  memcpy(m->weights, a.m->weights, sizeof(float) * a.m->n_weights);
  memcpy(m->state, a.m->state, sizeof(float) * a.m->n_state);
  const size_t logits = (size_t)a.n * a.m->classes;
  float *want = malloc(sizeof(float) * logits);
  memcpy(want, model_forward(a.m, a.x, a.n, 0, 0, 0), sizeof(float) * logits);
  const double loss_want = model_loss(a.m, a.n, a.targets, 0);
  const int same = !memcmp(model_forward(m, a.x, a.n, 0, 0, 0), want, sizeof(float) * logits) &&
                   model_loss(m, a.n, a.targets, 0) == loss_want;
  char what[256];
  snprintf(what, sizeof what, "%s: allocated for inference only, no gradient memory (%d buffers, %zu floats), same logits and loss",
           config, m->n_grad_slots, m->grad_floats);
  report(same && m->grads == NULL && m->n_grad_slots == 0 && m->grad_floats == 0, what, 0);
  free(want);
  model_free(m);
  teardown(&a);
}

int main(void) {
  gradient_memory("configs/models/pons_time.ini", 2, 1); /* the model input's spare gradient: a small scratch */
  gradient_memory("tests/configs/graph_small.ini", 4, 1);
  gradient_check("tests/configs/graph_small.ini", NULL);
  gradient_check("configs/models/pons_timefreq.ini", NULL);
  /* SampleCNN at 4 channels: eleven 1-D convs over 59,049 samples, a
   * strided first one, 1x3 pools, batch norm in training mode */
  const char *const samplecnn_narrow[] = {"conv0.filters=4", "conv1.filters=4", "conv2.filters=4", "conv3.filters=4",
                                          "conv4.filters=4", "conv5.filters=4", "conv6.filters=4", "conv7.filters=4",
                                          "conv8.filters=4", "conv9.filters=4", "conv10.filters=4"};
  gradient_check_with("configs/models/samplecnn.ini", samplecnn_narrow, 11, NULL);
  /* transfer learning's freeze: BN in inference mode (its backward too), dropout off, layers below skipped */
  const char *const frozen[] = {"in_bn", "a_conv", "batchnorm2", "dropout1", NULL};
  gradient_check("tests/configs/graph_small.ini", frozen);
  determinism("tests/configs/graph_small.ini");
  determinism("configs/models/pons_timefreq.ini");
  weights_round_trip("tests/configs/graph_small.ini");
  weights_round_trip("configs/models/pons_blackbox.ini");
  const char *const narrow[] = {"conv1.filters=8", "conv2.filters=8", "conv3.filters=8"};
  fused_chains("configs/models/fcn3.ini", narrow, 3, NULL, 3);
  fused_chains("configs/models/fcn3.ini", narrow, 3, "batchnorm2", 3);
  const char *const musicnn_narrow[] = {"timbral_74.filters=8", "timbral_77.filters=8", "temporal_128.filters=4",
                                        "temporal_64.filters=4",  "temporal_32.filters=4",  "cnn1_conv.filters=8",
                                        "cnn2_conv.filters=8",    "cnn3_conv.filters=8",    "penultimate_dense.units=16"};
  fused_chains("configs/models/musicnn.ini", musicnn_narrow, 9, NULL, 5);
  fused_chains("configs/models/musicnn.ini", musicnn_narrow, 9, "timbral_77_bn", 5);
  inference_only("configs/models/musicnn.ini");
  inference_only("tests/configs/graph_small.ini");
  return failures ? 1 : 0;
}
