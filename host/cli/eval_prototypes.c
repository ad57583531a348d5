#include "cli/eval_prototypes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ini_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "core/rng.h"
#include "data/cache.h"
#include "data/cache_front_end.h"
#include "data/cache_tags.h"
#include "data/crop_spacing.h"
#include "train/features.h"
#include "train/prototypical_eval.h"

#define PROTO_STREAM_SUPPORT 0x50524f544f535550ull /* "PROTOSUP" */

/* --embedding, else the run's [train] embedding (prototypical runs), else
 * the input of the classifier head. */
static int embedding_layer(const EvalModel *em, const char *name) {
  if (name) return features_layer_named(em->m, name, "--embedding");
  if (em->experiment) {
    static const char *const singletons[] = {"model", "data", "train", NULL};
    IniFile *ini = ini_load_text(em->experiment, em->path, singletons);
    IniSection *train = ini_section(ini, "train");
    const char *stored = train ? ini_get_string(train, "embedding", "") : "";
    const int layer = *stored ? features_layer_named(em->m, stored, "the run's [train] embedding") : -1;
    ini_free(ini);
    if (layer >= 0) return layer;
  }
  return features_default_embedding(em->m);
}

static Cache *single_label_cache(const char *path, const char *role) {
  Cache *c = cache_open(path);
  if (c->kind != CACHE_SINGLE_LABEL)
    at_fatal("%s '%s' is multi-label (labels [N, tags]); prototypes need single-label caches (each example one class)",
             role, path);
  return c;
}

/* Draw d: k examples of each class of the support cache, by a seeded
 * partial shuffle of each class's examples. items[classes * k], class-major. */
static void draw_support(const Cache *s, int k, uint64_t seed, int32_t *items) {
  for (int j = 0; j < s->n_tags; j++) {
    int32_t *members = at_malloc(sizeof(int32_t) * (size_t)(s->n + 1), "class members");
    int count = 0;
    for (int i = 0; i < s->n; i++)
      if (s->label[i] == j) members[count++] = i;
    for (int e = 0; e < k; e++) {
      int u = e + (int)(at_rng_uniform(seed, PROTO_STREAM_SUPPORT + (uint64_t)j, (uint64_t)e) * (count - e));
      if (u >= count) u = count - 1;
      const int32_t x = members[e];
      members[e] = members[u];
      members[u] = x;
      items[(size_t)j * k + e] = members[e];
    }
    free(members);
  }
}

void eval_prototypes(EvalModel *em, const ProtoEvalArgs *a) {
  Model *m = em->m;
  const int layer = embedding_layer(em, a->embedding);
  features_check_layer(m, layer, "eval --support");
  Cache *support = single_label_cache(a->support, "the support cache");
  Cache *test = single_label_cache(a->cache, "the evaluated cache");
  char from[4400];
  snprintf(from, sizeof from, "the support cache '%s'", support->path);
  if (em->front_end[0]) {
    char trained[4400];
    snprintf(trained, sizeof trained, "the training cache of '%s'", em->path);
    cache_front_end_require_same(em->front_end, trained, support);
  }
  char support_front_end[1024];
  cache_front_end_describe(&support->front_end, support_front_end, sizeof support_front_end);
  cache_front_end_require_same(support_front_end, from, test);
  cache_align_tags(test, (const char *const *)support->tags, support->n_tags, from);
  const int classes = support->n_tags, k = a->k_shot;
  for (int j = 0; j < classes; j++) {
    int count = 0;
    for (int i = 0; i < support->n; i++) count += support->label[i] == j;
    if (count < k)
      at_fatal("--k-shot %d: class '%s' of the support cache '%s' has only %d example%s; use --k-shot <= %d", k,
               support->tags[j], support->path, count, count == 1 ? "" : "s", count);
  }
  const int crop = m->input.w;
  EvalOptions o = {crop, em->crops ? em->crops : crop_covering_count(test->frames, crop), em->batch, a->threads, 4,
                   NULL, 0};

  /* every draw first, then one embedding of each support example drawn */
  const size_t per_draw = (size_t)classes * k;
  int32_t *drawn = at_malloc(sizeof(int32_t) * per_draw * a->draws, "support draws");
  for (int d = 0; d < a->draws; d++) draw_support(support, k, a->seed + (uint64_t)d, drawn + per_draw * d);
  int *slot = at_malloc(sizeof(int) * (size_t)(support->n + 1), "support slots");
  for (int i = 0; i < support->n; i++) slot[i] = -1;
  int32_t *used = at_malloc(sizeof(int32_t) * (per_draw * a->draws + 1), "support examples");
  int n_used = 0;
  for (size_t i = 0; i < per_draw * a->draws; i++)
    if (slot[drawn[i]] < 0) slot[drawn[i]] = 1, used[n_used++] = drawn[i];
  for (int i = 0, u = 0; i < support->n; i++) /* in cache order: reads go forward */
    if (slot[i] >= 0) used[u] = i, slot[i] = u++;
  size_t dim;
  EvalOptions so = o;
  so.crops = crop_covering_count(support->frames, crop);
  if (em->crops) so.crops = em->crops;
  printf("embedding: layer %s; support: %d classes x %d examples, %d draws (%d distinct examples of %s)\n",
         m->layers[layer].name, classes, k, a->draws, n_used, support->path);
  float *support_emb = proto_embed(m, layer, support, used, n_used, &so, "support", &dim);
  float *test_emb = proto_embed(m, layer, test, NULL, 0, &o, "test", &dim);
  int32_t *examples = at_malloc(sizeof(int32_t) * (size_t)(test->n + 1), "test examples");
  for (int i = 0; i < test->n; i++) examples[i] = i;
  float *draw_emb = at_malloc(sizeof(float) * (per_draw * dim + 1), "support embeddings");
  int32_t *draw_labels = at_malloc(sizeof(int32_t) * (per_draw + 1), "support labels");
  double *acc = at_malloc(sizeof(double) * (size_t)a->draws, "accuracies");
  double *bal = at_malloc(sizeof(double) * (size_t)a->draws, "balanced accuracies");
  EvalResult first;
  for (int d = 0; d < a->draws; d++) {
    for (size_t i = 0; i < per_draw; i++) {
      const int32_t x = drawn[per_draw * d + i];
      memcpy(draw_emb + i * dim, support_emb + (size_t)slot[x] * dim, sizeof(float) * dim);
      draw_labels[i] = support->label[x];
    }
    EvalResult r;
    proto_classify(draw_emb, draw_labels, (int)per_draw, test_emb, examples, test->n, (int)dim, test, &r);
    acc[d] = r.classes.accuracy;
    bal[d] = r.classes.balanced_accuracy;
    printf("draw %d (seed %llu): accuracy %.4f   balanced accuracy %.4f\n", d + 1,
           (unsigned long long)(a->seed + (uint64_t)d), acc[d], bal[d]);
    if (d == 0) first = r;
    else eval_result_free(&r);
  }
  double acc_std, bal_std;
  const double acc_mean = metric_mean_std(acc, a->draws, &acc_std), bal_mean = metric_mean_std(bal, a->draws, &bal_std);
  printf("%s: %d examples, %d-shot prototypes over %d draws: accuracy %.4f +- %.4f, balanced accuracy %.4f +- %.4f "
         "(mean +- standard deviation)\n", test->path, test->n, k, a->draws, acc_mean, acc_std, bal_mean, bal_std);
  printf("first draw:\n");
  eval_print(&first, test, stdout);
  if (a->json) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) at_fatal("out of memory writing '%s'", a->json);
    fprintf(out, "{\"support\": ");
    json_string(out, support->path);
    fprintf(out, ", \"embedding\": ");
    json_string(out, m->layers[layer].name);
    fprintf(out, ", \"k_shot\": %d, \"draws\": [", k);
    for (int d = 0; d < a->draws; d++)
      fprintf(out, "%s{\"seed\": %llu, \"accuracy\": %.10g, \"balanced_accuracy\": %.10g}", d ? ", " : "",
              (unsigned long long)(a->seed + (uint64_t)d), acc[d], bal[d]);
    fprintf(out, "], \"accuracy_mean\": %.10g, \"accuracy_std\": %.10g, \"balanced_accuracy_mean\": %.10g, "
                 "\"balanced_accuracy_std\": %.10g, \"first_draw\": ",
            acc_mean, acc_std, bal_mean, bal_std);
    eval_write_json(&first, test, out);
    fprintf(out, "}\n");
    fclose(out);
    at_write_text_file(a->json, text);
    free(text);
  }
  eval_result_free(&first);
  free(bal);
  free(acc);
  free(draw_labels);
  free(draw_emb);
  free(examples);
  free(test_emb);
  free(support_emb);
  free(used);
  free(slot);
  free(drawn);
  cache_close(test);
  cache_close(support);
  free(em->experiment);
  model_free(m);
}
