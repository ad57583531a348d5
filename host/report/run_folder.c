/* Reading a run folder for the report (report/run_folder.h). */
#include "report/run_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/files.h"
#include "io/weights_h5.h"
#include "nn/model.h"
#include "nn/model_config.h"

enum { TEXT_LIMIT = 256 << 20 };

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *joined(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = at_malloc(n, "path");
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

double json_number_at(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void curves_grow(RunCurves *c, int epochs) {
  if (epochs <= c->n) return;
  double **arrays[6] = {&c->epoch, &c->train_loss, &c->valid_loss, &c->valid_metric1, &c->valid_metric2, &c->lr};
  for (int a = 0; a < 6; a++) {
    *arrays[a] = at_realloc(*arrays[a], (size_t)epochs * sizeof(double), "training curves");
    for (int i = c->n; i < epochs; i++) (*arrays[a])[i] = a == 0 ? i + 1 : NAN;
  }
  c->n = epochs;
}

/* The "clip" metrics of an evaluation object: sets multi_label from them. */
static void clip_metrics(const cJSON *eval, int *multi_label, double *m1, double *m2) {
  const cJSON *clip = cJSON_GetObjectItemCaseSensitive(eval, "clip");
  *m1 = *m2 = NAN;
  if (!cJSON_IsObject(clip)) return;
  if (cJSON_GetObjectItemCaseSensitive(clip, "macro_roc_auc")) {
    *multi_label = 1;
    *m1 = json_number_at(clip, "macro_roc_auc");
    *m2 = json_number_at(clip, "macro_pr_auc");
  } else if (cJSON_GetObjectItemCaseSensitive(clip, "accuracy")) {
    *multi_label = 0;
    *m1 = json_number_at(clip, "accuracy");
    *m2 = json_number_at(clip, "balanced_accuracy");
  }
}

/* log.jsonl: the epoch curves, the last step and the last event. A resumed
 * run logs the epochs after its checkpoint again; the later line wins. */
static void read_log(RunFolder *r, const char *path, char *last_event, size_t last_size) {
  FILE *fp = fopen(path, "r");
  if (!fp) return;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, fp)) > 0) {
    if (len <= 1) continue;
    cJSON *o = cJSON_Parse(line);
    if (!o) {
      r->bad_log_lines++;
      continue;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    double step = json_number_at(o, "step");
    if (isfinite(step) && step > r->last_step) r->last_step = (long)step;
    /* the last event that says something: not a step or an epoch */
    if (cJSON_IsString(type) && strcmp(type->valuestring, "step") && strcmp(type->valuestring, "epoch")) {
      const cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "detail");
      snprintf(last_event, last_size, "%s%s%s", type->valuestring, cJSON_IsString(detail) ? ": " : "",
               cJSON_IsString(detail) ? detail->valuestring : "");
    }
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "epoch")) {
      double e = json_number_at(o, "epoch");
      if (e >= 0 && e < 1e6 && e == floor(e)) { /* a corrupt line cannot ask for gigabytes */
        int i = (int)e;
        curves_grow(&r->curves, i + 1);
        RunCurves *c = &r->curves;
        c->train_loss[i] = json_number_at(o, "train_loss");
        c->lr[i] = json_number_at(o, "lr");
        const cJSON *valid = cJSON_GetObjectItemCaseSensitive(o, "valid");
        if (cJSON_IsObject(valid)) {
          c->valid_loss[i] = json_number_at(valid, "loss");
          clip_metrics(valid, &r->multi_label, &c->valid_metric1[i], &c->valid_metric2[i]);
        }
      }
    }
    cJSON_Delete(o);
  }
  free(line);
  fclose(fp);
}

/* Is a live process training into this folder? It holds RUN/.lock (flock,
 * see train/trainer.c); the lock goes with the process, so a killed run
 * does not count. */
/* The probe holds a shared lock for an instant: a `train --resume` starting
 * in that instant would find the folder busy and say so (it never corrupts
 * anything), which is rare enough to accept for a report. */
static long training_pid(const char *dir) {
  char *path = joined(dir, ".lock");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  if (fd < 0) return 0;
  long pid = 0;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    pid = atol(text);
    if (pid <= 0) pid = -1; /* held, PID unknown */
  }
  close(fd);
  return pid;
}

/* A JSON file of the run; one that does not parse is an error that says how
 * to write it again. */
static cJSON *read_json(const char *path, const char *dir) {
  char *text = at_read_text_file(path, TEXT_LIMIT);
  cJSON *json = cJSON_Parse(text);
  free(text);
  if (!json)
    at_fatal("'%s' is not valid JSON (cut short or edited?); `auratag eval %s TEST.h5 --json %s` writes the test "
             "results again",
             path, dir, path);
  return json;
}

static void read_model(RunFolder *r) {
  char *best = joined(r->dir, "best.h5"), *last = joined(r->dir, "last.h5");
  if (is_file(best)) r->weights_path = best, best = NULL;
  else if (is_file(last)) r->weights_path = last, last = NULL;
  free(best);
  free(last);
  if (!r->weights_path) return;
  char *text = weights_read_config(r->weights_path);
  Model *m = model_from_text(text, r->weights_path);
  free(text);
  char *table = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&table, &size);
  if (!out) at_fatal("out of memory reading a model");
  model_print_summary(m, out);
  fclose(out);
  r->model_table = table;
  r->model_name = at_strdup(m->name);
  r->parameters = (long)m->n_weights;
  model_free(m);
}

/* Do the predictions' tags equal the test results' (names, in order)? */
static int same_tags(const RunFolder *r, const Predictions *p) {
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->test, "clip"), "tags");
  if (cJSON_GetArraySize(tags) != p->n_tags) return 0;
  int j = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, tags) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "tag");
    if (!cJSON_IsString(name) || strcmp(name->valuestring, p->tags[j++])) return 0;
  }
  return 1;
}

/* The per-example test scores behind the per-tag curves (multi-label runs). */
static void read_predictions(RunFolder *r) {
  char *path = joined(r->dir, "test-predictions.h5");
  if (!is_file(path)) {
    snprintf(r->predictions_note, sizeof r->predictions_note,
             "no per-example test scores (test-predictions.h5; auratag train writes it after its test evaluation, "
             "`auratag predict RUN TEST.h5 -o RUN/test-predictions.h5` makes it for an older run)");
  } else {
    predictions_read(path, &r->predictions);
    const Predictions *p = &r->predictions;
    if (!p->labels && !p->label) {
      snprintf(r->predictions_note, sizeof r->predictions_note,
               "test-predictions.h5 holds no labels (an older auratag wrote it); `auratag predict RUN TEST.h5 -o "
               "RUN/test-predictions.h5` writes them");
    } else if (!p->labels || !same_tags(r, p)) {
      snprintf(r->predictions_note, sizeof r->predictions_note,
               "test-predictions.h5 does not belong to this run (its %s are not the tags of results.json); `auratag "
               "predict RUN TEST.h5 -o RUN/test-predictions.h5` writes it again",
               p->labels ? "tags" : "classes");
    } else {
      r->has_predictions = 1;
    }
    if (!r->has_predictions) predictions_free(&r->predictions);
  }
  free(path);
}

static void find_auralisations(RunFolder *r) {
  DIR *d = opendir(r->dir);
  if (!d) return;
  struct dirent *e;
  int cap = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *sub = joined(r->dir, e->d_name);
    char *original = joined(sub, "original.wav");
    if (is_file(original)) {
      if (r->n_auralisations == cap) {
        cap = cap ? 2 * cap : 4;
        r->auralisations = at_realloc(r->auralisations, (size_t)cap * sizeof(char *), "auralisation folders");
      }
      r->auralisations[r->n_auralisations++] = at_strdup(e->d_name);
    }
    free(original);
    free(sub);
  }
  closedir(d);
  if (r->n_auralisations) qsort(r->auralisations, (size_t)r->n_auralisations, sizeof(char *), compare_names);
}

void run_folder_read(const char *dir, RunFolder *r) {
  memset(r, 0, sizeof *r);
  r->multi_label = -1;
  struct stat st;
  if (stat(dir, &st) != 0) at_fatal("'%s' does not exist (give run folders: checkpoints/<run>)", dir);
  if (!S_ISDIR(st.st_mode)) at_fatal("'%s' is not a folder; auratag report takes run folders (checkpoints/<run>)", dir);
  r->dir = at_strdup(dir);
  size_t len = strlen(r->dir);
  while (len > 1 && r->dir[len - 1] == '/') r->dir[--len] = '\0';
  const char *slash = strrchr(r->dir, '/');
  r->name = at_strdup(slash ? slash + 1 : r->dir);
  char *config = joined(r->dir, "config.ini"), *log = joined(r->dir, "log.jsonl"), *results = joined(r->dir, "results.json");
  if (!is_file(config) && !is_file(log))
    at_fatal("'%s' is not a run folder: it has neither config.ini nor log.jsonl (auratag train writes them into "
             "checkpoints/<run>/)",
             dir);
  if (is_file(config)) r->config_text = at_read_text_file(config, TEXT_LIMIT);
  char last_event[256] = "";
  read_log(r, log, last_event, sizeof last_event);
  if (is_file(results)) {
    r->results = read_json(results, r->dir);
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(r->results, "test");
    /* `auratag eval RUN TEST.h5 --json RUN/results.json` writes the test
     * evaluation itself, without the training's wrapper */
    if (!test && cJSON_GetObjectItemCaseSensitive(r->results, "clip")) test = r->results;
    if (cJSON_IsObject(test)) r->test = test, r->test_from = "results.json";
  }
  /* no test split in training: an evaluation written beside it by `auratag
   * eval --json` (make demo's test-eval.json, a sweep cell's test.json) */
  static const char *const eval_files[] = {"test-eval.json", "test.json"};
  for (int i = 0; i < 2 && !r->test; i++) {
    char *path = joined(r->dir, eval_files[i]);
    if (is_file(path)) {
      r->test_file = read_json(path, r->dir);
      if (cJSON_GetObjectItemCaseSensitive(r->test_file, "clip")) r->test = r->test_file, r->test_from = eval_files[i];
    }
    free(path);
  }
  r->test_metric1 = r->test_metric2 = NAN;
  if (r->test) clip_metrics(r->test, &r->multi_label, &r->test_metric1, &r->test_metric2);
  r->training_pid = training_pid(r->dir);
  if (r->training_pid) r->status = RUN_TRAINING;
  else if (!strncmp(last_event, "finished", 8) && r->results) r->status = RUN_FINISHED;
  else {
    r->status = RUN_STOPPED;
    snprintf(r->stop_detail, sizeof r->stop_detail, "%s", last_event);
  }
  read_model(r);
  if (r->test && r->multi_label == 1) read_predictions(r);
  find_auralisations(r);
  free(config);
  free(log);
  free(results);
}

void run_folder_free(RunFolder *r) {
  free(r->dir);
  free(r->name);
  free(r->config_text);
  free(r->weights_path);
  free(r->model_name);
  free(r->model_table);
  RunCurves *c = &r->curves;
  free(c->epoch);
  free(c->train_loss);
  free(c->valid_loss);
  free(c->valid_metric1);
  free(c->valid_metric2);
  free(c->lr);
  cJSON_Delete(r->results);
  cJSON_Delete(r->test_file);
  predictions_free(&r->predictions);
  for (int i = 0; i < r->n_auralisations; i++) free(r->auralisations[i]);
  free(r->auralisations);
  memset(r, 0, sizeof *r);
}

const char *run_metric1_name(const RunFolder *r) { return r->multi_label == 0 ? "accuracy" : "macro ROC-AUC"; }
const char *run_metric2_name(const RunFolder *r) { return r->multi_label == 0 ? "balanced accuracy" : "macro PR-AUC"; }
