/* Caches and the loader:
 *  - round trips through the writer: float16 / float32, multi- / single-label,
 *    with and without song and fold, contiguous (pread path) and chunked or
 *    compressed (HDF5 path) layouts, which must read identically;
 *  - float16: all 65,536 bit patterns decode exactly (against ldexp and
 *    against HDF5's own conversion), and float32 -> float16 rounds to nearest
 *    even at every midpoint between neighbouring halves;
 *  - the loader: each example once per epoch, permutations per epoch that the
 *    seed reproduces, crops that depend on (seed, epoch, row) only, not on
 *    threads or prefetch depth, seek reproducing the remaining batches, the
 *    last partial batch, equally spaced evaluation crops, subsets;
 *  - bad input: each case exits with status 1 and its own message (run in a
 *    forked child; stderr captured). */
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/cache.h"
#include "test_util.h"
#include "data/loader.h"
#include "data/synth.h"


static char g_dir[256];

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
  return buf[k];
}

/* ------------------------------------------------------------------------ */
/* float16 references                                                         */

static double ref_half(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

/* Nearest half, ties to even, by search over the (monotone) positive halves. */
static uint16_t ref_encode(float f) {
  uint16_t sign = signbit(f) ? 0x8000 : 0;
  if (isnan(f)) return sign | 0x7e00;
  double a = fabs((double)f);
  if (isinf(f)) return sign | 0x7c00;
  int lo = 0, hi = 0x7bff; /* largest h with ref(h) <= a */
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (ref_half((uint16_t)mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  int h = lo;
  double below = ref_half((uint16_t)h), above = h == 0x7bff ? 65536.0 : ref_half((uint16_t)(h + 1));
  double d1 = a - below, d2 = above - a;
  int r = d1 < d2 ? h : d2 < d1 ? h + 1 : ((h & 1) ? h + 1 : h);
  return (uint16_t)(sign | r);
}

static hid_t half_type(void) {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_ebias(t, 15);
  return t;
}

/* ------------------------------------------------------------------------ */
/* raw HDF5 files: valid by default, each knob breaks one thing               */

typedef struct Raw {
  const char *format; /* NULL: omitted */
  int version;        /* -1: omitted */
  hid_t ftype;        /* features file type (0: float16) */
  int ndim;
  hsize_t fdims[3];
  int chunked, big_endian;
  int multi, single, n_tags_names, n_ids;
  hsize_t ldims[2];   /* labels (multi) */
  hid_t ltype;        /* labels type (0: uint8) */
  int label_value;    /* single-label: the class of every example */
  int labels_value;   /* multi-label: the value of every label */
  int song_len;       /* -1: none */
  const void *data;   /* features, raw in the file type (NULL: zeros) */
  int first_only;     /* write example 0 only (chunked: the others' chunks are missing) */
  int fixed_strings;  /* tags and ids as fixed-length, NUL-padded strings (numpy 'S') */
} Raw;

static Raw raw_default(int n, int bins, int frames, int n_tags) {
  Raw r = {.format = AT_CACHE_FORMAT, .version = 1, .ndim = 3, .fdims = {n, bins, frames}, .multi = 1,
           .n_tags_names = n_tags, .n_ids = n, .ldims = {n, n_tags}, .song_len = -1};
  return r;
}

static void write_vlen_strings(hid_t f, const char *name, int n, const char *prefix, int fixed) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, fixed ? 8 : H5T_VARIABLE);
  if (fixed) H5Tset_strpad(t, H5T_STR_NULLPAD);
  else H5Tset_cset(t, H5T_CSET_UTF8);
  char **s = calloc((size_t)n + 1, sizeof(char *));
  char *flat = calloc((size_t)n + 1, 8);
  for (int i = 0; i < n; i++) {
    s[i] = malloc(32);
    snprintf(s[i], 32, "%s%d", prefix, i);
    memcpy(flat + 8 * i, s[i], strlen(s[i]) < 8 ? strlen(s[i]) : 8); /* no NUL when 8 long */
  }
  hsize_t d[1] = {(hsize_t)n};
  hid_t sp = H5Screate_simple(1, d, NULL);
  hid_t ds = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (n) H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, fixed ? (void *)flat : (void *)s);
  free(flat);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
  for (int i = 0; i < n; i++) free(s[i]);
  free(s);
}

static void write_fill(hid_t f, const char *name, hid_t ftype, hid_t mtype, size_t esize, int ndim, const hsize_t *dims,
                       int value) {
  size_t count = 1;
  for (int i = 0; i < ndim; i++) count *= dims[i];
  void *buf = calloc(count + 1, esize);
  for (size_t i = 0; i < count; i++) {
    if (esize == 1) ((uint8_t *)buf)[i] = (uint8_t)value;
    else if (esize == 4) ((int32_t *)buf)[i] = value;
  }
  hid_t sp = H5Screate_simple(ndim, dims, NULL);
  hid_t ds = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (count) H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(ds);
  H5Sclose(sp);
  free(buf);
}

static void make_raw(const char *path, const Raw *r) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (r->format) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &r->format);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  }
  if (r->version >= 0) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    long long v = r->version;
    H5Awrite(a, H5T_NATIVE_LLONG, &v);
    H5Aclose(a);
    H5Sclose(sp);
  }
  hid_t ftype = r->ftype ? H5Tcopy(r->ftype) : half_type();
  if (r->big_endian) H5Tset_order(ftype, H5T_ORDER_BE);
  size_t count = 1;
  for (int i = 0; i < r->ndim; i++) count *= r->fdims[i];
  hid_t sp = H5Screate_simple(r->ndim, r->fdims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (r->chunked) {
    hsize_t chunk[3] = {1, r->fdims[1], r->fdims[2]};
    H5Pset_chunk(dcpl, 3, chunk);
  }
  hid_t ds = H5Dcreate2(f, "features", ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (count) {
    void *zeros = r->data ? NULL : calloc(count, H5Tget_size(ftype));
    hid_t mtype = H5Tcopy(ftype);
    if (r->big_endian) H5Tset_order(mtype, H5T_ORDER_LE); /* data given little-endian */
    if (r->first_only) {
      hsize_t f0[3] = {0, 0, 0}, fn[3] = {1, r->fdims[1], r->fdims[2]};
      hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(3, fn, NULL);
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, f0, NULL, fn, NULL);
      H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, r->data ? r->data : zeros);
      H5Sclose(ms);
      H5Sclose(fs);
    } else {
      H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->data ? r->data : zeros);
    }
    H5Tclose(mtype);
    free(zeros);
  }
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Tclose(ftype);
  int n = (int)r->fdims[0];
  write_vlen_strings(f, "tags", r->n_tags_names, "tag", r->fixed_strings);
  write_vlen_strings(f, "ids", r->n_ids, r->fixed_strings ? "clipname" : "clip", r->fixed_strings);
  if (r->multi) {
    hid_t lt = r->ltype ? r->ltype : H5T_STD_U8LE;
    size_t es = H5Tget_size(lt) == 1 ? 1 : 4;
    hid_t mt = H5Tget_class(lt) == H5T_FLOAT ? H5T_NATIVE_FLOAT : es == 1 ? H5T_NATIVE_UINT8 : H5T_NATIVE_INT32;
    write_fill(f, "labels", lt, mt, es, 2, r->ldims, r->labels_value);
  }
  if (r->single) {
    hsize_t d[1] = {(hsize_t)n};
    write_fill(f, "label", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 1, d, r->label_value);
  }
  if (r->song_len >= 0) {
    hsize_t d[1] = {(hsize_t)r->song_len};
    write_fill(f, "song", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 1, d, 0);
  }
  H5Fclose(f);
}

/* ------------------------------------------------------------------------ */
/* fatal errors in a child                                                    */


static void child_open(const void *arg) {
  Cache *c = cache_open(arg);
  cache_close(c);
}

/* Runs fn(arg) in a child: it must exit with status 1 and a stderr holding want. */
static void expect_fatal(const char *what, ChildBody fn, const void *arg, const char *want) {
  char msg[4096];
  int code = run_in_child(fn, arg, msg, sizeof msg);
  if (code == 1 && strstr(msg, want) && !strstr(msg, "HDF5-DIAG")) printf("PASS %s -> %s\n", what, msg);
  else {
    printf("FAIL %s: exit %d, message '%s' (wanted status 1 and '%s')\n", what, code, msg, want);
    failures++;
  }
}

/* ------------------------------------------------------------------------ */
/* round trips                                                                */

typedef struct Made {
  float *x;   /* [n, bins, frames] as written (float16-exact when fb == 2) */
  uint8_t *labels;
  int32_t *label, *song, *fold;
} Made;

static Made write_cache(const char *path, const CacheSpec *s, uint64_t seed) {
  Made m = {0};
  const size_t per = (size_t)s->bins * s->frames;
  m.x = malloc(sizeof(float) * per * s->n);
  m.labels = calloc((size_t)s->n * s->n_tags, 1);
  m.label = calloc((size_t)s->n, sizeof(int32_t));
  m.song = calloc((size_t)s->n, sizeof(int32_t));
  m.fold = calloc((size_t)s->n, sizeof(int32_t));
  CacheWriter *w = cache_writer_create(path, s);
  for (int i = s->n - 1; i >= 0; i--) { /* any order */
    float *x = m.x + per * i;
    for (size_t j = 0; j < per; j++) {
      float v = at_rng_normal(seed, (uint64_t)i, j) * 3.0f;
      x[j] = s->feature_bytes == 2 ? (float)ref_half(ref_encode(v)) : v;
    }
    for (int k = 0; k < s->n_tags; k++) m.labels[(size_t)i * s->n_tags + k] = at_rng_uniform(seed, 1000 + i, k) < 0.4f;
    m.label[i] = (i * 7) % s->n_tags;
    m.song[i] = i / 3;
    m.fold[i] = i % 4;
    char id[32];
    snprintf(id, sizeof id, "clip/%03d.mp3", i);
    cache_writer_put(w, i, x, m.labels + (size_t)i * s->n_tags, m.label[i], id, m.song[i], m.fold[i]);
  }
  cache_writer_finish(w);
  return m;
}

static void free_made(Made *m) {
  free(m->x);
  free(m->labels);
  free(m->label);
  free(m->song);
  free(m->fold);
}

static void check_cache(const char *what, const char *path, const CacheSpec *s, const Made *m) {
  Cache *c = cache_open(path);
  CHECK(c->n == s->n && c->bins == s->bins && c->frames == s->frames, "%s: shape %dx%dx%d", what, c->n, c->bins, c->frames);
  CHECK(c->feature_bytes == s->feature_bytes, "%s: feature bytes %d", what, c->feature_bytes);
  CHECK(c->kind == s->kind && c->n_tags == s->n_tags, "%s: kind/tags", what);
  for (int k = 0; k < s->n_tags; k++) CHECK(!strcmp(c->tags[k], s->tags[k]), "%s: tag %d '%s'", what, k, c->tags[k]);
  CHECK(!strcmp(c->front_end.window, s->front_end.window) && c->front_end.sample_rate == s->front_end.sample_rate &&
            c->front_end.n_fft == s->front_end.n_fft && c->front_end.hop == s->front_end.hop &&
            !strcmp(c->front_end.representation, s->front_end.representation) &&
            c->front_end.n_bins == s->front_end.n_bins && c->front_end.fmin == s->front_end.fmin &&
            c->front_end.fmax == s->front_end.fmax && !strcmp(c->front_end.mel_scale, s->front_end.mel_scale) &&
            !strcmp(c->front_end.mel_norm, s->front_end.mel_norm) &&
            !strcmp(c->front_end.compression, s->front_end.compression),
        "%s: front end", what);
  CHECK((c->song != NULL) == (s->has_song != 0) && (c->fold != NULL) == (s->has_fold != 0), "%s: song/fold presence", what);
  const size_t per = (size_t)s->bins * s->frames;
  float *buf = malloc(sizeof(float) * per);
  int bad_x = 0, bad_meta = 0, bad_crop = 0;
  for (int i = 0; i < s->n; i++) {
    char id[32];
    snprintf(id, sizeof id, "clip/%03d.mp3", i);
    bad_meta += strcmp(c->ids[i], id) != 0;
    if (s->kind == CACHE_MULTI_LABEL) bad_meta += memcmp(c->labels + (size_t)i * s->n_tags, m->labels + (size_t)i * s->n_tags, s->n_tags) != 0;
    else bad_meta += c->label[i] != m->label[i];
    if (c->song) bad_meta += c->song[i] != m->song[i];
    if (c->fold) bad_meta += c->fold[i] != m->fold[i];
    cache_read(c, i, 0, s->frames, buf);
    bad_x += memcmp(buf, m->x + per * i, sizeof(float) * per) != 0;
    /* crops at every start of a few lengths */
    for (int count = 1; count <= s->frames; count += 6)
      for (int start = 0; start + count <= s->frames; start += 5) {
        cache_read(c, i, start, count, buf);
        for (int b = 0; b < s->bins; b++)
          bad_crop += memcmp(buf + (size_t)b * count, m->x + per * i + (size_t)b * s->frames + start, sizeof(float) * count) != 0;
      }
  }
  CHECK(bad_x == 0, "%s: %d examples differ", what, bad_x);
  CHECK(bad_meta == 0, "%s: %d metadata mismatches", what, bad_meta);
  CHECK(bad_crop == 0, "%s: %d crop rows differ", what, bad_crop);
  if (!bad_x && !bad_meta && !bad_crop) printf("PASS round trip: %s\n", what);
  free(buf);
  cache_close(c);
}

static void test_round_trips(void) {
  static const char *tags[] = {"rock", "piano", "female vocal", "ünïcødé"};
  CacheFrontEnd fe = {.sample_rate = 12000, .n_fft = 512, .hop = 256, .n_bins = 96, .fmin = 0, .fmax = 6000};
  snprintf(fe.window, sizeof fe.window, "hann");
  snprintf(fe.representation, sizeof fe.representation, "mel");
  snprintf(fe.mel_scale, sizeof fe.mel_scale, "slaney");
  snprintf(fe.mel_norm, sizeof fe.mel_norm, "slaney");
  snprintf(fe.compression, sizeof fe.compression, "db");
  struct {
    const char *name;
    int fb, kind, song, chunked, deflate;
  } cases[] = {
      {"f16-multi-song-fold-contiguous", 2, CACHE_MULTI_LABEL, 1, 0, 0},
      {"f16-multi-song-fold-chunked", 2, CACHE_MULTI_LABEL, 1, 1, 0},
      {"f32-single-contiguous", 4, CACHE_SINGLE_LABEL, 0, 0, 0},
      {"f32-single-deflate", 4, CACHE_SINGLE_LABEL, 0, 0, 4},
      {"f16-single-deflate-song", 2, CACHE_SINGLE_LABEL, 1, 0, 6},
      {"f32-multi-chunked", 4, CACHE_MULTI_LABEL, 0, 1, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    CacheSpec s = {.n = 9, .bins = 5, .frames = 23, .feature_bytes = cases[k].fb, .kind = cases[k].kind,
                   .n_tags = 4, .tags = tags, .has_song = cases[k].song, .has_fold = cases[k].song,
                   .front_end = fe, .chunked = cases[k].chunked, .deflate = cases[k].deflate};
    const char *path = tmp_path("rt.h5");
    Made m = write_cache(path, &s, 77); /* the same seed: the same values in every layout */
    struct stat st;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(stat(tmp, &st) != 0, "%s: the temporary file was left behind", cases[k].name);
    check_cache(cases[k].name, path, &s, &m);
    free_made(&m);
  }
}

/* ------------------------------------------------------------------------ */
/* float16                                                                    */

static void test_half_decode(void) {
  /* every bit pattern, in a contiguous (pread + F16C) and a chunked (HDF5) file */
  uint16_t *h = malloc(sizeof(uint16_t) * 65536);
  for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
  float *got = malloc(sizeof(float) * 65536), *hdf = malloc(sizeof(float) * 65536);
  for (int chunked = 0; chunked < 2; chunked++) {
    Raw r = raw_default(1, 256, 256, 2);
    r.data = h;
    r.chunked = chunked;
    const char *path = tmp_path("halves.h5");
    make_raw(path, &r);
    Cache *c = cache_open(path);
    cache_read(c, 0, 0, 256, got);
    int bad = 0, bad_hdf5 = 0;
    for (int i = 0; i < 65536; i++) {
      double want = ref_half((uint16_t)i);
      if (isnan(want) ? !isnan(got[i]) || !!signbit(got[i]) != !!(i & 0x8000) : (double)got[i] != want || !!signbit(got[i]) != !!(i & 0x8000)) {
        if (bad++ < 5) printf("  half 0x%04x -> %g, expected %g\n", i, got[i], want);
      }
    }
    /* HDF5's own half -> float conversion agrees on every finite value */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "features", H5P_DEFAULT);
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, hdf);
    H5Dclose(ds);
    H5Fclose(f);
    for (int i = 0; i < 65536; i++)
      if (isfinite(ref_half((uint16_t)i)) && hdf[i] != got[i]) bad_hdf5++;
    CHECK(bad == 0, "%s: %d of 65536 halves decode wrongly", chunked ? "chunked" : "contiguous", bad);
    CHECK(bad_hdf5 == 0, "%s: %d halves differ from HDF5's conversion", chunked ? "chunked" : "contiguous", bad_hdf5);
    /* unaligned crops (vector loop tails) */
    float *crop = malloc(sizeof(float) * 256 * 37);
    cache_read(c, 0, 3, 37, crop);
    int bad_crop = 0;
    for (int b = 0; b < 256; b++)
      for (int t = 0; t < 37; t++) {
        float a = crop[b * 37 + t], e = got[b * 256 + 3 + t];
        bad_crop += !(a == e || (isnan(a) && isnan(e)));
      }
    CHECK(bad_crop == 0, "%d crop values differ", bad_crop);
    free(crop);
    if (!bad && !bad_hdf5 && !bad_crop) printf("PASS float16 decode, all 65536 patterns (%s)\n", chunked ? "HDF5 path" : "pread path");
    cache_close(c);
  }
  free(h);
  free(got);
  free(hdf);
}

static void test_half_encode(void) {
  /* midpoints between neighbouring positive halves (exact ties), their float
   * neighbours, specials, and random floats over the whole range */
  const int n_mid = 0x7bff;
  const int n = 3 * n_mid + 16 + 20000 + 4;
  float *v = malloc(sizeof(float) * n);
  int k = 0;
  for (int h = 0; h < n_mid; h++) {
    float mid = (float)((ref_half((uint16_t)h) + ref_half((uint16_t)(h + 1))) / 2);
    v[k++] = (h & 1) ? -mid : mid;
    v[k++] = nextafterf(mid, 0);
    v[k++] = nextafterf(mid, INFINITY);
  }
  const float specials[16] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e9f,
                              5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 6.1035156e-5f, 6.097555e-5f, 1e-30f};
  for (int i = 0; i < 16; i++) v[k++] = specials[i];
  for (int i = 0; i < 20000; i++) {
    uint32_t bits = at_philox(5, 5, (uint64_t)i).v[0];
    uint32_t e = 90 + bits % 60; /* 2^-37 .. 2^22 */
    bits = (bits & 0x807fffffu) | (e << 23);
    memcpy(&v[k++], &bits, 4);
  }
  v[k++] = 1.0f + 0x1p-11f; /* tie: rounds down to 1 (even) */
  v[k++] = 1.0f + 0x3p-11f; /* tie: rounds up to 1 + 2^-9 (even) */
  v[k++] = 2049.0f;
  v[k++] = -2051.0f;
  static const char *tags[] = {"t"};
  CacheSpec s = {.n = 1, .bins = 1, .frames = k, .feature_bytes = 2, .kind = CACHE_MULTI_LABEL, .n_tags = 1, .tags = tags};
  const char *path = tmp_path("encode.h5");
  CacheWriter *w = cache_writer_create(path, &s);
  uint8_t lab = 1;
  cache_writer_put(w, 0, v, &lab, 0, NULL, 0, 0);
  cache_writer_finish(w);
  uint16_t *bits = malloc(sizeof(uint16_t) * k);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t ds = H5Dopen2(f, "features", H5P_DEFAULT);
  hid_t ht = half_type();
  H5Dread(ds, ht, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits);
  H5Tclose(ht);
  H5Dclose(ds);
  H5Fclose(f);
  int bad = 0;
  for (int i = 0; i < k; i++) {
    uint16_t want = ref_encode(v[i]);
    int ok = isnan(v[i]) ? (bits[i] & 0x7c00) == 0x7c00 && (bits[i] & 0x3ff) : bits[i] == want;
    if (!ok && bad++ < 5) printf("  %.9g -> 0x%04x, expected 0x%04x\n", v[i], bits[i], want);
  }
  CHECK(bad == 0, "%d of %d float -> float16 conversions are not round-to-nearest-even", bad, k);
  CHECK(bits[k - 4] == 0x3c00 && bits[k - 3] == 0x3c01 + 1, "ties: 0x%04x 0x%04x", bits[k - 4], bits[k - 3]);
  if (!bad) printf("PASS float32 -> float16 round to nearest even (%d values, every midpoint)\n", k);
  free(bits);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* the loader                                                                 */

/* float32 cache whose value at (example, bin, frame) is ex * 10000 + bin * 100 + frame */
static const char *make_loader_cache(int n, int bins, int frames, int single) {
  static const char *tags[] = {"a", "b", "c"};
  CacheSpec s = {.n = n, .bins = bins, .frames = frames, .feature_bytes = 4,
                 .kind = single ? CACHE_SINGLE_LABEL : CACHE_MULTI_LABEL, .n_tags = 3, .tags = tags};
  const char *path = tmp_path(single ? "loader1.h5" : "loader.h5");
  CacheWriter *w = cache_writer_create(path, &s);
  float *x = malloc(sizeof(float) * bins * frames);
  for (int i = 0; i < n; i++) {
    for (int b = 0; b < bins; b++)
      for (int t = 0; t < frames; t++) x[b * frames + t] = (float)(i * 10000 + b * 100 + t);
    uint8_t lab[3] = {i % 2, i % 3 == 0, i % 5 == 0};
    cache_writer_put(w, i, x, lab, i % 3, NULL, 0, 0);
  }
  cache_writer_finish(w);
  free(x);
  return path;
}

/* Everything one epoch delivers, concatenated. */
typedef struct Epoch {
  long batches;
  int sizes[256];
  float *x, *targets;
  int32_t *example, *crop, *labels;
  long rows;
} Epoch;

static Epoch read_epoch(Loader *l, const Cache *c, int crop) {
  Epoch e = {0};
  long cap = loader_rows_per_epoch(l) + 1;
  size_t row = (size_t)c->bins * crop;
  e.x = malloc(sizeof(float) * row * cap);
  e.targets = malloc(sizeof(float) * c->n_tags * cap);
  e.example = malloc(sizeof(int32_t) * cap);
  e.crop = malloc(sizeof(int32_t) * cap);
  e.labels = calloc((size_t)cap, sizeof(int32_t));
  const Batch *b;
  while ((b = loader_next(l))) {
    if (e.batches < 256) e.sizes[e.batches] = b->n;
    e.batches++;
    if (e.rows + b->n > cap - 1) break;
    memcpy(e.x + row * e.rows, b->x, sizeof(float) * row * b->n);
    memcpy(e.targets + (size_t)c->n_tags * e.rows, b->targets, sizeof(float) * c->n_tags * b->n);
    memcpy(e.example + e.rows, b->example, sizeof(int32_t) * b->n);
    memcpy(e.crop + e.rows, b->crop, sizeof(int32_t) * b->n);
    if (b->labels) memcpy(e.labels + e.rows, b->labels, sizeof(int32_t) * b->n);
    e.rows += b->n;
  }
  return e;
}

static void free_epoch(Epoch *e) {
  free(e->x);
  free(e->targets);
  free(e->example);
  free(e->crop);
  free(e->labels);
}

static int same_epoch(const Epoch *a, const Epoch *b, const Cache *c, int crop) {
  size_t row = (size_t)c->bins * crop;
  return a->rows == b->rows && a->batches == b->batches && !memcmp(a->x, b->x, sizeof(float) * row * a->rows) &&
         !memcmp(a->targets, b->targets, sizeof(float) * c->n_tags * a->rows) &&
         !memcmp(a->example, b->example, sizeof(int32_t) * a->rows) && !memcmp(a->crop, b->crop, sizeof(int32_t) * a->rows);
}

/* Every row holds a crop of its example; returns the crop start of each row. */
static int check_rows(const char *what, const Epoch *e, const Cache *c, int crop, int *starts) {
  int bad = 0;
  size_t row = (size_t)c->bins * crop;
  for (long r = 0; r < e->rows; r++) {
    const float *x = e->x + row * r;
    int ex = e->example[r], start = (int)x[0] - ex * 10000;
    if (starts) starts[r] = start;
    for (int b = 0; b < c->bins; b++)
      for (int t = 0; t < crop; t++) bad += x[b * crop + t] != (float)(ex * 10000 + b * 100 + start + t);
    for (int k = 0; k < c->n_tags; k++) {
      float want = c->kind == CACHE_MULTI_LABEL ? c->labels[ex * c->n_tags + k] : (float)(c->label[ex] == k);
      bad += e->targets[r * c->n_tags + k] != want;
    }
    if (c->kind == CACHE_SINGLE_LABEL) bad += e->labels[r] != c->label[ex];
    bad += start < 0 || start + crop > c->frames;
  }
  CHECK(bad == 0, "%s: %d values of rows do not match their example", what, bad);
  return bad;
}

static void test_loader_train(void) {
  const int N = 37, BINS = 3, FRAMES = 20, CROP = 7, BATCH = 8;
  const char *path = make_loader_cache(N, BINS, FRAMES, 0);
  Cache *c = cache_open(path);
  LoaderConfig lc = {.batch = BATCH, .crop_frames = CROP, .train = 1, .threads = 2, .prefetch = 2, .seed = 42};
  Loader *l = loader_create(c, &lc);
  CHECK(loader_rows_per_epoch(l) == N && loader_batches_per_epoch(l) == 5, "rows %ld batches %ld",
        loader_rows_per_epoch(l), loader_batches_per_epoch(l));
  Epoch ep[3];
  int32_t *perm = malloc(sizeof(int32_t) * N);
  int bad_once = 0, bad_perm = 0;
  for (int e = 0; e < 3; e++) {
    loader_seek(l, e, 0);
    ep[e] = read_epoch(l, c, CROP);
    CHECK(ep[e].rows == N && ep[e].batches == 5 && ep[e].sizes[4] == N - 4 * BATCH, "epoch %d: %ld rows in %ld batches, last %d",
          e, ep[e].rows, ep[e].batches, ep[e].sizes[4]);
    CHECK(loader_next(l) == NULL, "epoch %d: batches after the end", e);
    int seen[64] = {0};
    for (long r = 0; r < ep[e].rows; r++) seen[ep[e].example[r]]++;
    for (int i = 0; i < N; i++) bad_once += seen[i] != 1;
    loader_permutation(l, e, perm);
    for (int i = 0; i < N; i++) bad_perm += perm[i] != ep[e].example[i];
    check_rows("train", &ep[e], c, CROP, NULL);
  }
  CHECK(bad_once == 0, "%d examples not seen exactly once in an epoch", bad_once);
  CHECK(bad_perm == 0, "loader_permutation disagrees with the batches in %d places", bad_perm);
  CHECK(memcmp(ep[0].example, ep[1].example, sizeof(int32_t) * N) && memcmp(ep[1].example, ep[2].example, sizeof(int32_t) * N),
        "the permutation does not change between epochs");
  int identity = 1;
  for (int i = 0; i < N; i++) identity &= ep[0].example[i] == i;
  CHECK(!identity, "epoch 0 is not shuffled");
  /* crop starts vary (not all the same) */
  int starts[64], distinct = 0, hist[32] = {0};
  check_rows("train starts", &ep[0], c, CROP, starts);
  for (int r = 0; r < N; r++) hist[starts[r]]++;
  for (int s = 0; s < 32; s++) distinct += hist[s] > 0;
  CHECK(distinct >= 6, "only %d distinct crop starts", distinct);
  long pe, pc;
  loader_position(l, &pe, &pc);
  CHECK(pe == 2 && pc == 5, "position %ld %ld", pe, pc);

  /* reproducible from the seed, whatever the threads and prefetch depth */
  struct { int threads, prefetch; } cfgs[] = {{1, 1}, {2, 1}, {2, 4}, {3, 2}, {1, 6}};
  int bad_cfg = 0;
  for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
    LoaderConfig lk = lc;
    lk.threads = cfgs[k].threads;
    lk.prefetch = cfgs[k].prefetch;
    Loader *m = loader_create(c, &lk);
    loader_seek(m, 1, 0);
    Epoch e1 = read_epoch(m, c, CROP);
    bad_cfg += !same_epoch(&e1, &ep[1], c, CROP);
    free_epoch(&e1);
    loader_free(m);
  }
  CHECK(bad_cfg == 0, "%d thread/prefetch configurations give different batches", bad_cfg);
  /* another seed, another order */
  LoaderConfig l2 = lc;
  l2.seed = 43;
  Loader *m = loader_create(c, &l2);
  loader_seek(m, 1, 0);
  Epoch other = read_epoch(m, c, CROP);
  CHECK(memcmp(other.example, ep[1].example, sizeof(int32_t) * N) != 0, "seed 43 gives the order of seed 42");
  free_epoch(&other);
  /* seek: mid-epoch, with batches in flight, reproduces the rest */
  loader_seek(m, 0, 0);
  loader_next(m); /* the ring is full of epoch 0 now */
  loader_free(m);
  int bad_seek = 0;
  for (int cursor = 0; cursor <= 5; cursor++) {
    Loader *s = loader_create(c, &lc);
    loader_next(s);
    loader_next(s);
    loader_seek(s, 1, cursor);
    Epoch rest = read_epoch(s, c, CROP);
    long skip = (long)cursor * BATCH;
    if (skip > N) skip = N;
    bad_seek += rest.rows != N - skip || rest.batches != 5 - cursor;
    if (rest.rows == N - skip) {
      bad_seek += memcmp(rest.example, ep[1].example + skip, sizeof(int32_t) * rest.rows) != 0;
      bad_seek += memcmp(rest.x, ep[1].x + (size_t)BINS * CROP * skip, sizeof(float) * BINS * CROP * rest.rows) != 0;
    }
    long e, cur;
    loader_position(s, &e, &cur);
    bad_seek += e != 1 || cur != 5;
    free_epoch(&rest);
    loader_free(s);
  }
  CHECK(bad_seek == 0, "seek: %d mismatches", bad_seek);
  /* many seeks back and forth while workers run */
  Loader *s = loader_create(c, &lc);
  for (int i = 0; i < 20; i++) {
    loader_seek(s, i % 3, i % 4);
    loader_next(s);
  }
  loader_seek(s, 2, 0);
  Epoch again = read_epoch(s, c, CROP);
  CHECK(same_epoch(&again, &ep[2], c, CROP), "epoch 2 after a storm of seeks differs");
  free_epoch(&again);
  loader_free(s);
  if (!failures) printf("PASS loader training order, crops, threads, prefetch and seek\n");
  for (int e = 0; e < 3; e++) free_epoch(&ep[e]);
  free(perm);
  loader_free(l);

  /* subset: only those examples, each once */
  int32_t subset[] = {5, 3, 30, 12, 0, 36};
  LoaderConfig ls = lc;
  ls.subset = subset;
  ls.n_subset = 6;
  ls.batch = 4;
  Loader *u = loader_create(c, &ls);
  Epoch se = read_epoch(u, c, CROP);
  int hits[64] = {0}, bad_sub = 0;
  for (long r = 0; r < se.rows; r++) hits[se.example[r]]++;
  for (int i = 0; i < N; i++) {
    int in = 0;
    for (int j = 0; j < 6; j++) in |= subset[j] == i;
    bad_sub += hits[i] != in;
  }
  CHECK(se.rows == 6 && se.batches == 2 && se.sizes[1] == 2 && bad_sub == 0, "subset: %ld rows, %d wrong", se.rows, bad_sub);
  check_rows("subset", &se, c, CROP, NULL);
  free_epoch(&se);
  loader_free(u);

  /* crop 0 = whole example; batch larger than the epoch */
  LoaderConfig lw = lc;
  lw.crop_frames = 0;
  lw.batch = 100;
  Loader *wl = loader_create(c, &lw);
  Epoch we = read_epoch(wl, c, FRAMES);
  CHECK(we.rows == N && we.batches == 1 && we.sizes[0] == N, "whole: %ld rows %ld batches", we.rows, we.batches);
  check_rows("whole", &we, c, FRAMES, NULL);
  free_epoch(&we);
  loader_free(wl);
  cache_close(c);
}

/* Data-parallel slices: the shards of every batch, concatenated in shard
 * order, are exactly the unsharded batch (rows, crops, targets), including a
 * short last batch cut into slices some of which are empty. */
static void test_loader_shards(void) {
  const int N = 21, BINS = 3, FRAMES = 20, CROP = 7, BATCH = 8; /* last batch: 5 rows */
  const char *path = make_loader_cache(N, BINS, FRAMES, 0);
  Cache *c = cache_open(path);
  LoaderConfig lc = {.batch = BATCH, .crop_frames = CROP, .train = 1, .threads = 2, .prefetch = 2, .seed = 9};
  Loader *whole = loader_create(c, &lc);
  loader_seek(whole, 1, 0);
  Epoch all = read_epoch(whole, c, CROP);
  const size_t row = (size_t)BINS * CROP;
  for (int shards = 2; shards <= 7; shards += 5) { /* 7 > 5 rows: empty slices in the last batch */
    Loader *part[7];
    for (int k = 0; k < shards; k++) {
      LoaderConfig lk = lc;
      lk.shard = k;
      lk.shards = shards;
      part[k] = loader_create(c, &lk);
      loader_seek(part[k], 1, 0);
    }
    long at = 0;
    int bad = 0, empty = 0;
    for (long b = 0; b < all.batches; b++) {
      int total = 0;
      for (int k = 0; k < shards; k++) {
        const Batch *s = loader_next(part[k]);
        if (!s) {
          bad++;
          continue;
        }
        empty += s->n == 0;
        bad += s->n < 0 || s->n > (all.sizes[b] + shards - 1) / shards;
        for (int r = 0; r < s->n; r++, at++, total++) {
          bad += s->example[r] != all.example[at];
          bad += memcmp(s->x + row * r, all.x + row * at, sizeof(float) * row) != 0;
        }
      }
      bad += total != all.sizes[b];
    }
    for (int k = 0; k < shards; k++) {
      bad += loader_next(part[k]) != NULL;
      loader_free(part[k]);
    }
    CHECK(bad == 0 && at == all.rows, "%d shards: %d mismatches, %ld of %ld rows", shards, bad, at, all.rows);
    if (shards == 7) CHECK(empty > 0, "7 shards of a 5-row batch: no empty slice seen");
  }
  free_epoch(&all);
  loader_free(whole);
  cache_close(c);
}

static void test_loader_eval(void) {
  const int N = 11, BINS = 2, FRAMES = 20, CROP = 7;
  const char *path = make_loader_cache(N, BINS, FRAMES, 1);
  Cache *c = cache_open(path);
  LoaderConfig lc = {.batch = 5, .crop_frames = CROP, .train = 0, .crops_per_example = 4, .threads = 2, .prefetch = 3};
  Loader *l = loader_create(c, &lc);
  CHECK(loader_rows_per_epoch(l) == 44 && loader_batches_per_epoch(l) == 9, "eval rows %ld", loader_rows_per_epoch(l));
  Epoch e = read_epoch(l, c, CROP);
  int starts[64];
  check_rows("eval", &e, c, CROP, starts);
  const int want[4] = {0, 4, 9, 13}; /* round(k * 13 / 3) */
  int bad = 0;
  for (long r = 0; r < e.rows; r++) bad += e.example[r] != r / 4 || e.crop[r] != r % 4 || starts[r] != want[r % 4];
  CHECK(e.rows == 44 && e.sizes[8] == 4 && bad == 0, "eval: %ld rows, last batch %d, %d misplaced", e.rows, e.sizes[8], bad);
  int32_t order[44];
  loader_permutation(l, 0, order);
  int bad_order = 0;
  for (int r = 0; r < 44; r++) bad_order += order[r] != r / 4;
  CHECK(bad_order == 0, "eval permutation");
  /* a second pass is the same */
  loader_seek(l, 0, 0);
  Epoch e2 = read_epoch(l, c, CROP);
  CHECK(same_epoch(&e, &e2, c, CROP), "eval passes differ");
  free_epoch(&e2);
  free_epoch(&e);
  loader_free(l);
  /* one crop: centred */
  lc.crops_per_example = 1;
  int32_t subset[] = {7, 2, 9};
  lc.subset = subset;
  lc.n_subset = 3;
  l = loader_create(c, &lc);
  e = read_epoch(l, c, CROP);
  check_rows("eval 1 crop", &e, c, CROP, starts);
  CHECK(e.rows == 3 && e.example[0] == 7 && e.example[1] == 2 && e.example[2] == 9 && starts[0] == 6 && starts[2] == 6,
        "one centred crop in subset order: rows %ld start %d", e.rows, starts[0]);
  free_epoch(&e);
  loader_free(l);
  cache_close(c);
  printf("PASS loader evaluation crops, order, partial batch, subset\n");
}

/* The synthetic generator: deterministic, labels near 30 %, roughly standardised. */
static void test_synth(void) {
  SynthSpec s = {.n = 60, .bins = 40, .frames = 80, .n_tags = 6, .seed = 3, .examples_per_song = 3, .folds = 4};
  const char *a = tmp_path("synth_a.h5"), *b = tmp_path("synth_b.h5");
  synth_write(a, &s);
  s.chunked = 1;
  synth_write(b, &s);
  Cache *ca = cache_open(a), *cb = cache_open(b);
  const size_t per = 40 * 80;
  float *xa = malloc(sizeof(float) * per), *xb = malloc(sizeof(float) * per);
  double sum = 0, sq = 0;
  int bad = 0, pos = 0;
  for (int i = 0; i < s.n; i++) {
    cache_read(ca, i, 0, 80, xa);
    cache_read(cb, i, 0, 80, xb);
    bad += memcmp(xa, xb, sizeof(float) * per) != 0;
    for (size_t j = 0; j < per; j++) {
      sum += xa[j];
      sq += (double)xa[j] * xa[j];
    }
    for (int k = 0; k < 6; k++) pos += ca->labels[i * 6 + k];
    bad += ca->song[i] != i / 3 || ca->fold[i] != (i / 3) % 4;
    if (i % 3) bad += memcmp(ca->labels + i * 6, ca->labels + (i - 1) * 6, 6) != 0; /* chunks of a song share labels */
  }
  double mean = sum / (per * s.n), sd = sqrt(sq / (per * s.n) - mean * mean);
  CHECK(bad == 0, "synth: %d mismatches (determinism, song, fold)", bad);
  CHECK(fabs(mean) < 0.3 && sd > 0.8 && sd < 2.0, "synth: mean %.3f sd %.3f", mean, sd);
  CHECK(pos > 0.15 * 360 && pos < 0.45 * 360, "synth: %d positives of 360", pos);
  CHECK(!strcmp(ca->front_end.representation, "synthetic") && ca->front_end.n_bins == 40, "synth front end");
  free(xa);
  free(xb);
  cache_close(ca);
  cache_close(cb);
  SynthSpec s1 = {.n = 40, .bins = 40, .frames = 80, .classes = 8, .seed = 3, .feature_bytes = 4};
  synth_write(a, &s1);
  Cache *c1 = cache_open(a);
  int hist[8] = {0};
  for (int i = 0; i < 40; i++) hist[c1->label[i]]++;
  int classes_seen = 0;
  for (int k = 0; k < 8; k++) classes_seen += hist[k] > 0;
  CHECK(c1->kind == CACHE_SINGLE_LABEL && c1->n_tags == 8 && classes_seen >= 6 && !strcmp(c1->tags[0], "band0_rhythm5"),
        "synth single-label: %d classes seen, tag 0 '%s'", classes_seen, c1->tags[0]);
  cache_close(c1);
  printf("PASS synthetic caches (mean %.3f, sd %.3f, %d/360 positive)\n", mean, sd, pos);
}

/* ------------------------------------------------------------------------ */
/* bad input                                                                  */

static void child_crop_too_long(const void *arg) {
  Cache *c = cache_open(arg);
  LoaderConfig lc = {.batch = 4, .crop_frames = c->frames + 1, .train = 1, .threads = 1, .prefetch = 1};
  loader_free(loader_create(c, &lc));
  cache_close(c);
}

static void child_read_past_end(const void *arg) {
  Cache *c = cache_open(arg);
  float buf[1024];
  cache_read(c, 0, c->frames - 2, 3, buf);
}

static void copy_truncated(const char *src, const char *dst, long keep) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  char buf[4096];
  long left = keep;
  size_t got;
  while (left > 0 && (got = fread(buf, 1, left < 4096 ? (size_t)left : 4096, in)) > 0) {
    fwrite(buf, 1, got, out);
    left -= (long)got;
  }
  fclose(in);
  fclose(out);
}

/* What h5py users write: big-endian or plain float32, fixed-length byte
 * strings ('S8', one of them exactly 8 bytes without a NUL), int64 labels. */
static void test_foreign_files(void) {
  const int n = 3, bins = 4, frames = 6;
  float *x = malloc(sizeof(float) * n * bins * frames), *got = malloc(sizeof(float) * bins * frames);
  for (int i = 0; i < n * bins * frames; i++) x[i] = (float)i * 0.25f - 7.0f;
  for (int be = 0; be < 2; be++) {
    Raw r = raw_default(n, bins, frames, 2);
    r.ftype = H5T_IEEE_F32LE;
    r.big_endian = be;
    r.fixed_strings = 1;
    r.data = x;
    const char *p = tmp_path("foreign.h5");
    make_raw(p, &r);
    Cache *c = cache_open(p);
    int bad = 0;
    for (int i = 0; i < n; i++) {
      cache_read(c, i, 1, frames - 2, got);
      for (int b = 0; b < bins; b++)
        for (int t = 0; t < frames - 2; t++) bad += got[b * (frames - 2) + t] != x[(i * bins + b) * frames + 1 + t];
    }
    CHECK(bad == 0 && !strcmp(c->tags[1], "tag1") && !strcmp(c->ids[2], "clipname") && c->feature_bytes == 4,
          "foreign file (%s): %d values wrong, tag '%s', id '%s'", be ? "big-endian" : "little-endian", bad, c->tags[1],
          c->ids[2]);
    if (!bad) printf("PASS foreign file: %s float32, fixed-length strings\n", be ? "big-endian" : "little-endian");
    cache_close(c);
  }
  free(x);
  free(got);
}

static void test_bad_input(void) {
  const char *p = tmp_path("bad.h5");
  Raw r;
#define BAD(what, setup, want)              \
  do {                                      \
    r = raw_default(7, 4, 10, 3);           \
    setup;                                  \
    make_raw(p, &r);                        \
    expect_fatal(what, child_open, p, want); \
  } while (0)
  /* the defaults are valid */
  r = raw_default(7, 4, 10, 3);
  make_raw(p, &r);
  Cache *ok = cache_open(p);
  CHECK(ok->n == 7 && ok->n_tags == 3 && !strcmp(ok->ids[6], "clip6"), "a raw valid cache");
  cache_close(ok);
  BAD("wrong format", r.format = "auratag-weights", "is not an auratag cache (root attribute format = 'auratag-weights'");
  BAD("no format", r.format = NULL, "attribute format = '(missing)'");
  BAD("wrong version", r.version = 2, "has cache format version 2; this auratag reads version 1");
  BAD("no version", r.version = -1, "the root attribute 'version' is missing");
  BAD("int features", r.ftype = H5T_STD_I32LE, "/features has dtype int32, expected float16 or float32");
  BAD("float64 features", r.ftype = H5T_IEEE_F64LE, "/features has dtype float64, expected float16 or float32");
  BAD("2-D features", (r.ndim = 2, r.ftype = H5T_IEEE_F32LE), "/features has shape [7, 4], expected 3-D");
  BAD("no examples", (r.fdims[0] = 0, r.n_ids = 0, r.ldims[0] = 0), "has no examples");
  BAD("labels/tags mismatch", r.n_tags_names = 2, "/labels has 3 columns but /tags names 2 tags");
  BAD("labels rows", r.ldims[0] = 6, "/labels has shape [6, 3], expected [7, 3]");
  BAD("float labels", r.ltype = H5T_IEEE_F32LE, "/labels has dtype float32, expected uint8");
  BAD("labels not 0/1", r.labels_value = 2, "labels must be 0 or 1");
  BAD("ids count", r.n_ids = 6, "/ids has 6 entries but /features has 7 examples");
  BAD("no tags", r.n_tags_names = 0, "/tags is empty");
  BAD("no labels", r.multi = 0, "has neither /labels");
  BAD("both labels", r.single = 1, "has both /labels (multi-label) and /label (single-label)");
  BAD("class out of range", (r.multi = 0, r.single = 1, r.label_value = 3), "/label[0] = 3 is not a class index");
  BAD("song length", r.song_len = 5, "/song has shape [5], expected [7]");
  BAD("missing chunks", (r.chunked = 1, r.first_only = 1), "/features stores 1 of its 7 chunks");
  expect_fatal("missing file", child_open, tmp_path("nonexistent.h5"), "cannot read cache");
  FILE *g = fopen(p, "wb");
  for (int i = 0; i < 5000; i++) fputc((i * 7919) & 0xff, g);
  fclose(g);
  expect_fatal("not HDF5", child_open, p, "is not a readable HDF5 file (truncated or corrupt?)");
  /* truncated copies of a valid float16 cache */
  static const char *tags[] = {"a", "b"};
  CacheSpec s = {.n = 40, .bins = 16, .frames = 50, .feature_bytes = 2, .kind = CACHE_MULTI_LABEL, .n_tags = 2, .tags = tags};
  const char *full = tmp_path("full.h5");
  Made m = write_cache(full, &s, 9);
  free_made(&m);
  struct stat st;
  stat(full, &st);
  const long sizes[] = {st.st_size / 2, st.st_size - 1, 2000, 100};
  for (int i = 0; i < 4; i++) {
    const char *t = tmp_path("truncated.h5");
    copy_truncated(full, t, sizes[i]);
    char what[64];
    snprintf(what, sizeof what, "truncated to %ld of %ld bytes", sizes[i], (long)st.st_size);
    expect_fatal(what, child_open, t, "truncated or corrupt");
  }
  expect_fatal("crop longer than the examples", child_crop_too_long, full,
               "a crop of 51 frames is longer than the examples");
  expect_fatal("read past the end", child_read_past_end, full, "frames [48, 51) of example 0 are outside its 50 frames");
  /* the writer refuses an empty cache and leaves nothing behind */
  remove(tmp_path("empty.h5"));
}

static void child_write_empty(const void *arg) {
  static const char *tags[] = {"a"};
  CacheSpec s = {.n = 0, .bins = 2, .frames = 2, .feature_bytes = 2, .n_tags = 1, .tags = tags};
  cache_writer_create(arg, &s);
}

static void child_write_incomplete(const void *arg) {
  static const char *tags[] = {"a"};
  CacheSpec s = {.n = 3, .bins = 2, .frames = 2, .feature_bytes = 2, .n_tags = 1, .tags = tags};
  CacheWriter *w = cache_writer_create(arg, &s);
  float x[4] = {0};
  uint8_t lab = 0;
  cache_writer_put(w, 0, x, &lab, 0, "x", 0, 0);
  cache_writer_finish(w);
}

static void test_writer_errors(void) {
  const char *p = tmp_path("partial.h5");
  expect_fatal("writer with no examples", child_write_empty, p, "it would have no examples");
  expect_fatal("writer missing examples", child_write_incomplete, p, "example 1 of 3 was never written");
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  struct stat st;
  CHECK(stat(tmp, &st) != 0 && stat(p, &st) != 0, "a failed write left '%s' or its temporary file behind", p);
}

static void cleanup(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) printf("warning: could not remove %s\n", g_dir);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/auratag_test_cache_XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  test_round_trips();
  test_half_decode();
  test_half_encode();
  test_loader_train();
  test_loader_shards();
  test_loader_eval();
  test_synth();
  test_foreign_files();
  test_bad_input();
  test_writer_errors();
  cleanup();
  if (failures) {
    printf("%d FAILED\n", failures);
    return 1;
  }
  printf("all cache and loader tests passed\n");
  return 0;
}
