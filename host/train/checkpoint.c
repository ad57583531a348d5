#include "train/checkpoint.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/h5_guard.h"
#include "io/weights_h5.h"

typedef struct SaveCtx {
  const Optimizer *opt;
  const TrainState *st;
  const char *experiment;
  const char *front_end;
  const char *train_cache;
} SaveCtx;

#define STATE_FIELDS(X)                                                                          \
  X(epoch) X(cursor) X(step) X(best_epoch) X(epochs_since_best) X(plateau_bad_epochs) X(pons_rises) \
  X(pons_total_rises) X(epoch_rows) X(nan_skipped) X(finished) X(ranks)
#define STATE_DOUBLES(X) X(lr) X(best_metric) X(pons_best_loss) X(epoch_loss_sum)


static void attr_read(hid_t loc, const char *name, hid_t mem_type, void *v, const char *path) {
  if (H5Aexists(loc, name) <= 0) at_fatal("checkpoint '%s' lacks /train attribute '%s' (not a training checkpoint?)", path, name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) at_fatal("checkpoint '%s': cannot open /train attribute '%s'", path, name);
  char what[300];
  snprintf(what, sizeof what, "/train attribute '%s'", name);
  h5_require_one_value(a, 1, path, what);
  if (H5Aread(a, mem_type, v) < 0) at_fatal("checkpoint '%s': cannot read /train attribute '%s'", path, name);
  H5Aclose(a);
}

static void write_buffer(hid_t g, const char *name, const Optimizer *opt, const float *device) {
  float *host = at_malloc(sizeof(float) * (opt->n + 1), "optimizer state");
  opt->be->to_host(host, device, sizeof(float) * opt->n);
  hsize_t dims[1] = {(hsize_t)opt->n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, host) < 0)
    at_fatal("HDF5: cannot write the optimizer state (is the disk full?); the previous checkpoint is unchanged");
  H5Dclose(ds);
  H5Sclose(space);
  free(host);
}

static void save_train_state(long long file, void *p) {
  SaveCtx *c = p;
  h5_write_string_attr(file, "experiment", c->experiment);
  h5_write_string_attr(file, "front_end", c->front_end);
  h5_write_string_attr(file, "train_cache", c->train_cache);
  hid_t g = H5Gcreate2((hid_t)file, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) at_fatal("HDF5: cannot create /train in the checkpoint");
#define WRITE_LONG(f) h5_write_long_attr(g, #f, c->st->f);
#define WRITE_DOUBLE(f) h5_write_double_attr(g, #f, c->st->f);
  STATE_FIELDS(WRITE_LONG)
  STATE_DOUBLES(WRITE_DOUBLE)
  int kind = c->opt->kind;
  h5_write_int_attr(g, "optimizer_kind", kind);
  h5_write_long_attr(g, "optimizer_steps", c->opt->steps);
  write_buffer(g, "optimizer_1", c->opt, c->opt->buf1);
  if (c->opt->buf2) write_buffer(g, "optimizer_2", c->opt, c->opt->buf2);
  H5Gclose(g);
}

void checkpoint_save(const char *path, const Model *m, const Optimizer *opt, const TrainState *st,
                     const char *experiment_text, const char *front_end, const char *train_cache) {
  SaveCtx c = {opt, st, experiment_text, front_end, train_cache};
  weights_save_extra(m, path, save_train_state, &c);
}

static void read_buffer(hid_t g, const char *name, Optimizer *opt, float *device, const char *path) {
  hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
  if (ds < 0) at_fatal("checkpoint '%s' lacks /train/%s", path, name);
  hid_t space = H5Dget_space(ds);
  hssize_t count = H5Sget_simple_extent_npoints(space);
  if (count != (hssize_t)opt->n)
    at_fatal("checkpoint '%s': /train/%s holds %lld values, the model has %zu parameters", path, name,
             (long long)count, opt->n);
  float *host = at_malloc(sizeof(float) * (opt->n + 1), "optimizer state");
  if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, host) < 0)
    at_fatal("checkpoint '%s': cannot read /train/%s (corrupt file?)", path, name);
  opt->be->to_device(device, host, sizeof(float) * opt->n);
  free(host);
  H5Sclose(space);
  H5Dclose(ds);
}

void checkpoint_load(const char *path, Model *m, Optimizer *opt, TrainState *st) {
  weights_load(m, path);
  hid_t file = (hid_t)h5_open_guarded(path, "checkpoint", "resume from the run's other checkpoint (best.h5) by copying it to last.h5, or start the run again");
  hid_t g = H5Gopen2(file, "train", H5P_DEFAULT);
  if (g < 0) at_fatal("'%s' holds weights but no training state (/train); it cannot resume a run", path);
#define READ_LONG(f) attr_read(g, #f, H5T_NATIVE_LONG, &st->f, path);
#define READ_DOUBLE(f) attr_read(g, #f, H5T_NATIVE_DOUBLE, &st->f, path);
  STATE_FIELDS(READ_LONG)
  STATE_DOUBLES(READ_DOUBLE)
  int kind;
  attr_read(g, "optimizer_kind", H5T_NATIVE_INT, &kind, path);
  if (kind != (int)opt->kind)
    at_fatal("checkpoint '%s' was trained with %s, the config asks for %s", path, kind == OPT_SGD ? "sgd" : "adam",
             opt->kind == OPT_SGD ? "sgd" : "adam");
  attr_read(g, "optimizer_steps", H5T_NATIVE_LONG, &opt->steps, path);
  read_buffer(g, "optimizer_1", opt, opt->buf1, path);
  if (opt->buf2) read_buffer(g, "optimizer_2", opt, opt->buf2, path);
  H5Gclose(g);
  H5Fclose(file);
  h5_guard_end();
}

char *checkpoint_read_experiment(const char *path) {
  hid_t file = (hid_t)h5_open_guarded(path, "checkpoint", "resume from the run's other checkpoint (best.h5) by copying it to last.h5, or start the run again");
  char *text = h5_read_string_attr(file, "experiment", path);
  H5Fclose(file);
  h5_guard_end();
  if (!text) at_fatal("'%s' has no experiment config; it is a weights file, not a training checkpoint", path);
  return text;
}

char *checkpoint_read_train_cache(const char *path) {
  hid_t file = (hid_t)h5_open_guarded(path, "checkpoint",
                                      "resume from the run's other checkpoint (best.h5) by copying it to last.h5, or "
                                      "start the run again");
  char *text = h5_read_string_attr(file, "train_cache", path);
  H5Fclose(file);
  h5_guard_end();
  return text;
}
