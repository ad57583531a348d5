/* The training loop: batches from the loader, forward / loss / backward,
 * clipping, NaN checks, the optimizer, schedules, validation, model
 * selection, checkpoints, logs. Everything that decides what happens next is
 * in TrainState and saved with every checkpoint, so a resumed run continues
 * bit for bit. */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/files.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/stop_signals.h"
#include "data/cache.h"
#include "data/cache_tags.h"
#include "data/cache_front_end.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "io/weights_h5.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/prototypical.h"
#include "train/prototypical_eval.h"
#include "train/features.h"
#include "train/predictions.h"
#include "train/schedule.h"
#include "train/tensorboard.h"
#include "train/tensorboard_run.h"
#include "nn/backend_registry.h"

typedef struct Trainer {
  Experiment *e;
  Model *m;
  const Backend *be;
  Optimizer *opt;
  TrainState st;
  char dir[4400], last_path[4500], best_path[4500];
  Cache *train_cache, *valid_cache, *test_cache;
  int32_t *train_subset, *valid_subset, *test_subset;
  int n_train, n_valid, n_test;
  Loader *loader;
  FILE *log;
  TbWriter *tb; /* RUN/tb/'s events (rank 0, [train] tensorboard); NULL: none */
  float *state_backup;
  /* data parallelism: this process is rank `rank` of `ranks`; each rank's
   * slice of a batch goes in micro_batches parts; gradients summed over
   * parts (weighted by rows) in accum, then over ranks */
  int rank, ranks;
  float *accum;
  /* Two slots: the next batch uploads (from page-locked staging, a copy of
   * the loader's batch) while the current one computes. */
  float *x[2];
  void *targets[2];
  Batch staged[2];
  char front_end[1024]; /* of the training cache, stored in checkpoints */
  char train_identity[128]; /* the training cache's example count and ids hash, stored in checkpoints */
  long saved_step;      /* the step of the newest last.h5 (-1: none yet) */
  int stop_signal;      /* SIGINT/SIGTERM/SIGHUP agreed by all ranks after a step, else 0 */
  /* prototypical training: the embedding of an episode and its gradient */
  float *emb_host, *emb_grad_host, *emb_grad;
  size_t emb_dim;
} Trainer;

/* ---- set-up ---- */

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* [data] fraction: the first round(fraction * n) examples of a permutation
 * of the training split drawn from fraction_seed, in cache order. The same
 * seed gives nested subsets (5 % inside 10 % inside 25 % ...), the subsets
 * of Choi et al.'s depth x data-size experiment. */
static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* The training split in the order of a permutation drawn from `seed`. */
static int32_t *permuted_training_items(const Trainer *t, uint64_t seed) {
  const int n = t->n_train;
  int32_t *items = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "training subset");
  for (int i = 0; i < n; i++) items[i] = t->train_subset ? t->train_subset[i] : i;
  for (int i = n - 1; i > 0; i--) { /* Fisher-Yates from the counter RNG */
    int j = (int)(at_rng_uniform(seed, 0x5EEDF4AC, (uint64_t)i) * (i + 1));
    if (j > i) j = i;
    int32_t tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

static void keep_subset(Trainer *t, int32_t *items, long keep) {
  qsort(items, (size_t)keep, sizeof(int32_t), cmp_i32);
  free(t->train_subset);
  t->train_subset = items;
  t->n_train = (int)keep;
}

static void take_fraction(Trainer *t, const DataConfig *d) {
  int32_t *items = permuted_training_items(t, d->fraction_seed);
  long keep = lround(d->fraction * t->n_train);
  keep_subset(t, items, keep < 1 ? 1 : keep);
}

/* [data] per_class = k: few-data training sets. Walking the same permutation
 * as `fraction`, an example is kept while its class has fewer than k
 * (single-label), or while one of its tags has fewer than k positives
 * (multi-label: every tag gets at least k where the split has them, frequent
 * tags more). Classes or tags with fewer than k examples are named. */
static void take_per_class(Trainer *t, const DataConfig *d) {
  const Cache *c = t->train_cache;
  int32_t *items = permuted_training_items(t, d->fraction_seed);
  int *count = at_calloc((size_t)c->n_tags, sizeof(int), "per-class counts");
  long keep = 0;
  for (int i = 0; i < t->n_train; i++) {
    const int x = items[i];
    int wanted = 0;
    if (c->label) wanted = count[c->label[x]] < d->per_class;
    for (int k = 0; !c->label && k < c->n_tags; k++) wanted |= c->labels[(size_t)x * c->n_tags + k] && count[k] < d->per_class;
    if (!wanted) continue;
    if (c->label) count[c->label[x]]++;
    for (int k = 0; !c->label && k < c->n_tags; k++) count[k] += c->labels[(size_t)x * c->n_tags + k];
    items[keep++] = x;
  }
  char short_of[1024] = "";
  for (int k = 0; k < c->n_tags; k++)
    if (count[k] < d->per_class && strlen(short_of) + strlen(c->tags[k]) + 16 < sizeof short_of)
      snprintf(short_of + strlen(short_of), sizeof short_of - strlen(short_of), "%s%s (%d)", short_of[0] ? ", " : "",
               c->tags[k], count[k]);
  if (short_of[0] && t->rank == 0)
    printf("warning: [data] per_class = %d: the training split has fewer for %s\n", d->per_class, short_of);
  free(count);
  if (keep == 0) at_fatal("[data] per_class = %d selects no training example of '%s'", d->per_class, c->path);
  keep_subset(t, items, keep);
}

/* Prototypical training: episodes the training split can fill, with a clear
 * error for each way it cannot. */
static void check_episodes(Trainer *t) {
  const TrainConfig *tc = &t->e->train;
  const Cache *c = t->train_cache;
  if (t->ranks > 1)
    at_fatal("[train] mode = prototypical runs in one process (an episode's loss couples all its rows); start it "
             "without mpirun");
  if (tc->n_way > c->n_tags)
    at_fatal("[train] n_way = %d but the training cache '%s' has %d classes; set n_way <= %d", tc->n_way, c->path,
             c->n_tags, c->n_tags);
  int *count = at_calloc((size_t)c->n_tags, sizeof(int), "class counts");
  for (int i = 0; i < t->n_train; i++) count[c->label[t->train_subset ? t->train_subset[i] : i]]++;
  const int need = tc->k_shot + tc->n_query;
  int enough = 0, rarest = 0;
  for (int k = 0; k < c->n_tags; k++) {
    enough += count[k] >= need;
    if (count[k] < count[rarest]) rarest = k;
  }
  if (enough < tc->n_way)
    at_fatal("[train] an episode takes k_shot + n_query = %d + %d = %d examples of each of n_way = %d classes, but "
             "only %d classes of the training split have %d (the rarest, '%s', has %d); lower k_shot or n_query "
             "(or n_way)", tc->k_shot, tc->n_query, need, tc->n_way, enough, need, c->tags[rarest], count[rarest]);
  if (enough < c->n_tags && t->rank == 0)
    printf("warning: %d classes have fewer than k_shot + n_query = %d training examples and are left out of "
           "episodes (the rarest, '%s', has %d)\n", c->n_tags - enough, need, c->tags[rarest], count[rarest]);
  free(count);
}

/* Examples whose fold satisfies keep(fold, k, v). */
static int32_t *fold_subset(const Cache *c, int mode, int fold, int valid_fold, int *count) {
  int32_t *out = at_malloc(sizeof(int32_t) * (size_t)(c->n + 1), "fold subset");
  int n = 0;
  for (int i = 0; i < c->n; i++) {
    int f = c->fold[i];
    int keep = mode == 0 ? (f != fold && f != valid_fold) : mode == 1 ? f == valid_fold : f == fold;
    if (keep) out[n++] = i;
  }
  *count = n;
  return out;
}

static void open_data(Trainer *t) {
  const DataConfig *d = &t->e->data;
  t->train_cache = cache_open(d->train);
  if (t->e->train.mode == TRAIN_PROTOTYPICAL && t->train_cache->kind != CACHE_SINGLE_LABEL)
    at_fatal("[train] mode = prototypical needs a single-label cache (each example one class), but '%s' is "
             "multi-label (labels [N, tags]); train it with mode = classify, or prepare a single-label cache",
             t->train_cache->path);
  check_cache_fits_model(t->train_cache, t->m, d->crop, "training");
  if (d->valid[0]) {
    t->valid_cache = cache_open(d->valid);
    check_cache_fits_model(t->valid_cache, t->m, d->crop, "validation");
    t->n_valid = t->valid_cache->n;
  }
  if (d->test[0]) {
    t->test_cache = cache_open(d->test);
    check_cache_fits_model(t->test_cache, t->m, d->crop, "test");
    t->n_test = t->test_cache->n;
  }
  t->n_train = t->train_cache->n;
  char front_end[1024], from[4200];
  cache_front_end_describe(&t->train_cache->front_end, front_end, sizeof front_end);
  snprintf(t->front_end, sizeof t->front_end, "%s", front_end);
  uint64_t ids_hash = AT_FNV1A_BASIS;
  for (int i = 0; i < t->train_cache->n; i++)
    ids_hash = at_fnv1a(t->train_cache->ids[i], strlen(t->train_cache->ids[i]) + 1, ids_hash);
  snprintf(t->train_identity, sizeof t->train_identity, "%d examples, ids hash %016llx", t->train_cache->n,
           (unsigned long long)ids_hash);
  snprintf(from, sizeof from, "the training cache '%s'", t->train_cache->path);
  if (t->valid_cache) cache_front_end_require_same(front_end, from, t->valid_cache);
  if (t->test_cache) cache_front_end_require_same(front_end, from, t->test_cache);
  const char *const *tags = (const char *const *)t->train_cache->tags;
  if (t->valid_cache) cache_align_tags(t->valid_cache, tags, t->train_cache->n_tags, from);
  if (t->test_cache) cache_align_tags(t->test_cache, tags, t->train_cache->n_tags, from);
  model_set_output_names(t->m, tags); /* saved with every checkpoint: eval, predict and tag check against them */
  if (d->fold >= 0) {
    if (!t->train_cache->fold)
      at_fatal("[data] fold = %d but the training cache '%s' has no /fold dataset", d->fold, t->train_cache->path);
    t->train_subset = fold_subset(t->train_cache, 0, d->fold, d->valid_fold, &t->n_train);
    if (d->valid_fold >= 0) {
      if (t->valid_cache) at_fatal("[data] give either 'valid' or 'valid_fold', not both");
      t->valid_subset = fold_subset(t->train_cache, 1, d->fold, d->valid_fold, &t->n_valid);
      if (t->n_valid == 0) at_fatal("[data] valid_fold = %d selects no examples of '%s'", d->valid_fold, d->train);
    }
    if (!t->test_cache) {
      t->test_subset = fold_subset(t->train_cache, 2, d->fold, d->valid_fold, &t->n_test);
      if (t->n_test == 0) at_fatal("[data] fold = %d selects no test examples of '%s'", d->fold, d->train);
    }
  }
  if (t->n_train == 0) at_fatal("the training split of '%s' is empty (fold = %d)", d->train, d->fold);
  if (d->fraction < 1.0) take_fraction(t, d);
  if (d->per_class > 0) take_per_class(t, d);
  if (t->e->train.mode == TRAIN_PROTOTYPICAL) check_episodes(t);
}

static Cache *valid_source(Trainer *t) { return t->valid_cache ? t->valid_cache : t->valid_subset ? t->train_cache : NULL; }
static Cache *test_source(Trainer *t) { return t->test_cache ? t->test_cache : t->test_subset ? t->train_cache : NULL; }

/* ---- logging ---- */

static void log_step(Trainer *t, double loss, double grad_norm, double samples_per_s) {
  fprintf(t->log, "{\"type\": \"step\", \"step\": %ld, \"epoch\": %ld, \"batch\": %ld, \"loss\": ", t->st.step,
          t->st.epoch, t->st.cursor);
  json_number(t->log, loss);
  fprintf(t->log, ", \"lr\": %.10g, \"grad_norm\": ", t->st.lr);
  json_number(t->log, grad_norm);
  fprintf(t->log, ", \"samples_per_s\": %.2f}\n", samples_per_s);
  fflush(t->log);
  tb_scalar(t->tb, "step/loss", t->st.step, loss);
  tb_scalar(t->tb, "step/lr", t->st.step, t->st.lr);
  tb_scalar(t->tb, "step/grad_norm", t->st.step, grad_norm);
  tb_scalar(t->tb, "step/samples_per_s", t->st.step, samples_per_s);
  tb_flush(t->tb);
}

static void log_event(Trainer *t, const char *event, const char *detail) {
  fprintf(t->log, "{\"type\": \"%s\", \"step\": %ld, \"epoch\": %ld, \"detail\": ", event, t->st.step, t->st.epoch);
  json_string(t->log, detail);
  fprintf(t->log, "}\n");
  fflush(t->log);
}

/* ---- the parts of a step ---- */

static void apply_lr(Trainer *t) {
  t->opt->sgd.lr = (float)t->st.lr;
  t->opt->adam.lr = (float)t->st.lr;
}

/* Where a non-finite value first appears: an input row (named by its cache
 * id), else the first layer whose output holds one, else the first layer (in
 * backward order) whose parameter gradient does. */
static void describe_non_finite(Trainer *t, const Batch *b, char *out, size_t size) {
  const int bad_row = batch_non_finite_row(b, at_dims_count(t->m->input));
  if (bad_row >= 0) {
    const int example = b->example[bad_row];
    snprintf(out, size, "the input holds NaN/Inf: example %d ('%s') of %s", example, t->train_cache->ids[example],
             t->train_cache->path);
    return;
  }
  for (int l = 0; l < t->m->n_layers; l++) {
    const Layer *L = &t->m->layers[l];
    if (t->m->buffers[l].out && /* none inside a fused chain */
        !t->be->all_finite(t->m->buffers[l].out, (size_t)b->n * at_dims_count(L->out))) {
      snprintf(out, size, "first non-finite output in layer %s", L->name);
      return;
    }
  }
  for (int i = t->m->n_params - 1; i >= 0; i--) {
    const ParamTensor *p = &t->m->params[i];
    if (p->trainable && !t->be->all_finite(t->m->grads + p->offset, p->count)) {
      snprintf(out, size, "first non-finite gradient in layer %s", t->m->layers[p->layer].name);
      return;
    }
  }
  snprintf(out, size, "in the loss");
}

/* Batch-norm running statistics are per rank while training; their mean
 * over the ranks is what evaluation uses and checkpoints keep. */
static void average_state(Trainer *t) {
  if (t->ranks == 1 || t->m->n_state == 0) return;
  dist_allreduce_sum(t->be, t->m->state, t->m->n_state, "batch-norm statistics", t->st.step);
  t->be->scale(t->m->state, t->m->n_state, 1.0f / (float)t->ranks);
}

/* Rank 0 writes; the statistics must have been averaged (average_state). */
static void save_checkpoint(Trainer *t, const char *path) {
  if (t->rank == 0) checkpoint_save(path, t->m, t->opt, &t->st, t->e->text, t->front_end, t->train_identity);
  if (path == t->last_path) t->saved_step = t->st.step;
}

/* A checkpoint inside an epoch: every rank takes part (the statistics). */
static void save_last(Trainer *t) {
  average_state(t);
  save_checkpoint(t, t->last_path);
}

static EvalOptions eval_options(Trainer *t, const int32_t *subset, int n_subset) {
  const DataConfig *d = &t->e->data;
  EvalOptions o = {d->crop, d->eval_crops, t->e->train.batch, d->threads, d->prefetch, subset, n_subset};
  return o;
}

/* Evaluation of the examples `subset` of c: the model's outputs, or in
 * prototypical training the nearest prototype of the training split's
 * embeddings (the examples it trains on). */
static void evaluate_on(Trainer *t, Cache *c, const int32_t *subset, int n_subset, EvalResult *r) {
  EvalOptions o = eval_options(t, subset, n_subset);
  if (t->e->train.mode == TRAIN_PROTOTYPICAL)
    proto_evaluate(t->m, t->e->train.embedding_layer, t->train_cache, t->train_subset, t->n_train, c, &o, r);
  else
    evaluate(t->m, c, &o, r);
}

/* End of an epoch: validation, selection, schedules, stopping. */
static void end_epoch(Trainer *t, double epoch_seconds) {
  TrainState *st = &t->st;
  const TrainConfig *tc = &t->e->train;
  double train_loss = st->epoch_rows ? st->epoch_loss_sum / st->epoch_rows : NAN;
  EvalResult r;
  int have_valid = valid_source(t) != NULL;
  double score;
  average_state(t); /* the ranks evaluate the same model */
  if (have_valid) {
    evaluate_on(t, valid_source(t), t->valid_subset, t->n_valid, &r);
    score = eval_score(&r, tc->select);
  } else {
    score = -train_loss; /* no validation data: select on the training loss */
  }
  double lr_before = st->lr;
  int improved = schedule_after_epoch(tc, st, train_loss, score);

  fprintf(t->log, "{\"type\": \"epoch\", \"epoch\": %ld, \"step\": %ld, \"train_loss\": ", st->epoch, st->step);
  json_number(t->log, train_loss);
  fprintf(t->log, ", \"lr\": %.10g, \"next_lr\": %.10g, \"time_s\": %.3f, \"best\": %s, \"select\": \"%s\", \"score\": ",
          lr_before, st->lr, epoch_seconds, improved ? "true" : "false", select_metric_name(tc->select));
  json_number(t->log, score);
  if (have_valid) {
    fprintf(t->log, ", \"valid\": ");
    eval_write_json(&r, valid_source(t), t->log);
  }
  fprintf(t->log, "}\n");
  fflush(t->log);
  tb_scalar(t->tb, "train/loss", st->step, train_loss);
  if (have_valid) tb_log_eval(t->tb, st->step, "valid", &r, valid_source(t));
  tb_flush(t->tb);

  printf("epoch %ld: train loss %.5f", st->epoch + 1, train_loss);
  if (have_valid) {
    printf(", valid loss %.5f", r.loss);
    if (r.multi_label) printf(", ROC-AUC %.4f, PR-AUC %.4f", r.tags.macro_roc_auc, r.tags.macro_pr_auc);
    else printf(", accuracy %.4f", r.classes.accuracy);
  }
  printf(", %.1f s%s%s\n", epoch_seconds, improved ? "  (best so far)" : "",
         st->lr != lr_before ? "  (learning rate changed)" : "");
  if (st->lr != lr_before) printf("learning rate %.6g -> %.6g\n", lr_before, st->lr);
  fflush(stdout);
  if (have_valid) eval_result_free(&r);

  st->epoch++;
  st->cursor = 0;
  st->epoch_loss_sum = 0;
  st->epoch_rows = 0;
  if (st->epoch >= tc->epochs) st->finished = 1;
  /* the statistics were averaged before the validation above */
  if (improved) save_checkpoint(t, t->best_path);
  save_checkpoint(t, t->last_path);
}

/* Copies a loader batch into staging slot `slot` and starts its upload. */
static void stage_batch(Trainer *t, int slot, const Batch *src) {
  const Model *m = t->m;
  const Backend *be = t->be;
  Batch *d = &t->staged[slot];
  const size_t nx = (size_t)src->n * at_dims_count(m->input);
  d->n = src->n;
  memcpy(d->x, src->x, sizeof(float) * nx);
  memcpy(d->example, src->example, sizeof(int32_t) * (size_t)src->n);
  be->upload_async(slot, t->x[slot], d->x, sizeof(float) * nx);
  if (m->output == OUTPUT_SIGMOID) {
    memcpy(d->targets, src->targets, sizeof(float) * (size_t)src->n * m->classes);
    be->upload_async(slot, t->targets[slot], d->targets, sizeof(float) * (size_t)src->n * m->classes);
  } else {
    memcpy(d->labels, src->labels, sizeof(int32_t) * (size_t)src->n);
    be->upload_async(slot, t->targets[slot], d->labels, sizeof(int32_t) * (size_t)src->n);
  }
}

static void staging_alloc(Trainer *t, int batch) {
  const Backend *be = t->be;
  const size_t nx = (size_t)batch * at_dims_count(t->m->input), nt = (size_t)batch * t->m->classes;
  for (int s = 0; s < 2; s++) {
    t->x[s] = be->alloc(sizeof(float) * nx);
    t->targets[s] = be->alloc(sizeof(float) * nt + sizeof(int32_t) * (size_t)batch);
    Batch *d = &t->staged[s];
    d->x = be->host_alloc(sizeof(float) * nx);
    d->targets = be->host_alloc(sizeof(float) * nt);
    d->labels = be->host_alloc(sizeof(int32_t) * (size_t)batch);
    d->example = be->host_alloc(sizeof(int32_t) * (size_t)batch);
  }
}

static void staging_free(Trainer *t) {
  const Backend *be = t->be;
  be->synchronize();
  for (int s = 0; s < 2; s++) {
    be->upload_wait(s);
    be->release(t->x[s]);
    be->release(t->targets[s]);
    be->host_release(t->staged[s].x);
    be->host_release(t->staged[s].targets);
    be->host_release(t->staged[s].labels);
    be->host_release(t->staged[s].example);
  }
}

/* Forward and backward of this rank's slice in micro_batches parts, then the
 * sum over ranks: gradients (and the loss) of the mean over the global
 * batch, whatever the split. Part q = rank * micro_batches + p covers rows
 * [n p / P, n (p + 1) / P) of the slice and draws its dropout masks from
 * its own stream. Returns the global loss; rows_total: the global rows. */
static double parts_step(Trainer *t, int slot, double *rows_total) {
  Model *m = t->m;
  const Backend *be = t->be;
  const TrainConfig *tc = &t->e->train;
  const Batch *b = &t->staged[slot];
  const int P = tc->micro_batches;
  const size_t row = at_dims_count(m->input);
  be->fill(t->accum, m->n_weights, 0.0f);
  double loss_sum = 0;
  for (int p = 0; p < P; p++) {
    const int lo = (int)((long)b->n * p / P), hi = (int)((long)b->n * (p + 1) / P), rows = hi - lo;
    if (rows == 0) continue;
    const uint64_t q = (uint64_t)t->rank * (uint64_t)P + (uint64_t)p;
    model_forward(m, t->x[slot] + (size_t)lo * row, rows, 1, tc->seed, (uint64_t)t->st.step + (q << 40));
    const void *targets = m->output == OUTPUT_SIGMOID ? (const void *)((const float *)t->targets[slot] + (size_t)lo * m->classes)
                                                      : (const void *)((const int32_t *)t->targets[slot] + lo);
    loss_sum += model_loss(m, rows, targets, 1) * rows;
    be->scale(m->grads, m->n_weights, (float)rows); /* mean over the part -> sum */
    be->add(t->accum, t->accum, m->grads, m->n_weights);
  }
  dist_allreduce_sum(be, t->accum, m->n_weights, "gradient", t->st.step);
  /* one collective for the loss, the rows and whether any rank was asked to stop */
  double sums[3] = {loss_sum, (double)b->n, at_stop_signal() ? 1.0 : 0.0};
  dist_sum_doubles(sums, 3, "loss", t->st.step);
  *rows_total = sums[1];
  if (sums[2] > 0) t->stop_signal = at_stop_signal() ? at_stop_signal() : SIGTERM;
  be->copy(m->grads, t->accum, sizeof(float) * m->n_weights);
  be->scale(m->grads, m->n_weights, (float)(1.0 / *rows_total));
  return sums[0] / *rows_total;
}

/* Prototypical training: forward the episode, the episode loss on the
 * embedding (on the host: [rows, dim] is small), backward from there. */
static double episode_step(Trainer *t, int slot) {
  Model *m = t->m;
  const TrainConfig *tc = &t->e->train;
  const Batch *b = &t->staged[slot];
  AT_ASSERT(b->n == tc->batch);
  model_forward(m, t->x[slot], b->n, 1, tc->seed, (uint64_t)t->st.step);
  const size_t count = (size_t)b->n * t->emb_dim;
  t->be->to_host(t->emb_host, m->buffers[tc->embedding_layer].out, sizeof(float) * count);
  const double loss =
      proto_episode_loss(t->emb_host, tc->n_way, tc->k_shot, tc->n_query, (int)t->emb_dim, t->emb_grad_host, NULL);
  t->be->to_device(t->emb_grad, t->emb_grad_host, sizeof(float) * count);
  model_backward_from_layer(m, b->n, tc->embedding_layer, t->emb_grad);
  return loss;
}

/* One optimizer step on the batch staged in `slot`; returns 0 if the run
 * must stop. */
static int train_step(Trainer *t, int slot, double *loss_out, double *norm_out) {
  Model *m = t->m;
  const Backend *be = t->be;
  const TrainConfig *tc = &t->e->train;
  const Batch *b = &t->staged[slot];
  be->upload_wait(slot);
  if (tc->on_nan == ON_NAN_SKIP) be->copy(t->state_backup, m->state, sizeof(float) * m->n_state);
  double loss, rows_total = b->n;
  if (tc->mode == TRAIN_PROTOTYPICAL) {
    loss = episode_step(t, slot);
    t->stop_signal = at_stop_signal();
  } else if (tc->micro_batches == 1 && t->ranks == 1) {
    model_forward(m, t->x[slot], b->n, 1, tc->seed, (uint64_t)t->st.step);
    loss = model_loss(m, b->n, t->targets[slot], 1);
    t->stop_signal = at_stop_signal();
  } else {
    loss = parts_step(t, slot, &rows_total);
  }
  double norm = sqrt(be->sum_squares(m->grads, m->n_weights));
  *loss_out = loss;
  *norm_out = norm;
  if (!isfinite(loss) || !isfinite(norm)) {
    char where[4400], detail[4800];
    describe_non_finite(t, b, where, sizeof where);
    snprintf(detail, sizeof detail, "non-finite %s at step %ld (epoch %ld, batch %ld); %s",
             isfinite(loss) ? "gradient" : "loss", t->st.step + 1, t->st.epoch + 1, t->st.cursor + 1, where);
    if (tc->on_nan == ON_NAN_SKIP) {
      be->copy(m->state, t->state_backup, sizeof(float) * m->n_state);
      t->st.nan_skipped++;
      log_event(t, "nan_skipped", detail);
      t->st.cursor++;
      return 1;
    }
    log_event(t, "nan_stop", detail);
    char kept[4600] = "it has no checkpoint yet";
    if (t->saved_step >= 0) snprintf(kept, sizeof kept, "its last good checkpoint is %s (step %ld)", t->last_path, t->saved_step);
    fprintf(stderr, "auratag: error: %s.\nThe run stopped; %s. "
                    "Lower the learning rate, set train.clip_norm, or set train.on_nan = skip.\n",
            detail, kept);
    return 0;
  }
  if (tc->clip_norm > 0 && norm > tc->clip_norm) be->scale(m->grads, m->n_weights, (float)(tc->clip_norm / norm));
  apply_lr(t);
  optimizer_step(t->opt, m->weights, m->grads);
  t->st.step++;
  t->st.cursor++;
  t->st.epoch_loss_sum += loss * rows_total;
  t->st.epoch_rows += (long)rows_total;
  return 1;
}

static void final_results(Trainer *t) {
  char path[4500];
  snprintf(path, sizeof path, "%s/results.json", t->dir);
  /* evaluate the selected weights */
  if (file_exists(t->best_path)) weights_load(t->m, t->best_path);
  size_t cap = 1 << 16;
  char *buf = NULL;
  FILE *out = open_memstream(&buf, &cap);
  fprintf(out, "{\"run\": ");
  json_string(out, t->e->train.run);
  fprintf(out, ", \"steps\": %ld, \"epochs\": %ld, \"best_epoch\": %ld, \"select\": \"%s\", \"best_score\": ", t->st.step,
          t->st.epoch, t->st.best_epoch + 1, select_metric_name(t->e->train.select));
  json_number(out, t->st.best_metric);
  fprintf(out, ", \"nan_skipped\": %ld", t->st.nan_skipped);
  Cache *sources[2] = {valid_source(t), test_source(t)};
  const int32_t *subsets[2] = {t->valid_subset, t->test_subset};
  int counts[2] = {t->n_valid, t->n_test};
  const char *names[2] = {"valid", "test"};
  for (int i = 0; i < 2; i++) {
    if (!sources[i]) continue;
    EvalResult r;
    evaluate_on(t, sources[i], subsets[i], counts[i], &r);
    printf("%s (best epoch %ld): ", names[i], t->st.best_epoch + 1);
    eval_print(&r, sources[i], stdout);
    fprintf(out, ", \"%s\": ", names[i]);
    eval_write_json(&r, sources[i], out);
    if (i == 1) { /* TensorBoard: the test metrics at the last step */
      tb_log_eval(t->tb, t->st.step, "test", &r, sources[i]);
      tb_log_results_table(t->tb, t->st.step, t->st.best_epoch + 1, &r, sources[i]);
      /* the scores behind them, for the report's curves */
      char predictions[4600];
      snprintf(predictions, sizeof predictions, "%s/test-predictions.h5", t->dir);
      if (t->rank == 0) predictions_write(predictions, t->m->name, &r, sources[i]);
    }
    eval_result_free(&r);
  }
  fprintf(out, "}\n");
  fclose(out);
  if (t->rank == 0) at_write_text_file(path, buf);
  free(buf);
  printf("results: %s\n", path);
}

/* One process per run folder: an exclusive flock on RUN/.lock, held until the
 * process exits (the kernel drops it when a process dies, so a killed run
 * never leaves its folder locked). The file holds the holder's PID for the
 * message. Two processes writing one folder would mix their checkpoints. */
static void lock_run_folder(const char *dir) {
  char path[4500];
  snprintf(path, sizeof path, "%s/.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) at_fatal("cannot create the run folder's lock file '%s': %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) at_fatal("cannot lock the run folder '%s' (%s): %s", dir, path, strerror(errno));
    char holder[32] = "";
    ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    at_fatal("run folder '%s' is in use by another auratag process (PID %s); wait for it to end or stop it, "
             "or train into another folder with --set train.run=NEW_NAME", dir, *holder ? holder : "unknown");
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
    at_fatal("cannot write the run folder's lock file '%s': %s", path, strerror(errno));
  /* fd stays open (and locked) for the life of the process */
}

/* Temporary files (NAME.tmp.PID) that a killed process left in the run
 * folder; those of live processes are left alone. */
static void remove_stale_temp_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    const char *tmp = strstr(ent->d_name, ".tmp.");
    if (!tmp) continue;
    char *end = NULL;
    long pid = strtol(tmp + 5, &end, 10);
    if (pid <= 0 || *end || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (EPERM: alive, another user's) */
    char path[4700];
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    if (remove(path) == 0) printf("removed %s (left by process %ld, which is gone)\n", path, pid);
  }
  closedir(d);
}

/* After a resume, the log keeps the records up to the checkpoint's step:
 * the steps after it are taken again and logged again. */
static void truncate_log(const char *log_path, long step) {
  FILE *fp = fopen(log_path, "r");
  if (!fp) return;
  char *kept = NULL, *line = NULL;
  size_t kept_size = 0, cap = 0;
  FILE *out = open_memstream(&kept, &kept_size);
  int dropped = 0;
  while (getline(&line, &cap, fp) > 0) {
    const char *at = strstr(line, "\"step\": ");
    if (at && strtol(at + 8, NULL, 10) > step && strstr(line, "\"type\": \"step\"")) {
      dropped++;
      continue;
    }
    fputs(line, out);
  }
  free(line);
  fclose(fp);
  fclose(out);
  if (dropped) at_write_text_file(log_path, kept);
  free(kept);
}

/* Run folder paths, and the checks every rank makes before it touches them:
 * the same binary and experiment everywhere, no run already in the folder. */
static void open_run_folder(Trainer *t, Experiment *e, const char *resume_dir, char *config_path, size_t config_size,
                            char *log_path, size_t log_size) {
  const TrainConfig *tc = &e->train;
  if (resume_dir) snprintf(t->dir, sizeof t->dir, "%s", resume_dir);
  else snprintf(t->dir, sizeof t->dir, "%s/%s", tc->root, tc->run);
  snprintf(t->last_path, sizeof t->last_path, "%s/last.h5", t->dir);
  snprintf(t->best_path, sizeof t->best_path, "%s/best.h5", t->dir);
  snprintf(config_path, config_size, "%s/config.ini", t->dir);
  snprintf(log_path, log_size, "%s/log.jsonl", t->dir);
  /* data parallelism: every rank runs the same binary and experiment; rank
   * 0 alone writes the run folder, the others print nothing on stdout */
  t->rank = dist_rank();
  t->ranks = dist_size();
  dist_set_timeout(tc->collective_timeout);
  dist_check_same_binary();
  dist_check_same("experiment config (--set options included)", e->text, strlen(e->text));
  if (t->rank == 0) {
    if (!resume_dir) at_make_dirs(t->dir);
    if (!resume_dir || file_exists(t->dir)) lock_run_folder(t->dir);
  }
  if (t->rank == 0 && !resume_dir && file_exists(t->last_path))
    at_fatal("run folder '%s' already holds a run; continue it with `auratag train --resume %s`, "
             "or start another with --set train.run=NEW_NAME", t->dir, t->dir);
  if (t->rank == 0 && !resume_dir && file_exists(config_path))
    printf("run folder %s holds a run that stopped before its first checkpoint: starting it afresh\n", t->dir);
  if (t->rank == 0 && (!resume_dir || file_exists(t->dir))) remove_stale_temp_files(t->dir);
  if (t->rank != 0 && !freopen("/dev/null", "w", stdout)) at_fatal("cannot silence rank %d's output", t->rank);
}

/* Weights (seeded, or the checkpoint's when resuming), optimizer and the
 * state of the schedule. */
static void setup_model_and_optimizer(Trainer *t, const char *resume_dir) {
  const TrainConfig *tc = &t->e->train;
  if (tc->mode == TRAIN_PROTOTYPICAL) t->m->keep_outputs = 1; /* the loss reads the embedding layer's output */
  model_allocate(t->m, t->be, tc->batch);
  if (tc->mode == TRAIN_PROTOTYPICAL) features_check_layer(t->m, tc->embedding_layer, "[train] embedding");
  model_init_weights(t->m, tc->seed);
  t->opt = optimizer_create(t->be, (OptimizerKind)tc->optimizer, t->m->n_weights);
  t->opt->sgd = (SgdConfig){.lr = (float)tc->lr, .momentum = (float)tc->momentum, .weight_decay = (float)tc->weight_decay,
                            .nesterov = tc->nesterov};
  t->opt->adam = (AdamConfig){.lr = (float)tc->lr, .beta1 = (float)tc->beta1, .beta2 = (float)tc->beta2,
                              .eps = (float)tc->eps, .weight_decay = (float)tc->weight_decay};
  layer_settings_apply(t->e->layers, t->m, t->opt);
  char layers[2048];
  layer_settings_describe(t->e->layers, t->m, layers, sizeof layers);
  if (layers[0] && t->rank == 0) printf("layers: %s\n", layers);
  t->st.lr = tc->lr;
  t->st.best_metric = NAN;
  t->st.pons_best_loss = INFINITY;
  t->st.best_epoch = -1;
  open_data(t);
  if (!resume_dir && tc->init[0]) { /* transfer learning: start from another model's weights */
    char skipped[2048];
    const int loaded = weights_load_matching(t->m, tc->init, skipped, sizeof skipped);
    if (loaded == 0)
      at_fatal("[train] init = %s: no layer of model '%s' has the name and shape of one there", tc->init, t->m->name);
    printf("init from %s: %d tensors loaded; re-initialised (seed %llu): %s\n", tc->init, loaded,
           (unsigned long long)tc->seed, skipped[0] ? skipped : "none");
  }
  if (!resume_dir) return;
  if (!file_exists(t->last_path))
    at_fatal("'%s' has no last.h5 checkpoint to resume from%s", t->dir,
             file_exists(t->dir) ? "; if its run stopped before its first checkpoint, start it afresh with the "
                                   "command that started it"
                                 : "");
  checkpoint_load(t->last_path, t->m, t->opt, &t->st);
  t->saved_step = t->st.step;
  for (int j = 0; j < t->m->classes; j++)
    if (strcmp(t->m->output_names[j], t->train_cache->tags[j]) != 0)
      at_fatal("the training cache '%s' names output %d '%s' but the checkpoint '%s' was trained with '%s' there: "
               "its tags were changed or reordered since; restore that cache or start a new run",
               t->train_cache->path, j, t->train_cache->tags[j], t->last_path, t->m->output_names[j]);
  char *trained_on = checkpoint_read_train_cache(t->last_path);
  if (trained_on && strcmp(trained_on, t->train_identity) != 0)
    at_fatal("the training cache '%s' is not the one this run trained on (the checkpoint says %s; the cache has %s): "
             "a resume must read the same examples in the same order; restore that cache or start a new run",
             t->train_cache->path, trained_on, t->train_identity);
  free(trained_on);
  if (t->st.ranks != t->ranks)
    at_fatal("'%s' was trained by %ld process(es); resume it with as many (mpirun -np %ld): the batch slices, "
             "dropout streams and statistics depend on it", t->dir, t->st.ranks, t->st.ranks);
  printf("resuming %s at epoch %ld, batch %ld (step %ld)\n", t->dir, t->st.epoch + 1, t->st.cursor, t->st.step);
}

/* The loader over this rank's share of the training set, staging buffers. */
static long setup_loader(Trainer *t) {
  const TrainConfig *tc = &t->e->train;
  const DataConfig *d = &t->e->data;
  LoaderConfig lc = {.batch = tc->batch, .crop_frames = d->crop, .train = 1, .drop_last = tc->drop_last, .crops_per_example = 1,
                     .threads = d->threads, .prefetch = d->prefetch, .seed = tc->seed, .subset = t->train_subset,
                     .n_subset = t->train_subset ? t->n_train : 0, .shard = t->rank, .shards = t->ranks};
  if (tc->mode == TRAIN_PROTOTYPICAL) {
    lc.episode_ways = tc->n_way;
    lc.episode_per_class = tc->k_shot + tc->n_query;
    lc.episodes = tc->episodes ? tc->episodes : (t->n_train + tc->batch - 1) / tc->batch;
    lc.drop_last = 0;
    const Dims e = t->m->layers[tc->embedding_layer].out;
    t->emb_dim = at_dims_count(e);
    t->emb_host = at_malloc(sizeof(float) * (size_t)tc->batch * t->emb_dim, "episode embeddings");
    t->emb_grad_host = at_malloc(sizeof(float) * (size_t)tc->batch * t->emb_dim, "episode embedding gradients");
    t->emb_grad = t->be->alloc(sizeof(float) * (size_t)tc->batch * t->emb_dim);
    printf("prototypical training: episodes of %d classes x (%d support + %d queries), %ld per epoch; embedding: "
           "layer %s (%d x %d x %d = %zu values)\n", tc->n_way, tc->k_shot, tc->n_query, lc.episodes,
           t->m->layers[tc->embedding_layer].name, e.c, e.h, e.w, t->emb_dim);
  }
  t->loader = loader_create(t->train_cache, &lc);
  staging_alloc(t, tc->batch);
  if (tc->micro_batches > 1 || t->ranks > 1) t->accum = t->be->alloc(sizeof(float) * t->m->n_weights);
  t->state_backup = t->be->alloc(sizeof(float) * (t->m->n_state + 1));
  return loader_batches_per_epoch(t->loader);
}

/* One epoch from the resume position; returns 0 when training must stop
 * (a NaN stop, or max_steps reached: st.finished = -1). */
static int run_epoch(Trainer *t, long batches) {
  const TrainConfig *tc = &t->e->train;
  loader_seek(t->loader, t->st.epoch, t->st.cursor);
  char label[64];
  snprintf(label, sizeof label, "epoch %ld/%d", t->st.epoch + 1, tc->epochs);
  Progress bar;
  progress_begin(&bar, stdout, label, batches, t->st.cursor, tc->log_every);
  double epoch_start = at_now_seconds(), last = epoch_start;
  /* one batch ahead: batch k+1 is copied and uploaded while step k
   * computes (the position that resumes is st.cursor, not the loader's) */
  int slot = 0;
  const Batch *next = loader_next(t->loader);
  if (next) stage_batch(t, slot, next);
  while (next) {
    if (tc->max_steps && t->st.step >= tc->max_steps) { /* before the step: a resume at the limit takes none */
      progress_end(&bar);
      printf("stopped after max_steps = %ld; continue with `auratag train --resume %s --set train.max_steps=N` "
             "(N > %ld)\n", tc->max_steps, t->dir, tc->max_steps);
      t->st.finished = -1; /* interrupted on purpose, not an error */
      return 0;
    }
    const int rows = t->staged[slot].n;
    next = loader_next(t->loader);
    if (next) stage_batch(t, slot ^ 1, next);
    double loss, norm;
    if (!train_step(t, slot, &loss, &norm)) return 0;
    slot ^= 1;
    double now = at_now_seconds();
    double rate = rows / fmax(now - last, 1e-9);
    last = now;
    log_step(t, loss, norm, rate);
    char extra[64];
    snprintf(extra, sizeof extra, "loss %.4f", loss);
    progress_update(&bar, t->st.cursor, rate, "samples", extra);
    const int at_limit = tc->max_steps && t->st.step >= tc->max_steps;
    if ((tc->checkpoint_every && t->st.step % tc->checkpoint_every == 0) || at_limit || t->stop_signal) save_last(t);
    if (t->stop_signal) {
      progress_end(&bar);
      printf("stopped by %s after step %ld; checkpoint %s; continue with `auratag train --resume %s`\n",
             at_signal_name(t->stop_signal), t->st.step, t->last_path, t->dir);
      fflush(stdout);
      return 0;
    }
  }
  progress_end(&bar);
  end_epoch(t, at_now_seconds() - epoch_start);
  return 1;
}

static void trainer_release(Trainer *t) {
  fclose(t->log);
  tb_close(t->tb);
  staging_free(t);
  if (t->accum) t->be->release(t->accum);
  if (t->emb_grad) t->be->release(t->emb_grad);
  free(t->emb_host);
  free(t->emb_grad_host);
  t->be->release(t->state_backup);
  loader_free(t->loader);
  optimizer_free(t->opt);
  cache_close(t->train_cache);
  if (t->valid_cache) cache_close(t->valid_cache);
  if (t->test_cache) cache_close(t->test_cache);
  free(t->train_subset);
  free(t->valid_subset);
  free(t->test_subset);
}

int train_run(Experiment *e, const char *resume_dir) {
  Trainer t = {0};
  t.e = e;
  t.m = e->model;
  const TrainConfig *tc = &e->train;
  t.saved_step = -1;
  experiment_apply_device(e);
  t.be = at_backend_selected();
  at_stop_signals_catch();
  char config_path[4500], log_path[4500];
  open_run_folder(&t, e, resume_dir, config_path, sizeof config_path, log_path, sizeof log_path);
  setup_model_and_optimizer(&t, resume_dir);
  if (!resume_dir && t.rank == 0) {
    at_make_dirs(t.dir);
    at_write_text_file(config_path, e->text);
  }
  t.st.ranks = t.ranks;
  if (resume_dir && t.rank == 0) {
    truncate_log(log_path, t.st.step);
    at_write_text_file(config_path, e->text); /* with any --set of the resume (a longer run, say) */
  }
  /* a fresh start (also of a run that stopped before its first checkpoint) begins a new log */
  t.log = t.rank != 0 ? fopen("/dev/null", "a") : fopen(log_path, resume_dir ? "a" : "w");
  if (!t.log) at_fatal("cannot open the run log '%s': %s", log_path, strerror(errno));
  log_event(&t, resume_dir ? "resume" : "start", t.dir);
  if (t.rank == 0 && tc->tensorboard) {
    char tb_dir[4500];
    snprintf(tb_dir, sizeof tb_dir, "%s/tb", t.dir);
    t.tb = tb_open(tb_dir, resume_dir ? t.st.step : -1);
    if (!resume_dir) tb_log_config(t.tb, t.e->text);
  }

  const long batches = setup_loader(&t);
  printf("training %s (%zu parameters) on %d examples, %ld batches of %d per epoch, %d epochs -> %s\n", t.m->name,
         t.m->n_weights, t.n_train, batches, tc->batch, tc->epochs, t.dir);
  printf("backend: %s\n", strcmp(t.be->name, "cuda") ? "cpu" : at_backend_cuda_description());
  if (t.ranks > 1 || tc->micro_batches > 1)
    printf("data parallel: %d rank(s) x %d micro-batch(es) per batch of %d\n", t.ranks, tc->micro_batches, tc->batch);
  while (!t.st.finished && run_epoch(&t, batches)) {
  }
  int status = 0;
  if (t.stop_signal) {
    log_event(&t, "stopped_by_signal", at_signal_name(t.stop_signal));
    status = 128 + t.stop_signal;
  } else if (t.st.finished == 1) {
    log_event(&t, "finished", t.dir);
    final_results(&t);
  } else if (t.st.finished != -1) {
    status = 1;
  }
  trainer_release(&t);
  return status;
}
