#include "train/experiment.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/ini_file.h"
#include "train/features.h"
#include "core/error.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"

/* An experiment config is a model config with two more sections, [data] and
 * [train], read here; the model reader leaves them alone. */
static const char *const k_experiment_singletons[] = {"model", "data", "train", NULL};
static const char *const k_experiment_sections[] = {"data", "train", NULL};
static const ForeignSections k_experiment_foreign = {k_experiment_sections, "[data], [train] in experiment configs"};

static const char *const k_schedules[] = {"none", "step", "plateau", "pons", NULL};
static const char *const k_selects[] = {"roc_auc", "pr_auc", "loss", "accuracy", NULL};
static const char *const k_optimizers[] = {"sgd", "adam", NULL};
static const char *const k_on_nan[] = {"stop", "skip", NULL};
static const char *const k_modes[] = {"classify", "prototypical", NULL}; /* TrainMode order */
static const char *const k_backends[] = {"auto", "cpu", "cuda", NULL};
static const char *const k_conv_engines[] = {"auto", "cudnn", "gemm", NULL}; /* CudaConvEngine order */

static const char *const k_resume_keys[] = {"train.max_steps", "train.epochs", "train.log_every",
                                            "train.checkpoint_every", "train.collective_timeout", "data.threads",
                                            "data.prefetch", NULL};

void experiment_check_resume_overrides(const char *const *overrides, int n_overrides) {
  for (int i = 0; i < n_overrides; i++) {
    size_t key_len = strcspn(overrides[i], "=");
    int allowed = 0;
    for (const char *const *k = k_resume_keys; *k; k++)
      allowed |= strlen(*k) == key_len && !strncmp(*k, overrides[i], key_len);
    if (!allowed)
      at_fatal("train --resume --set %s: a resumed run keeps its recipe; it may change only train.max_steps, "
               "train.epochs, train.log_every, train.checkpoint_every, train.collective_timeout, data.threads "
               "and data.prefetch (start a new run for anything else)", overrides[i]);
  }
}

const char *select_metric_name(SelectMetric m) { return k_selects[m]; }

void experiment_apply_device(const Experiment *e) {
  DeviceSettings *ds = at_device_settings();
  int device = ds->cuda.device;
  if (!ds->backend_from_command_line) snprintf(ds->backend, sizeof ds->backend, "%s", e->train.backend);
  ds->cuda = e->train.cuda;
  if (ds->device_from_command_line) ds->cuda.device = device;
}

static const char *accepted_keys(const char *type) {
  if (!strcmp(type, "data"))
    return "train, valid, test, crop, eval_crops, fold, valid_fold, threads, prefetch, fraction, fraction_seed, per_class";
  if (!strcmp(type, "train"))
    return "run, root, seed, init, freeze, lr_scale, optimizer, lr, momentum, nesterov, weight_decay, beta1, beta2, eps, batch, epochs, drop_last, "
           "clip_norm, schedule, step_size, gamma, patience, factor, min_lr, pons_rises, pons_stop_rises, "
           "early_stop, select, on_nan, checkpoint_every, log_every, max_steps, backend, device, cuda_conv, "
           "deterministic, tf32, cudnn_benchmark, workspace_mb, micro_batches, collective_timeout, "
           "mode, n_way, k_shot, n_query, episodes, embedding, tensorboard";
  return NULL; /* model sections: checked by the model reader */
}

/* A path relative to the config file's folder becomes absolute, and the
 * entry is rewritten so that the resolved config stored in the run folder
 * and in checkpoints works from anywhere. */
static void resolve_path(IniSection *s, const char *key, char *out, size_t size) {
  IniEntry *e = ini_entry(s, key);
  out[0] = '\0';
  if (!e || !e->value[0]) return;
  char joined[PATH_MAX];
  if (e->value[0] == '/' || e->line == 0) { /* absolute, or --set relative to the working folder */
    snprintf(joined, sizeof joined, "%s", e->value);
  } else {
    const char *slash = strrchr(e->file, '/');
    if (slash)
      snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - e->file), e->file, e->value);
    else
      snprintf(joined, sizeof joined, "%s", e->value);
  }
  char absolute[2 * PATH_MAX + 2];
  if (joined[0] != '/') {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) at_fatal("cannot read the current folder");
    snprintf(absolute, sizeof absolute, "%s/%s", cwd, joined);
  } else {
    snprintf(absolute, sizeof absolute, "%s", joined);
  }
  char canonical[PATH_MAX];
  if (realpath(absolute, canonical)) snprintf(absolute, sizeof absolute, "%s", canonical);
  if (strlen(absolute) >= size) ini_fail(s, e, "the path is longer than %zu characters", size - 1);
  snprintf(out, size, "%s", absolute);
  free(e->value);
  e->value = at_strdup(absolute);
}

static void read_data(IniFile *ini, DataConfig *d) {
  IniSection *s = ini_section(ini, "data");
  if (!s) at_fatal("%s: no [data] section; an experiment config names its caches there (train = ..., valid = ...)", ini->path);
  resolve_path(s, "train", d->train, sizeof d->train);
  resolve_path(s, "valid", d->valid, sizeof d->valid);
  resolve_path(s, "test", d->test, sizeof d->test);
  if (!d->train[0]) ini_fail(s, NULL, "missing required key 'train' (the training cache, an .h5 file)");
  d->crop = (int)ini_get_int(s, "crop", 0, 0, 1 << 24);
  d->eval_crops = (int)ini_get_int(s, "eval_crops", 1, 1, 4096);
  d->fold = (int)ini_get_int(s, "fold", -1, -1, 1 << 20);
  d->valid_fold = (int)ini_get_int(s, "valid_fold", -1, -1, 1 << 20);
  d->threads = (int)ini_get_int(s, "threads", 2, 1, 256);
  d->prefetch = (int)ini_get_int(s, "prefetch", 4, 1, 1024);
  d->fraction = ini_get_float(s, "fraction", 1.0, 1e-9, 1.0);
  d->fraction_seed = (uint64_t)ini_get_int(s, "fraction_seed", 1, 0, LONG_MAX);
  d->per_class = (int)ini_get_int(s, "per_class", 0, 0, 1 << 24);
  if (d->per_class > 0 && d->fraction < 1.0)
    ini_fail(s, ini_entry(s, "per_class"), "give either 'fraction' or 'per_class', not both");
  if (d->valid_fold >= 0 && d->fold < 0)
    ini_fail(s, ini_entry(s, "valid_fold"), "needs 'fold' (the test fold) to be set too");
}

/* A run name is one folder under the runs root: a single, ordinary path
 * component, so that a run can never write beside or above its folder. */
static void check_run_name(IniSection *s, const char *run) {
  const IniEntry *e = ini_entry(s, "run");
  if (!*run || !strcmp(run, ".") || !strcmp(run, ".."))
    ini_fail(s, e, "'%s' is not a run name: a run is a folder of its own under the runs root", run);
  if (strlen(run) > 255) ini_fail(s, e, "a run name is a folder name of at most 255 bytes (this one has %zu)", strlen(run));
  for (const char *c = run; *c; c++)
    if (*c == '/' || *c == ' ' || (unsigned char)*c < 0x20)
      ini_fail(s, e, "a run name is a folder name: no '/', spaces or control characters");
}

static void read_train(IniFile *ini, TrainConfig *t, const char *config_path) {
  IniSection *s = ini_section(ini, "train");
  if (!s) at_fatal("%s: no [train] section; an experiment config gives its recipe there (optimizer, lr, batch, epochs)", ini->path);
  const char *base = strrchr(config_path, '/');
  base = base ? base + 1 : config_path;
  char dflt_run[256];
  snprintf(dflt_run, sizeof dflt_run, "%.*s", (int)(strcspn(base, ".")), base);
  const char *run = ini_get_string(s, "run", dflt_run);
  check_run_name(s, run);
  snprintf(t->run, sizeof t->run, "%s", run);
  const char *root = ini_get_string(s, "root", "checkpoints");
  if (!*root) ini_fail(s, ini_entry(s, "root"), "the runs root is empty; name a folder (default: checkpoints)");
  if (strlen(root) >= sizeof t->root) ini_fail(s, ini_entry(s, "root"), "path too long (%zu bytes)", strlen(root));
  snprintf(t->root, sizeof t->root, "%s", root);
  t->seed = (uint64_t)ini_get_int(s, "seed", 1, 0, LONG_MAX);
  resolve_path(s, "init", t->init, sizeof t->init);
  t->optimizer = ini_get_choice(s, "optimizer", OPT_ADAM, k_optimizers) == 0 ? OPT_SGD : OPT_ADAM;
  t->lr = ini_get_float(s, "lr", t->optimizer == OPT_ADAM ? 1e-3 : 0.01, 0.0, 1e3);
  t->momentum = ini_get_float(s, "momentum", 0.0, 0.0, 1.0);
  t->nesterov = ini_get_bool(s, "nesterov", 0);
  t->weight_decay = ini_get_float(s, "weight_decay", 0.0, 0.0, 1.0);
  t->beta1 = ini_get_float(s, "beta1", 0.9, 0.0, 0.999999);
  t->beta2 = ini_get_float(s, "beta2", 0.999, 0.0, 0.9999999);
  t->eps = ini_get_float(s, "eps", 1e-8, 1e-30, 1.0);
  t->batch = (int)ini_get_int(s, "batch", 16, 1, 1 << 16);
  t->epochs = (int)ini_get_int(s, "epochs", 10, 1, 1 << 24);
  t->drop_last = ini_get_bool(s, "drop_last", 0);
  t->clip_norm = ini_get_float(s, "clip_norm", 0.0, 0.0, 1e12);
  t->schedule = (ScheduleKind)ini_get_choice(s, "schedule", SCHEDULE_NONE, k_schedules);
  t->step_size = (int)ini_get_int(s, "step_size", 10, 1, 1 << 24);
  t->gamma = ini_get_float(s, "gamma", 0.1, 0.0, 1.0);
  t->patience = (int)ini_get_int(s, "patience", 10, 1, 1 << 24);
  t->factor = ini_get_float(s, "factor", 0.5, 0.0, 1.0);
  t->min_lr = ini_get_float(s, "min_lr", 0.0, 0.0, 1e3);
  t->pons_rises = (int)ini_get_int(s, "pons_rises", 20, 1, 1 << 24);
  t->pons_stop_rises = (int)ini_get_int(s, "pons_stop_rises", 40, 1, 1 << 24);
  t->early_stop = (int)ini_get_int(s, "early_stop", 0, 0, 1 << 24);
  t->on_nan = (OnNan)ini_get_choice(s, "on_nan", ON_NAN_STOP, k_on_nan);
  t->checkpoint_every = (int)ini_get_int(s, "checkpoint_every", 0, 0, 1 << 30);
  t->log_every = (int)ini_get_int(s, "log_every", 50, 1, 1 << 30);
  t->max_steps = ini_get_int(s, "max_steps", 0, 0, LONG_MAX);
  t->micro_batches = (int)ini_get_int(s, "micro_batches", 1, 1, 4096);
  t->collective_timeout = ini_get_float(s, "collective_timeout", 600.0, 1.0, 1e7);
  t->tensorboard = ini_get_bool(s, "tensorboard", 1);
  t->select = (SelectMetric)ini_get_choice(s, "select", -1, k_selects);
  snprintf(t->backend, sizeof t->backend, "%s", k_backends[ini_get_choice(s, "backend", 0, k_backends)]);
  t->cuda = at_cuda_default_options();
  t->cuda.device = (int)ini_get_int(s, "device", 0, 0, 1024);
  t->cuda.conv = (CudaConvEngine)ini_get_choice(s, "cuda_conv", AT_CONV_AUTO, k_conv_engines);
  t->cuda.deterministic = ini_get_bool(s, "deterministic", 0);
  t->cuda.tf32 = ini_get_bool(s, "tf32", 1);
  t->cuda.benchmark = ini_get_bool(s, "cudnn_benchmark", 0);
  t->cuda.workspace_limit = (size_t)ini_get_int(s, "workspace_mb", 1024, 0, 1 << 20) << 20;
  t->mode = (TrainMode)ini_get_choice(s, "mode", TRAIN_CLASSIFY, k_modes);
  if (t->mode == TRAIN_PROTOTYPICAL) {
    t->n_way = (int)ini_get_int(s, "n_way", 5, 2, 1 << 16);
    t->k_shot = (int)ini_get_int(s, "k_shot", 5, 1, 1 << 16);
    t->n_query = (int)ini_get_int(s, "n_query", 5, 1, 1 << 16);
    t->episodes = (int)ini_get_int(s, "episodes", 0, 0, 1 << 24);
    const long rows = (long)t->n_way * (t->k_shot + t->n_query);
    if (ini_entry(s, "batch") && t->batch != rows)
      ini_fail(s, ini_entry(s, "batch"), "in prototypical mode a batch is an episode of n_way x (k_shot + n_query) = %ld "
               "rows; remove 'batch'", rows);
    if (rows > (1 << 16)) ini_fail(s, ini_entry(s, "n_way"), "an episode of %ld rows is too large", rows);
    t->batch = (int)rows;
    if (t->micro_batches != 1)
      ini_fail(s, ini_entry(s, "micro_batches"), "prototypical training takes whole episodes (the loss couples their rows)");
  } else {
    static const char *const proto_keys[] = {"n_way", "k_shot", "n_query", "episodes", "embedding", NULL};
    for (int i = 0; proto_keys[i]; i++)
      if (ini_entry(s, proto_keys[i]))
        ini_fail(s, ini_entry(s, proto_keys[i]), "'%s' is a key of prototypical training: set mode = prototypical",
                 proto_keys[i]);
  }
  if (t->nesterov && t->momentum <= 0)
    ini_fail(s, ini_entry(s, "nesterov"), "Nesterov momentum needs momentum > 0 (as torch.optim.SGD)");
}

/* [train] embedding: a layer of the model whose output is not overwritten
 * in place (checked again once the model is allocated). */
static void resolve_embedding(IniSection *s, Experiment *e) {
  e->train.embedding_layer = -1;
  if (e->train.mode != TRAIN_PROTOTYPICAL) return;
  const char *name = ini_get_string(s, "embedding", "");
  e->train.embedding_layer = *name ? features_layer_named(e->model, name, "[train] embedding")
                                   : features_default_embedding(e->model);
}

static Experiment *experiment_from_ini(IniFile *ini, const char *path) {
  Experiment *e = at_calloc(1, sizeof(Experiment), "experiment");
  snprintf(e->path, sizeof e->path, "%s", path);
  read_data(ini, &e->data);
  read_train(ini, &e->train, path);
  /* record the run name so that the stored config names its own run */
  char run[300];
  snprintf(run, sizeof run, "train.run=%s", e->train.run);
  ini_override(ini, run);
  ini_entry(ini_section(ini, "train"), "run");
  e->model = model_from_ini(ini, &k_experiment_foreign);
  e->layers = layer_settings_read(ini_section(ini, "train"), e->model);
  resolve_embedding(ini_section(ini, "train"), e);
  ini_check_all_used(ini, accepted_keys);
  if ((int)e->train.select < 0)
    e->train.select = e->model->output == OUTPUT_SIGMOID ? SELECT_ROC_AUC : SELECT_ACCURACY;
  if (e->train.select == SELECT_ACCURACY && e->model->output == OUTPUT_SIGMOID)
    at_fatal("%s: select = accuracy needs a single-label (softmax) model; use roc_auc, pr_auc or loss", path);
  if ((e->train.select == SELECT_ROC_AUC || e->train.select == SELECT_PR_AUC) && e->model->output == OUTPUT_SOFTMAX)
    at_fatal("%s: select = %s is for multi-label (sigmoid) models; use accuracy or loss", path,
             select_metric_name(e->train.select));
  if (e->data.crop == 0) e->data.crop = e->model->input.w;
  if (e->data.crop != e->model->input.w)
    at_fatal("%s: [data] crop = %d frames but the model '%s' takes %d frames (its input is %dx%d); "
             "set crop = %d or change the model's input",
             path, e->data.crop, e->model->name, e->model->input.w, e->model->input.h, e->model->input.w,
             e->model->input.w);
  e->text = ini_to_text(ini, NULL);
  return e;
}

Experiment *experiment_load(const char *path, const char *const *overrides, int n_overrides) {
  IniFile *ini = ini_load(path, k_experiment_singletons);
  for (int i = 0; i < n_overrides; i++) ini_override(ini, overrides[i]);
  Experiment *e = experiment_from_ini(ini, path);
  ini_free(ini);
  return e;
}

Experiment *experiment_from_text(const char *text, const char *origin) {
  IniFile *ini = ini_load_text(text, origin, k_experiment_singletons);
  Experiment *e = experiment_from_ini(ini, origin);
  ini_free(ini);
  return e;
}

Model *experiment_model_from_config(const char *path, const char *const *overrides, int n_overrides) {
  IniFile *ini = ini_load(path, k_experiment_singletons);
  for (int i = 0; i < n_overrides; i++) ini_override(ini, overrides[i]);
  Model *m = model_from_ini(ini, &k_experiment_foreign);
  ini_free(ini);
  return m;
}

void experiment_free(Experiment *e) {
  if (!e) return;
  model_free(e->model);
  layer_settings_free(e->layers);
  free(e->text);
  free(e);
}
