/* Tests of host/train/prototypical.c and of model_backward_from_layer (the
 * comparison with PyTorch's autograd on many random episodes is
 * tests/oracle/torch_proto.py):
 *
 *  - proto_episode_loss: its gradient against central differences of the
 *    loss on random episodes (ways 2..5, shots 1..3, queries 1..4, dim
 *    1..16), every entry; the support rows of a way get the same gradient
 *    (a prototype is their mean), each column of the gradient sums to zero
 *    (the loss only sees differences of embeddings), and the loss is the
 *    same with and without a gradient;
 *  - accuracy on a constructed episode (every query nearest its own
 *    prototype: 1; one query moved onto another prototype: 1 - 1/Q);
 *    all embeddings equal: loss log(ways) and a zero gradient;
 *  - proto_prototypes / proto_scores on an example computed by hand (a class
 *    without examples: count 0, prototype of zeros);
 *  - through a network (CPU backend, every layer keeping its output): the
 *    episode loss on an inner layer's output (the embedding), its gradient
 *    sent back by model_backward_from_layer, against central differences of
 *    the loss in sampled weights of every tensor up to the embedding (conv,
 *    batch norm in training mode, ReLU, max-pool, dense); the layers the
 *    embedding does not depend on (the head; in a two-branch model the other
 *    branch and what joins them) get exactly zero gradients; a backward from
 *    the last layer equals model_backward bit for bit, and a full backward
 *    after a partial one still gives the full gradients bit for bit.
 * Prints one line per check; exits 1 if any check fails. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "train/prototypical.h"

static int g_failures, g_checks;

static void report(int ok, const char *what, double value) {
  g_checks++;
  if (!ok) g_failures++;
  printf("%s %s (%.3g)\n", ok ? "PASS" : "FAIL", what, value);
  fflush(stdout);
}

/* ------------------------------------------------------------ the loss alone */

static float *random_episode(int ways, int shots, int queries, int dim, uint64_t seed) {
  const int rows = ways * (shots + queries);
  float *e = malloc(sizeof(float) * (size_t)rows * dim);
  /* a centre per way plus noise: some queries near their own prototype,
   * some nearer another (softmax neither uniform nor saturated) */
  for (int r = 0; r < rows; r++) {
    const int w = r / (shots + queries);
    for (int j = 0; j < dim; j++)
      e[(size_t)r * dim + j] = 0.7f * at_rng_normal(seed, 1000 + (uint64_t)w, (uint64_t)j) +
                               0.6f * at_rng_normal(seed, 1, (uint64_t)r * dim + j);
  }
  return e;
}

/* Central differences in every entry against the analytic gradient.
 *
 * The loss is computed in double from float embeddings (prototypical.h), so
 * its value at each perturbed point is exact to ~1e-16 relative (|terms| ~
 * 10: noise ~1e-15); the step is h = 1e-4 (the perturbed float minus the
 * other one is the exact step used: no representation error). Rounding noise
 * in the quotient is then ~1e-15 / 2e-4 ~ 1e-11, and the truncation error
 * h^2/6 |L'''| with |L'''| <~ (2 |x - c|)^3 / Q <~ 1e3 here is <~ 2e-6 at
 * worst, usually far less. The analytic gradient is a float: a query row sums
 * `ways` float terms (each up to ~G = the largest gradient entry of the
 * episode, and they cancel), so its error is <~ ways * 6e-8 * G. Tolerance:
 * 1e-4 relative plus 1e-5 * G absolute, ten times above both, plus 1e-10
 * for episodes that are solved (loss ~1e-8, gradients ~1e-9): each query's
 * log(sum of exponentials) near log(1) is exact only to ~2e-16 absolute,
 * ~1e-12 in the quotient. (A float
 * rounding inside the loss -- of a prototype, say -- makes it rough at ~1e-8
 * relative, which this step turns into errors of ~1e-4 relative: caught.) */
static void episode_gradient(int ways, int shots, int queries, int dim, uint64_t seed, double *worst, int *bad,
                             int *bad_structure) {
  const int per_way = shots + queries, rows = ways * per_way;
  const size_t count = (size_t)rows * dim;
  float *e = random_episode(ways, shots, queries, dim, seed);
  float *g = malloc(sizeof(float) * count);
  double acc;
  const double loss = proto_episode_loss(e, ways, shots, queries, dim, g, &acc);
  const double loss_plain = proto_episode_loss(e, ways, shots, queries, dim, NULL, NULL);
  if (loss != loss_plain || !(loss > 0) || !(acc >= 0 && acc <= 1)) (*bad_structure)++;
  double G = 0;
  for (size_t i = 0; i < count; i++) G = fmax(G, fabs(g[i]));
  for (size_t i = 0; i < count; i++) {
    const float saved = e[i];
    const float xp = saved + 1e-4f, xm = saved - 1e-4f;
    e[i] = xp;
    const double lp = proto_episode_loss(e, ways, shots, queries, dim, NULL, NULL);
    e[i] = xm;
    const double lm = proto_episode_loss(e, ways, shots, queries, dim, NULL, NULL);
    e[i] = saved;
    const double num = (lp - lm) / ((double)xp - (double)xm);
    const double diff = fabs(num - g[i]);
    const double tol = 1e-4 * fabs(num) + 1e-5 * G + 1e-10;
    if (diff / tol > *worst) *worst = diff / tol; /* reported: the largest error as a fraction of its tolerance */
    if (diff > tol) {
      if (*bad < 5)
        printf("  ways %d shots %d queries %d dim %d: entry %zu (row %zu): analytic %.9g, numeric %.9g\n", ways, shots,
               queries, dim, i, i / (size_t)dim, g[i], num);
      (*bad)++;
    }
  }
  /* support rows of a way: the same gradient (d proto / shots); column sums 0 */
  for (int w = 0; w < ways; w++)
    for (int s = 1; s < shots; s++)
      if (memcmp(g + (size_t)(w * per_way) * dim, g + (size_t)(w * per_way + s) * dim, sizeof(float) * dim))
        (*bad_structure)++;
  for (int j = 0; j < dim; j++) {
    double sum = 0, mag = 0;
    for (int r = 0; r < rows; r++) sum += g[(size_t)r * dim + j], mag += fabs(g[(size_t)r * dim + j]);
    if (fabs(sum) > 1e-6 * mag + 1e-12) (*bad_structure)++;
  }
  free(g);
  free(e);
}

static void test_episode_gradients(void) {
  double worst = 0;
  int bad = 0, structure = 0, cases = 0;
  uint64_t seed = 1;
  for (int ways = 2; ways <= 5; ways++)
    for (int shots = 1; shots <= 3; shots++)
      for (int queries = 1; queries <= 4; queries++) {
        const int dims[] = {1, 2, 7, 16};
        for (int k = 0; k < 4; k++, cases++)
          episode_gradient(ways, shots, queries, dims[k], seed++, &worst, &bad, &structure);
      }
  char what[200];
  snprintf(what, sizeof what,
           "episode loss: gradient = central differences in every entry, %d episodes (%d entries off; worst error / "
           "tolerance)",
           cases, bad);
  report(bad == 0, what, worst);
  snprintf(what, sizeof what,
           "episode loss: equal support-row gradients per way, zero column sums, same loss without gradient (%d off)",
           structure);
  report(structure == 0, what, structure);
}

static void test_episode_constructed(void) {
  /* 3 ways, 2 shots, 2 queries, dim 2: way w's rows around 10 * e_w-ish */
  enum { WAYS = 3, SHOTS = 2, QUERIES = 2, DIM = 2, ROWS = WAYS * (SHOTS + QUERIES) };
  const float centre[WAYS][DIM] = {{0, 0}, {10, 0}, {0, 10}};
  const float jitter[SHOTS + QUERIES][DIM] = {{0.5f, 0}, {-0.5f, 0}, {0, 0.5f}, {0.3f, -0.4f}};
  float e[ROWS * DIM];
  for (int w = 0; w < WAYS; w++)
    for (int r = 0; r < SHOTS + QUERIES; r++)
      for (int j = 0; j < DIM; j++) e[(w * (SHOTS + QUERIES) + r) * DIM + j] = centre[w][j] + jitter[r][j];
  double acc = -1;
  double loss = proto_episode_loss(e, WAYS, SHOTS, QUERIES, DIM, NULL, &acc);
  /* distances to the own prototype are < 1, to another >= ~80: loss ~ e^-80 */
  report(acc == 1.0 && loss >= 0 && loss < 1e-20, "easy episode: accuracy 1, loss ~ 0", acc);
  /* the last query of way 0 onto way 2's prototype: 5 of 6 right */
  const int row = 0 * (SHOTS + QUERIES) + SHOTS + 1;
  e[row * DIM + 0] = 0.0f, e[row * DIM + 1] = 10.0f + 0.25f;
  proto_episode_loss(e, WAYS, SHOTS, QUERIES, DIM, NULL, &acc);
  report(fabs(acc - 5.0 / 6.0) < 1e-15, "one query moved to another prototype: accuracy 5/6", acc);

  /* every embedding equal: every distance 0, the softmax uniform */
  for (int ways = 2; ways <= 7; ways += 5) {
    const int rows = ways * 4, dim = 5;
    float *same = malloc(sizeof(float) * (size_t)rows * dim), *g = malloc(sizeof(float) * (size_t)rows * dim);
    for (int i = 0; i < rows * dim; i++) same[i] = 0.375f * (float)(i % dim) - 1.0f;
    loss = proto_episode_loss(same, ways, 1, 3, dim, g, &acc);
    int nonzero = 0;
    for (int i = 0; i < rows * dim; i++) nonzero += g[i] != 0.0f;
    char what[120];
    snprintf(what, sizeof what, "all embeddings equal (%d ways): loss = log(ways) %.12g, zero gradient", ways,
             log((double)ways));
    report(fabs(loss - log((double)ways)) < 1e-12 && nonzero == 0, what, loss - log((double)ways));
    free(same);
    free(g);
  }
}

/* ------------------------------------------------- prototypes and scores */

static void test_prototypes_scores(void) {
  /* 5 examples in 2-D, classes 0..2; class 1 has none */
  const float emb[] = {1, 2, 3, 4, -1, 0, 5, 6, 2, -2};
  const int label[] = {0, 0, 2, 0, 2};
  float protos[6] = {9, 9, 9, 9, 9, 9};
  int counts[3] = {-1, -1, -1};
  proto_prototypes(emb, label, 5, 3, 2, protos, counts);
  /* class 0: mean of (1,2) (3,4) (5,6) = (3,4); class 2: mean of (-1,0) (2,-2) = (0.5,-1) */
  const float want_p[6] = {3, 4, 0, 0, 0.5f, -1};
  int ok = counts[0] == 3 && counts[1] == 0 && counts[2] == 2 && !memcmp(protos, want_p, sizeof want_p);
  report(ok, "proto_prototypes: means by hand, an empty class counts 0 with a zero prototype", counts[1]);

  /* scores of (1,2) and (0.5,-1) against the three prototypes:
   * (1,2):    (3,4): -(4 + 4) = -8;   (0,0): -(1 + 4) = -5;    (0.5,-1): -(0.25 + 9) = -9.25
   * (0.5,-1): (3,4): -(6.25 + 25) = -31.25; (0,0): -(0.25 + 1) = -1.25; (0.5,-1): 0 */
  const float q[] = {1, 2, 0.5f, -1};
  float s[6];
  proto_scores(q, 2, protos, 3, 2, s);
  const float want_s[6] = {-8, -5, -9.25f, -31.25f, -1.25f, 0};
  double worst = 0;
  for (int i = 0; i < 6; i++) worst = fmax(worst, fabs(s[i] - want_s[i]));
  report(worst == 0, "proto_scores: -squared distances by hand", worst);
}

/* ------------------------------------------------------- through a network */

static const char k_tiny[] =
    "[model]\n"
    "name = proto_tiny\n"
    "input = 8x12x1\n"
    "output = softmax\n"
    "[conv]\n"
    "name = conv\n"
    "filters = 4\n"
    "size = 3x3\n"
    "padding = same\n"
    "[batchnorm]\n"
    "name = bn\n"
    "[relu]\n"
    "name = relu\n"
    "[maxpool]\n"
    "name = pool\n"
    "size = 2x2\n"
    "[dense]\n"
    "name = embedding\n"
    "units = 6\n"
    "[dropout]\n"
    "name = drop\n"
    "p = 0.3\n"
    "[dense]\n"
    "name = head\n"
    "units = 3\n";

/* Two branches from the input, joined by a concat before the head; the
 * embedding is one branch's output (a_emb or b_emb). */
static const char k_branches[] =
    "[model]\n"
    "name = proto_branches\n"
    "input = 8x12x1\n"
    "output = softmax\n"
    "[conv]\n"
    "name = a_conv\n"
    "filters = 3\n"
    "size = 3x3\n"
    "padding = same\n"
    "[batchnorm]\n"
    "name = a_bn\n"
    "[relu]\n"
    "name = a_relu\n"
    "[maxpool]\n"
    "name = a_pool\n"
    "size = 2x2\n"
    "[dense]\n"
    "name = a_emb\n"
    "units = 5\n"
    "[conv]\n"
    "name = b_conv\n"
    "input = input\n"
    "filters = 2\n"
    "size = 3x3\n"
    "padding = same\n"
    "[relu]\n"
    "name = b_relu\n"
    "[maxpool]\n"
    "name = b_pool\n"
    "size = 2x3\n"
    "[dense]\n"
    "name = b_emb\n"
    "units = 4\n"
    "[concat]\n"
    "name = joined\n"
    "inputs = a_emb, b_emb\n"
    "[dense]\n"
    "name = head\n"
    "units = 3\n";

enum { NET_WAYS = 3, NET_SHOTS = 2, NET_QUERIES = 2, NET_ROWS = NET_WAYS * (NET_SHOTS + NET_QUERIES) };

typedef struct Net {
  Model *m;
  float *x; /* device input [NET_ROWS, 8, 12, 1] */
  int32_t *labels; /* device labels for model_loss */
  float *state; /* running statistics at the start (restored before each forward) */
  float *emb; /* host copy of the embedding [NET_ROWS, dim] */
  int layer, dim;
} Net;

static Net net_create(const char *config, const char *origin, const char *embedding, float pattern, uint64_t seed) {
  Net t = {0};
  const Backend *be = at_backend_cpu();
  t.m = model_from_text(config, origin);
  t.m->keep_outputs = 1; /* inner outputs exist (no fused chain) */
  model_allocate(t.m, be, NET_ROWS);
  model_init_weights(t.m, seed);
  t.layer = model_layer_index(t.m, embedding);
  t.dim = t.layer >= 0 ? (int)at_dims_count(t.m->layers[t.layer].out) : 1;
  const size_t count = (size_t)NET_ROWS * at_dims_count(t.m->input);
  float *host = malloc(sizeof(float) * count);
  /* rows of a way share a pattern (weight `pattern`) plus noise: an episode neither hopeless nor trivial */
  for (size_t i = 0; i < count; i++) {
    const size_t row = i / at_dims_count(t.m->input), k = i % at_dims_count(t.m->input);
    const int way = (int)(row / (NET_SHOTS + NET_QUERIES));
    host[i] = pattern * at_rng_normal(seed, 50 + (uint64_t)way, k) + 0.7f * at_rng_normal(seed, 60, i);
  }
  t.x = be->alloc(sizeof(float) * count);
  be->to_device(t.x, host, sizeof(float) * count);
  free(host);
  int32_t labels[NET_ROWS];
  for (int i = 0; i < NET_ROWS; i++) labels[i] = i % t.m->classes;
  t.labels = be->alloc(sizeof labels);
  be->to_device(t.labels, labels, sizeof labels);
  t.state = malloc(sizeof(float) * (t.m->n_state + 1));
  be->to_host(t.state, t.m->state, sizeof(float) * t.m->n_state);
  t.emb = malloc(sizeof(float) * (size_t)NET_ROWS * t.dim);
  return t;
}

static void net_free(Net *t) {
  const Backend *be = t->m->be;
  be->release(t->x);
  be->release(t->labels);
  model_free(t->m);
  free(t->state);
  free(t->emb);
}

/* The episode loss of a training-mode forward pass (batch statistics; the
 * same dropout masks each time: same seed and step). The running statistics
 * are restored first so that every evaluation starts from the same state. */
static double net_loss(Net *t, float *grad_emb) {
  Model *m = t->m;
  m->be->to_device(m->state, t->state, sizeof(float) * m->n_state);
  model_forward(m, t->x, NET_ROWS, 1, 7, 0);
  m->be->to_host(t->emb, m->buffers[t->layer].out, sizeof(float) * (size_t)NET_ROWS * t->dim);
  return proto_episode_loss(t->emb, NET_WAYS, NET_SHOTS, NET_QUERIES, t->dim, grad_emb, NULL);
}

static int depends_on(const Model *m, int top, int layer) {
  if (top == layer) return 1;
  for (int k = 0; k < m->layers[top].n_inputs; k++)
    if (m->layers[top].inputs[k] != AT_INPUT && depends_on(m, m->layers[top].inputs[k], layer)) return 1;
  return 0;
}

/* Gradient check of model_backward_from_layer with the episode loss on
 * layer `embedding`.
 *
 * The forward pass runs in float: the loss (~1) carries ~1e-7 of rounding
 * noise, so central differences with step h = 1e-3 carry ~1e-4 absolute
 * noise (measured: the numeric gradients of entries whose true gradient is 0
 * -- a conv bias before batch norm, the embedding's bias, to which the loss is
 * blind -- come out at 1e-5 .. 1.5e-4); truncation (h^2/6 |L'''|) is smaller.
 *
 * ReLU and max-pool make the loss piecewise smooth: a kink at distance t
 * (|t| < h) from the weight, where the slope jumps by J, puts an error of up
 * to J/2 in a central difference. Each entry is evaluated at steps h = 2e-3
 * and h/2 (the actual float deltas): the central differences C(h), C(h/2)
 * differ by J t / 2h, and the second differences S(h) = L(x+h) - 2 L(x) +
 * L(x-h) satisfy |S(h) - 4 S(h/2)| / h = J |3t - h| / h (both ~0 where the
 * loss is smooth: h^2 L''' / 8 and O(h^3 L'''')). When both are below k, the
 * error of C(h/2) is at most J |h - 2t| / 2h <= 1.5 k; when either is above
 * k = 5e-3 max(|C(h/2)|, 3e-2 G) the entry is skipped (counted). G is the
 * largest gradient of the model (0.5 .. 6 here). Else the analytic gradient
 * must agree with C(h/2) within 1e-2 relative to max(|numeric|, |analytic|,
 * 3e-2 G): above the 1.5 k = 7.5e-3 a kink may leave and the 1e-4 noise
 * (<~ 1e-2 of the floor 3e-2 G >~ 1.5e-2); a wrong backward -- a batch norm
 * without its batch coupling, a misrouted pool -- is off by O(G). */
static void network_check(const char *config, const char *origin, const char *embedding, float pattern, uint64_t seed) {
  Net t = net_create(config, origin, embedding, pattern, seed);
  Model *m = t.m;
  char what[300];
  if (t.layer < 0) {
    snprintf(what, sizeof what, "%s: layer %s exists", origin, embedding);
    report(0, what, 0);
    net_free(&t);
    return;
  }
  const Backend *be = m->be;
  float *dy_host = malloc(sizeof(float) * (size_t)NET_ROWS * t.dim);
  const double loss = net_loss(&t, dy_host);
  float *dy = be->alloc(sizeof(float) * (size_t)NET_ROWS * t.dim);
  be->to_device(dy, dy_host, sizeof(float) * (size_t)NET_ROWS * t.dim);
  model_backward_from_layer(m, NET_ROWS, t.layer, dy);
  float *grads = malloc(sizeof(float) * m->n_weights);
  be->to_host(grads, m->grads, sizeof(float) * m->n_weights);
  float *weights = malloc(sizeof(float) * m->n_weights);
  be->to_host(weights, m->weights, sizeof(float) * m->n_weights);
  double G = 0;
  for (size_t i = 0; i < m->n_weights; i++) G = fmax(G, fabs(grads[i]));

  double worst = 0;
  int checked = 0, skipped = 0, zero_tensors = 0, zero_nonzero = 0, reached_tensors = 0, reached_all_zero = 0;
  for (int pi = 0; pi < m->n_params; pi++) {
    const ParamTensor *p = &m->params[pi];
    if (!p->trainable) continue;
    if (!depends_on(m, t.layer, p->layer)) { /* the loss does not see it: exactly zero */
      zero_tensors++;
      for (size_t i = 0; i < p->count; i++) zero_nonzero += grads[p->offset + i] != 0.0f;
      continue;
    }
    reached_tensors++;
    int any = 0;
    for (size_t i = 0; i < p->count; i++) any |= grads[p->offset + i] != 0.0f;
    reached_all_zero += !any;
    /* up to 12 distinct entries: a random start, evenly spaced */
    const size_t samples = p->count < 12 ? p->count : 12, stride = p->count / samples;
    const size_t start = (size_t)(at_rng_uniform(seed, 300, (uint64_t)pi) * p->count);
    for (size_t k = 0; k < samples; k++) {
      const size_t i = p->offset + (start + k * stride) % p->count;
      const float saved = weights[i];
      double d[2], second[2]; /* central differences and second differences L(x+h) - 2 L(x) + L(x-h) */
      for (int s = 0; s < 2; s++) {
        const float h = s ? 1e-3f : 2e-3f;
        const float wp = saved + h, wm = saved - h;
        be->to_device(m->weights + i, &wp, sizeof(float));
        const double lp = net_loss(&t, NULL);
        be->to_device(m->weights + i, &wm, sizeof(float));
        const double lm = net_loss(&t, NULL);
        d[s] = (lp - lm) / ((double)wp - (double)wm);
        second[s] = lp - 2 * loss + lm;
      }
      be->to_device(m->weights + i, &saved, sizeof(float));
      const double kink_tol = 5e-3 * fmax(fabs(d[1]), 3e-2 * G);
      if (fabs(d[0] - d[1]) > kink_tol || fabs(second[0] - 4 * second[1]) / 2e-3 > kink_tol) {
        skipped++;
        continue;
      }
      const double err = fabs(d[1] - grads[i]) / fmax(fmax(fabs(d[1]), fabs(grads[i])), 3e-2 * G);
      if (err > worst) worst = err;
      if (err > 1e-2)
        printf("  %s/%s[%zu]: analytic %.6g, numeric %.6g\n", m->layers[p->layer].name, p->name, i - p->offset,
               grads[i], d[1]);
      checked++;
    }
  }
  snprintf(what, sizeof what,
           "%s, embedding %s (dim %d, loss %.4f, largest gradient %.3g): gradients through the network = central "
           "differences (%d checked in %d tensors, %d skipped near kinks)",
           origin, embedding, t.dim, loss, G, checked, reached_tensors, skipped);
  report(worst <= 1e-2 && checked >= 3 * reached_tensors && reached_all_zero == 0, what, worst);
  snprintf(what, sizeof what, "%s, embedding %s: the %d tensors of layers it does not depend on have zero gradients",
           origin, embedding, zero_tensors);
  report(zero_nonzero == 0 && zero_tensors > 0, what, zero_nonzero);

  /* a full backward after the partial one: the same as a full backward on its own */
  net_loss(&t, NULL);
  model_loss(m, NET_ROWS, t.labels, 1);
  float *full = malloc(sizeof(float) * m->n_weights);
  be->to_host(full, m->grads, sizeof(float) * m->n_weights);
  Net fresh = net_create(config, origin, embedding, pattern, seed);
  net_loss(&fresh, NULL);
  model_loss(fresh.m, NET_ROWS, fresh.labels, 1);
  float *want = malloc(sizeof(float) * m->n_weights);
  be->to_host(want, fresh.m->grads, sizeof(float) * m->n_weights);
  snprintf(what, sizeof what, "%s: a full backward after model_backward_from_layer equals one without, bit for bit",
           origin);
  report(!memcmp(full, want, sizeof(float) * m->n_weights), what, 0);

  /* from the last layer: model_backward itself (the same dlogits) */
  const int last = m->n_layers - 1;
  const size_t nl = (size_t)NET_ROWS * m->classes;
  float *dl_host = malloc(sizeof(float) * nl);
  for (size_t i = 0; i < nl; i++) dl_host[i] = at_rng_normal(seed, 400, i);
  float *dl = be->alloc(sizeof(float) * nl);
  be->to_device(dl, dl_host, sizeof(float) * nl);
  net_loss(&t, NULL);
  model_backward(m, NET_ROWS, dl);
  be->to_host(full, m->grads, sizeof(float) * m->n_weights);
  model_backward_from_layer(m, NET_ROWS, last, dl);
  be->to_host(want, m->grads, sizeof(float) * m->n_weights);
  snprintf(what, sizeof what, "%s: model_backward_from_layer(last layer) = model_backward, bit for bit", origin);
  report(!memcmp(full, want, sizeof(float) * m->n_weights), what, 0);

  be->release(dl);
  be->release(dy);
  free(dl_host);
  free(full);
  free(want);
  free(weights);
  free(grads);
  free(dy_host);
  net_free(&fresh);
  net_free(&t);
}

int main(void) {
  test_episode_gradients();
  test_episode_constructed();
  test_prototypes_scores();
  network_check(k_tiny, "proto_tiny", "embedding", 1.0f, 3);
  /* the embedding a max-pool's output (96 dims: distances ~ 100, so no way
   * pattern in the input, else the episode is solved and the loss ~ 0) */
  network_check(k_tiny, "proto_tiny", "pool", 0.0f, 4);
  network_check(k_branches, "proto_branches", "a_emb", 1.0f, 5);
  network_check(k_branches, "proto_branches", "b_emb", 1.0f, 6); /* the first trained layer (a_conv) is not reached */
  printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
