/* prep's file list (see prep_list.h). */
#include "audio/prep_list.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/strmap.h"

const char *const prep_split_names[PREP_N_SPLITS] = {"train", "valid", "test"};

enum { COL_PATH, COL_SPLIT, COL_TAGS, COL_SONG, COL_FOLD, N_COLS };
static const char *const k_col_names[N_COLS] = {"path", "split", "tags", "song", "fold"};

/* What reading the rows needs beyond the list itself. */
typedef struct ListReader {
  PrepList *l;
  Csv csv;
  int col[N_COLS]; /* field index of each column, -1 if absent */
  int n_cols;
  char folder[PATH_MAX]; /* the list's folder, for relative paths */
  StrMap names, songs, paths;
} ListReader;

void prep_row_skip(PrepRow *r, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  free(r->reason);
  r->reason = at_strdup(buf);
  r->ok = 0;
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

/* The header line: which field holds which column. */
static void read_header(ListReader *lr) {
  const char *path = lr->l->path;
  int line;
  if (!csv_next(&lr->csv, &line))
    at_fatal("%s: the list is empty; its first line must name the columns, e.g. path,split,tags", path);
  for (int k = 0; k < N_COLS; k++) lr->col[k] = -1;
  lr->n_cols = lr->csv.n_fields;
  for (int i = 0; i < lr->n_cols; i++) {
    char *name = trimmed(lr->csv.fields[i]);
    int k = 0;
    while (k < N_COLS && strcmp(name, k_col_names[k]) != 0) k++;
    if (k == N_COLS)
      at_fatal("%s:%d: unknown column '%s'; the header names columns among path, split, tags, song, fold", path, line,
               name);
    if (lr->col[k] >= 0) at_fatal("%s:%d: the column '%s' is named twice", path, line, name);
    lr->col[k] = i;
    free(name);
  }
  if (lr->col[COL_PATH] < 0 || lr->col[COL_TAGS] < 0)
    at_fatal(
        "%s:%d: the header must name the columns 'path' and 'tags' (and split, song, fold as needed); "
        "is the header line missing?",
        path, line);
  PrepList *l = lr->l;
  l->has_split = lr->col[COL_SPLIT] >= 0;
  l->has_song = lr->col[COL_SONG] >= 0;
  l->has_fold = lr->col[COL_FOLD] >= 0;
  if (!l->has_split && !l->has_fold)
    at_fatal("%s:%d: the list needs a 'split' column (train, valid, test) or a 'fold' column (cross-validation)", path,
             line);
}

static void set_folder(ListReader *lr) {
  const char *path = lr->l->path;
  const char *slash = strrchr(path, '/');
  if (slash) snprintf(lr->folder, sizeof lr->folder, "%.*s", (int)(slash - path), path);
  else snprintf(lr->folder, sizeof lr->folder, ".");
  if (slash == path) snprintf(lr->folder, sizeof lr->folder, "/");
}

static const char *field(const ListReader *lr, int col) {
  return lr->csv.fields[lr->col[col]];
}

static void read_path(ListReader *lr, PrepRow *r) {
  const char *path = lr->l->path, *folder = lr->folder;
  const int line = r->line;
  const char *p = field(lr, COL_PATH);
  if (!p[0]) at_fatal("%s:%d: the path is empty", path, line);
  if (strchr(p, '\n')) at_fatal("%s:%d: the path contains a line break", path, line);
  r->path = at_strdup(p);
  char full[2 * PATH_MAX + 2];
  if (p[0] == '/' || !strcmp(folder, ".")) snprintf(full, sizeof full, "%s", p);
  else snprintf(full, sizeof full, "%s%s%s", folder, strcmp(folder, "/") ? "/" : "", p);
  if (strlen(full) >= PATH_MAX) at_fatal("%s:%d: the path is longer than %d characters", path, line, PATH_MAX - 1);
  r->full = at_strdup(full);
  int inserted;
  int first = strmap_intern(&lr->paths, full, line, &inserted);
  if (!inserted) at_fatal("%s:%d: '%s' is listed twice (first at line %d)", path, line, p, first);
}

static void read_split(const ListReader *lr, PrepRow *r) {
  const PrepList *l = lr->l;
  char *split = l->has_split ? trimmed(field(lr, COL_SPLIT)) : at_strdup("");
  if (!split[0]) {
    if (!l->has_fold)
      at_fatal(
          "%s:%d: the split is empty; write train, valid or test (or give a fold column: then every file goes "
          "to train.h5 with its fold)",
          l->path, r->line);
    r->split = PREP_SPLIT_TRAIN;
  } else {
    int k = 0;
    while (k < PREP_N_SPLITS && strcmp(split, prep_split_names[k]) != 0) k++;
    if (k == PREP_N_SPLITS) at_fatal("%s:%d: split '%s' is not one of train, valid, test", l->path, r->line, split);
    r->split = k;
  }
  free(split);
}

static void read_fold(const ListReader *lr, PrepRow *r) {
  char *f = trimmed(field(lr, COL_FOLD));
  char *end;
  errno = 0;
  long v = strtol(f, &end, 10);
  if (!f[0] || *end || errno || v < 0 || v > 1000000)
    at_fatal("%s:%d: fold '%s' is not an integer in [0, 1000000]", lr->l->path, r->line, f);
  r->fold = (int)v;
  free(f);
}

static void read_song(ListReader *lr, PrepRow *r) {
  PrepList *l = lr->l;
  char *s = trimmed(field(lr, COL_SONG));
  if (!s[0]) at_fatal("%s:%d: the song id is empty", l->path, r->line);
  int inserted;
  r->song = strmap_intern(&lr->songs, s, l->n_songs, &inserted); /* ids in order of first appearance */
  if (inserted) l->n_songs++;
  free(s);
}

static int intern_name(ListReader *lr, const char *name) {
  PrepList *l = lr->l;
  int inserted;
  int id = strmap_intern(&lr->names, name, l->n_names, &inserted);
  if (inserted) {
    if (l->n_names % 64 == 0) l->names = at_realloc(l->names, sizeof(char *) * (size_t)(l->n_names + 64), "tag names");
    l->names[l->n_names++] = at_strdup(name);
  }
  return id;
}

static void add_tag(PrepRow *r, int id) {
  for (int i = 0; i < r->n_tags; i++)
    if (r->tags[i] == id) return; /* listed twice: once is enough */
  if (r->n_tags % 8 == 0) r->tags = at_realloc(r->tags, sizeof(int) * (size_t)(r->n_tags + 8), "row tags");
  r->tags[r->n_tags++] = id;
}

/* Tags separated by ';' (multi-label) or exactly one class (single-label). */
static void read_tags(ListReader *lr, CacheLabelKind kind, PrepRow *r) {
  const char *path = lr->l->path;
  const int line = r->line;
  const char *t = field(lr, COL_TAGS);
  if (strchr(t, '\n') || strchr(t, '\r')) at_fatal("%s:%d: the tags contain a line break", path, line);
  if (kind == CACHE_SINGLE_LABEL) {
    char *name = trimmed(t);
    if (!name[0]) at_fatal("%s:%d: no class name (a single-label dataset needs exactly one per file)", path, line);
    if (strchr(name, ';'))
      at_fatal(
          "%s:%d: '%s' names several classes; a single-label dataset takes exactly one per file (use "
          "kind = multi_label for tags)",
          path, line, name);
    add_tag(r, intern_name(lr, name));
    free(name);
    return;
  }
  const char *s = t;
  while (*s) {
    const char *e = strchr(s, ';');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    char *piece = at_malloc(n + 1, "tag");
    memcpy(piece, s, n);
    piece[n] = '\0';
    char *name = trimmed(piece);
    if (name[0]) add_tag(r, intern_name(lr, name));
    free(name);
    free(piece);
    s += n;
    if (*s == ';') s++;
  }
}

static void read_rows(ListReader *lr, CacheLabelKind kind) {
  PrepList *l = lr->l;
  int cap = 0, line;
  while (csv_next(&lr->csv, &line)) {
    const int n_fields = lr->csv.n_fields;
    if (n_fields != lr->n_cols)
      at_fatal("%s:%d: %d field%s but the header names %d columns (quote fields that contain commas)", l->path, line,
               n_fields, n_fields == 1 ? "" : "s", lr->n_cols);
    if (l->n == cap) {
      cap = cap ? cap * 2 : 256;
      l->rows = at_realloc(l->rows, sizeof(PrepRow) * (size_t)cap, "file list");
    }
    PrepRow *r = &l->rows[l->n];
    memset(r, 0, sizeof *r);
    r->line = line;
    r->song = -1;
    read_path(lr, r);
    read_split(lr, r);
    if (l->has_fold) read_fold(lr, r);
    if (l->has_song) read_song(lr, r);
    read_tags(lr, kind, r);
    l->n++;
  }
}

void prep_list_load(const char *path, CacheLabelKind kind, PrepList *l) {
  memset(l, 0, sizeof *l);
  l->path = path;
  ListReader lr;
  memset(&lr, 0, sizeof lr);
  lr.l = l;
  csv_open(&lr.csv, path);
  l->hash = at_fnv1a(lr.csv.text, lr.csv.len, AT_FNV1A_BASIS);
  read_header(&lr);
  set_folder(&lr);
  read_rows(&lr, kind);
  csv_end(&lr.csv);
  strmap_free(&lr.names);
  strmap_free(&lr.songs);
  strmap_free(&lr.paths);
  if (l->n == 0) at_fatal("%s: the list names no files (only a header)", path);
}

void prep_list_free(PrepList *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->rows[i].path);
    free(l->rows[i].full);
    free(l->rows[i].tags);
    free(l->rows[i].reason);
    free(l->rows[i].warning);
  }
  free(l->rows);
  for (int i = 0; i < l->n_names; i++) free(l->names[i]);
  free(l->names);
}
