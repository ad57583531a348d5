#include "core/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

void at_write_text_file(const char *path, const char *text) { at_write_file(path, text, strlen(text)); }

void at_write_file(const char *path, const void *data, size_t size) {
  size_t len = strlen(path);
  char *tmp = at_malloc(len + 32, "a file name");
  snprintf(tmp, len + 32, "%s.tmp.%d", path, (int)getpid());
  at_make_parent_dirs(path);
  FILE *fp = fopen(tmp, "wb");
  if (!fp) at_fatal("cannot create '%s': %s", tmp, strerror(errno));
  at_temp_file_register(tmp);
  if (fwrite(data, 1, size, fp) != size || fflush(fp) != 0 || fsync(fileno(fp)) != 0 || fclose(fp) != 0)
    at_fatal("cannot write '%s' (is the disk full?); '%s' is unchanged", tmp, path);
  if (rename(tmp, path) != 0) at_fatal("cannot move '%s' into place as '%s': %s", tmp, path, strerror(errno));
  at_temp_file_clear();
  free(tmp);
}

void *at_read_file(const char *path, size_t limit, size_t *size) {
  FILE *fp = fopen(path, "rb");
  if (!fp) at_fatal("cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > limit)
    at_fatal("'%s' is not a regular file of at most %zu bytes", path, limit);
  char *data = at_malloc((size_t)st.st_size + 1, "file contents");
  const size_t got = fread(data, 1, (size_t)st.st_size, fp);
  fclose(fp);
  if (got != (size_t)st.st_size) at_fatal("cannot read '%s'", path);
  *size = got;
  return data;
}

char *at_read_text_file(const char *path, size_t limit) {
  size_t size;
  char *text = at_read_file(path, limit, &size);
  text[size] = '\0'; /* at_read_file leaves a byte for it */
  return text;
}

static void make_one_dir(const char *path) {
  if (mkdir(path, 0777) == 0) return;
  struct stat st;
  if (errno == EEXIST && stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return;
    at_fatal("cannot create the folder '%s': a file of that name is in the way", path);
  }
  at_fatal("cannot create the folder '%s': %s", path, strerror(errno));
}

void at_make_dirs(const char *path) {
  char *buf = at_strdup(path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/' && p[-1] != '/') {
      *p = '\0';
      make_one_dir(buf);
      *p = '/';
    }
  make_one_dir(buf);
  free(buf);
}

void at_make_parent_dirs(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return;
  char *dir = at_strdup(path);
  dir[slash - path] = '\0';
  at_make_dirs(dir);
  free(dir);
}
