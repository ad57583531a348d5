/* Files written whole: to a temporary name, flushed to disk, renamed into
 * place, so that a crash or a full disk never leaves a half-written file. */
#ifndef AT_FILES_H
#define AT_FILES_H

#include <stddef.h>

void at_write_text_file(const char *path, const char *text);
void at_write_file(const char *path, const void *data, size_t size);
/* A regular file of at most `limit` bytes, NUL-terminated (caller frees);
 * fatal, naming it, when it is missing, not a regular file or too big. */
char *at_read_text_file(const char *path, size_t limit);
/* The same for any bytes: the file's contents (not terminated) and their
 * size in *size. */
void *at_read_file(const char *path, size_t limit, size_t *size);
/* mkdir -p; fatal, naming the folder and why, when it cannot be made or a
 * part of the path is a file. */
void at_make_dirs(const char *path);
/* The folders a file at `path` will be written into (mkdir -p of its
 * dirname; nothing for a bare file name). */
void at_make_parent_dirs(const char *path);

#endif
