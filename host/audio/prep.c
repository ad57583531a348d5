/* auratag prep: audio list -> spectrogram caches (see prep.h). */
#include "audio/prep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "audio/audio_io.h"
#include "audio/feature_maker.h"
#include "audio/frontend.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "core/progress.h"
#include "io/h5_guard.h"
#include "io/h5_util.h"
#include "nn/backend.h"

enum { SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST, N_SPLITS };
static const char *const k_split_names[N_SPLITS] = {"train", "valid", "test"};

/* ------------------------------------------------------------------------ */
/* hashing and a string -> int map                                          */

static uint64_t fnv1a(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
#define FNV_BASIS 0xcbf29ce484222325ULL

/* Checksum of a record's data: FNV-style over 32-bit words (fast enough to
 * run over every byte of a large dataset at assembly). */
static uint64_t checksum_floats(const float *x, size_t n) {
  uint64_t h = FNV_BASIS;
  const uint32_t *w = (const uint32_t *)(const void *)x;
  for (size_t i = 0; i < n; i++) {
    h ^= w[i];
    h *= 0x100000001b3ULL;
  }
  return h ^ (uint64_t)n;
}

typedef struct StrMap {
  char **keys;
  int *vals;
  size_t cap, n;
} StrMap;

static void strmap_grow(StrMap *m) {
  size_t cap = m->cap ? m->cap * 2 : 256;
  char **keys = at_calloc(cap, sizeof(char *), "string map");
  int *vals = at_calloc(cap, sizeof(int), "string map");
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = fnv1a(m->keys[i], strlen(m->keys[i]), FNV_BASIS) & (cap - 1);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
}

/* The value of key, inserting it with `val` if absent (*inserted = 1). */
static int strmap_intern(StrMap *m, const char *key, int val, int *inserted) {
  if ((m->n + 1) * 2 > m->cap) strmap_grow(m);
  size_t j = fnv1a(key, strlen(key), FNV_BASIS) & (m->cap - 1);
  while (m->keys[j]) {
    if (!strcmp(m->keys[j], key)) {
      if (inserted) *inserted = 0;
      return m->vals[j];
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->keys[j] = at_strdup(key);
  m->vals[j] = val;
  m->n++;
  if (inserted) *inserted = 1;
  return val;
}

static void strmap_free(StrMap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------ */
/* the file list (RFC 4180 CSV)                                             */

typedef struct Row {
  char *path; /* as written in the list */
  char *full; /* resolved against the list's folder */
  int line;
  int split;
  int *tags, n_tags; /* interned tag (or class) ids */
  int song;          /* interned song id, or -1 */
  int fold;
  /* the file's result */
  int ok, resumed;
  char *reason;
  char record[64]; /* work record file name ("" if the file cannot be stat'ed) */
  char stamp[64];
  int examples;
  long file_frames;
  double seconds;
  double st_count, st_mean, st_m2;
} Row;

typedef struct List {
  const char *path;
  Row *rows;
  int n;
  int has_split, has_song, has_fold;
  char **names; /* interned tag / class names */
  int n_names;
  int n_songs;
  uint64_t hash; /* of the list's bytes */
} List;

typedef struct Csv {
  const char *path, *text;
  size_t len, pos;
  int line;
  char **fields;
  int n_fields, cap_fields;
  char *buf;
  size_t buf_len, buf_cap;
} Csv;

static void csv_push_char(Csv *c, char ch) {
  if (c->buf_len + 2 > c->buf_cap) {
    c->buf_cap = c->buf_cap ? c->buf_cap * 2 : 256;
    c->buf = at_realloc(c->buf, c->buf_cap, "CSV field");
  }
  c->buf[c->buf_len++] = ch;
}

static void csv_push_field(Csv *c) {
  if (c->n_fields == c->cap_fields) {
    c->cap_fields = c->cap_fields ? c->cap_fields * 2 : 8;
    c->fields = at_realloc(c->fields, sizeof(char *) * (size_t)c->cap_fields, "CSV fields");
  }
  char *f = at_malloc(c->buf_len + 1, "CSV field");
  memcpy(f, c->buf, c->buf_len);
  f[c->buf_len] = '\0';
  c->fields[c->n_fields++] = f;
  c->buf_len = 0;
}

static void csv_clear(Csv *c) {
  for (int i = 0; i < c->n_fields; i++) free(c->fields[i]);
  c->n_fields = 0;
}

/* The next record into c->fields; 0 at the end. *line = its first line. */
static int csv_next(Csv *c, int *line) {
  csv_clear(c);
  /* blank lines between records are skipped */
  for (;;) {
    if (c->pos >= c->len) return 0;
    if (c->text[c->pos] == '\n') {
      c->pos++;
      c->line++;
    } else if (c->text[c->pos] == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n') {
      c->pos += 2;
      c->line++;
    } else {
      break;
    }
  }
  *line = c->line;
  for (;;) {
    c->buf_len = 0;
    if (c->pos < c->len && c->text[c->pos] == '"') {
      int open_line = c->line;
      c->pos++;
      for (;;) {
        if (c->pos >= c->len)
          at_fatal("%s:%d: a quoted field is never closed (a '\"' is missing)", c->path, open_line);
        char ch = c->text[c->pos];
        if (ch == '"') {
          if (c->pos + 1 < c->len && c->text[c->pos + 1] == '"') {
            csv_push_char(c, '"');
            c->pos += 2;
            continue;
          }
          c->pos++;
          break;
        }
        if (ch == '\n') c->line++;
        csv_push_char(c, ch);
        c->pos++;
      }
      if (c->pos < c->len && c->text[c->pos] != ',' && c->text[c->pos] != '\n' &&
          !(c->text[c->pos] == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n'))
        at_fatal("%s:%d: text after the closing quote of a field (quote the whole field, and write a quote "
                 "inside it as \"\")",
                 c->path, c->line);
    } else {
      while (c->pos < c->len) {
        char ch = c->text[c->pos];
        if (ch == ',' || ch == '\n' || (ch == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n')) break;
        if (ch == '\0') at_fatal("%s:%d: a NUL byte: this is not a text file", c->path, c->line);
        csv_push_char(c, ch);
        c->pos++;
      }
    }
    csv_push_field(c);
    if (c->pos < c->len && c->text[c->pos] == ',') {
      c->pos++;
      continue;
    }
    if (c->pos < c->len) { /* end of line */
      c->pos += c->text[c->pos] == '\r' ? 2 : 1;
      c->line++;
    }
    return 1;
  }
}

static char *trimmed(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  char *out = at_malloc(n + 1, "text");
  memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

static char *read_whole_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) at_fatal("cannot open '%s': %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *text = at_malloc(cap, "file");
  for (;;) {
    if (n + 1 >= cap) text = at_realloc(text, cap *= 2, "file");
    size_t got = fread(text + n, 1, cap - n - 1, fp);
    n += got;
    if (got == 0) break;
  }
  if (ferror(fp)) at_fatal("cannot read '%s'", path);
  fclose(fp);
  text[n] = '\0';
  *len = n;
  return text;
}

static int intern_name(List *l, StrMap *names, const char *name) {
  int inserted;
  int id = strmap_intern(names, name, l->n_names, &inserted);
  if (inserted) {
    if (l->n_names % 64 == 0) l->names = at_realloc(l->names, sizeof(char *) * (size_t)(l->n_names + 64), "tag names");
    l->names[l->n_names++] = at_strdup(name);
  }
  return id;
}

static void add_tag(Row *r, int id) {
  for (int i = 0; i < r->n_tags; i++)
    if (r->tags[i] == id) return; /* listed twice: once is enough */
  if (r->n_tags % 8 == 0) r->tags = at_realloc(r->tags, sizeof(int) * (size_t)(r->n_tags + 8), "row tags");
  r->tags[r->n_tags++] = id;
}

static void list_load(const char *path, CacheLabelKind kind, List *l) {
  memset(l, 0, sizeof *l);
  l->path = path;
  size_t len;
  char *text = read_whole_file(path, &len);
  l->hash = fnv1a(text, len, FNV_BASIS);
  Csv c = {.path = path, .text = text, .len = len, .line = 1};
  if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
    c.pos = 3; /* a UTF-8 byte order mark */
  int line;
  if (!csv_next(&c, &line)) at_fatal("%s: the list is empty; its first line must name the columns, e.g. path,split,tags", path);
  enum { COL_PATH, COL_SPLIT, COL_TAGS, COL_SONG, COL_FOLD, N_COLS };
  static const char *const col_names[N_COLS] = {"path", "split", "tags", "song", "fold"};
  int col[N_COLS];
  for (int k = 0; k < N_COLS; k++) col[k] = -1;
  const int n_cols = c.n_fields;
  for (int i = 0; i < n_cols; i++) {
    char *name = trimmed(c.fields[i]);
    int k = 0;
    while (k < N_COLS && strcmp(name, col_names[k]) != 0) k++;
    if (k == N_COLS)
      at_fatal("%s:%d: unknown column '%s'; the header names columns among path, split, tags, song, fold", path, line,
               name);
    if (col[k] >= 0) at_fatal("%s:%d: the column '%s' is named twice", path, line, name);
    col[k] = i;
    free(name);
  }
  if (col[COL_PATH] < 0 || col[COL_TAGS] < 0)
    at_fatal("%s:%d: the header must name the columns 'path' and 'tags' (and split, song, fold as needed); "
             "is the header line missing?",
             path, line);
  l->has_split = col[COL_SPLIT] >= 0;
  l->has_song = col[COL_SONG] >= 0;
  l->has_fold = col[COL_FOLD] >= 0;
  if (!l->has_split && !l->has_fold)
    at_fatal("%s:%d: the list needs a 'split' column (train, valid, test) or a 'fold' column (cross-validation)",
             path, line);

  /* folder of the list, for relative paths */
  char folder[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (slash) snprintf(folder, sizeof folder, "%.*s", (int)(slash - path), path);
  else snprintf(folder, sizeof folder, ".");
  if (slash == path) snprintf(folder, sizeof folder, "/");

  StrMap names = {0}, songs = {0}, paths = {0};
  int cap = 0;
  while (csv_next(&c, &line)) {
    if (c.n_fields != n_cols)
      at_fatal("%s:%d: %d field%s but the header names %d columns (quote fields that contain commas)", path, line,
               c.n_fields, c.n_fields == 1 ? "" : "s", n_cols);
    if (l->n == cap) {
      cap = cap ? cap * 2 : 256;
      l->rows = at_realloc(l->rows, sizeof(Row) * (size_t)cap, "file list");
    }
    Row *r = &l->rows[l->n];
    memset(r, 0, sizeof *r);
    r->line = line;
    r->song = -1;
    const char *p = c.fields[col[COL_PATH]];
    if (!p[0]) at_fatal("%s:%d: the path is empty", path, line);
    if (strchr(p, '\n')) at_fatal("%s:%d: the path contains a line break", path, line);
    r->path = at_strdup(p);
    char full[2 * PATH_MAX + 2];
    if (p[0] == '/' || !strcmp(folder, ".")) snprintf(full, sizeof full, "%s", p);
    else snprintf(full, sizeof full, "%s%s%s", folder, strcmp(folder, "/") ? "/" : "", p);
    if (strlen(full) >= PATH_MAX) at_fatal("%s:%d: the path is longer than %d characters", path, line, PATH_MAX - 1);
    r->full = at_strdup(full);
    int inserted;
    int first = strmap_intern(&paths, full, line, &inserted);
    if (!inserted) at_fatal("%s:%d: '%s' is listed twice (first at line %d)", path, line, p, first);

    char *split = l->has_split ? trimmed(c.fields[col[COL_SPLIT]]) : at_strdup("");
    if (!split[0]) {
      if (!l->has_fold)
        at_fatal("%s:%d: the split is empty; write train, valid or test (or give a fold column: then every file "
                 "goes to train.h5 with its fold)",
                 path, line);
      r->split = SPLIT_TRAIN;
    } else {
      int k = 0;
      while (k < N_SPLITS && strcmp(split, k_split_names[k]) != 0) k++;
      if (k == N_SPLITS) at_fatal("%s:%d: split '%s' is not one of train, valid, test", path, line, split);
      r->split = k;
    }
    free(split);

    if (l->has_fold) {
      char *f = trimmed(c.fields[col[COL_FOLD]]);
      char *end;
      errno = 0;
      long v = strtol(f, &end, 10);
      if (!f[0] || *end || errno || v < 0 || v > 1000000)
        at_fatal("%s:%d: fold '%s' is not an integer in [0, 1000000]", path, line, f);
      r->fold = (int)v;
      free(f);
    }
    if (l->has_song) {
      char *s = trimmed(c.fields[col[COL_SONG]]);
      if (!s[0]) at_fatal("%s:%d: the song id is empty", path, line);
      r->song = strmap_intern(&songs, s, l->n_songs, &inserted); /* ids in order of first appearance */
      if (inserted) l->n_songs++;
      free(s);
    }

    const char *t = c.fields[col[COL_TAGS]];
    if (strchr(t, '\n') || strchr(t, '\r')) at_fatal("%s:%d: the tags contain a line break", path, line);
    if (kind == CACHE_SINGLE_LABEL) {
      char *name = trimmed(t);
      if (!name[0]) at_fatal("%s:%d: no class name (a single-label dataset needs exactly one per file)", path, line);
      if (strchr(name, ';'))
        at_fatal("%s:%d: '%s' names several classes; a single-label dataset takes exactly one per file (use "
                 "kind = multi_label for tags)",
                 path, line, name);
      add_tag(r, intern_name(l, &names, name));
      free(name);
    } else {
      const char *s = t;
      while (*s) {
        const char *e = strchr(s, ';');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *piece = at_malloc(n + 1, "tag");
        memcpy(piece, s, n);
        piece[n] = '\0';
        char *name = trimmed(piece);
        if (name[0]) add_tag(r, intern_name(l, &names, name));
        free(name);
        free(piece);
        s += n;
        if (*s == ';') s++;
      }
    }
    l->n++;
  }
  csv_clear(&c);
  free(c.fields);
  free(c.buf);
  free(text);
  strmap_free(&names);
  strmap_free(&songs);
  strmap_free(&paths);
  if (l->n == 0) at_fatal("%s: the list names no files (only a header)", path);
}

static void list_free(List *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->rows[i].path);
    free(l->rows[i].full);
    free(l->rows[i].tags);
    free(l->rows[i].reason);
  }
  free(l->rows);
  for (int i = 0; i < l->n_names; i++) free(l->names[i]);
  free(l->names);
}

/* ------------------------------------------------------------------------ */
/* work records: DIR/.prep/<hash>.rec                                       */

#define RECORD_MAGIC "AURATAG-PREP 1\n"

typedef struct RecordHeader {
  int examples, rows, frames;
  long file_frames;
  double seconds, st_count, st_mean, st_m2;
  uint64_t checksum;
  size_t data_offset;
} RecordHeader;

typedef struct Ctx {
  const PrepOptions *o;
  DatasetConfig *dc;
  List list;
  char work[PATH_MAX];
  char signature[1024];
  int rows, frames; /* per example */
  FeatureMaker *gpu; /* the GPU front end, shared by the workers in turn; NULL: a CPU plan per worker */
} Ctx;

static void record_path(const Ctx *c, const Row *r, char *out, size_t size) {
  snprintf(out, size, "%s/%s", c->work, r->record);
}

/* Names the record of a file from everything its features depend on. */
static void name_record(const Ctx *c, Row *r) {
  struct stat st;
  r->record[0] = '\0';
  if (stat(r->full, &st) != 0 || !S_ISREG(st.st_mode)) return;
  snprintf(r->stamp, sizeof r->stamp, "%lld %lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
           (long)st.st_mtim.tv_nsec);
  uint64_t h1 = FNV_BASIS, h2 = 0x84222325cbf29ce4ULL;
  const char *parts[3] = {r->full, r->stamp, c->signature};
  for (int i = 0; i < 3; i++) {
    h1 = fnv1a(parts[i], strlen(parts[i]) + 1, h1);
    h2 = fnv1a(parts[i], strlen(parts[i]) + 1, h2 * 31 + 7);
  }
  snprintf(r->record, sizeof r->record, "%016" PRIx64 "%016" PRIx64 ".rec", h1, h2);
}

static int header_text(const Ctx *c, const Row *r, const RecordHeader *h, char *out, size_t size) {
  return snprintf(out, size,
                  RECORD_MAGIC "path %s\nstamp %s\nsignature %s\nexamples %d\nrows %d\nframes %d\nfile_frames %ld\n"
                               "seconds %.17g\nstats %.17g %.17g %.17g\nchecksum %016" PRIx64 "\nend\n",
                  r->full, r->stamp, c->signature, h->examples, h->rows, h->frames, h->file_frames, h->seconds,
                  h->st_count, h->st_mean, h->st_m2, h->checksum);
}

static void write_record(const Ctx *c, const Row *r, const RecordHeader *h, const float *data) {
  char path[PATH_MAX + 80], tmp[PATH_MAX + 96];
  record_path(c, r, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  size_t cap = strlen(r->full) + strlen(c->signature) + 1024;
  char *head = at_malloc(cap, "record header");
  int hn = header_text(c, r, h, head, cap);
  FILE *fp = fopen(tmp, "wb");
  if (!fp) at_fatal("cannot create the work record '%s': %s", tmp, strerror(errno));
  size_t n = (size_t)h->examples * (size_t)h->rows * (size_t)h->frames;
  int ok = fwrite(head, 1, (size_t)hn, fp) == (size_t)hn && (n == 0 || fwrite(data, sizeof(float), n, fp) == n);
  ok = (fclose(fp) == 0) && ok;
  free(head);
  if (!ok) {
    remove(tmp);
    at_fatal("cannot write the work record '%s' (is the disk full?)", tmp);
  }
  if (rename(tmp, path) != 0) at_fatal("cannot move '%s' into place: %s", tmp, strerror(errno));
}

/* Reads and checks a record's header against the file it should describe.
 * Returns 0 if the record is valid (complete, same file, same parameters). */
static int read_record_header(const Ctx *c, const Row *r, RecordHeader *h) {
  char path[PATH_MAX + 80];
  record_path(c, r, path, sizeof path);
  FILE *fp = fopen(path, "rb");
  if (!fp) return -1;
  size_t cap = strlen(r->full) + strlen(c->signature) + 1024;
  char *head = at_malloc(cap + 1, "record header");
  size_t got = fread(head, 1, cap, fp);
  head[got] = '\0';
  struct stat st;
  int have_size = fstat(fileno(fp), &st) == 0;
  fclose(fp);
  memset(h, 0, sizeof *h);
  char *end = strstr(head, "\nend\n");
  int rc = -1;
  if (end && have_size) {
    end[1] = '\0';
    h->data_offset = (size_t)(end - head) + 5;
    char *expect = at_malloc(cap, "record header");
    /* parse the numbers, then compare the whole text with what we would write */
    const char *e = strstr(head, "\nexamples ");
    if (e && sscanf(e,
                    "\nexamples %d\nrows %d\nframes %d\nfile_frames %ld\nseconds %lg\nstats %lg %lg %lg\nchecksum %" SCNx64,
                    &h->examples, &h->rows, &h->frames, &h->file_frames, &h->seconds, &h->st_count, &h->st_mean,
                    &h->st_m2, &h->checksum) == 9) {
      int n = header_text(c, r, h, expect, cap);
      size_t data = (size_t)h->examples * (size_t)h->rows * (size_t)h->frames * sizeof(float);
      if (n > 0 && (size_t)n == h->data_offset && !strncmp(expect, head, (size_t)n - 4) &&
          (size_t)st.st_size == h->data_offset + data && h->examples >= 0 &&
          (h->examples == 0 || (h->rows == c->rows && h->frames == c->frames)))
        rc = 0;
    }
    free(expect);
  }
  free(head);
  return rc;
}

/* The data of a valid record; a checksum mismatch is fatal after removing
 * the record (so that the next run recomputes it). */
static float *read_record_data(const Ctx *c, const Row *r, const RecordHeader *h) {
  char path[PATH_MAX + 80];
  record_path(c, r, path, sizeof path);
  size_t n = (size_t)h->examples * (size_t)h->rows * (size_t)h->frames;
  float *x = at_malloc(sizeof(float) * (n ? n : 1), "work record");
  FILE *fp = fopen(path, "rb");
  int ok = fp && fseek(fp, (long)h->data_offset, SEEK_SET) == 0 && fread(x, sizeof(float), n, fp) == n;
  if (fp) fclose(fp);
  if (!ok || checksum_floats(x, n) != h->checksum) {
    remove(path);
    at_fatal("the work record '%s' of '%s' is damaged (a crash while it was written?); it has been removed: run "
             "the same prep again to recompute it",
             path, r->path);
  }
  return x;
}

/* ------------------------------------------------------------------------ */
/* one file                                                                 */

static void set_reason(Row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(Row *r, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  free(r->reason);
  r->reason = at_strdup(buf);
  r->ok = 0;
}

static void process_file(const Ctx *c, FrontEndPlan **plan, Row *r) {
  const DatasetConfig *dc = c->dc;
  Audio a;
  char why[512];
  if (audio_load(r->full, dc->fe.sample_rate, &a, why, sizeof why) != 0) {
    set_reason(r, "%s", why);
    return;
  }
  r->seconds = (double)a.n / dc->fe.sample_rate;
  long n = a.n;
  float *clip = NULL;
  const float *sig = a.samples;
  if (dc->clip_seconds > 0) {
    clip = dataset_cut_clip(dc, a.samples, a.n, &n);
    sig = clip;
  }
  long frames = frontend_frames(&dc->fe, n);
  if (frames < 1) {
    set_reason(r, "too short: %ld samples (%.3f s) give no frame with n_fft %d", n, r->seconds, dc->fe.n_fft);
    free(clip);
    audio_free(&a);
    return;
  }
  if (frames > INT_MAX / 2) {
    set_reason(r, "too long: %ld frames", frames);
    free(clip);
    audio_free(&a);
    return;
  }
  const int rows = c->rows;
  float *feat = at_malloc(sizeof(float) * (size_t)rows * (size_t)frames, "features");
  if (c->gpu) {
    /* decoding and resampling stay parallel; the GPU takes one file at a time */
#pragma omp critical(prep_gpu_front_end)
    feature_maker_compute(c->gpu, sig, n, feat);
  } else {
    if (!*plan) *plan = frontend_plan_create(&dc->fe);
    frontend_compute(*plan, sig, n, feat);
  }
  free(clip);
  audio_free(&a);

  RecordHeader h;
  memset(&h, 0, sizeof h);
  h.rows = rows;
  h.file_frames = frames;
  h.seconds = r->seconds;
  float *data = feat;
  if (dc->chunk_frames > 0) {
    const int C = dc->chunk_frames;
    h.examples = (int)(frames / C); /* Pons: the remainder is dropped */
    h.frames = C;
    data = at_malloc(sizeof(float) * ((size_t)h.examples * (size_t)rows * (size_t)C + 1), "chunks");
    for (int k = 0; k < h.examples; k++)
      for (int b = 0; b < rows; b++)
        memcpy(data + ((size_t)k * rows + (size_t)b) * (size_t)C, feat + (size_t)b * (size_t)frames + (size_t)k * C,
               sizeof(float) * (size_t)C);
    free(feat);
  } else {
    h.examples = 1;
    h.frames = (int)frames;
    AT_ASSERT(h.frames == c->frames);
  }
  size_t count = (size_t)h.examples * (size_t)rows * (size_t)h.frames;
  /* statistics for global normalisation: mean, then the sum of squared
   * deviations, each in a fixed order (four interleaved partial sums, so
   * that the loops are not bound by the latency of one chain) */
  double s4[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= count; i += 4)
    for (int j = 0; j < 4; j++) s4[j] += data[i + (size_t)j];
  for (; i < count; i++) s4[0] += data[i];
  const double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  if (!isfinite(sum)) {
    size_t at = 0;
    while (at < count && isfinite(data[at])) at++;
    if (at < count) {
      set_reason(r, "the front end gave a non-finite value (%g) at example %zu, bin %zu, frame %zu", (double)data[at],
                 at / ((size_t)rows * (size_t)h.frames), at / (size_t)h.frames % (size_t)rows, at % (size_t)h.frames);
      free(data);
      return;
    }
  }
  const double mean = count ? sum / (double)count : 0;
  double q4[4] = {0, 0, 0, 0};
  for (i = 0; i + 4 <= count; i += 4)
    for (int j = 0; j < 4; j++) {
      const double d = data[i + (size_t)j] - mean;
      q4[j] += d * d;
    }
  for (; i < count; i++) q4[0] += (data[i] - mean) * (data[i] - mean);
  const double m2 = (q4[0] + q4[1]) + (q4[2] + q4[3]);
  h.st_count = (double)count;
  h.st_mean = mean;
  h.st_m2 = m2;
  h.checksum = checksum_floats(data, count);
  if (r->record[0]) write_record(c, r, &h, data);
  free(data);
  r->ok = 1;
  r->examples = h.examples;
  r->file_frames = h.file_frames;
  r->st_count = h.st_count;
  r->st_mean = h.st_mean;
  r->st_m2 = h.st_m2;
}

/* ------------------------------------------------------------------------ */
/* the work folder                                                          */

static void make_dir(const char *path) {
  at_make_dirs(path);
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) at_fatal("'%s' exists and is not a folder", path);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* Removes files in the work folder: partial ones (".tmp") or all. */
static void clean_work(const char *work, int everything) {
  DIR *d = opendir(work);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 300];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (!everything && !ends_with(e->d_name, ".tmp")) continue;
    snprintf(path, sizeof path, "%s/%s", work, e->d_name);
    remove(path);
  }
  closedir(d);
}

/* ------------------------------------------------------------------------ */
/* caches                                                                   */


static void attr_int(hid_t loc, const char *name, long long v) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(loc, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  int x = (int)v;
  if (attr < 0 || H5Awrite(attr, H5T_NATIVE_INT, &x) < 0) at_fatal("HDF5: cannot write the attribute '%s'", name);
  H5Aclose(attr);
  H5Sclose(space);
}

/* Adds prep's attributes to a finished cache: every dataset and front-end
 * parameter, the config text, the normalisation statistics. */
static void add_attributes(const Ctx *c, const char *path, int split, int has_norm, double mean, double std) {
  const DatasetConfig *dc = c->dc;
  h5_quiet();
  hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) at_fatal("cannot reopen '%s' to add its attributes", path);
  h5_write_string_attr(file, "dataset", dc->name);
  h5_write_string_attr(file, "split", k_split_names[split]);
  h5_write_string_attr(file, "dataset_config", dc->text);
  h5_write_string_attr(file, "dataset_kind", dataset_kind_name(dc->kind));
  attr_int(file, "top_tags", dc->top_tags);
  h5_write_double_attr(file, "clip_seconds", dc->clip_seconds);
  h5_write_string_attr(file, "clip", dataset_clip_name(dc->clip));
  attr_int(file, "chunk_frames", dc->chunk_frames);
  h5_write_string_attr(file, "normalise", dataset_normalise_name(dc->normalise));
  h5_write_string_attr(file, "feature_dtype", dc->feature_bytes == 2 ? "float16" : "float32");
  if (has_norm) {
    h5_write_double_attr(file, "norm_mean", mean);
    h5_write_double_attr(file, "norm_std", std);
  }
  /* front-end parameters beyond the FrontEnd description */
  attr_int(file, "center", dc->fe.center);
  h5_write_string_attr(file, "pad", dc->fe.pad == PAD_CONSTANT ? "constant" : "reflect");
  if (dc->fe.representation == REPR_MFCC) attr_int(file, "n_mels", dc->fe.n_mels);
  h5_write_double_attr(file, "power", dc->fe.power);
  attr_int(file, "mfcc_deltas", dc->fe.mfcc_deltas);
  h5_write_double_attr(file, "db_ref", dc->fe.db_ref);
  h5_write_double_attr(file, "db_amin", dc->fe.db_amin);
  h5_write_double_attr(file, "db_top_db", dc->fe.db_top_db);
  h5_write_double_attr(file, "log_c", dc->fe.log_c);
  char hash[32];
  snprintf(hash, sizeof hash, "%016" PRIx64, c->list.hash);
  h5_write_string_attr(file, "file_list", c->list.path);
  h5_write_string_attr(file, "file_list_fnv1a64", hash);
  if (H5Fclose(file) < 0) at_fatal("cannot finish '%s' (is the disk full?)", path);
}

void prep_normalise(float *x, size_t n, double mean, double std) {
  const float m = (float)mean, inv = (float)(1.0 / std);
  for (size_t i = 0; i < n; i++) x[i] = (x[i] - m) * inv;
}

typedef struct Vocab {
  int n;
  int *of_name; /* [n_names] position in the vocabulary or -1 */
  const char **names;
} Vocab;

static const List *g_sort_list;
static const long *g_sort_counts;
static int by_count_then_name(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  if (g_sort_counts && g_sort_counts[x] != g_sort_counts[y]) return g_sort_counts[x] > g_sort_counts[y] ? -1 : 1;
  return strcmp(g_sort_list->names[x], g_sort_list->names[y]);
}

static void build_vocab(Ctx *c, Vocab *v) {
  List *l = &c->list;
  long *counts = at_calloc((size_t)l->n_names + 1, sizeof(long), "tag counts");
  for (int i = 0; i < l->n; i++) {
    const Row *r = &l->rows[i];
    if (r->split != SPLIT_TRAIN || !r->ok || r->examples == 0) continue;
    for (int k = 0; k < r->n_tags; k++) counts[r->tags[k]]++;
  }
  int *order = at_malloc(sizeof(int) * ((size_t)l->n_names + 1), "tag order");
  int m = 0;
  for (int t = 0; t < l->n_names; t++)
    if (counts[t] > 0) order[m++] = t;
  g_sort_list = l;
  g_sort_counts = c->dc->kind == CACHE_MULTI_LABEL ? counts : NULL; /* classes: by name */
  qsort(order, (size_t)m, sizeof(int), by_count_then_name);
  if (c->dc->kind == CACHE_MULTI_LABEL && c->dc->top_tags > 0 && c->dc->top_tags < m) m = c->dc->top_tags;
  v->n = m;
  v->of_name = at_malloc(sizeof(int) * ((size_t)l->n_names + 1), "vocabulary");
  for (int t = 0; t < l->n_names; t++) v->of_name[t] = -1;
  v->names = at_malloc(sizeof(char *) * ((size_t)m + 1), "vocabulary");
  for (int k = 0; k < m; k++) {
    v->of_name[order[k]] = k;
    v->names[k] = l->names[order[k]];
  }
  free(order);
  free(counts);
}


/* ------------------------------------------------------------------------ */
/* the report                                                               */

typedef struct Totals {
  int files, written, resumed, skipped;
  int examples[N_SPLITS];
  double seconds, wall;
  int threads;
  int has_norm;
  double mean, std;
} Totals;

static void write_report(const Ctx *c, const Vocab *v, const Totals *t) {
  char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
  snprintf(path, sizeof path, "%s/prep-report.json", c->o->out);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *fp = fopen(tmp, "w");
  if (!fp) at_fatal("cannot create '%s': %s", tmp, strerror(errno));
  fprintf(fp, "{\"dataset\": ");
  json_string(fp, c->dc->name);
  fprintf(fp, ",\n \"config\": ");
  json_string(fp, c->o->dataset_config);
  fprintf(fp, ",\n \"list\": ");
  json_string(fp, c->o->list);
  fprintf(fp, ",\n \"files\": %d,\n \"written\": %d,\n \"resumed\": %d,\n \"examples\": {", t->files, t->written,
          t->resumed);
  for (int s = 0, first = 1; s < N_SPLITS; s++) {
    if (!t->examples[s]) continue;
    fprintf(fp, "%s\"%s\": %d", first ? "" : ", ", k_split_names[s], t->examples[s]);
    first = 0;
  }
  fprintf(fp, "},\n \"skipped\": [");
  int first = 1;
  for (int i = 0; i < c->list.n; i++) {
    const Row *r = &c->list.rows[i];
    if (r->ok) continue;
    fprintf(fp, "%s\n  {\"path\": ", first ? "" : ",");
    json_string(fp, r->path);
    fprintf(fp, ", \"line\": %d, \"reason\": ", r->line);
    json_string(fp, r->reason ? r->reason : "unknown");
    fputc('}', fp);
    first = 0;
  }
  fprintf(fp, "%s],\n \"tags\": [", first ? "" : "\n ");
  for (int k = 0; k < v->n; k++) {
    if (k) fprintf(fp, ", ");
    json_string(fp, v->names[k]);
  }
  fprintf(fp, "],\n \"kind\": \"%s\",\n \"seconds_of_audio\": ", dataset_kind_name(c->dc->kind));
  json_number(fp, t->seconds);
  fprintf(fp, ",\n \"wall_seconds\": ");
  json_number(fp, t->wall);
  fprintf(fp, ",\n \"threads\": %d", t->threads);
  if (t->has_norm) {
    fprintf(fp, ",\n \"norm_mean\": ");
    json_number(fp, t->mean);
    fprintf(fp, ",\n \"norm_std\": ");
    json_number(fp, t->std);
  }
  fprintf(fp, "}\n");
  if (fclose(fp) != 0 || rename(tmp, path) != 0) at_fatal("cannot write '%s' (is the disk full?)", path);
}

/* ------------------------------------------------------------------------ */

int prep_run(const PrepOptions *o) {
  const double t0 = at_now_seconds();
  Ctx c;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.dc = dataset_config_load(o->dataset_config, o->overrides, o->n_overrides);
  const DatasetConfig *dc = c.dc;
  c.rows = frontend_rows(&dc->fe);
  c.frames = dataset_example_frames(dc);
  dataset_feature_signature(dc, c.signature, sizeof c.signature);
  list_load(o->list, dc->kind, &c.list);
  List *l = &c.list;

  make_dir(o->out);
  snprintf(c.work, sizeof c.work, "%s/.prep", o->out);
  make_dir(c.work);
  char lock_path[PATH_MAX + 16];
  snprintf(lock_path, sizeof lock_path, "%s/lock", c.work);
  int lock_fd = open(lock_path, O_RDWR | O_CREAT, 0666);
  if (lock_fd < 0) at_fatal("cannot create '%s': %s", lock_path, strerror(errno));
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
    at_fatal("another `auratag prep` is writing to '%s' (it holds %s); wait for it or choose another --out", o->out,
             lock_path);
  clean_work(c.work, 0); /* partial records of an interrupted run */

  int threads = o->threads;
#ifdef _OPENMP
  if (threads <= 0) threads = omp_get_max_threads();
#endif
  if (threads <= 0) threads = 1;

  /* 1. which files are already done */
  long *todo = at_malloc(sizeof(long) * (size_t)l->n, "work list");
  long n_todo = 0;
  Totals t;
  memset(&t, 0, sizeof t);
  t.files = l->n;
  t.threads = threads;
  for (int i = 0; i < l->n; i++) {
    Row *r = &l->rows[i];
    name_record(&c, r);
    RecordHeader h;
    if (r->record[0] && read_record_header(&c, r, &h) == 0) {
      r->ok = 1;
      r->resumed = 1;
      r->examples = h.examples;
      r->file_frames = h.file_frames;
      r->seconds = h.seconds;
      r->st_count = h.st_count;
      r->st_mean = h.st_mean;
      r->st_m2 = h.st_m2;
      t.resumed++;
    } else {
      todo[n_todo++] = i;
    }
  }
  printf("prep %s: %d files (%s), %d rows x %d frames per example, %d thread%s\n", dc->name, l->n, o->list, c.rows,
         c.frames, threads, threads == 1 ? "" : "s");
  if (t.resumed) printf("resuming: %d files were already done in %s\n", t.resumed, c.work);
  fflush(stdout);

  /* 2. the rest, in parallel; the front end on the GPU when the backend is
   * cuda (--backend cuda, or auto with a GPU) */
  const Backend *be = at_backend_selected();
  if (!strcmp(be->name, "cuda")) {
    c.gpu = feature_maker_create(&dc->fe, be);
    if (!feature_maker_on_gpu(c.gpu)) {
      feature_maker_free(c.gpu);
      c.gpu = NULL;
    }
  }
  printf("front end on the %s\n", c.gpu ? at_backend_cuda_description() : "CPU (FFTW)");
  Progress prog;
  progress_begin(&prog, stderr, "prep", l->n, t.resumed, 10);
  long done = t.resumed, failed = 0;
  double audio_done = 0;
  const double tp = at_now_seconds();
#pragma omp parallel num_threads(threads)
  {
    FrontEndPlan *plan = NULL;
#pragma omp for schedule(dynamic, 1)
    for (long k = 0; k < n_todo; k++) {
      Row *r = &l->rows[todo[k]];
      process_file(&c, &plan, r);
#pragma omp critical(prep_progress)
      {
        done++;
        failed += !r->ok;
        audio_done += r->seconds;
        char extra[64] = "";
        if (failed) snprintf(extra, sizeof extra, "(%ld skipped)", failed);
        double dt = at_now_seconds() - tp;
        progress_update(&prog, done, dt > 0 ? audio_done / dt : 0, "s of audio", extra);
      }
    }
    if (plan) frontend_plan_free(plan);
  }
  progress_end(&prog);
  free(todo);
  feature_maker_free(c.gpu);

  /* 3. vocabulary, songs, statistics: in list order */
  Vocab v;
  build_vocab(&c, &v);
  for (int i = 0; i < l->n; i++) {
    Row *r = &l->rows[i];
    if (!r->ok) continue;
    if (r->examples == 0) {
      set_reason(r, "shorter than one chunk: %ld frames < chunk_frames = %d", r->file_frames, dc->chunk_frames);
    } else if (dc->kind == CACHE_SINGLE_LABEL && v.of_name[r->tags[0]] < 0) {
      set_reason(r, "class '%s' does not occur in the training split", l->names[r->tags[0]]);
    }
  }
  long n_train = 0, listed_train = 0;
  for (int i = 0; i < l->n; i++) {
    listed_train += l->rows[i].split == SPLIT_TRAIN;
    const Row *r = &l->rows[i];
    if (r->ok) {
      t.written++;
      t.examples[r->split] += r->examples;
      t.seconds += r->seconds;
      n_train += r->split == SPLIT_TRAIN;
    } else {
      t.skipped++;
    }
  }
  for (int i = 0, shown = 0; i < l->n; i++) {
    const Row *r = &l->rows[i];
    if (r->ok) continue;
    if (shown++ < 20) fprintf(stderr, "skipped %s: %s\n", r->path, r->reason);
    else if (shown == 21) fprintf(stderr, "... (%d skipped in all; every one is in prep-report.json)\n", t.skipped);
  }
  t.wall = at_now_seconds() - t0;
  if (n_train == 0 || v.n == 0) {
    write_report(&c, &v, &t);
    at_fatal("no usable file in the training split (%d listed as train, %d skipped in all; see %s/prep-report.json): "
             "the tag vocabulary%s computed from it",
             (int)listed_train, t.skipped, o->out,
             dc->normalise == NORMALISE_GLOBAL ? " and the normalisation statistics are" : " is");
  }
  if (dc->kind == CACHE_MULTI_LABEL && dc->top_tags > v.n)
    printf("note: top_tags = %d but the training split has only %d distinct tags: keeping all of them\n", dc->top_tags,
           v.n);
  double mean = 0, std = 1;
  if (dc->normalise == NORMALISE_GLOBAL) {
    /* Chan et al.'s pairwise combination of per-file (count, mean, M2) */
    double n = 0, m = 0, m2 = 0;
    for (int i = 0; i < l->n; i++) {
      const Row *r = &l->rows[i];
      if (!r->ok || r->split != SPLIT_TRAIN) continue;
      double nb = r->st_count, d = r->st_mean - m, nn = n + nb;
      m += d * nb / nn;
      m2 += r->st_m2 + d * d * n * nb / nn;
      n = nn;
    }
    mean = m;
    std = sqrt(m2 / n);
    if (!(std > 0) || !isfinite(std))
      at_fatal("the training features have standard deviation %g: global normalisation is impossible (silent audio?)",
               std);
    t.has_norm = 1;
    t.mean = mean;
    t.std = std;
  }

  /* 4. the caches */
  FrontEnd fe_desc;
  frontend_describe(&dc->fe, &fe_desc);
  const size_t per = (size_t)c.rows * (size_t)c.frames;
  uint8_t *labels = at_malloc((size_t)v.n + 1, "labels");
  char id[PATH_MAX + 32];
  for (int s = 0; s < N_SPLITS; s++) {
    char final_path[PATH_MAX + 32], staged[PATH_MAX + 32];
    snprintf(final_path, sizeof final_path, "%s/%s.h5", o->out, k_split_names[s]);
    if (!t.examples[s]) {
      if (access(final_path, F_OK) == 0) {
        remove(final_path);
        printf("removed %s: left by an earlier prep, and this list has no %s example\n", final_path, k_split_names[s]);
      }
      continue;
    }
    snprintf(staged, sizeof staged, "%s/%s.h5", c.work, k_split_names[s]);
    CacheSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = t.examples[s];
    spec.bins = c.rows;
    spec.frames = c.frames;
    spec.feature_bytes = dc->feature_bytes;
    spec.kind = dc->kind;
    spec.n_tags = v.n;
    spec.tags = v.names;
    spec.has_song = l->has_song || dc->chunk_frames > 0;
    spec.has_fold = l->has_fold;
    spec.front_end = fe_desc;
    CacheWriter *w = cache_writer_create(staged, &spec);
    int index = 0;
    for (int i = 0; i < l->n; i++) {
      const Row *r = &l->rows[i];
      if (!r->ok || r->split != s) continue;
      RecordHeader h;
      if (read_record_header(&c, r, &h) != 0)
        at_fatal("the work record of '%s' disappeared from %s while prep was running", r->path, c.work);
      float *x = read_record_data(&c, r, &h);
      if (t.has_norm) prep_normalise(x, (size_t)h.examples * per, mean, std);
      memset(labels, 0, (size_t)v.n + 1);
      int32_t label = 0;
      if (dc->kind == CACHE_MULTI_LABEL) {
        for (int k = 0; k < r->n_tags; k++)
          if (v.of_name[r->tags[k]] >= 0) labels[v.of_name[r->tags[k]]] = 1;
      } else {
        label = v.of_name[r->tags[0]];
      }
      int32_t song = l->has_song ? r->song : i;
      for (int e = 0; e < h.examples; e++) {
        if (dc->chunk_frames > 0) snprintf(id, sizeof id, "%s#%d", r->path, e);
        else snprintf(id, sizeof id, "%s", r->path);
        cache_writer_put(w, index++, x + (size_t)e * per, dc->kind == CACHE_MULTI_LABEL ? labels : NULL, label, id,
                         song, r->fold);
      }
      free(x);
    }
    AT_ASSERT(index == spec.n);
    cache_writer_finish(w);
    at_temp_file_register(staged);
    add_attributes(&c, staged, s, t.has_norm, mean, std);
    h5_commit_file(staged, final_path);
    at_temp_file_clear();
    printf("wrote %s: %d example%s x %d x %d (%s), %d %s\n", final_path, spec.n, spec.n == 1 ? "" : "s", spec.bins, spec.frames,
           dc->feature_bytes == 2 ? "float16" : "float32", v.n, dc->kind == CACHE_MULTI_LABEL ? "tags" : "classes");
  }
  free(labels);

  /* 5. tags.txt, the report */
  size_t cap = 16;
  for (int k = 0; k < v.n; k++) cap += strlen(v.names[k]) + 1;
  char *tags_text = at_malloc(cap, "tags.txt");
  tags_text[0] = '\0';
  char *p = tags_text;
  for (int k = 0; k < v.n; k++) p += sprintf(p, "%s\n", v.names[k]);
  char tags_path[PATH_MAX + 16];
  snprintf(tags_path, sizeof tags_path, "%s/tags.txt", o->out);
  at_write_text_file(tags_path, tags_text);
  free(tags_text);
  t.wall = at_now_seconds() - t0;
  write_report(&c, &v, &t);
  const double compute = at_now_seconds() - tp;
  printf("%d of %d files written, %d skipped; %.1f s of audio; %.1f s wall", t.written, t.files, t.skipped, t.seconds,
         t.wall);
  if (n_todo > 0 && compute > 0)
    printf(" (%.1f s of audio per second, %d thread%s)", audio_done / compute, threads, threads == 1 ? "" : "s");
  printf("\n");
  if (t.has_norm) printf("global normalisation from the training split: mean %.6g, std %.6g\n", mean, std);
  printf("report: %s/prep-report.json\n", o->out);

  if (!o->keep_work) {
    clean_work(c.work, 1);
    close(lock_fd);
    rmdir(c.work);
  } else {
    close(lock_fd);
  }
  free(v.of_name);
  free(v.names);
  list_free(l);
  dataset_config_free(c.dc);
  return 0;
}

/* ------------------------------------------------------------------------ */

static int read_double_attr(hid_t file, const char *name, double *v) {
  if (H5Aexists(file, name) <= 0) return 0;
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  int ok = a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
  if (a >= 0) H5Aclose(a);
  return ok;
}

void prep_read_setup(const char *cache_path, PrepSetup *out) {
  memset(out, 0, sizeof *out);
  hid_t file = (hid_t)h5_open_guarded(cache_path, "cache", "write it again with auratag prep");
  char *format = h5_read_string_attr(file, "format", cache_path);
  if (!format || strcmp(format, AT_CACHE_FORMAT) != 0) at_fatal("'%s' is not an auratag cache", cache_path);
  free(format);
  char *text = h5_read_string_attr(file, "dataset_config", cache_path);
  if (!text)
    at_fatal("cache '%s' was not made by `auratag prep` (it has no dataset_config attribute), so it does not say "
             "how to compute features from audio",
             cache_path);
  char origin[PATH_MAX + 64];
  snprintf(origin, sizeof origin, "%s (dataset_config attribute)", cache_path);
  out->dc = dataset_config_from_text(text, origin);
  free(text);
  if (out->dc->normalise == NORMALISE_GLOBAL) {
    if (!read_double_attr(file, "norm_mean", &out->norm_mean) || !read_double_attr(file, "norm_std", &out->norm_std))
      at_fatal("cache '%s' says normalise = global but lacks the attributes norm_mean / norm_std", cache_path);
    if (!(out->norm_std > 0)) at_fatal("cache '%s': norm_std = %g", cache_path, out->norm_std);
    out->has_norm = 1;
  }
  H5Fclose(file);
  h5_guard_end();
}

void prep_setup_free(PrepSetup *s) {
  dataset_config_free(s->dc);
  memset(s, 0, sizeof *s);
}
