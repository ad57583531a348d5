/* Spectrogram caches (layout in cache.h and README.md).
 *
 * Reading: every dataset is checked at open (shapes, dtypes, counts, label
 * ranges) and everything but the features is loaded into memory. Features of
 * a contiguous, unfiltered, little-endian dataset are read with pread() at the
 * dataset's file offset into a pooled staging buffer and converted to float32
 * there, so reader threads never touch HDF5; any other layout (chunked,
 * compressed, big-endian) goes through H5Dread of one example's hyperslab
 * under a mutex.
 *
 * float16 on disk is IEEE binary16 (h5py's "<f2": a float type of size 2 with
 * fields 15/10/5/0/10 and exponent bias 15). HDF5 1.10 has no predefined half
 * type, so the conversions are ours: half -> float exact (subnormals, inf, NaN
 * kept), float -> half round-to-nearest-even with overflow to inf. */
#include "data/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/scalar_math.h"
#include "core/files.h"
#include "io/h5_guard.h"
#include "io/h5_util.h"

/* HDF5 calls made here are serialised by this lock (the serial library need
 * not be built thread-safe; Debian's is, and then this costs nothing). */
static pthread_mutex_t g_h5_lock;
static pthread_once_t g_h5_lock_once = PTHREAD_ONCE_INIT;

/* Recursive: the fuzz targets catch fatal errors with longjmp (see
 * at_set_fatal_hook), possibly while the lock is held; their next call from
 * the same thread must not deadlock. */
static void h5_lock_init(void) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&g_h5_lock, &attr);
  pthread_mutexattr_destroy(&attr);
}

static void h5_lock(void) {
  pthread_once(&g_h5_lock_once, h5_lock_init);
  pthread_mutex_lock(&g_h5_lock);
}


struct CacheImpl {
  int fd;            /* >= 0: the pread path */
  long long offset;  /* byte offset of /features in the file (pread path) */
  hid_t file, features, mem_half; /* the HDF5 path (file < 0 on the pread path) */
  size_t example_bytes;
  pthread_mutex_t lock; /* staging pool */
  void **pool;
  int pool_n, pool_cap;
};

/* ------------------------------------------------------------------------ */
/* float16 <-> float32                                                        */

static void halves_to_floats(const uint16_t *src, float *dst, size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#endif
  for (; i < n; i++) dst[i] = at_half_to_float(src[i]);
}

static void floats_to_halves(const float *src, uint16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = at_float_to_half(src[i]);
}

/* IEEE binary16, little-endian, as h5py writes it. */
static hid_t half_type(void) {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  if (t < 0 || H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0)
    at_fatal("HDF5: cannot build the float16 datatype");
  return t;
}

static int is_ieee_half(hid_t t) {
  size_t spos, epos, esize, mpos, msize;
  if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 2) return 0;
  if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return 0;
  return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && H5Tget_ebias(t) == 15 &&
         H5Tget_offset(t) == 0 && H5Tget_precision(t) == 16;
}

/* ------------------------------------------------------------------------ */
/* reading helpers                                                            */

static void describe_type(hid_t t, char *buf, size_t n) {
  size_t bits = 8 * H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_INTEGER: snprintf(buf, n, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits); break;
    case H5T_FLOAT: snprintf(buf, n, "float%zu", bits); break;
    case H5T_STRING: snprintf(buf, n, "string"); break;
    case H5T_ENUM: snprintf(buf, n, "enum (bool?)"); break;
    case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
    default: snprintf(buf, n, "a non-numeric type"); break;
  }
}

static void describe_dims(const hsize_t *dims, int ndim, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%llu", d ? ", " : "", (unsigned long long)dims[d]);
  if (k < n) snprintf(buf + k, n - k, "]");
}

typedef struct Ds {
  hid_t id, type, space;
  int ndim;
  hsize_t dims[8];
} Ds;

/* Opens /name; NULL-like (id < 0) when absent and optional. */
static Ds open_ds(const char *path, hid_t file, const char *name, int required) {
  Ds d = {.id = -1, .type = -1, .space = -1};
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    if (required) at_fatal("cache '%s': no dataset /%s", path, name);
    return d;
  }
  d.id = H5Dopen2(file, name, H5P_DEFAULT);
  if (d.id < 0) at_fatal("cache '%s': /%s is not a dataset or cannot be opened (corrupt file?)", path, name);
  d.type = H5Dget_type(d.id);
  d.space = H5Dget_space(d.id);
  d.ndim = H5Sget_simple_extent_ndims(d.space);
  if (d.ndim < 0 || d.ndim > 8) at_fatal("cache '%s': /%s has an unsupported dataspace", path, name);
  H5Sget_simple_extent_dims(d.space, d.dims, NULL);
  return d;
}

static void close_ds(Ds *d) {
  if (d->id < 0) return;
  H5Tclose(d->type);
  H5Sclose(d->space);
  H5Dclose(d->id);
  d->id = -1;
}

static void expect_shape(const char *path, const Ds *d, const char *name, int ndim, const hsize_t *want,
                         const char *meaning) {
  int ok = d->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = d->dims[i] == want[i];
  if (!ok) {
    char got[128], exp[128];
    describe_dims(d->dims, d->ndim, got, sizeof got);
    describe_dims(want, ndim, exp, sizeof exp);
    at_fatal("cache '%s': /%s has shape %s, expected %s (%s)", path, name, got, exp, meaning);
  }
}

static void expect_integer(const char *path, const Ds *d, const char *name, const char *want) {
  if (H5Tget_class(d->type) != H5T_INTEGER) {
    char got[64];
    describe_type(d->type, got, sizeof got);
    at_fatal("cache '%s': /%s has dtype %s, expected %s", path, name, got, want);
  }
}

static int32_t *read_int32(const char *path, hid_t file, const char *name, long n, int required) {
  Ds d = open_ds(path, file, name, required);
  if (d.id < 0) return NULL;
  hsize_t want[1] = {(hsize_t)n};
  expect_shape(path, &d, name, 1, want, "one value per example");
  expect_integer(path, &d, name, "int32");
  int32_t *out = at_malloc(sizeof(int32_t) * (size_t)n, name);
  if (H5Dread(d.id, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    at_fatal("cache '%s': cannot read /%s (corrupt file?)", path, name);
  close_ds(&d);
  return out;
}

/* A required 1-D dataset of strings; *count = its length. */
static char **read_strings(const char *path, hid_t file, const char *name, long *count) {
  char **out = h5_read_strings(file, name, "cache", path, count);
  if (!out) at_fatal("cache '%s': no dataset /%s", path, name);
  return out;
}

/* A numeric root attribute (0 when absent). */
static double attr_number(const char *path, hid_t file, const char *name, int required, int *present) {
  if (present) *present = 0;
  if (H5Aexists(file, name) <= 0) {
    if (required) at_fatal("cache '%s': the root attribute '%s' is missing", path, name);
    return 0;
  }
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  H5T_class_t cls = H5Tget_class(type);
  if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || H5Sget_simple_extent_npoints(space) != 1)
    at_fatal("cache '%s': the root attribute '%s' must be a single number", path, name);
  double v = 0;
  if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) < 0) at_fatal("cache '%s': cannot read the attribute '%s'", path, name);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  if (present) *present = 1;
  return v;
}

static void attr_text(const char *path, hid_t file, const char *name, char *dst, size_t n) {
  char *v = h5_read_string_attr(file, name, path);
  snprintf(dst, n, "%s", v ? v : "");
  free(v);
}

static void read_front_end(const char *path, hid_t file, CacheFrontEnd *fe) {
  memset(fe, 0, sizeof *fe);
  fe->sample_rate = attr_number(path, file, "sample_rate", 0, NULL);
  fe->n_fft = (int)attr_number(path, file, "n_fft", 0, NULL);
  fe->hop = (int)attr_number(path, file, "hop", 0, NULL);
  attr_text(path, file, "window", fe->window, sizeof fe->window);
  attr_text(path, file, "representation", fe->representation, sizeof fe->representation);
  fe->n_bins = (int)attr_number(path, file, "n_bins", 0, NULL);
  fe->fmin = attr_number(path, file, "fmin", 0, NULL);
  fe->fmax = attr_number(path, file, "fmax", 0, NULL);
  attr_text(path, file, "mel_scale", fe->mel_scale, sizeof fe->mel_scale);
  attr_text(path, file, "mel_norm", fe->mel_norm, sizeof fe->mel_norm);
  attr_text(path, file, "compression", fe->compression, sizeof fe->compression);
  attr_text(path, file, "frontend_details", fe->details, sizeof fe->details);
}

/* ------------------------------------------------------------------------ */
/* open / close                                                               */

static void open_features(Cache *c, hid_t file, int *fast, long long *offset) {
  const char *path = c->path;
  Ds d = open_ds(path, file, "features", 1);
  if (d.ndim != 3) {
    char got[128];
    describe_dims(d.dims, d.ndim, got, sizeof got);
    at_fatal("cache '%s': /features has shape %s, expected 3-D [examples, bins, frames]", path, got);
  }
  char tname[64];
  describe_type(d.type, tname, sizeof tname);
  if (H5Tget_class(d.type) != H5T_FLOAT || (H5Tget_size(d.type) != 2 && H5Tget_size(d.type) != 4))
    at_fatal("cache '%s': /features has dtype %s, expected float16 or float32", path, tname);
  if (H5Tget_size(d.type) == 2 && !is_ieee_half(d.type))
    at_fatal("cache '%s': /features is a 16-bit float type that is not IEEE float16", path);
  for (int i = 0; i < 3; i++)
    if (d.dims[i] > INT_MAX) at_fatal("cache '%s': /features is too large (dimension %d is %llu)", path, i, (unsigned long long)d.dims[i]);
  if (d.dims[0] == 0) at_fatal("cache '%s' has no examples (/features is [0, %llu, %llu]); is the split empty?", path,
                              (unsigned long long)d.dims[1], (unsigned long long)d.dims[2]);
  if (d.dims[1] == 0 || d.dims[2] == 0)
    at_fatal("cache '%s': /features has shape [%llu, %llu, %llu]: examples without bins or frames", path,
             (unsigned long long)d.dims[0], (unsigned long long)d.dims[1], (unsigned long long)d.dims[2]);
  if (d.dims[1] * d.dims[2] > (hsize_t)INT_MAX / 4)
    at_fatal("cache '%s': /features has %llu x %llu values per example, more than auratag handles (corrupt file?)", path,
             (unsigned long long)d.dims[1], (unsigned long long)d.dims[2]);
  c->n = (int)d.dims[0];
  c->bins = (int)d.dims[1];
  c->frames = (int)d.dims[2];
  c->feature_bytes = (int)H5Tget_size(d.type);

  /* The pread path: contiguous, no filters or external files, little-endian IEEE, allocated. */
  hid_t dcpl = H5Dget_create_plist(d.id);
  H5D_layout_t layout = H5Pget_layout(dcpl);
  int contiguous = layout == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl) == 0 && H5Pget_external_count(dcpl) == 0;
  if (layout == H5D_CHUNKED) {
    /* Every chunk must be stored: a missing one is a truncated write (or a
     * corrupt shape) that HDF5 would silently read as fill values. */
    hsize_t chunk[3], nchunks = 0, want = 1;
    if (H5Pget_chunk(dcpl, 3, chunk) != 3) at_fatal("cache '%s': /features has an unreadable chunk layout (corrupt file?)", path);
    for (int i = 0; i < 3; i++) want *= (d.dims[i] + chunk[i] - 1) / chunk[i];
    if (H5Dget_num_chunks(d.id, d.space, &nchunks) < 0)
      at_fatal("cache '%s': cannot read the chunk index of /features (truncated or corrupt?)", path);
    if (nchunks != want)
      at_fatal("cache '%s' is truncated or corrupt: /features stores %llu of its %llu chunks (examples never written?)",
               path, (unsigned long long)nchunks, (unsigned long long)want);
  }
  H5Pclose(dcpl);
  int native = c->feature_bytes == 2 ? H5Tget_order(d.type) == H5T_ORDER_LE : H5Tequal(d.type, H5T_IEEE_F32LE) > 0;
  haddr_t addr = H5Dget_offset(d.id);
  *fast = contiguous && native && addr != HADDR_UNDEF;
  *offset = *fast ? (long long)addr : -1;
  c->impl->features = d.id; /* kept open for the HDF5 path */
  H5Tclose(d.type);
  H5Sclose(d.space);
}

/* HDF5 trusts the lengths it finds in a file's metadata: a corrupt global
 * heap (the variable-length strings) makes H5Aread / H5Dread copy out of
 * bounds and crash, or loop. While a cache is being opened, either becomes
 * the usual one-line error (io/h5_guard.h). */
static const char k_cache_advice[] = "write it again (auratag prep, or auratag synth)";

/* The root attributes format and version: an auratag cache this build reads. */
static void check_format(const char *path, hid_t file) {
  char *format = h5_read_string_attr(file, "format", path);
  if (!format || strcmp(format, AT_CACHE_FORMAT) != 0)
    at_fatal("'%s' is not an auratag cache (root attribute format = '%s', expected '%s')", path,
             format ? format : "(missing)", AT_CACHE_FORMAT);
  free(format);
  int has_version;
  double version = attr_number(path, file, "version", 0, &has_version);
  if (!has_version) at_fatal("cache '%s': the root attribute 'version' is missing", path);
  if (version != AT_CACHE_VERSION)
    at_fatal("cache '%s' has cache format version %g; this auratag reads version %d", path, version, AT_CACHE_VERSION);
}

/* The tags, then the labels against them (multi- or single-label). */
static void read_tags_and_labels(Cache *c, const char *path, hid_t file) {
  const long n = c->n;
  long n_tags;
  c->tags = read_strings(path, file, "tags", &n_tags);
  int has_multi = H5Lexists(file, "labels", H5P_DEFAULT) > 0, has_single = H5Lexists(file, "label", H5P_DEFAULT) > 0;
  if (has_multi && has_single)
    at_fatal("cache '%s' has both /labels (multi-label) and /label (single-label); keep one", path);
  if (!has_multi && !has_single)
    at_fatal("cache '%s' has neither /labels ([N, n_tags] uint8, multi-label) nor /label ([N] int32, single-label)", path);
  if (n_tags < 1) at_fatal("cache '%s': /tags is empty; it must name the %s", path, has_multi ? "tags" : "classes");
  if (n_tags > INT_MAX / 2) at_fatal("cache '%s': /tags has %ld entries", path, n_tags);
  c->n_tags = (int)n_tags;
  if (has_multi) {
    c->kind = CACHE_MULTI_LABEL;
    Ds d = open_ds(path, file, "labels", 1);
    if (d.ndim != 2 || d.dims[0] != (hsize_t)n) {
      hsize_t want[2] = {(hsize_t)n, (hsize_t)n_tags};
      expect_shape(path, &d, "labels", 2, want, "one row per example of /features");
    }
    if (d.dims[1] != (hsize_t)n_tags)
      at_fatal("cache '%s': /labels has %llu columns but /tags names %ld tags", path, (unsigned long long)d.dims[1], n_tags);
    expect_integer(path, &d, "labels", "uint8 0/1");
    c->labels = at_malloc((size_t)n * (size_t)n_tags, "labels");
    if (H5Dread(d.id, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->labels) < 0)
      at_fatal("cache '%s': cannot read /labels (corrupt file?)", path);
    for (size_t i = 0; i < (size_t)n * (size_t)n_tags; i++)
      if (c->labels[i] > 1)
        at_fatal("cache '%s': /labels[%zu, %zu] = %d; labels must be 0 or 1", path, i / (size_t)n_tags,
                 i % (size_t)n_tags, c->labels[i]);
    close_ds(&d);
  } else {
    c->kind = CACHE_SINGLE_LABEL;
    c->label = read_int32(path, file, "label", n, 1);
    for (long i = 0; i < n; i++)
      if (c->label[i] < 0 || c->label[i] >= n_tags)
        at_fatal("cache '%s': /label[%ld] = %d is not a class index: /tags names %ld classes (0 .. %ld)", path, i,
                 c->label[i], n_tags, n_tags - 1);
  }
}

/* How examples will be read: straight from the file (contiguous, not
 * compressed: `fast`, at byte `offset`) or through HDF5 (the file stays open). */
static void setup_reads(Cache *c, hid_t file, int fast, long long offset) {
  CacheImpl *m = c->impl;
  const char *path = c->path;
  const long n = c->n;
  m->example_bytes = (size_t)c->bins * (size_t)c->frames * (size_t)c->feature_bytes;
  if (fast) {
    H5Dclose(m->features);
    m->features = -1;
    H5Fclose(file);
    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (m->fd < 0) at_fatal("cannot open cache '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(m->fd, &st) != 0) at_fatal("cannot stat cache '%s': %s", path, strerror(errno));
    unsigned long long need = (unsigned long long)offset + (unsigned long long)n * m->example_bytes;
    if ((unsigned long long)st.st_size < need)
      at_fatal("cache '%s' is truncated or corrupt: /features ends at byte %llu but the file has %llu bytes", path, need,
               (unsigned long long)st.st_size);
    m->offset = offset;
  } else {
    m->file = file;
    if (c->feature_bytes == 2) m->mem_half = half_type();
  }
}

Cache *cache_open(const char *path) {
  h5_lock();
  /* the metadata, tags, labels and ids are read under the corrupt-file guard */
  hid_t file = (hid_t)h5_open_guarded(path, "cache", k_cache_advice);

  check_format(path, file);

  Cache *c = at_calloc(1, sizeof *c, "cache");
  c->path = at_strdup(path);
  c->impl = at_calloc(1, sizeof *c->impl, "cache");
  CacheImpl *m = c->impl;
  m->fd = -1;
  m->file = -1;
  m->features = -1;
  m->mem_half = -1;
  pthread_mutex_init(&m->lock, NULL);
  read_front_end(path, file, &c->front_end);

  int fast;
  long long offset;
  open_features(c, file, &fast, &offset);
  const long n = c->n;

  read_tags_and_labels(c, path, file);
  long n_ids;
  c->ids = read_strings(path, file, "ids", &n_ids);
  if (n_ids != n) at_fatal("cache '%s': /ids has %ld entries but /features has %ld examples", path, n_ids, n);
  c->song = read_int32(path, file, "song", n, 0);
  c->fold = read_int32(path, file, "fold", n, 0);

  setup_reads(c, file, fast, offset);
  h5_guard_end();
  pthread_mutex_unlock(&g_h5_lock);
  return c;
}

void cache_close(Cache *c) {
  if (!c) return;
  CacheImpl *m = c->impl;
  if (m->fd >= 0) close(m->fd);
  if (m->file >= 0) {
    h5_lock();
    if (m->mem_half >= 0) H5Tclose(m->mem_half);
    H5Dclose(m->features);
    H5Fclose(m->file);
    pthread_mutex_unlock(&g_h5_lock);
  }
  for (int i = 0; i < m->pool_n; i++) at_free_aligned(m->pool[i]);
  free(m->pool);
  pthread_mutex_destroy(&m->lock);
  free(m);
  for (int i = 0; i < c->n_tags; i++) free(c->tags[i]);
  free(c->tags);
  for (int i = 0; i < c->n; i++) free(c->ids[i]);
  free(c->ids);
  free(c->labels);
  free(c->label);
  free(c->song);
  free(c->fold);
  free(c->path);
  free(c);
}

/* ------------------------------------------------------------------------ */
/* reading examples                                                           */

static void *stage_get(CacheImpl *m) {
  void *p = NULL;
  pthread_mutex_lock(&m->lock);
  if (m->pool_n > 0) p = m->pool[--m->pool_n];
  pthread_mutex_unlock(&m->lock);
  return p ? p : at_malloc_aligned(m->example_bytes, "a staging buffer for cache reads");
}

static void stage_put(CacheImpl *m, void *p) {
  pthread_mutex_lock(&m->lock);
  if (m->pool_n == m->pool_cap) {
    m->pool_cap = m->pool_cap ? 2 * m->pool_cap : 8;
    m->pool = at_realloc(m->pool, sizeof(void *) * (size_t)m->pool_cap, "staging pool");
  }
  m->pool[m->pool_n++] = p;
  pthread_mutex_unlock(&m->lock);
}

static void pread_full(const Cache *c, int index, void *dst, size_t bytes, long long offset) {
  char *p = dst;
  while (bytes > 0) {
    ssize_t got = pread(c->impl->fd, p, bytes, (off_t)offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) at_fatal("cache '%s': cannot read example %d: %s", c->path, index, strerror(errno));
    if (got == 0)
      at_fatal("cache '%s': short read of example %d at byte %lld (was the file truncated while in use?)", c->path,
               index, offset);
    p += got;
    bytes -= (size_t)got;
    offset += got;
  }
}

void cache_read(Cache *c, int index, int start, int count, float *dst) {
  if (index < 0 || index >= c->n) at_fatal("cache '%s': example %d does not exist (it has %d)", c->path, index, c->n);
  if (start < 0 || count < 1 || count > c->frames - start)
    at_fatal("cache '%s': frames [%d, %d) of example %d are outside its %d frames", c->path, start, start + count,
             index, c->frames);
  CacheImpl *m = c->impl;
  const size_t B = (size_t)c->bins, F = (size_t)c->frames, fb = (size_t)c->feature_bytes;
  if (m->fd >= 0) {
    const long long off = m->offset + (long long)(((size_t)index * B * F + (size_t)start) * fb);
    const size_t span = ((B - 1) * F + (size_t)count) * fb;
    if (fb == 4 && (size_t)count == F) {
      pread_full(c, index, dst, span, off);
      return;
    }
    void *stage = stage_get(m);
    pread_full(c, index, stage, span, off);
    for (size_t b = 0; b < B; b++) {
      if (fb == 2) halves_to_floats((const uint16_t *)stage + b * F, dst + b * (size_t)count, (size_t)count);
      else memcpy(dst + b * (size_t)count, (const float *)stage + b * F, sizeof(float) * (size_t)count);
    }
    stage_put(m, stage);
    return;
  }
  /* HDF5 path: the hyperslab [index, :, start:start+count] */
  void *stage = fb == 2 ? stage_get(m) : NULL;
  h5_lock();
  h5_quiet(); /* the error stack is per thread in thread-safe builds */
  hid_t fspace = H5Dget_space(m->features);
  hsize_t f0[3] = {(hsize_t)index, 0, (hsize_t)start}, fn[3] = {1, B, (hsize_t)count};
  hsize_t mn[1] = {B * (hsize_t)count};
  hid_t mspace = H5Screate_simple(1, mn, NULL);
  int ok = fspace >= 0 && mspace >= 0 && H5Sselect_hyperslab(fspace, H5S_SELECT_SET, f0, NULL, fn, NULL) >= 0 &&
           H5Dread(m->features, fb == 2 ? m->mem_half : H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT,
                   fb == 2 ? stage : (void *)dst) >= 0;
  H5Sclose(mspace);
  H5Sclose(fspace);
  pthread_mutex_unlock(&g_h5_lock);
  if (!ok) at_fatal("cache '%s': cannot read example %d from /features (truncated or corrupt file?)", c->path, index);
  if (fb == 2) {
    halves_to_floats(stage, dst, B * (size_t)count);
    stage_put(m, stage);
  }
}

/* ------------------------------------------------------------------------ */
/* writing                                                                    */

struct CacheWriter {
  char *path, *tmp;
  CacheSpec spec;
  hid_t file, features, mem_type;
  uint8_t *labels, *written;
  int32_t *label, *song, *fold;
  char **ids;
  uint16_t *halves;
};


static void write_dataset(CacheWriter *w, const char *name, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims,
                          const void *data) {
  hid_t space = H5Screate_simple(ndim, dims, NULL);
  hid_t ds = H5Dcreate2(w->file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    at_fatal("cannot write /%s of '%s' (is the disk full?)", name, w->tmp);
  H5Dclose(ds);
  H5Sclose(space);
}

/* What a cache writer refuses to write. */
static void check_spec(const char *path, const CacheSpec *spec) {
  if (spec->n < 1) at_fatal("cannot write cache '%s': it would have no examples", path);
  if (spec->bins < 1 || spec->frames < 1)
    at_fatal("cannot write cache '%s': examples of %d bins x %d frames", path, spec->bins, spec->frames);
  if (spec->feature_bytes != 2 && spec->feature_bytes != 4)
    at_fatal("cannot write cache '%s': feature_bytes must be 2 (float16) or 4 (float32), not %d", path,
             spec->feature_bytes);
  if (spec->n_tags < 1 || !spec->tags) at_fatal("cannot write cache '%s': no tag or class names", path);
  for (int i = 0; i < spec->n_tags; i++)
    if (!spec->tags[i]) at_fatal("cannot write cache '%s': tag %d has no name", path, i);
  if (spec->deflate < 0 || spec->deflate > 9) at_fatal("cannot write cache '%s': deflate level %d (0-9)", path, spec->deflate);
}

/* The front end's description, as root attributes (read back by read_front_end). */
static void write_front_end(hid_t file, const CacheFrontEnd *fe) {
  h5_write_double_attr(file, "sample_rate", fe->sample_rate);
  h5_write_int_attr(file, "n_fft", fe->n_fft);
  h5_write_int_attr(file, "hop", fe->hop);
  h5_write_string_attr(file, "window", fe->window);
  h5_write_string_attr(file, "representation", fe->representation);
  h5_write_int_attr(file, "n_bins", fe->n_bins);
  h5_write_double_attr(file, "fmin", fe->fmin);
  h5_write_double_attr(file, "fmax", fe->fmax);
  h5_write_string_attr(file, "mel_scale", fe->mel_scale);
  h5_write_string_attr(file, "mel_norm", fe->mel_norm);
  h5_write_string_attr(file, "compression", fe->compression);
  if (fe->details[0]) h5_write_string_attr(file, "frontend_details", fe->details);
}

/* /features [n, bins, frames]: contiguous and allocated up front (so readers can
 * read it straight from the file), or chunked per example when asked or deflated. */
static void create_features(CacheWriter *w, const CacheSpec *spec) {
  hid_t ftype = spec->feature_bytes == 2 ? half_type() : H5Tcopy(H5T_IEEE_F32LE);
  w->mem_type = ftype; /* we convert to float16 ourselves: memory type = file type */
  hsize_t dims[3] = {(hsize_t)spec->n, (hsize_t)spec->bins, (hsize_t)spec->frames};
  hid_t space = H5Screate_simple(3, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (spec->chunked || spec->deflate) {
    hsize_t chunk[3] = {1, (hsize_t)spec->bins, (hsize_t)spec->frames};
    H5Pset_chunk(dcpl, 3, chunk);
    if (spec->deflate) {
      H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, (unsigned)spec->deflate);
    }
  } else {
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  }
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  w->features = H5Dcreate2(w->file, "features", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (w->features < 0) at_fatal("cannot create /features in '%s' (is the disk full?)", w->tmp);
  H5Pclose(dcpl);
  H5Sclose(space);
}

CacheWriter *cache_writer_create(const char *path, const CacheSpec *spec) {
  check_spec(path, spec);

  CacheWriter *w = at_calloc(1, sizeof *w, "cache writer");
  w->path = at_strdup(path);
  size_t len = strlen(path) + 5;
  w->tmp = at_malloc(len, "path");
  snprintf(w->tmp, len, "%s.tmp", path);
  at_make_parent_dirs(path);
  w->spec = *spec;
  w->spec.tags = NULL;
  const size_t n = (size_t)spec->n, per = (size_t)spec->bins * (size_t)spec->frames;
  w->written = at_calloc(n, 1, "cache writer");
  if (spec->kind == CACHE_MULTI_LABEL) w->labels = at_calloc(n * (size_t)spec->n_tags, 1, "labels");
  else w->label = at_calloc(n, sizeof(int32_t), "labels");
  if (spec->has_song) w->song = at_calloc(n, sizeof(int32_t), "song");
  if (spec->has_fold) w->fold = at_calloc(n, sizeof(int32_t), "fold");
  w->ids = at_calloc(n, sizeof(char *), "ids");
  if (spec->feature_bytes == 2) w->halves = at_malloc(sizeof(uint16_t) * per, "float16 conversion");

  h5_lock();
  h5_quiet();
  /* The 1.8 file format (HDF5 >= 1.8, any h5py): superblock, object headers
   * and attribute heaps carry checksums, so most corruption is reported by
   * HDF5 instead of being read as garbage. */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (w->file < 0) at_fatal("cannot create '%s' (does the folder exist and is it writable?)", w->tmp);
  at_temp_file_register(w->tmp); /* a fatal error removes the partial file */
  h5_write_string_attr(w->file, "format", AT_CACHE_FORMAT);
  h5_write_int_attr(w->file, "version", AT_CACHE_VERSION);
  write_front_end(w->file, &spec->front_end);
  h5_write_strings(w->file, "tags", spec->tags, spec->n_tags, w->tmp);

  create_features(w, spec);
  pthread_mutex_unlock(&g_h5_lock);
  return w;
}

void cache_writer_put(CacheWriter *w, int index, const float *features, const uint8_t *labels, int32_t label,
                      const char *id, int32_t song, int32_t fold) {
  const CacheSpec *s = &w->spec;
  if (index < 0 || index >= s->n) at_fatal("cache writer '%s': example %d out of range (n = %d)", w->path, index, s->n);
  if (s->kind == CACHE_MULTI_LABEL) {
    if (!labels) at_fatal("cache writer '%s': example %d has no labels", w->path, index);
    for (int k = 0; k < s->n_tags; k++) w->labels[(size_t)index * (size_t)s->n_tags + (size_t)k] = labels[k] ? 1 : 0;
  } else {
    if (label < 0 || label >= s->n_tags)
      at_fatal("cache writer '%s': example %d has class %d; there are %d classes", w->path, index, label, s->n_tags);
    w->label[index] = label;
  }
  if (w->song) w->song[index] = song;
  if (w->fold) w->fold[index] = fold;
  free(w->ids[index]);
  if (id) w->ids[index] = at_strdup(id);
  else {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", index);
    w->ids[index] = at_strdup(buf);
  }
  const size_t per = (size_t)s->bins * (size_t)s->frames;
  const void *src = features;
  if (s->feature_bytes == 2) {
    floats_to_halves(features, w->halves, per);
    src = w->halves;
  }
  h5_lock();
  hid_t fspace = H5Dget_space(w->features);
  hsize_t f0[3] = {(hsize_t)index, 0, 0}, fn[3] = {1, (hsize_t)s->bins, (hsize_t)s->frames}, mn[1] = {per};
  hid_t mspace = H5Screate_simple(1, mn, NULL);
  int ok = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, f0, NULL, fn, NULL) >= 0 &&
           H5Dwrite(w->features, w->mem_type, mspace, fspace, H5P_DEFAULT, src) >= 0;
  H5Sclose(mspace);
  H5Sclose(fspace);
  pthread_mutex_unlock(&g_h5_lock);
  if (!ok) at_fatal("cannot write example %d to '%s' (is the disk full?)", index, w->tmp);
  w->written[index] = 1;
}

void cache_writer_finish(CacheWriter *w) {
  const CacheSpec *s = &w->spec;
  for (int i = 0; i < s->n; i++)
    if (!w->written[i]) at_fatal("cache writer '%s': example %d of %d was never written", w->path, i, s->n);
  h5_lock();
  h5_quiet();
  hsize_t dims[2] = {(hsize_t)s->n, (hsize_t)s->n_tags};
  if (s->kind == CACHE_MULTI_LABEL) write_dataset(w, "labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, dims, w->labels);
  else write_dataset(w, "label", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, w->label);
  h5_write_strings(w->file, "ids", (const char *const *)w->ids, s->n, w->tmp);
  if (w->song) write_dataset(w, "song", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, w->song);
  if (w->fold) write_dataset(w, "fold", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, w->fold);
  H5Tclose(w->mem_type);
  H5Dclose(w->features);
  if (H5Fclose(w->file) < 0) at_fatal("cannot finish writing '%s' (is the disk full?)", w->tmp);
  pthread_mutex_unlock(&g_h5_lock);
  h5_commit_file(w->tmp, w->path);
  at_temp_file_clear();
  for (int i = 0; i < s->n; i++) free(w->ids[i]);
  free(w->ids);
  free(w->written);
  free(w->labels);
  free(w->label);
  free(w->song);
  free(w->fold);
  free(w->halves);
  free(w->path);
  free(w->tmp);
  free(w);
}
