/* A TensorFlow tensor bundle, read without TensorFlow (see tf_bundle.h).
 * Formats: LevelDB's table format (doc/table_format.md of LevelDB: blocks of
 * prefix-compressed entries with restart points, a 5-byte trailer of
 * compression type and masked CRC-32C, a 48-byte footer ending in a magic
 * number) and the protocol buffers BundleHeaderProto / BundleEntryProto of
 * TensorFlow's tensor_bundle.proto, decoded here field by field: six scalar
 * fields do not justify a protobuf code generator in the build. */
#include "io/tf_bundle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/crc32c.h"
#include "core/error.h"
#include "core/little_endian.h"

#define TABLE_MAGIC 0xdb4775248b80fb57ull
#define FOOTER_SIZE 48
#define BLOCK_TRAILER 5
#define MAX_INDEX_BYTES (256u << 20)

static int fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, why_size, fmt, ap);
  va_end(ap);
  return -1;
}

/* ---- bytes ---- */

typedef struct Cursor {
  const unsigned char *p, *end;
} Cursor;

static int get_varint(Cursor *c, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && c->p < c->end; shift += 7) {
    const unsigned char b = *c->p++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

static unsigned char *read_file(const char *path, size_t limit, size_t *size, char *why, size_t why_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fail(why, why_size, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > limit) {
    fclose(f);
    fail(why, why_size, "'%s' is not a regular file of at most %zu MiB", path, limit >> 20);
    return NULL;
  }
  unsigned char *buf = at_malloc((size_t)st.st_size + 1, "checkpoint index");
  const size_t got = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  if (got != (size_t)st.st_size) {
    free(buf);
    fail(why, why_size, "cannot read '%s'", path);
    return NULL;
  }
  *size = got;
  return buf;
}

/* ---- the table ---- */

typedef struct Table {
  const char *path;
  const unsigned char *data;
  size_t size;
} Table;

/* Block contents at a handle, their trailer checked: uncompressed, CRC good. */
static int read_block(const Table *t, Cursor *handle, Cursor *block, char *why, size_t why_size) {
  uint64_t offset, size;
  if (get_varint(handle, &offset) || get_varint(handle, &size))
    return fail(why, why_size, "'%s': a block handle is malformed (a corrupt index?)", t->path);
  if (offset > t->size || size > t->size - offset || t->size - offset - size < BLOCK_TRAILER)
    return fail(why, why_size, "'%s': a block lies past the end of the file (truncated?)", t->path);
  const unsigned char *b = t->data + offset, *trailer = b + size;
  if (trailer[0] != 0)
    return fail(why, why_size, "'%s': block compression %d; TensorFlow's saver writes uncompressed indexes", t->path,
                trailer[0]);
  const uint32_t crc = at_crc32c(at_crc32c(0, b, size), trailer, 1);
  if (at_crc32c_mask(crc) != at_get_le32(trailer + 1))
    return fail(why, why_size, "'%s': a block's checksum does not match (a corrupt file)", t->path);
  block->p = b;
  block->end = b + size;
  return 0;
}

typedef int (*EntryFn)(const char *key, size_t key_len, Cursor value, void *ctx, char *why, size_t why_size);

/* Calls fn for every entry of a block, keys rebuilt from their shared prefix. */
static int each_entry(const Table *t, Cursor block, EntryFn fn, void *ctx, char *why, size_t why_size) {
  const size_t size = (size_t)(block.end - block.p);
  if (size < 4) return fail(why, why_size, "'%s': a block is too short", t->path);
  const uint32_t restarts = at_get_le32(block.end - 4);
  if ((size_t)restarts > (size - 4) / 4) return fail(why, why_size, "'%s': a block's restart count is corrupt", t->path);
  Cursor c = {block.p, block.end - 4 - 4 * (size_t)restarts};
  char *key = NULL;
  size_t key_len = 0;
  int rc = 0;
  while (rc == 0 && c.p < c.end) {
    uint64_t shared, unshared, value_len;
    if (get_varint(&c, &shared) || get_varint(&c, &unshared) || get_varint(&c, &value_len) || shared > key_len ||
        unshared > (size_t)(c.end - c.p) || value_len > (size_t)(c.end - c.p) - unshared) {
      rc = fail(why, why_size, "'%s': a block entry is malformed (a corrupt index?)", t->path);
      break;
    }
    key = realloc(key, (size_t)(shared + unshared) + 1);
    if (!key) at_fatal("out of memory reading '%s'", t->path);
    memcpy(key + shared, c.p, (size_t)unshared);
    key_len = (size_t)(shared + unshared);
    key[key_len] = '\0';
    c.p += unshared;
    const Cursor value = {c.p, c.p + value_len};
    c.p += value_len;
    rc = fn(key, key_len, value, ctx, why, why_size);
  }
  free(key);
  return rc;
}

/* ---- the protocol buffers ---- */

/* One field: its number and wire type, and its value (varint, fixed) or bytes. */
typedef struct Field {
  uint32_t number, wire;
  uint64_t v;
  Cursor bytes;
} Field;

static int next_field(Cursor *c, Field *f) {
  uint64_t tag;
  if (get_varint(c, &tag)) return -1;
  f->number = (uint32_t)(tag >> 3);
  f->wire = (uint32_t)(tag & 7);
  switch (f->wire) {
    case 0: return get_varint(c, &f->v);
    case 1:
      if (c->end - c->p < 8) return -1;
      f->v = at_get_le64(c->p);
      c->p += 8;
      return 0;
    case 5:
      if (c->end - c->p < 4) return -1;
      f->v = at_get_le32(c->p);
      c->p += 4;
      return 0;
    case 2: {
      uint64_t n;
      if (get_varint(c, &n) || n > (uint64_t)(c->end - c->p)) return -1;
      f->bytes.p = c->p;
      f->bytes.end = c->p + n;
      c->p += n;
      return 0;
    }
    default: return -1;
  }
}

/* TensorShapeProto: repeated Dim dim = 2 { int64 size = 1; string name = 2; } */
static int parse_shape(Cursor c, TfTensorEntry *e) {
  Field f;
  while (c.p < c.end) {
    if (next_field(&c, &f)) return -1;
    if (f.number != 2 || f.wire != 2) continue;
    if (e->ndim == TF_MAX_DIMS) return -1;
    Cursor d = f.bytes;
    int64_t size = 0;
    Field g;
    while (d.p < d.end) {
      if (next_field(&d, &g)) return -1;
      if (g.number == 1 && g.wire == 0) size = (int64_t)g.v;
    }
    if (size < 0) return -1;
    e->dims[e->ndim++] = size;
  }
  return 0;
}

/* BundleEntryProto: dtype = 1, shape = 2, shard_id = 3, offset = 4, size = 5,
 * crc32c = 6 (fixed32), slices = 7 (partitioned variables: refused). */
static int parse_entry(Cursor c, TfTensorEntry *e) {
  Field f;
  while (c.p < c.end) {
    if (next_field(&c, &f)) return -1;
    if (f.number == 1 && f.wire == 0) e->dtype = (int)f.v;
    else if (f.number == 2 && f.wire == 2 && parse_shape(f.bytes, e)) return -1;
    else if (f.number == 3 && f.wire == 0) e->shard = (int)f.v;
    else if (f.number == 4 && f.wire == 0) e->offset = f.v;
    else if (f.number == 5 && f.wire == 0) e->size = f.v;
    else if (f.number == 6 && f.wire == 5) e->masked_crc32c = (uint32_t)f.v;
    else if (f.number == 7) return -2;
  }
  return 0;
}

/* ---- the bundle ---- */

typedef struct Reading {
  const Table *t;
  TfBundle *b;
  int cap, has_header;
} Reading;

static int on_data_entry(const char *key, size_t key_len, Cursor value, void *ctx, char *why, size_t why_size) {
  Reading *r = ctx;
  TfBundle *b = r->b;
  if (key_len == 0) { /* BundleHeaderProto: num_shards = 1, endianness = 2 (0: little) */
    Field f;
    b->n_shards = 1;
    while (value.p < value.end) {
      if (next_field(&value, &f)) return fail(why, why_size, "'%s': the bundle header is malformed", r->t->path);
      if (f.number == 1 && f.wire == 0) b->n_shards = (int)f.v;
      if (f.number == 2 && f.wire == 0 && f.v != 0)
        return fail(why, why_size, "'%s': a big-endian checkpoint; only little-endian ones are read", r->t->path);
    }
    if (b->n_shards < 1 || b->n_shards > 100000)
      return fail(why, why_size, "'%s': the header names %d data shards", r->t->path, b->n_shards);
    r->has_header = 1;
    return 0;
  }
  if (strlen(key) != key_len) return fail(why, why_size, "'%s': a tensor name holds a zero byte", r->t->path);
  if (b->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 64;
    b->entries = realloc(b->entries, sizeof *b->entries * (size_t)r->cap);
    if (!b->entries) at_fatal("out of memory reading '%s'", r->t->path);
  }
  TfTensorEntry *e = &b->entries[b->n];
  memset(e, 0, sizeof *e);
  const int rc = parse_entry(value, e);
  if (rc == -2) return fail(why, why_size, "'%s': tensor '%s' is saved in slices (a partitioned variable): not supported", r->t->path, key);
  if (rc) return fail(why, why_size, "'%s': the entry of tensor '%s' is malformed (a corrupt index?)", r->t->path, key);
  e->name = at_strdup(key);
  b->n++;
  return 0;
}

static int on_index_entry(const char *key, size_t key_len, Cursor value, void *ctx, char *why, size_t why_size) {
  (void)key, (void)key_len;
  Reading *r = ctx;
  Cursor block;
  if (read_block(r->t, &value, &block, why, why_size)) return -1;
  return each_entry(r->t, block, on_data_entry, r, why, why_size);
}

int tf_bundle_open(const char *prefix, TfBundle *b, char *why, size_t why_size) {
  memset(b, 0, sizeof *b);
  char path[4200];
  snprintf(path, sizeof path, "%s.index", prefix);
  size_t size = 0;
  unsigned char *data = read_file(path, MAX_INDEX_BYTES, &size, why, why_size);
  if (!data) return -1;
  Table t = {path, data, size};
  int rc = 0;
  if (size < FOOTER_SIZE || at_get_le64(data + size - 8) != TABLE_MAGIC) {
    rc = fail(why, why_size, "'%s' is not a TensorFlow checkpoint index (no table footer; truncated or another file?)",
              path);
  } else {
    Cursor footer = {data + size - FOOTER_SIZE, data + size - 8}, index;
    uint64_t meta_offset, meta_size;
    Reading r = {&t, b, 0, 0};
    if (get_varint(&footer, &meta_offset) || get_varint(&footer, &meta_size))
      rc = fail(why, why_size, "'%s': the table footer is malformed", path);
    else if (read_block(&t, &footer, &index, why, why_size) == 0)
      rc = each_entry(&t, index, on_index_entry, &r, why, why_size);
    else
      rc = -1;
    if (rc == 0 && !r.has_header) rc = fail(why, why_size, "'%s' has no bundle header: not a TensorFlow checkpoint", path);
    if (rc == 0 && b->n == 0) rc = fail(why, why_size, "'%s' holds no tensor", path);
  }
  free(data);
  if (rc) {
    tf_bundle_free(b);
    return -1;
  }
  b->prefix = at_strdup(prefix);
  return 0;
}

void tf_bundle_free(TfBundle *b) {
  for (int i = 0; i < b->n; i++) free(b->entries[i].name);
  free(b->entries);
  free(b->prefix);
  memset(b, 0, sizeof *b);
}

const TfTensorEntry *tf_bundle_find(const TfBundle *b, const char *name) {
  for (int i = 0; i < b->n; i++)
    if (!strcmp(b->entries[i].name, name)) return &b->entries[i];
  return NULL;
}

float *tf_bundle_read_floats(const TfBundle *b, const TfTensorEntry *e, char *why, size_t why_size) {
  if (e->dtype != TF_DT_FLOAT) {
    fail(why, why_size, "tensor '%s' has TensorFlow dtype %d, not float32", e->name, e->dtype);
    return NULL;
  }
  uint64_t count = 1;
  for (int d = 0; d < e->ndim; d++) count *= (uint64_t)e->dims[d];
  if (count * 4 != e->size || e->shard < 0 || e->shard >= b->n_shards) {
    fail(why, why_size, "tensor '%s': %llu bytes for %llu floats, shard %d of %d (a corrupt index?)", e->name,
         (unsigned long long)e->size, (unsigned long long)count, e->shard, b->n_shards);
    return NULL;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s.data-%05d-of-%05d", b->prefix, e->shard, b->n_shards);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fail(why, why_size, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  unsigned char *bytes = at_malloc((size_t)e->size + 1, "checkpoint tensor");
  const int ok = fseeko(f, (off_t)e->offset, SEEK_SET) == 0 && fread(bytes, 1, (size_t)e->size, f) == e->size;
  fclose(f);
  if (!ok) {
    free(bytes);
    fail(why, why_size, "'%s' ends before tensor '%s' (bytes %llu..%llu): truncated", path, e->name,
         (unsigned long long)e->offset, (unsigned long long)(e->offset + e->size));
    return NULL;
  }
  if (at_crc32c_masked(bytes, (size_t)e->size) != e->masked_crc32c) {
    free(bytes);
    fail(why, why_size, "'%s': the checksum of tensor '%s' does not match (a corrupt file)", path, e->name);
    return NULL;
  }
  float *out = at_malloc(sizeof(float) * (size_t)count + 1, "checkpoint tensor");
  for (uint64_t i = 0; i < count; i++) {
    const uint32_t bits = at_get_le32(bytes + 4 * i);
    memcpy(&out[i], &bits, 4);
  }
  free(bytes);
  return out;
}
