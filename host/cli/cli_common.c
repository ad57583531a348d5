#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "audio/frontend.h"
#include "audio/prep.h"
#include "cli/cli.h"
#include "core/error.h"
#include "data/cache.h"
#include "data/cache_front_end.h"
#include "data/cache_tags.h"
#include "io/h5_guard.h"
#include "io/h5_util.h"
#include "io/weights_h5.h"
#include "nn/model_config.h"
#include "train/experiment.h"
#include "nn/backend_registry.h"

void cli_add_override(ModelArgs *a, const char *value) {
  if (a->n_overrides == AT_MAX_OVERRIDES) at_fatal("at most %d --set options", AT_MAX_OVERRIDES);
  a->overrides[a->n_overrides++] = value;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

Model *cli_load_model(const ModelArgs *a) {
  if (!a->config) at_fatal("no model config given");
  if (ends_with(a->config, ".h5")) {
    if (a->n_overrides) at_fatal("--set cannot change the model stored in a weights file");
    char *text = weights_read_config(a->config);
    Model *m = model_from_text(text, a->config);
    free(text);
    return m;
  }
  return experiment_model_from_config(a->config, a->overrides, a->n_overrides);
}

void cli_resolve_weights(const char *weights_or_run, char *path, size_t size) {
  struct stat sb;
  snprintf(path, size, "%s", weights_or_run);
  if (access(weights_or_run, F_OK) != 0 && !strchr(weights_or_run, '/')) {
    /* an installed model's name: models/NAME.h5 (auratag models lists them) */
    char rel[4200];
    snprintf(rel, sizeof rel, "models/%s.h5", weights_or_run);
    const char *found = cli_find_shipped_file(rel);
    if (!found)
      at_fatal("'%s' is neither a weights file, a run folder nor an installed model (`auratag models` lists them; "
               "`bash scripts/fetch-musicnn.sh` installs musicnn's)",
               weights_or_run);
    snprintf(path, size, "%s", found);
  }
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    snprintf(path, size, "%s/best.h5", weights_or_run);
    if (access(path, R_OK) != 0) snprintf(path, size, "%s/last.h5", weights_or_run);
    if (access(path, R_OK) != 0) at_fatal("run folder '%s' has neither best.h5 nor last.h5", weights_or_run);
  }
}

void cli_load_for_eval(const char *weights_or_run, int crops_override, int batch_override, int keep_outputs, FILE *log,
                       EvalModel *out) {
  memset(out, 0, sizeof *out);
  char *path = out->path;
  cli_resolve_weights(weights_or_run, path, sizeof out->path);
  char *text = weights_read_config(path);
  Model *m = model_from_text(text, path);
  free(text);
  out->crops = 0;
  out->batch = 16;
  /* a training checkpoint also carries its experiment: reuse its settings */
  hid_t file = (hid_t)h5_open_guarded(path, "weights file",
                                      "use another checkpoint of its run, or the file it was copied from");
  char *experiment = h5_read_string_attr(file, "experiment", path);
  char *front_end = h5_read_string_attr(file, "front_end", path);
  snprintf(out->front_end, sizeof out->front_end, "%s", front_end ? front_end : "");
  free(front_end);
  H5Fclose(file);
  h5_guard_end();
  if (experiment) {
    Experiment *e = experiment_from_text(experiment, path);
    experiment_apply_device(e);
    out->crops = e->data.eval_crops;
    out->batch = e->train.batch;
    experiment_free(e);
  }
  out->experiment = experiment;
  if (crops_override) out->crops = crops_override;
  if (batch_override) out->batch = batch_override;
  m->keep_outputs = keep_outputs;
  m->inference_only = 1; /* every command that evaluates runs forward passes only */
  model_allocate(m, at_backend_selected(), out->batch);
  weights_load(m, path);
  if (log) fprintf(log, "weights: %s (model %s)\n", path, m->name);
  out->m = m;
}

Cache *cli_front_end_for(const EvalModel *em, const char *command, const char *cache_override, PrepSetup *setup,
                         char *cache_path, size_t path_size, char *desc, size_t desc_size) {
  if (cache_override) {
    snprintf(cache_path, path_size, "%s", cache_override);
  } else if (em->experiment) {
    Experiment *e = experiment_from_text(em->experiment, em->path);
    snprintf(cache_path, path_size, "%s", e->data.train);
    experiment_free(e);
  } else {
    /* an imported model carries the dataset config of its front end (no statistics: it must not normalise) */
    char *text = weights_read_dataset_config(em->path);
    if (!text)
      at_fatal("'%s' is a plain weights file: it does not say how its input was computed; give --cache with a cache "
               "made by `auratag prep` with the model's dataset config (e.g. its train.h5)",
               em->path);
    char origin[4300];
    snprintf(origin, sizeof origin, "%s (dataset_config attribute)", em->path);
    memset(setup, 0, sizeof *setup);
    setup->dc = dataset_config_from_text(text, origin);
    free(text);
    if (setup->dc->normalise != NORMALISE_NONE)
      at_fatal("%s: normalise must be none (a weights file carries no statistics); give --cache", origin);
    snprintf(cache_path, path_size, "%s", origin);
  }
  Cache *c = NULL;
  if (cache_override || em->experiment) {
    prep_read_setup(cache_path, setup);
    c = cache_open(cache_path);
  }
  CacheFrontEnd fe_desc;
  frontend_describe(&setup->dc->fe, &fe_desc);
  cache_front_end_describe(&fe_desc, desc, desc_size);
  char from[4300];
  snprintf(from, sizeof from, "the training cache of '%s'", em->path);
  if (c && em->front_end[0] && strcmp(desc, em->front_end) != 0) cache_front_end_require_same(em->front_end, from, c);
  if (c) cli_match_cache_to_model(em, c);
  const Model *m = em->m;
  if (m->input.c != 1)
    at_fatal("model '%s' takes %d input channels; %s feeds one spectrogram", m->name, m->input.c, command);
  const int rows = frontend_rows(&setup->dc->fe);
  if (rows != m->input.h)
    at_fatal("the front end of '%s' gives %d rows per frame but model '%s' takes %d", cache_path, rows, m->name,
             m->input.h);
  return c;
}

void cli_match_cache_to_model(const EvalModel *em, Cache *c) {
  const Model *m = em->m;
  if (m->output_names) {
    char reference[4400];
    snprintf(reference, sizeof reference, "the model '%s'", em->path);
    cache_align_tags(c, (const char *const *)m->output_names, m->classes, reference);
    return;
  }
  if (c->n_tags != m->classes)
    at_fatal("cache '%s' names %d %s but model '%s' ('%s') has %d outputs", c->path, c->n_tags,
             c->kind == CACHE_SINGLE_LABEL ? "classes" : "tags", m->name, em->path, m->classes);
  fprintf(stderr, "note: '%s' does not name its outputs (weights from `auratag init`?): the tags of '%s' are taken "
                  "in their order\n", em->path, c->path);
}

const char *cli_find_shipped_file(const char *rel) {
  static char buf[8][4300];
  static int next;
  char *out = buf[next++ % 8];
  if (access(rel, R_OK) == 0) return rel;
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(out, sizeof buf[0], "%s/%s", exe, rel);
    if (access(out, R_OK) == 0) return out;
    snprintf(out, sizeof buf[0], "%s/../%s", exe, rel);
    if (access(out, R_OK) == 0) return out;
  }
  return NULL;
}

const char *cli_shipped_file(const char *rel, const char *command) {
  const char *found = cli_find_shipped_file(rel);
  if (!found) at_fatal("%s needs the shipped file %s: run it from the auratag folder", command, rel);
  return found;
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* RUN/last.h5 or RUN/best.h5 of a run folder (one with a config.ini). */
static int is_run_checkpoint(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (strcmp(base, "last.h5") && strcmp(base, "best.h5")) return 0;
  char config[4200];
  snprintf(config, sizeof config, "%.*sconfig.ini", slash ? (int)(slash - path + 1) : 0, path);
  return access(config, F_OK) == 0;
}

void cli_refuse_output_over_inputs(const CliCommand *command, const char *option, const char *out,
                                   const char *const *inputs) {
  if (!out) return;
  if (is_run_checkpoint(out))
    cli_usage_error(command, "%s '%s' is a run's checkpoint; write the output elsewhere", option, out);
  for (const char *const *in = inputs; *in; in++) {
    char checkpoint[4200];
    const char *names[] = {*in, NULL, NULL};
    struct stat st;
    if (stat(*in, &st) == 0 && S_ISDIR(st.st_mode)) { /* a run folder: its checkpoints are inputs */
      snprintf(checkpoint, sizeof checkpoint, "%s/best.h5", *in);
      names[1] = checkpoint;
    }
    for (int k = 0; names[k]; k++)
      if (same_file(out, names[k]))
        cli_usage_error(command, "%s '%s' is the input '%s'; writing it would destroy what the command reads", option,
                        out, names[k]);
  }
}
