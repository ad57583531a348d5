#include "core/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

void at_write_text_file(const char *path, const char *text) {
  size_t len = strlen(path);
  char *tmp = at_malloc(len + 32, "a file name");
  snprintf(tmp, len + 32, "%s.tmp.%d", path, (int)getpid());
  FILE *fp = fopen(tmp, "w");
  if (!fp) at_fatal("cannot create '%s': %s", tmp, strerror(errno));
  at_temp_file_register(tmp);
  if (fputs(text, fp) == EOF || fflush(fp) != 0 || fsync(fileno(fp)) != 0 || fclose(fp) != 0)
    at_fatal("cannot write '%s' (is the disk full?); '%s' is unchanged", tmp, path);
  if (rename(tmp, path) != 0) at_fatal("cannot move '%s' into place as '%s': %s", tmp, path, strerror(errno));
  at_temp_file_clear();
  free(tmp);
}

void at_make_dirs(const char *path) {
  char *buf = at_strdup(path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) at_fatal("cannot create the folder '%s': %s", buf, strerror(errno));
      *p = '/';
    }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) at_fatal("cannot create the folder '%s': %s", buf, strerror(errno));
  free(buf);
}
