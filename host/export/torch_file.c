#include "export/torch_file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "core/error.h"
#include "core/files.h"

/* ---- a pickle (protocol 2) in a growing buffer ---- */

typedef struct Pickle {
  uint8_t *b;
  size_t n, cap;
} Pickle;

static void put(Pickle *p, const void *data, size_t len) {
  if (p->n + len > p->cap) {
    p->cap = (p->n + len) * 2 + 256;
    p->b = realloc(p->b, p->cap);
    if (!p->b) at_fatal("out of memory writing the PyTorch file");
  }
  memcpy(p->b + p->n, data, len);
  p->n += len;
}

static void op(Pickle *p, char code) { put(p, &code, 1); }

static void u32(Pickle *p, uint32_t v) {
  const uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(p, le, 4);
}

static void text(Pickle *p, const char *s) { /* BINUNICODE */
  op(p, 'X');
  u32(p, (uint32_t)strlen(s));
  put(p, s, strlen(s));
}

static void integer(Pickle *p, long v) { /* BININT: the sizes here fit */
  AT_ASSERT(v >= INT32_MIN && v <= INT32_MAX);
  op(p, 'J');
  u32(p, (uint32_t)(int32_t)v);
}

static void global(Pickle *p, const char *module, const char *name) {
  op(p, 'c');
  put(p, module, strlen(module));
  op(p, '\n');
  put(p, name, strlen(name));
  op(p, '\n');
}

static void int_tuple(Pickle *p, const long *v, int n) {
  op(p, '(');
  for (int i = 0; i < n; i++) integer(p, v[i]);
  op(p, 't');
}

/* torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict()),
 * the storage a persistent id ('storage', torch.FloatStorage, key, 'cpu', numel). */
static void tensor(Pickle *p, const char *storage_type, int key, const int *dims, int ndim, long numel) {
  global(p, "torch._utils", "_rebuild_tensor_v2");
  op(p, '(');
  op(p, '(');
  text(p, "storage");
  global(p, "torch", storage_type);
  char k[16];
  snprintf(k, sizeof k, "%d", key);
  text(p, k);
  text(p, "cpu");
  integer(p, numel);
  op(p, 't');
  op(p, 'Q'); /* BINPERSID */
  integer(p, 0);
  long size[4], stride[4];
  for (int i = ndim - 1, s = 1; i >= 0; i--) size[i] = dims[i], stride[i] = s, s *= dims[i];
  int_tuple(p, size, ndim);
  int_tuple(p, stride, ndim);
  op(p, (char)0x89); /* NEWFALSE: requires_grad */
  global(p, "collections", "OrderedDict");
  op(p, ')');
  op(p, 'R');
  op(p, 't');
  op(p, 'R');
}

/* ---- the archive ---- */

typedef struct Archive {
  zip_t *z;
  const char *path;
} Archive;

static void add(Archive *a, const char *name, const void *data, size_t len) {
  zip_source_t *src = zip_source_buffer(a->z, data, len, 0);
  zip_int64_t index = src ? zip_file_add(a->z, name, src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
  if (index < 0) {
    if (src) zip_source_free(src);
    at_fatal("cannot add %s to '%s': %s", name, a->path, zip_strerror(a->z));
  }
  zip_set_file_compression(a->z, (zip_uint64_t)index, ZIP_CM_STORE, 0);
}

void torch_export_model(const Model *m, const char *path) {
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  at_make_parent_dirs(path);
  int err = 0;
  Archive a = {zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err), tmp};
  if (!a.z) at_fatal("cannot create '%s' (is its folder writable?)", tmp);
  at_temp_file_register(tmp);
  Pickle p = {0};
  const uint8_t proto[2] = {0x80, 2};
  put(&p, proto, 2);
  op(&p, '}');
  op(&p, '(');
  text(&p, "format"), text(&p, "auratag-torch");
  text(&p, "config"), text(&p, m->config_text);
  text(&p, "tags");
  if (m->output_names) {
    op(&p, ']');
    op(&p, '(');
    for (int j = 0; j < m->classes; j++) text(&p, m->output_names[j]);
    op(&p, 'e'); /* APPENDS */
  } else {
    op(&p, 'N');
  }
  text(&p, "state_dict");
  global(&p, "collections", "OrderedDict");
  op(&p, ')');
  op(&p, 'R');
  op(&p, '(');
  int key = 0;
  int64_t *tracked = at_calloc((size_t)m->n_layers + 1, sizeof(int64_t), "batch counts");
  char name[160], file[64];
  for (int l = 0; l < m->n_layers; l++) {
    const Layer *L = &m->layers[l];
    for (int pi = 0; pi < m->n_params; pi++) {
      const ParamTensor *t = &m->params[pi];
      if (t->layer != l) continue;
      snprintf(name, sizeof name, "%s.%s", L->name, t->name);
      text(&p, name);
      tensor(&p, "FloatStorage", key, t->dims, t->ndim, (long)t->count);
      snprintf(file, sizeof file, "archive/data/%d", key++);
      add(&a, file, (t->trainable ? m->weights : m->state) + t->offset, sizeof(float) * t->count);
    }
    if (layer_has_running_stats(L)) {
      tracked[l] = m->buffers ? m->buffers[l].batches_tracked : 0;
      snprintf(name, sizeof name, "%s.num_batches_tracked", L->name);
      text(&p, name);
      tensor(&p, "LongStorage", key, NULL, 0, 1);
      snprintf(file, sizeof file, "archive/data/%d", key++);
      add(&a, file, &tracked[l], sizeof(int64_t));
    }
  }
  op(&p, 'u'); /* the state dict's SETITEMS */
  op(&p, 'u'); /* the outer dict's */
  op(&p, '.');
  add(&a, "archive/data.pkl", p.b, p.n);
  add(&a, "archive/version", "3\n", 2);
  add(&a, "archive/byteorder", "little", 6);
  if (zip_close(a.z) != 0) at_fatal("cannot write '%s' (is the disk full?): %s", tmp, zip_strerror(a.z));
  if (rename(tmp, path) != 0) at_fatal("cannot move '%s' into place as '%s'", tmp, path);
  at_temp_file_clear();
  free(tracked);
  free(p.b);
}
