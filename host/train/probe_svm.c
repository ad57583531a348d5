/* The SVMs of `auratag probe` (probe_classifier.h) on LIBLINEAR 2.3 and
 * LIBSVM 3.24. Both are safe to call from several threads at once here: a fit
 * keeps its state in its own model, the only global is each library's print
 * function (set once, before the threads), and the solvers used call no
 * rand() (LIBLINEAR's dual solvers and LIBSVM's probability estimates do). */
#include <libsvm/svm.h>
#include <linear.h>
#include <stdlib.h>

#include "core/error.h"
#include "train/probe_classifier.h"

struct ProbeSvmRows {
  ProbeClassifierKind kind;
  int n, dim;
  struct feature_node *linear_nodes, **linear_rows; /* LIBLINEAR */
  struct svm_node *rbf_nodes, **rbf_rows; /* LIBSVM */
};

static void print_nothing(const char *s) {
  (void)s;
}

ProbeSvmRows *probe_svm_rows_new(ProbeClassifierKind kind, const float *x, int n, int dim) {
  AT_ASSERT(kind == PROBE_LINEAR_SVM || kind == PROBE_RBF_SVM);
  set_print_string_function(print_nothing); /* both print their iterations on stdout otherwise */
  svm_set_print_string_function(print_nothing);
  ProbeSvmRows *r = at_calloc(1, sizeof *r, "SVM rows");
  r->kind = kind;
  r->n = n;
  r->dim = dim;
  /* dense rows: dim features (indices from 1), LIBLINEAR's bias, the terminator */
  const size_t stride = (size_t)dim + 2;
  if (kind == PROBE_LINEAR_SVM) {
    r->linear_nodes = at_malloc(sizeof(struct feature_node) * stride * (size_t)n, "LIBLINEAR rows");
    r->linear_rows = at_malloc(sizeof(struct feature_node *) * (size_t)n, "LIBLINEAR rows");
    for (int i = 0; i < n; i++) {
      struct feature_node *row = r->linear_nodes + (size_t)i * stride;
      for (int j = 0; j < dim; j++) row[j] = (struct feature_node){j + 1, x[(size_t)i * dim + j]};
      /* the bias is an extra feature of value problem.bias = 1, which LIBLINEAR
       * expects in the data (its own train.c appends it when reading a file) */
      row[dim] = (struct feature_node){dim + 1, 1.0};
      row[dim + 1] = (struct feature_node){-1, 0.0};
      r->linear_rows[i] = row;
    }
  } else {
    r->rbf_nodes = at_malloc(sizeof(struct svm_node) * stride * (size_t)n, "LIBSVM rows");
    r->rbf_rows = at_malloc(sizeof(struct svm_node *) * (size_t)n, "LIBSVM rows");
    for (int i = 0; i < n; i++) {
      struct svm_node *row = r->rbf_nodes + (size_t)i * stride;
      for (int j = 0; j < dim; j++) row[j] = (struct svm_node){j + 1, x[(size_t)i * dim + j]};
      row[dim] = (struct svm_node){-1, 0.0};
      r->rbf_rows[i] = row;
    }
  }
  return r;
}

void probe_svm_rows_free(ProbeSvmRows *r) {
  if (!r) return;
  free(r->linear_nodes);
  free(r->linear_rows);
  free(r->rbf_nodes);
  free(r->rbf_rows);
  free(r);
}

/* The problem's y: +1 / -1 for a tag's binary problem, the class index for single-label. */
static double *problem_targets(const ProbeData *train, int tag, int n_tags) {
  double *y = at_malloc(sizeof(double) * (size_t)train->n, "SVM targets");
  for (int i = 0; i < train->n; i++)
    y[i] = tag >= 0 ? (train->labels[(size_t)i * n_tags + tag] ? 1.0 : -1.0) : (double)train->label[i];
  return y;
}

/* A binary model's decision value is positive for its first label, which is
 * whichever the library met first: turn it so that higher means the tag. */
static float oriented(double dec, int first_label) {
  return (float)(first_label == 1 ? dec : -dec);
}

static void fit_linear(const ProbeParams *p, const ProbeSvmRows *tr, double *y, const ProbeSvmRows *ev, int tag,
                       int n_tags, float *scores) {
  struct problem prob = {.l = tr->n, .n = tr->dim + 1, .y = y, .x = tr->linear_rows, .bias = 1.0};
  /* L2-regularised squared hinge loss by the primal trust-region Newton
   * solver (-s 2): deterministic, unlike the dual solvers' random order */
  struct parameter param = {.solver_type = L2R_L2LOSS_SVC, .eps = p->eps > 0 ? p->eps : 0.01, .C = p->C, .p = 0.1};
  const char *err = check_parameter(&prob, &param);
  if (err) at_fatal("LIBLINEAR refused C=%g: %s", p->C, err);
  struct model *m = train(&prob, &param);
  const int k = m->nr_class;
  AT_ASSERT(k >= 2 && (tag < 0 || k == 2));
  double *dec = at_malloc(sizeof(double) * (size_t)k, "LIBLINEAR decision values");
  for (int r = 0; r < ev->n; r++) {
    predict_values(m, ev->linear_rows[r], dec);
    float *s = scores + (size_t)r * n_tags;
    if (tag >= 0) {
      s[tag] = oriented(dec[0], m->label[0]);
    } else if (k == 2) { /* one value, positive for label[0] */
      s[m->label[0]] = (float)dec[0];
      s[m->label[1]] = (float)-dec[0];
    } else { /* one-vs-rest: value c belongs to label[c], in the order the classes were met */
      for (int c = 0; c < k; c++) s[m->label[c]] = (float)dec[c];
    }
  }
  free(dec);
  free_and_destroy_model(&m);
}

static void fit_rbf(const ProbeParams *p, const ProbeSvmRows *tr, double *y, const ProbeSvmRows *ev, int tag,
                    int n_tags, float *scores) {
  struct svm_problem prob = {.l = tr->n, .y = y, .x = tr->rbf_rows};
  struct svm_parameter param = {.svm_type = C_SVC,
                                .kernel_type = RBF,
                                .degree = 3,
                                .gamma = p->gamma > 0 ? p->gamma : 1.0 / tr->dim,
                                .cache_size = 100, /* MB per fit, allocated as the kernel rows are used */
                                .eps = p->eps > 0 ? p->eps : 1e-3,
                                .C = p->C,
                                .nu = 0.5,
                                .p = 0.1,
                                .shrinking = 1,
                                .probability = 0};
  const char *err = svm_check_parameter(&prob, &param);
  if (err) at_fatal("LIBSVM refused C=%g gamma=%g: %s", p->C, param.gamma, err);
  struct svm_model *m = svm_train(&prob, &param);
  const int k = svm_get_nr_class(m);
  AT_ASSERT(k >= 2 && (tag < 0 || k == 2));
  int *label = at_malloc(sizeof(int) * (size_t)k, "LIBSVM labels");
  int *votes = at_malloc(sizeof(int) * (size_t)k, "LIBSVM votes");
  double *dec = at_malloc(sizeof(double) * (size_t)(k * (k - 1) / 2), "LIBSVM decision values");
  svm_get_labels(m, label);
  for (int r = 0; r < ev->n; r++) {
    const double predicted = svm_predict_values(m, ev->rbf_rows[r], dec);
    float *s = scores + (size_t)r * n_tags;
    if (tag >= 0) {
      s[tag] = oriented(dec[0], label[0]);
      continue;
    }
    /* one-vs-one: pair (a, b), a < b in label order, votes for a when its
     * value is positive; LIBSVM predicts the first label with the most votes,
     * which the tie-break (k - a) / (k + 1) in (0, 1) keeps as the argmax */
    for (int a = 0; a < k; a++) votes[a] = 0;
    int pair = 0, best = 0;
    for (int a = 0; a < k; a++)
      for (int b = a + 1; b < k; b++) votes[dec[pair++] > 0 ? a : b]++;
    for (int a = 0; a < k; a++) {
      s[label[a]] = (float)(votes[a] + (double)(k - a) / (k + 1));
      if (votes[a] > votes[best]) best = a;
    }
    AT_ASSERT((int)predicted == label[best]);
  }
  free(dec);
  free(votes);
  free(label);
  svm_free_and_destroy_model(&m); /* the support vectors point into tr's rows: not freed (free_sv = 0) */
}

void probe_svm_fit(ProbeClassifierKind kind, const ProbeParams *p, const ProbeSvmRows *tr, const ProbeData *train,
                   const ProbeSvmRows *eval, int tag, int n_tags, float *scores) {
  AT_ASSERT(tr->kind == kind && eval->kind == kind && tr->n == train->n && eval->dim == tr->dim);
  double *y = problem_targets(train, tag, n_tags);
  if (kind == PROBE_LINEAR_SVM) fit_linear(p, tr, y, eval, tag, n_tags, scores);
  else fit_rbf(p, tr, y, eval, tag, n_tags, scores);
  free(y);
}
