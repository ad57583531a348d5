/* A reader of RFC 4180 CSV held in memory: fields separated by commas,
 * records by LF or CRLF, fields in double quotes may hold commas, line breaks
 * and quotes (written ""). Blank lines between records are skipped; a UTF-8
 * byte order mark at the start is skipped. Malformed text is fatal, with the
 * file name and line. */
#ifndef AT_CSV_H
#define AT_CSV_H

#include <stddef.h>

typedef struct Csv {
  char **fields; /* the current record's fields, after csv_next */
  int n_fields;
  const char *path, *text; /* the text read, whole */
  size_t len;
  /* private */
  size_t pos;
  int line, cap_fields, owns_text;
  char *buf;
  size_t buf_len, buf_cap;
} Csv;

/* Starts reading text (len bytes, not copied: it must outlive the reader);
 * path names the text in error messages. */
void csv_begin(Csv *c, const char *path, const char *text, size_t len);
/* Reads the file at path whole (fatal if it cannot) and starts reading it;
 * csv_end frees the text. */
void csv_open(Csv *c, const char *path);
/* The next record into c->fields; 0 at the end. *line = the record's first line. */
int csv_next(Csv *c, int *line);
void csv_end(Csv *c);

#endif
