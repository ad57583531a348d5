/* auratag prep: audio list -> spectrogram caches (see prep.h), in stages:
 * the list, the work (each file's features, resumable), the vocabulary and
 * statistics, the caches, the report. Each stage has its own file:
 * prep_list, prep_work + prep_file, prep_vocab, prep_caches, prep_report. */
#include "audio/prep.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "audio/feature_maker.h"
#include "audio/frontend.h"
#include "audio/prep_caches.h"
#include "audio/prep_file.h"
#include "audio/prep_list.h"
#include "audio/prep_report.h"
#include "audio/prep_vocab.h"
#include "audio/prep_work.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "nn/backend.h"
#include "nn/backend_registry.h"

typedef struct PrepRun {
  const PrepOptions *o;
  DatasetConfig *dc;
  PrepList list;
  PrepWork work;
  PrepVocab vocab;
  PrepTotals t;
  double t0; /* when the run began */
  long *todo, n_todo; /* rows still to compute */
  double audio_done; /* seconds of audio computed by this run */
  double compute_seconds; /* wall time of the computing stage */
} PrepRun;

static int thread_count(int asked) {
  int threads = asked;
#ifdef _OPENMP
  if (threads <= 0) threads = omp_get_max_threads();
#endif
  return threads > 0 ? threads : 1;
}

/* Stage 1: the config, the list, the work folder; which files are done. */
static void open_run(PrepRun *run, const PrepOptions *o) {
  memset(run, 0, sizeof *run);
  run->t0 = at_now_seconds();
  run->o = o;
  run->dc = dataset_config_load(o->dataset_config, o->overrides, o->n_overrides);
  const DatasetConfig *dc = run->dc;
  PrepWork *w = &run->work;
  w->rows = frontend_rows(&dc->fe);
  w->frames = dataset_example_frames(dc);
  dataset_feature_signature(dc, w->signature, sizeof w->signature);
  prep_list_load(o->list, dc->kind, &run->list);
  prep_work_open(w, o->out);
  const PrepList *l = &run->list;
  run->t.files = l->n;
  run->t.threads = thread_count(o->threads);
  run->todo = at_malloc(sizeof(long) * (size_t)l->n, "work list");
  for (int i = 0; i < l->n; i++) {
    PrepRow *r = &run->list.rows[i];
    prep_work_name_record(w, r);
    PrepRecordHeader h;
    if (r->record[0] && prep_work_read_header(w, r, &h) == 0) {
      r->ok = 1;
      r->resumed = 1;
      r->examples = h.examples;
      r->file_frames = h.file_frames;
      r->seconds = h.seconds;
      r->st_count = h.st_count;
      r->st_mean = h.st_mean;
      r->st_m2 = h.st_m2;
      run->t.resumed++;
    } else {
      run->todo[run->n_todo++] = i;
    }
  }
  const int threads = run->t.threads;
  printf("prep %s: %d files (%s), %d rows x %d frames per example, %d thread%s\n", dc->name, l->n, o->list, w->rows,
         w->frames, threads, threads == 1 ? "" : "s");
  if (run->t.resumed) printf("resuming: %d files were already done in %s\n", run->t.resumed, w->dir);
  fflush(stdout);
}

/* The front end on the GPU when the backend is cuda (--backend cuda, or auto
 * with a GPU); NULL: a CPU plan per thread. */
static FeatureMaker *gpu_front_end(const DatasetConfig *dc) {
  const Backend *be = at_backend_selected();
  if (strcmp(be->name, "cuda") != 0) return NULL;
  FeatureMaker *gpu = feature_maker_create(&dc->fe, be);
  if (!feature_maker_on_gpu(gpu)) {
    feature_maker_free(gpu);
    gpu = NULL;
  }
  return gpu;
}

/* Stage 2: the files not done yet, in parallel. */
static void compute_files(PrepRun *run) {
  FeatureMaker *gpu = gpu_front_end(run->dc);
  printf("front end on the %s\n", gpu ? at_backend_cuda_description() : "CPU (FFTW)");
  PrepList *l = &run->list;
  Progress prog;
  progress_begin(&prog, stderr, "prep", l->n, run->t.resumed, 10);
  long done = run->t.resumed, failed = 0;
  double audio_done = 0;
  const double tp = at_now_seconds();
#pragma omp parallel num_threads(run->t.threads)
  {
    FrontEndPlan *plan = NULL;
#pragma omp for schedule(dynamic, 1)
    for (long k = 0; k < run->n_todo; k++) {
      PrepRow *r = &l->rows[run->todo[k]];
      prep_file_compute(&run->work, run->dc, gpu, &plan, r);
#pragma omp critical(prep_progress)
      {
        done++;
        failed += !r->ok;
        audio_done += r->seconds;
        char extra[64] = "";
        if (failed) snprintf(extra, sizeof extra, "(%ld skipped)", failed);
        double dt = at_now_seconds() - tp;
        progress_update(&prog, done, dt > 0 ? audio_done / dt : 0, "s of audio", extra);
      }
    }
    if (plan) frontend_plan_free(plan);
  }
  progress_end(&prog);
  feature_maker_free(gpu);
  run->audio_done = audio_done;
  run->compute_seconds = at_now_seconds() - tp;
}

/* Rows that computed but cannot go into a cache: no example, or (single
 * label) a class the training split lacks. */
static void skip_unusable_rows(PrepRun *run) {
  const PrepList *l = &run->list;
  for (int i = 0; i < l->n; i++) {
    PrepRow *r = &run->list.rows[i];
    if (!r->ok) continue;
    if (r->examples == 0) {
      prep_row_skip(r, "shorter than one chunk: %ld frames < chunk_frames = %d", r->file_frames, run->dc->chunk_frames);
    } else if (run->dc->kind == CACHE_SINGLE_LABEL && run->vocab.of_name[r->tags[0]] < 0) {
      prep_row_skip(r, "class '%s' does not occur in the training split", l->names[r->tags[0]]);
    }
  }
}

static void print_skipped(const PrepList *l, int skipped) {
  for (int i = 0, shown = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    if (!r->warning) continue;
    if (shown++ < 20) fprintf(stderr, "warning: %s: %s\n", r->path, r->warning);
    else if (shown == 21) fprintf(stderr, "... (more warnings: every one is in prep-report.json)\n");
  }
  for (int i = 0, shown = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    if (r->ok) continue;
    if (shown++ < 20) fprintf(stderr, "skipped %s: %s\n", r->path, r->reason);
    else if (shown == 21) fprintf(stderr, "... (%d skipped in all; every one is in prep-report.json)\n", skipped);
  }
}

/* Stage 3: the vocabulary (in list order, after every file is done) and the
 * totals; fatal, after writing the report, when the training split is empty. */
static void count_usable(PrepRun *run) {
  const DatasetConfig *dc = run->dc;
  const PrepList *l = &run->list;
  PrepTotals *t = &run->t;
  prep_vocab_build(l, dc, &run->vocab);
  skip_unusable_rows(run);
  long n_train = 0, listed_train = 0;
  for (int i = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    listed_train += r->split == PREP_SPLIT_TRAIN;
    if (r->ok) {
      t->written++;
      t->examples[r->split] += r->examples;
      t->seconds += r->seconds;
      n_train += r->split == PREP_SPLIT_TRAIN;
    } else {
      t->skipped++;
    }
  }
  print_skipped(l, t->skipped);
  if (n_train == 0 || run->vocab.n == 0) {
    t->wall = at_now_seconds() - run->t0;
    prep_report_write(run->o, dc, l, &run->vocab, t);
    at_fatal(
        "no usable file in the training split (%d listed as train, %d skipped in all; see %s/prep-report.json): "
        "the tag vocabulary%s computed from it",
        (int)listed_train, t->skipped, run->o->out,
        dc->normalise == NORMALISE_GLOBAL ? " and the normalisation statistics are" : " is");
  }
  if (dc->kind == CACHE_MULTI_LABEL && dc->top_tags > run->vocab.n)
    printf("note: top_tags = %d but the training split has only %d distinct tags: keeping all of them\n", dc->top_tags,
           run->vocab.n);
}

/* Global normalisation's mean and std over the training split: Chan et
 * al.'s pairwise combination of the files' (count, mean, M2), in list order. */
static void global_statistics(PrepRun *run) {
  if (run->dc->normalise != NORMALISE_GLOBAL) return;
  const PrepList *l = &run->list;
  double n = 0, m = 0, m2 = 0;
  for (int i = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    if (!r->ok || r->split != PREP_SPLIT_TRAIN) continue;
    double nb = r->st_count, d = r->st_mean - m, nn = n + nb;
    m += d * nb / nn;
    m2 += r->st_m2 + d * d * n * nb / nn;
    n = nn;
  }
  const double std = sqrt(m2 / n);
  if (!(std > 0) || !isfinite(std))
    at_fatal("the training features have standard deviation %g: global normalisation is impossible (silent audio?)",
             std);
  run->t.has_norm = 1;
  run->t.mean = m;
  run->t.std = std;
}

/* Stage 4: the caches. */
static void write_caches(const PrepRun *run) {
  PrepCacheJob job = {.out = run->o->out,
                      .dc = run->dc,
                      .list = &run->list,
                      .vocab = &run->vocab,
                      .work = &run->work,
                      .examples = run->t.examples,
                      .has_norm = run->t.has_norm,
                      .mean = run->t.has_norm ? run->t.mean : 0,
                      .std = run->t.has_norm ? run->t.std : 1};
  prep_caches_write(&job);
}

static void write_tags_txt(const char *out, const PrepVocab *v) {
  size_t cap = 16;
  for (int k = 0; k < v->n; k++) cap += strlen(v->names[k]) + 1;
  char *text = at_malloc(cap, "tags.txt");
  text[0] = '\0';
  char *p = text;
  for (int k = 0; k < v->n; k++) p += sprintf(p, "%s\n", v->names[k]);
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/tags.txt", out);
  at_write_text_file(path, text);
  free(text);
}

/* Stage 5: tags.txt, the report, the summary on screen. */
static void finish_run(PrepRun *run) {
  const PrepOptions *o = run->o;
  PrepTotals *t = &run->t;
  write_tags_txt(o->out, &run->vocab);
  t->wall = at_now_seconds() - run->t0;
  prep_report_write(o, run->dc, &run->list, &run->vocab, t);
  printf("%d of %d files written, %d skipped; %.1f s of audio; %.1f s wall", t->written, t->files, t->skipped,
         t->seconds, t->wall);
  if (run->n_todo > 0 && run->compute_seconds > 0)
    printf(" (%.1f s of audio per second, %d thread%s)", run->audio_done / run->compute_seconds, t->threads,
           t->threads == 1 ? "" : "s");
  printf("\n");
  if (t->has_norm) printf("global normalisation from the training split: mean %.6g, std %.6g\n", t->mean, t->std);
  printf("report: %s/prep-report.json\n", o->out);
  prep_work_close(&run->work, o->keep_work);
  prep_vocab_free(&run->vocab);
  prep_list_free(&run->list);
  dataset_config_free(run->dc);
  free(run->todo);
}

int prep_run(const PrepOptions *o) {
  PrepRun run;
  open_run(&run, o);
  compute_files(&run);
  count_usable(&run);
  global_statistics(&run);
  write_caches(&run);
  finish_run(&run);
  return 0;
}
