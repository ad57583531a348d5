#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_temp_file[4096];

void at_temp_file_register(const char *path) { snprintf(g_temp_file, sizeof g_temp_file, "%s", path); }
void at_temp_file_clear(void) { g_temp_file[0] = '\0'; }

static void (*g_fatal_hook)(void);

void at_set_fatal_hook(void (*hook)(void)) { g_fatal_hook = hook; }

void at_fatal_exit(void) {
  if (g_temp_file[0]) remove(g_temp_file);
  g_temp_file[0] = '\0';
  fflush(NULL);
  if (g_fatal_hook) g_fatal_hook();
  /* _exit, not exit: library exit handlers (HDF5 closing a file whose write
   * just failed, worker threads still running) must not run on this path. */
  _exit(1);
}

void at_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  fputs("auratag: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  at_fatal_exit();
}

void at_die_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  fprintf(stderr, "auratag: internal error at %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputs("\n(this is a bug in auratag; please report it with the command that triggered it)\n", stderr);
  va_end(ap);
  exit(3);
}

static void out_of_memory(size_t bytes, const char *what) {
  at_fatal("out of memory allocating %.1f MiB for %s (%s); reduce the batch size or the input size",
           (double)bytes / (1024.0 * 1024.0), what, strerror(errno));
}

void *at_malloc(size_t bytes, const char *what) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) out_of_memory(bytes, what);
  return p;
}

void *at_calloc(size_t count, size_t size, const char *what) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) out_of_memory(count * size, what);
  return p;
}

void *at_realloc(void *old, size_t bytes, const char *what) {
  void *p = realloc(old, bytes ? bytes : 1);
  if (!p) out_of_memory(bytes, what);
  return p;
}

char *at_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = at_malloc(n, "a string");
  memcpy(p, s, n);
  return p;
}

void *at_malloc_aligned(size_t bytes, const char *what) {
  void *p = NULL;
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) out_of_memory(bytes, what);
  return p;
}

void at_free_aligned(void *p) { free(p); }
