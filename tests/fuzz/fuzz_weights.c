/* libFuzzer target: the weights and checkpoint readers. The input describes a
 * weights file or a checkpoint -- the root attributes format, version, config
 * and model (right, wrong, missing, of another type or shape), the /params
 * group and each layer's tensors (right, missing, of another dtype, shape or
 * rank, extra layers), for checkpoints the /train group, its attributes and
 * optimizer buffers, and a truncation point -- which is written with the HDF5
 * API and then read the way eval, predict, tag and train --resume read it:
 * weights_read_config, model_from_text, model_allocate on the CPU backend,
 * then weights_load or checkpoint_load. Each must either load or stop with
 * one clear error; a crash, a hang or a sanitizer report is a bug.
 *
 * Byte 0 of each choice means "as auratag writes it", so short inputs describe
 * valid files and the fuzzer reaches the deep checks quickly. (The bytes of
 * valid HDF5 metadata are HDF5's business: this target varies what a file
 * says, not how HDF5 encodes it.) */
#include <dlfcn.h>
#include <hdf5.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "io/weights_h5.h"
#include "nn/backend.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"
#include "train/checkpoint.h"
#include "fuzz/fuzz_util.h"

static jmp_buf g_back;
static jmp_buf *volatile g_catch = &g_back; /* where a fatal error jumps to */
static void back_to_fuzzer(void) { longjmp(*g_catch, 1); }

/* weights_load's layer check stops from inside H5Literate's callback. In the
 * product that ends the process; here a longjmp across HDF5's frames would
 * leave its internal state (the API context stack) pointing into dead frames,
 * and later inputs would crash inside HDF5 for no fault of the reader. So the
 * target interposes H5Literate: a fatal error in the callback returns an
 * error to HDF5, which unwinds normally, and only then jumps to the fuzzer. */
typedef struct Guarded {
  H5L_iterate_t op;
  void *data;
  int failed;
} Guarded;

static herr_t guarded_op(hid_t group, const char *name, const H5L_info_t *info, void *p) {
  Guarded *g = p;
  jmp_buf here;
  jmp_buf *outer = g_catch;
  volatile herr_t result = -1;
  g_catch = &here;
  if (setjmp(here) == 0) result = g->op(group, name, info, g->data);
  else g->failed = 1;
  g_catch = outer;
  return result;
}

herr_t H5Literate(hid_t group, H5_index_t index, H5_iter_order_t order, hsize_t *idx, H5L_iterate_t op, void *data) {
  static herr_t (*real)(hid_t, H5_index_t, H5_iter_order_t, hsize_t *, H5L_iterate_t, void *);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "H5Literate");
  if (!real) abort();
  Guarded g = {op, data, 0};
  herr_t result = real(group, index, order, idx, guarded_op, &g);
  if (g.failed) longjmp(*g_catch, 1);
  return result;
}

typedef struct Bytes {
  const uint8_t *p;
  size_t n, i;
} Bytes;

static unsigned take(Bytes *b) { return b->i < b->n ? b->p[b->i++] : 0; }

/* Small models: one without running statistics, one with batch norm (state
 * tensors and num_batches_tracked) and a softmax output. */
static const char *const k_configs[] = {
    "[model]\ninput = 4x6x1\noutput = sigmoid\n[conv]\nfilters = 2\nsize = 3x3\n[maxpool]\nglobal = all\n"
    "[dense]\nunits = 3\n",
    "[model]\nname = tiny_bn\ninput = 4x6x1\noutput = softmax\n[conv]\nfilters = 2\nsize = 3x3\n[batchnorm]\n"
    "[relu]\n[maxpool]\nglobal = all\n[dense]\nunits = 3\n",
};
#define N_CONFIGS ((int)(sizeof k_configs / sizeof k_configs[0]))

static hid_t utf8_string_type(size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, size);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

static void attr_raw(hid_t loc, const char *name, hid_t type, hid_t space, const void *value) {
  hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (value) H5Awrite(a, type, value);
  H5Aclose(a);
}

static void attr_1d(hid_t loc, const char *name, hid_t type, hsize_t n, const void *value) {
  hid_t space = H5Screate_simple(1, &n, NULL);
  attr_raw(loc, name, type, space, value);
  H5Sclose(space);
}

static void attr_scalar(hid_t loc, const char *name, hid_t type, const void *value) {
  hid_t space = H5Screate(H5S_SCALAR);
  attr_raw(loc, name, type, space, value);
  H5Sclose(space);
}

/* A string attribute as auratag writes it (mode 0: variable-length UTF-8,
 * scalar) or spoiled; `wrong` is the text for mode 3. */
static void string_attr(hid_t loc, const char *name, const char *text, const char *wrong, unsigned mode) {
  hid_t vlen = utf8_string_type(H5T_VARIABLE);
  size_t len = strlen(text);
  hid_t fixed = utf8_string_type(len ? len : 1);
  const char *two[2] = {text, text};
  char *fixed_two = calloc(2, len + 1);
  memcpy(fixed_two, text, len);
  memcpy(fixed_two + (len ? len : 1), text, len);
  const char *null_text = NULL;
  int number = 1;
  switch (mode % 9) {
    case 0: attr_scalar(loc, name, vlen, &text); break;
    case 1: break; /* missing */
    case 2: attr_scalar(loc, name, fixed, text); break;
    case 3: attr_scalar(loc, name, vlen, &wrong); break;
    case 4: attr_scalar(loc, name, H5T_STD_I32LE, &number); break;
    case 5: attr_1d(loc, name, vlen, 2, two); break;
    case 6: attr_1d(loc, name, fixed, 2, fixed_two); break;
    case 7: attr_scalar(loc, name, vlen, &null_text); break;
    case 8: { /* a null dataspace: an attribute with no value */
      hid_t space = H5Screate(H5S_NULL);
      attr_raw(loc, name, vlen, space, NULL);
      H5Sclose(space);
      break;
    }
  }
  free(fixed_two);
  H5Tclose(fixed);
  H5Tclose(vlen);
}

typedef enum { NUM_INT, NUM_LONG, NUM_DOUBLE } NumKind;

/* A numeric attribute as auratag writes it (mode 0, `kind` as the writer's
 * type) or spoiled: missing, another numeric type, a wrong value, a string,
 * an array, no value at all. */
static void number_attr(hid_t loc, const char *name, NumKind kind, double value, Bytes *b) {
  unsigned mode = take(b);
  if (mode % 8 == 3) value += (double)take(b) - 128.0;
  int i[3] = {(int)value, (int)value, (int)value};
  long long l[3] = {(long long)value, (long long)value, (long long)value};
  double d[3] = {value, value, value};
  hid_t file_types[] = {H5T_STD_I32LE, H5T_STD_I64LE, H5T_IEEE_F64LE};
  hid_t mem_types[] = {H5T_NATIVE_INT, H5T_NATIVE_LLONG, H5T_NATIVE_DOUBLE};
  const void *values[] = {i, l, d};
  switch (mode % 8) {
    case 1: return; /* missing */
    case 2: kind = (NumKind)((kind + 1 + (mode >> 3) % 2) % 3); break; /* another numeric type */
    case 4: {
      hid_t t = utf8_string_type(H5T_VARIABLE);
      const char *text = "1";
      attr_scalar(loc, name, t, &text);
      H5Tclose(t);
      return;
    }
    case 5:
    case 6: { /* an array of 2 or 3 values where one belongs */
      hsize_t n = mode % 8 == 5 ? 2 : 3;
      hid_t space = H5Screate_simple(1, &n, NULL);
      hid_t a = H5Acreate2(loc, name, file_types[kind], space, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(a, mem_types[kind], values[kind]);
      H5Aclose(a);
      H5Sclose(space);
      return;
    }
    case 7: { /* no value at all */
      hid_t space = H5Screate(H5S_NULL);
      attr_raw(loc, name, file_types[kind], space, NULL);
      H5Sclose(space);
      return;
    }
  }
  /* modes 0, 2 and 3: a scalar */
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, file_types[kind], space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, mem_types[kind], values[kind]);
  H5Aclose(a);
  H5Sclose(space);
}

/* A dataset filled with small numbers (or "x" strings). */
static void dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims) {
  hid_t space = rank < 0 ? H5Screate(H5S_NULL) : rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  size_t count = rank < 0 ? 0 : 1;
  for (int i = 0; i < rank; i++) count *= dims[i];
  if (count && H5Tget_class(type) == H5T_STRING) {
    const char **s = calloc(count, sizeof(char *));
    for (size_t i = 0; i < count; i++) s[i] = "x";
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
    free(s);
  } else if (count) {
    double *v = calloc(count, sizeof(double));
    for (size_t i = 0; i < count; i++) v[i] = (double)(i % 7) * 0.25 - 0.5;
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
  }
  H5Dclose(ds);
  H5Sclose(space);
}

static hid_t float16_type(void) {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_ebias(t, 15);
  return t;
}

/* A float tensor of `rank` x `dims` as the writer stores it (mode 0) or
 * spoiled: missing, another dtype, shape or rank. */
static void tensor(hid_t loc, const char *name, int rank, const int *want, Bytes *b) {
  unsigned mode = take(b);
  hsize_t dims[5];
  for (int d = 0; d < rank; d++) dims[d] = (hsize_t)want[d];
  hid_t type = H5T_IEEE_F32LE, own = -1;
  switch (mode % 10) {
    case 0: break;
    case 1: return; /* missing */
    case 2: type = H5T_IEEE_F64LE; break;
    case 3: type = H5T_STD_I32LE; break;
    case 4: type = H5T_IEEE_F32BE; break;
    case 5: type = own = float16_type(); break;
    case 6: type = own = utf8_string_type(H5T_VARIABLE); break;
    case 7: /* one dimension off */
      if (rank > 0) dims[take(b) % (unsigned)rank] = take(b) % 9;
      break;
    case 8: /* one dimension more or fewer */
      if (mode & 16 && rank > 0) rank--;
      else dims[rank++] = 1 + take(b) % 3;
      break;
    case 9: rank = (mode & 16) ? 0 : -1; break; /* a scalar, or no value at all */
  }
  dataset(loc, name, type, rank, dims);
  if (own >= 0) H5Tclose(own);
}

/* num_batches_tracked of a batch-norm layer: an int64 scalar, or spoiled. */
static void batches_tracked(hid_t g, Bytes *b) {
  unsigned mode = take(b);
  hsize_t two = 2, one = 1;
  hid_t str = utf8_string_type(H5T_VARIABLE);
  switch (mode % 8) {
    case 0: dataset(g, "num_batches_tracked", H5T_STD_I64LE, 0, NULL); break;
    case 1: break; /* missing: allowed, counts from 0 */
    case 2: dataset(g, "num_batches_tracked", H5T_IEEE_F32LE, 0, NULL); break;
    case 3: dataset(g, "num_batches_tracked", H5T_STD_I64LE, 1, &two); break;
    case 4: dataset(g, "num_batches_tracked", str, 0, NULL); break;
    case 5: H5Gclose(H5Gcreate2(g, "num_batches_tracked", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); break;
    case 6: dataset(g, "num_batches_tracked", H5T_STD_I32LE, 1, &one); break;
    case 7: dataset(g, "num_batches_tracked", H5T_STD_I64LE, -1, NULL); break;
  }
  H5Tclose(str);
}

/* /params/<layer>/<tensor> for every layer of `m`, each as written or spoiled;
 * the group itself may be missing, a dataset, or hold an extra layer. */
static void write_params(hid_t file, const Model *m, Bytes *b) {
  unsigned mode = take(b);
  if (mode % 4 == 1) return;
  if (mode % 4 == 2) {
    hsize_t one = 1;
    dataset(file, "params", H5T_IEEE_F32LE, 1, &one);
    return;
  }
  hid_t params = H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (mode % 4 == 3) H5Gclose(H5Gcreate2(params, (mode & 4) ? "dense_99" : "", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (int li = 0; li < m->n_layers; li++) {
    const Layer *L = &m->layers[li];
    if (L->weight < 0 && L->running_mean < 0) continue;
    unsigned layer_mode = take(b);
    if (layer_mode % 4 == 1) continue; /* the whole layer missing */
    if (layer_mode % 4 == 2) {         /* a dataset where the layer's group belongs */
      hsize_t one = 1;
      dataset(params, L->name, H5T_IEEE_F32LE, 1, &one);
      continue;
    }
    hid_t g = H5Gcreate2(params, L->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int pi = 0; pi < m->n_params; pi++) {
      const ParamTensor *p = &m->params[pi];
      if (p->layer == li) tensor(g, p->name, p->ndim, p->dims, b);
    }
    if (layer_has_running_stats(L)) batches_tracked(g, b);
    if (layer_mode % 4 == 3) { /* a tensor no layer has */
      hsize_t one = 1;
      dataset(g, "extra", H5T_IEEE_F32LE, 1, &one);
    }
    H5Gclose(g);
  }
  H5Gclose(params);
}

static const char *const k_longs[] = {"epoch", "cursor", "step", "best_epoch", "epochs_since_best", "plateau_bad_epochs",
                                      "pons_rises", "pons_total_rises", "epoch_rows", "nan_skipped", "finished", "ranks"};
static const char *const k_doubles[] = {"lr", "best_metric", "pons_best_loss", "epoch_loss_sum"};

/* An optimizer buffer /train/<name> of n floats, or spoiled. */
static void optimizer_buffer(hid_t g, const char *name, size_t n, Bytes *b) {
  unsigned mode = take(b);
  hsize_t dims[2] = {n, 1};
  hid_t str = utf8_string_type(H5T_VARIABLE);
  switch (mode % 8) {
    case 0: dataset(g, name, H5T_IEEE_F32LE, 1, dims); break;
    case 1: break; /* missing */
    case 2:
      dims[0] = n + 1 + take(b) % 4 - 2;
      dataset(g, name, H5T_IEEE_F32LE, 1, dims);
      break;
    case 3: dataset(g, name, H5T_IEEE_F32LE, 2, dims); break; /* same count, rank 2 */
    case 4: dataset(g, name, H5T_STD_I32LE, 1, dims); break;
    case 5: dataset(g, name, str, 1, dims); break;
    case 6: dataset(g, name, H5T_IEEE_F64LE, 1, dims); break;
    case 7: dataset(g, name, H5T_IEEE_F32LE, (mode & 8) ? 0 : -1, dims); break;
  }
  H5Tclose(str);
}

/* /train and the checkpoint's root attributes, for an optimizer of `kind`
 * over n parameters. */
static void write_train(hid_t file, int kind, size_t n, Bytes *b) {
  unsigned mode = take(b);
  string_attr(file, "experiment", "[train]\nepochs = 1\n", "[train", take(b));
  string_attr(file, "front_end", "{}", "", take(b));
  if (mode % 4 == 1) return;
  if (mode % 4 == 2) {
    hsize_t one = 1;
    dataset(file, "train", H5T_IEEE_F32LE, 1, &one);
    return;
  }
  hid_t g = H5Gcreate2(file, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  for (size_t i = 0; i < sizeof k_longs / sizeof k_longs[0]; i++) number_attr(g, k_longs[i], NUM_LONG, 1, b);
  for (size_t i = 0; i < sizeof k_doubles / sizeof k_doubles[0]; i++) number_attr(g, k_doubles[i], NUM_DOUBLE, 0.5, b);
  number_attr(g, "optimizer_kind", NUM_INT, kind, b);
  number_attr(g, "optimizer_steps", NUM_LONG, 3, b);
  optimizer_buffer(g, "optimizer_1", n, b);
  if (kind == OPT_ADAM || (mode & 4)) optimizer_buffer(g, "optimizer_2", n, b);
  H5Gclose(g);
}

/* A config text spoiled: cut short, one byte changed, or another model's. */
static char *wrong_config(int which, Bytes *b) {
  const char *text = k_configs[which];
  size_t len = strlen(text);
  char *out = malloc(len + strlen(k_configs[(which + 1) % N_CONFIGS]) + 1);
  unsigned how = take(b);
  strcpy(out, text);
  if (how % 3 == 0) out[take(b) % len] = '\0';
  else if (how % 3 == 1) out[take(b) % len] = (char)(take(b) | 1);
  else strcpy(out, k_configs[(which + 1) % N_CONFIGS]);
  return out;
}

typedef struct Described {
  int checkpoint, opt_kind;
} Described;

static Described write_file(const char *path, Model *const *models, Bytes *b) {
  unsigned head = take(b);
  Described what = {head & 1, (head >> 1) & 1 ? OPT_ADAM : OPT_SGD};
  int which = (int)((head >> 2) % N_CONFIGS);
  const Model *m = models[which];
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  string_attr(file, "format", AT_WEIGHTS_FORMAT, "auratag-cache", take(b));
  number_attr(file, "version", NUM_INT, AT_WEIGHTS_VERSION, b);
  unsigned config_mode = take(b);
  char *wrong = config_mode % 9 == 3 ? wrong_config(which, b) : NULL;
  string_attr(file, "config", k_configs[which], wrong, config_mode);
  free(wrong);
  string_attr(file, "model", m->name, "", take(b));
  write_params(file, m, b);
  if (what.checkpoint) write_train(file, (head >> 3) & 1 ? !what.opt_kind : what.opt_kind, m->n_weights, b);
  H5Fclose(file);
  unsigned cut = take(b);
  if (cut & 1) { /* truncate */
    FILE *fp = fopen(path, "rb+");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    long keep = (long)((double)size * (double)(take(b) % 256) / 256.0);
    if (truncate(path, keep) != 0) abort();
  }
  return what;
}

/* After a fatal error: close whatever the reader left open -- the files last,
 * since closing a file before its groups leaves them pointing at freed state. */
static void close_hdf5_objects(void) {
  ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_ids <= 0) return;
  hid_t *ids = malloc(sizeof(hid_t) * (size_t)open_ids);
  open_ids = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, (size_t)open_ids, ids);
  for (int files = 0; files <= 1; files++)
    for (ssize_t i = 0; i < open_ids; i++) {
      H5I_type_t t = H5Iget_type(ids[i]);
      if ((t == H5I_FILE) != files) continue;
      if (t == H5I_FILE) H5Fclose(ids[i]);
      else if (t == H5I_DATASET) H5Dclose(ids[i]);
      else if (t == H5I_GROUP) H5Gclose(ids[i]);
      else if (t == H5I_ATTR) H5Aclose(ids[i]);
      else if (t == H5I_DATATYPE) H5Tclose(ids[i]);
    }
  free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  static Model *models[N_CONFIGS]; /* what each config's parameters look like */
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/auratag-fuzz-weights-%d.h5", (int)getpid());
    at_set_fatal_hook(back_to_fuzzer);
    h5_quiet();
    for (int i = 0; i < N_CONFIGS; i++) models[i] = model_from_text(k_configs[i], "fuzz_weights.c");
  }
  static unsigned char before[MAX_FD];
  open_fds(before);
  Bytes b = {data, size, 0};
  Described what = write_file(path, models, &b);
  /* volatile: what a fatal error leaves allocated is freed after the longjmp */
  static char *volatile config, *volatile experiment;
  static Model *volatile m;
  static Optimizer *volatile opt;
  config = experiment = NULL;
  m = NULL;
  opt = NULL;
  if (setjmp(g_back) == 0) {
    config = weights_read_config(path);
    m = model_from_text(config, path);
    model_allocate(m, at_backend_cpu(), 1);
    if (what.checkpoint) {
      opt = optimizer_create(at_backend_cpu(), (OptimizerKind)what.opt_kind, m->n_weights);
      TrainState st;
      checkpoint_load(path, m, opt, &st);
      experiment = checkpoint_read_experiment(path);
    } else {
      weights_load(m, path);
    }
  }
  close_hdf5_objects();
  free(experiment);
  if (opt) optimizer_free(opt);
  model_free(m);
  free(config);
  close_new_fds(before);
  remove(path);
  return 0;
}
