#include "io/weights_h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/files.h"
#include "io/h5_guard.h"

static void write_params(hid_t file, const Model *m, const float *w, const float *st) {
  hid_t params = H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  for (int li = 0; li < m->n_layers; li++) {
    const Layer *L = &m->layers[li];
    if (L->weight < 0 && L->running_mean < 0) continue;
    hid_t g = H5Gcreate2(params, L->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) at_fatal("HDF5: cannot create group /params/%s", L->name);
    for (int pi = 0; pi < m->n_params; pi++) {
      const ParamTensor *p = &m->params[pi];
      if (p->layer != li) continue;
      hsize_t dims[4];
      for (int d = 0; d < p->ndim; d++) dims[d] = (hsize_t)p->dims[d];
      hid_t space = H5Screate_simple(p->ndim, dims, NULL);
      hid_t ds = H5Dcreate2(g, p->name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      const float *src = (p->trainable ? w : st) + p->offset;
      if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, src) < 0)
        at_fatal("HDF5: cannot write /params/%s/%s (is the disk full?); the previous file is unchanged", L->name, p->name);
      H5Dclose(ds);
      H5Sclose(space);
    }
    if (layer_has_running_stats(L)) {
      hid_t space = H5Screate(H5S_SCALAR);
      hid_t ds = H5Dcreate2(g, "num_batches_tracked", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      long long tracked = m->buffers[li].batches_tracked;
      if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &tracked) < 0)
        at_fatal("HDF5: cannot write /params/%s/num_batches_tracked", L->name);
      H5Dclose(ds);
      H5Sclose(space);
    }
    H5Gclose(g);
  }
  H5Gclose(params);
}

void weights_save(const Model *m, const char *path) { weights_save_extra(m, path, NULL, NULL); }

static void add_dataset_config(long long file, void *ctx) { h5_write_string_attr(file, "dataset_config", ctx); }

void weights_save_with_front_end(const Model *m, const char *path, const char *dataset_config) {
  weights_save_extra(m, path, add_dataset_config, (void *)dataset_config);
}

void weights_save_extra(const Model *m, const char *path, void (*extra)(long long file, void *ctx), void *ctx) {
  h5_quiet();
  float *w = at_malloc(sizeof(float) * (m->n_weights + 1), "weights to save");
  float *st = at_malloc(sizeof(float) * (m->n_state + 1), "statistics to save");
  m->be->to_host(w, m->weights, sizeof(float) * m->n_weights);
  m->be->to_host(st, m->state, sizeof(float) * m->n_state);
  char tmp[4096];
  hid_t file = (hid_t)h5_create_staged(path, tmp, sizeof tmp);
  h5_write_string_attr(file, "format", AT_WEIGHTS_FORMAT);
  h5_write_int_attr(file, "version", AT_WEIGHTS_VERSION);
  h5_write_string_attr(file, "config", m->config_text);
  h5_write_string_attr(file, "model", m->name);
  write_params(file, m, w, st);
  if (m->output_names) h5_write_strings(file, "tags", (const char *const *)m->output_names, m->classes, tmp);
  if (extra) extra(file, ctx);
  if (H5Fclose(file) < 0) at_fatal("cannot finish writing '%s' (is the disk full?); '%s' is unchanged", tmp, path);
  h5_commit_file(tmp, path);
  at_temp_file_clear();
  free(w);
  free(st);
}

/* Opened under the corrupt-file guard (io/h5_guard.h) until close_checked. */
static hid_t open_checked(const char *path) {
  hid_t file = (hid_t)h5_open_guarded(path, "weights file", "use another checkpoint of its run (best.h5 or last.h5) or the file it was copied from");
  char *format = h5_read_string_attr(file, "format", path);
  if (!format || strcmp(format, AT_WEIGHTS_FORMAT) != 0)
    at_fatal("'%s' is not an auratag weights file (attribute format = '%s', expected '%s')", path,
             format ? format : "(missing)", AT_WEIGHTS_FORMAT);
  free(format);
  int version = -1;
  if (H5Aexists(file, "version") > 0) {
    hid_t attr = H5Aopen(file, "version", H5P_DEFAULT);
    h5_require_one_value(attr, 1, path, "attribute 'version'");
    if (H5Aread(attr, H5T_NATIVE_INT, &version) < 0) version = -1;
    H5Aclose(attr);
  }
  if (version != AT_WEIGHTS_VERSION)
    at_fatal("'%s' has weights format version %d; this auratag reads version %d", path, version, AT_WEIGHTS_VERSION);
  return file;
}

static void close_checked(hid_t file) {
  H5Fclose(file);
  h5_guard_end();
}

char *weights_read_config(const char *path) {
  hid_t file = open_checked(path);
  char *config = h5_read_string_attr(file, "config", path);
  if (!config) at_fatal("'%s' has no 'config' attribute; it cannot describe its own model", path);
  close_checked(file);
  return config;
}

/* Whether /params/<layer>/<name> holds floats of p's shape: 1, and read into
 * dst unless dst is NULL; else 0. */
static int read_if_same_shape(hid_t params, const ParamTensor *p, const char *layer, float *dst, const char *path) {
  char name[256];
  snprintf(name, sizeof name, "%s/%s", layer, p->name);
  if (H5Lexists(params, layer, H5P_DEFAULT) <= 0 || H5Lexists(params, name, H5P_DEFAULT) <= 0) return 0;
  hid_t ds = H5Dopen2(params, name, H5P_DEFAULT);
  if (ds < 0) return 0;
  hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
  hsize_t dims[8];
  const int ndim = H5Sget_simple_extent_ndims(space);
  int same = ndim == p->ndim && H5Tget_class(type) == H5T_FLOAT;
  if (ndim >= 0 && ndim <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
  for (int d = 0; same && d < ndim; d++) same = dims[d] == (hsize_t)p->dims[d];
  if (same && dst && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
    at_fatal("'%s': cannot read /params/%s (corrupt file?)", path, name);
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(ds);
  return same;
}

int weights_load_matching(Model *m, const char *path, char *skipped, size_t skipped_size) {
  hid_t file = open_checked(path);
  hid_t params = H5Gopen2(file, "params", H5P_DEFAULT);
  if (params < 0) at_fatal("'%s' has no /params group", path);
  float *w = at_malloc(sizeof(float) * (m->n_weights + 1), "weights");
  float *st = at_malloc(sizeof(float) * (m->n_state + 1), "statistics");
  m->be->to_host(w, m->weights, sizeof(float) * m->n_weights);
  m->be->to_host(st, m->state, sizeof(float) * m->n_state);
  int loaded = 0;
  skipped[0] = '\0';
  for (int li = 0; li < m->n_layers; li++) {
    /* a layer is taken whole or not at all: all its tensors of the same shape */
    const char *layer = m->layers[li].name;
    int has = 0, all = 1;
    for (int pi = 0; pi < m->n_params; pi++)
      if (m->params[pi].layer == li) has = 1, all &= read_if_same_shape(params, &m->params[pi], layer, NULL, path);
    if (!has) continue;
    if (all) {
      for (int pi = 0; pi < m->n_params; pi++) {
        const ParamTensor *p = &m->params[pi];
        if (p->layer == li) loaded += read_if_same_shape(params, p, layer, (p->trainable ? w : st) + p->offset, path);
      }
    } else {
      const size_t used = strlen(skipped);
      snprintf(skipped + used, skipped_size - used, "%s%s", used ? ", " : "", layer);
    }
  }
  H5Gclose(params);
  close_checked(file);
  m->be->to_device(m->weights, w, sizeof(float) * m->n_weights);
  m->be->to_device(m->state, st, sizeof(float) * m->n_state);
  free(w);
  free(st);
  return loaded;
}

char *weights_read_dataset_config(const char *path) {
  hid_t file = open_checked(path);
  char *text = h5_read_string_attr(file, "dataset_config", path);
  close_checked(file);
  return text;
}

static herr_t check_known_layer(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)group;
  (void)info;
  const Model *m = data;
  for (int i = 0; i < m->n_layers; i++)
    if (!strcmp(m->layers[i].name, name)) return 0;
  at_fatal("the weights file has parameters for a layer '%s' that the model '%s' does not have; "
           "is it the weights of another model?", name, m->name);
}

/* /tags, when the file has it, names the outputs (kept as they are when absent). */
static void read_output_names(Model *m, hid_t file, const char *path) {
  long n;
  char **names = h5_read_strings(file, "tags", "weights file", path, &n);
  if (!names) return;
  if (n != m->classes)
    at_fatal("weights file '%s': /tags names %ld outputs but its model has %d (a corrupt file?)", path, n, m->classes);
  model_set_output_names(m, (const char *const *)names);
  for (long i = 0; i < n; i++) free(names[i]);
  free(names);
}

void weights_load(Model *m, const char *path) {
  hid_t file = open_checked(path);
  hid_t params = H5Gopen2(file, "params", H5P_DEFAULT);
  if (params < 0) at_fatal("'%s' has no /params group", path);
  H5Literate(params, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, check_known_layer, m);
  float *w = at_malloc(sizeof(float) * (m->n_weights + 1), "weights to load");
  float *st = at_malloc(sizeof(float) * (m->n_state + 1), "statistics to load");
  for (int pi = 0; pi < m->n_params; pi++) {
    const ParamTensor *p = &m->params[pi];
    const Layer *L = &m->layers[p->layer];
    char name[256];
    snprintf(name, sizeof name, "%s/%s", L->name, p->name);
    hid_t ds = H5Dopen2(params, name, H5P_DEFAULT);
    if (ds < 0) at_fatal("'%s' lacks /params/%s, which the model needs", path, name);
    hid_t space = H5Dget_space(ds);
    hid_t type = H5Dget_type(ds);
    hsize_t dims[8];
    int ndim = H5Sget_simple_extent_ndims(space);
    int ok = ndim == p->ndim && H5Tget_class(type) == H5T_FLOAT;
    if (ndim >= 0 && ndim <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    for (int d = 0; ok && d < ndim; d++) ok = dims[d] == (hsize_t)p->dims[d];
    if (!ok) {
      char want[128] = "", got[128] = "";
      for (int d = 0; d < p->ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "x" : "", p->dims[d]);
      for (int d = 0; d < ndim && d < 8; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? "x" : "", (unsigned long long)dims[d]);
      at_fatal("'%s': /params/%s is %s %s, the model needs float %s", path, name,
               H5Tget_class(type) == H5T_FLOAT ? "float" : "non-float", got, want);
    }
    float *dst = (p->trainable ? w : st) + p->offset;
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
      at_fatal("'%s': cannot read /params/%s (corrupt file?)", path, name);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(ds);
  }
  for (int li = 0; li < m->n_layers; li++) {
    const Layer *L = &m->layers[li];
    if (!layer_has_running_stats(L)) continue;
    char name[256];
    snprintf(name, sizeof name, "%s/num_batches_tracked", L->name);
    long long tracked = 0;
    if (H5Lexists(params, name, H5P_DEFAULT) > 0) {
      hid_t ds = H5Dopen2(params, name, H5P_DEFAULT);
      char what[300];
      snprintf(what, sizeof what, "/params/%s", name);
      if (ds < 0) at_fatal("'%s': cannot open %s (corrupt file?)", path, what);
      h5_require_one_value(ds, 0, path, what);
      if (H5Dread(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &tracked) < 0)
        at_fatal("'%s': cannot read /params/%s", path, name);
      H5Dclose(ds);
    }
    m->buffers[li].batches_tracked = (long)tracked;
  }
  H5Gclose(params);
  read_output_names(m, file, path);
  close_checked(file);
  m->be->to_device(m->weights, w, sizeof(float) * m->n_weights);
  m->be->to_device(m->state, st, sizeof(float) * m->n_state);
  free(w);
  free(st);
}
