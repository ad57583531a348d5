#include "core/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void csv_begin(Csv *c, const char *path, const char *text, size_t len) {
  memset(c, 0, sizeof *c);
  c->path = path;
  c->text = text;
  c->len = len;
  c->line = 1;
  if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
    c->pos = 3; /* a UTF-8 byte order mark */
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

void csv_open(Csv *c, const char *path) {
  size_t len;
  char *text = read_whole_file(path, &len);
  csv_begin(c, path, text, len);
  c->owns_text = 1;
}

static void push_char(Csv *c, char ch) {
  if (c->buf_len + 2 > c->buf_cap) {
    c->buf_cap = c->buf_cap ? c->buf_cap * 2 : 256;
    c->buf = at_realloc(c->buf, c->buf_cap, "CSV field");
  }
  c->buf[c->buf_len++] = ch;
}

static void push_field(Csv *c) {
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

static void clear_fields(Csv *c) {
  for (int i = 0; i < c->n_fields; i++) free(c->fields[i]);
  c->n_fields = 0;
}

static int at_crlf(const Csv *c) {
  return c->text[c->pos] == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n';
}

/* At the end of a field: end of text, a comma or a line break. */
static int at_field_end(const Csv *c) {
  return c->pos >= c->len || c->text[c->pos] == ',' || c->text[c->pos] == '\n' || at_crlf(c);
}

/* Skips blank lines; 0 if the text ends first. */
static int skip_blank_lines(Csv *c) {
  for (;;) {
    if (c->pos >= c->len) return 0;
    if (c->text[c->pos] == '\n') {
      c->pos++;
      c->line++;
    } else if (at_crlf(c)) {
      c->pos += 2;
      c->line++;
    } else {
      return 1;
    }
  }
}

/* A field in double quotes, c->pos on the opening quote, into c->buf. */
static void read_quoted(Csv *c) {
  const int open_line = c->line;
  c->pos++;
  for (;;) {
    if (c->pos >= c->len) at_fatal("%s:%d: a quoted field is never closed (a '\"' is missing)", c->path, open_line);
    const char ch = c->text[c->pos];
    if (ch == '"') {
      if (c->pos + 1 < c->len && c->text[c->pos + 1] == '"') {
        push_char(c, '"');
        c->pos += 2;
        continue;
      }
      c->pos++;
      break;
    }
    if (ch == '\n') c->line++;
    push_char(c, ch);
    c->pos++;
  }
  if (!at_field_end(c))
    at_fatal(
        "%s:%d: text after the closing quote of a field (quote the whole field, and write a quote inside it "
        "as \"\")",
        c->path, c->line);
}

static void read_plain(Csv *c) {
  while (!at_field_end(c)) {
    const char ch = c->text[c->pos];
    if (ch == '\0') at_fatal("%s:%d: a NUL byte: this is not a text file", c->path, c->line);
    push_char(c, ch);
    c->pos++;
  }
}

int csv_next(Csv *c, int *line) {
  clear_fields(c);
  if (!skip_blank_lines(c)) return 0;
  *line = c->line;
  for (;;) {
    c->buf_len = 0;
    if (c->pos < c->len && c->text[c->pos] == '"') read_quoted(c);
    else read_plain(c);
    push_field(c);
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

void csv_end(Csv *c) {
  clear_fields(c);
  free(c->fields);
  free(c->buf);
  if (c->owns_text) free((char *)c->text);
  memset(c, 0, sizeof *c);
}
