/* auratag eval WEIGHTS_OR_RUN CACHE.h5 [--json F] [--csv F] [--crops K] [--batch B]
 * auratag predict WEIGHTS_OR_RUN CACHE.h5 -o PREDICTIONS.h5 [--crops K] [--batch B] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/eval_prototypes.h"
#include "core/error.h"
#include "core/files.h"
#include "data/cache_front_end.h"
#include "data/crop_spacing.h"
#include "io/weights_h5.h"
#include "train/evaluate.h"
#include "train/experiment.h"
#include "train/predictions.h"

typedef struct EvalArgs {
  const char *weights, *cache, *json, *csv, *out;
  int crops, batch, threads, songs;
  const char *support, *embedding; /* prototypes (eval_prototypes.c) */
  int k_shot, draws;
  long seed;
} EvalArgs;

static const CliOption k_eval_options[] = {
    {"json", 0, "FILE", NULL, "also write the results as JSON"},
    {"csv", 0, "FILE", NULL, "also write the per-tag (or per-class) table as CSV"},
    {"crops", 0, "K", "the run's data.eval_crops, else enough to cover each example", "crops averaged per example"},
    {"batch", 0, "B", "the run's train.batch, else 16", "examples per forward pass"},
    {"threads", 0, "N", "2", "loader threads"},
    {"songs", 0, NULL, NULL, "also print one line per song: true tags (or class) and the model's top tags (or vote)"},
    {"support", 0, "TRAIN.h5", NULL,
     "classify by prototypes instead of the model's outputs: each class's mean embedding over --k-shot examples of "
     "this single-label cache (Snell et al. 2017)"},
    {"k-shot", 0, "K", "5", "with --support: labelled examples per class in each draw"},
    {"draws", 0, "N", "10", "with --support: seeded draws of the support examples (accuracy: mean and spread)"},
    {"seed", 0, "S", "1", "with --support: the first draw's seed (draw i uses S + i)"},
    {"embedding", 0, "LAYER", "the run's [train] embedding, else the input of the classifier head",
     "with --support: the layer whose output is the embedding"},
    {0},
};
const CliCommand k_cli_eval = {
    "eval", "WEIGHTS.h5|RUN_DIR CACHE.h5 [--json FILE] [--csv FILE] [--crops K] [--batch B] [--songs] "
            "[--support TRAIN.h5 --k-shot K]",
    "Per-tag ROC-AUC and PR-AUC with their macro means (multi-label), or accuracy, balanced accuracy, per-class "
    "recall and the confusion matrix (single-label); song level too when the cache groups chunks into songs. A run "
    "folder means its best.h5 and its crop settings. With --support: few-shot classification by the nearest "
    "prototype of K labelled examples per class, over seeded draws.",
    k_eval_options, "auratag eval checkpoints/demo-fcn3 data/demo/cache/test.h5 --json test-eval.json"};

static const CliOption k_predict_options[] = {
    {"out", 'o', "PREDICTIONS.h5", NULL, "the file to write (required): /probabilities and /logits [N, tags] (means over the crops), /ids, /tags, and the "
     "cache's truth (/labels [N, tags] or /label [N])"},
    {"crops", 0, "K", "the run's data.eval_crops, else enough to cover each example", "crops averaged per example"},
    {"batch", 0, "B", "the run's train.batch, else 16", "examples per forward pass"},
    {"threads", 0, "N", "2", "loader threads"},
    {0},
};
const CliCommand k_cli_predict = {
    "predict", "WEIGHTS.h5|RUN_DIR CACHE.h5 -o PREDICTIONS.h5 [--crops K] [--batch B]",
    "Per-example probabilities of a cache's examples, as HDF5.", k_predict_options,
    "auratag predict checkpoints/demo-fcn3 data/demo/cache/test.h5 -o predictions.h5"};

static void parse(const CliCommand *command, int argc, char **argv, EvalArgs *a) {
  memset(a, 0, sizeof *a);
  a->threads = 2;
  CliArgs p;
  cli_parse(command, argc, argv, &p);
  cli_require_positionals(&p, 2, 2);
  a->weights = p.positional[0];
  a->cache = p.positional[1];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "json")) a->json = p.value[i];
    else if (cli_is(&p, i, "csv")) a->csv = p.value[i];
    else if (cli_is(&p, i, "out")) a->out = p.value[i];
    else if (cli_is(&p, i, "crops")) a->crops = (int)cli_long(&p, i, 1, 4096);
    else if (cli_is(&p, i, "batch")) a->batch = (int)cli_long(&p, i, 1, 1 << 20);
    else if (cli_is(&p, i, "threads")) a->threads = (int)cli_long(&p, i, 1, 1024);
    else if (cli_is(&p, i, "songs")) a->songs = 1;
    else if (cli_is(&p, i, "support")) a->support = p.value[i];
    else if (cli_is(&p, i, "k-shot")) a->k_shot = (int)cli_long(&p, i, 1, 1 << 20);
    else if (cli_is(&p, i, "draws")) a->draws = (int)cli_long(&p, i, 1, 10000);
    else if (cli_is(&p, i, "seed")) a->seed = cli_long(&p, i, 0, 1L << 40);
    else if (cli_is(&p, i, "embedding")) a->embedding = p.value[i];
  }
  if (!a->support && (a->k_shot || a->draws || a->seed || a->embedding))
    cli_usage_error(command, "--k-shot, --draws, --seed and --embedding go with --support TRAIN.h5");
  if (a->support && (a->songs || a->csv)) cli_usage_error(command, "--songs and --csv do not go with --support");
  if (!a->k_shot) a->k_shot = 5;
  if (!a->draws) a->draws = 10;
  if (!a->seed) a->seed = 1;
  if (command == &k_cli_predict && !a->out) cli_usage_error(command, "-o PREDICTIONS.h5 is required");
  const char *inputs[] = {a->weights, a->cache, NULL};
  cli_refuse_output_over_inputs(command, "-o", a->out, inputs);
  cli_refuse_output_over_inputs(command, "--json", a->json, inputs);
  cli_refuse_output_over_inputs(command, "--csv", a->csv, inputs);
}

typedef struct Evaluated {
  Model *m;
  Cache *c;
  EvalOptions o;
  EvalResult r;
} Evaluated;

/* Shared by eval and predict: the weights (and, for a run folder or
 * checkpoint, its crop and batch settings and its training front end, which
 * the cache must match), the cache, and the evaluation over crops. */
static void evaluate_args(const CliCommand *command, const EvalArgs *a, Evaluated *ev) {
  EvalModel em;
  cli_load_for_eval(a->weights, a->crops, a->batch, 0, stdout, &em);
  ev->m = em.m;
  ev->c = cache_open(a->cache);
  if (em.front_end[0]) {
    char from[4400];
    snprintf(from, sizeof from, "the training cache of '%s'", em.path);
    cache_front_end_require_same(em.front_end, from, ev->c);
  }
  cli_match_cache_to_model(&em, ev->c);
  free(em.experiment);
  EvalOptions o = {ev->m->input.w, em.crops ? em.crops : crop_covering_count(ev->c->frames, ev->m->input.w), em.batch, a->threads, 4,
                   NULL, 0};
  ev->o = o;
  evaluate_with_progress(ev->m, ev->c, &ev->o, command->name, &ev->r);
}

static void evaluated_free(Evaluated *ev) {
  eval_result_free(&ev->r);
  cache_close(ev->c);
  model_free(ev->m);
}

/* A report file written whole (temporary name, fsync, rename). */
static void write_report(const char *path, const Evaluated *ev, void (*writer)(const EvalResult *, const Cache *, FILE *)) {
  char *text = NULL;
  size_t size = 0;
  FILE *mem = open_memstream(&text, &size);
  if (!mem) at_fatal("out of memory writing '%s'", path);
  writer(&ev->r, ev->c, mem);
  if (writer == eval_write_json) fputc('\n', mem);
  fclose(mem);
  at_write_text_file(path, text);
  free(text);
}

int cmd_eval(int argc, char **argv) {
  EvalArgs a;
  parse(&k_cli_eval, argc, argv, &a);
  if (a.support) {
    EvalModel em;
    cli_load_for_eval(a.weights, a.crops, a.batch, 1, stdout, &em);
    const ProtoEvalArgs pa = {a.support, a.cache, a.json, a.embedding, a.k_shot, a.draws, (uint64_t)a.seed, a.threads};
    eval_prototypes(&em, &pa);
    return 0;
  }
  Evaluated ev;
  evaluate_args(&k_cli_eval, &a, &ev);
  printf("%d crop%s of %d frames per example\n", ev.o.crops, ev.o.crops == 1 ? "" : "s", ev.o.crop);
  eval_print(&ev.r, ev.c, stdout);
  if (a.songs && !ev.r.n_songs)
    fprintf(stderr, "note: --songs: cache '%s' has no /song ids (its examples are whole files or clips)\n", ev.c->path);
  if (a.songs) eval_print_songs(&ev.r, ev.c, stdout);
  if (a.json) write_report(a.json, &ev, eval_write_json);
  if (a.csv) write_report(a.csv, &ev, eval_write_csv);
  evaluated_free(&ev);
  return 0;
}

int cmd_predict(int argc, char **argv) {
  EvalArgs a;
  parse(&k_cli_predict, argc, argv, &a);
  Evaluated ev;
  evaluate_args(&k_cli_predict, &a, &ev);
  const Model *m = ev.m;
  const EvalResult *r = &ev.r;
  predictions_write(a.out, m->name, r, ev.c);
  printf("wrote %s: %d examples x %d %s (mean over %d crop%s)\n", a.out, r->n, r->n_tags,
         m->output == OUTPUT_SIGMOID ? "tag probabilities" : "class probabilities", ev.o.crops, ev.o.crops == 1 ? "" : "s");
  evaluated_free(&ev);
  return 0;
}
