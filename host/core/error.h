/* Checked calls and fatal errors.
 * auratag is a command-line tool: an error it cannot recover from prints what
 * failed, where, and what the user can do, then exits with status 1. */
#ifndef AT_ERROR_H
#define AT_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define AT_NORETURN __attribute__((noreturn))
#define AT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define AT_NORETURN
#define AT_PRINTF(a, b)
#endif

/* Prints "auratag: error: <message>" and exits(1). */
AT_NORETURN AT_PRINTF(1, 2) void at_fatal(const char *fmt, ...);

/* The end of every fatal error after its message: removes the registered
 * temporary file, flushes, and _exit(1)s -- or, where a hook is set (the
 * fuzz targets, which must survive bad input), calls the hook, which must
 * not return (it longjmps). */
AT_NORETURN void at_fatal_exit(void);
void at_set_fatal_hook(void (*hook)(void));

/* Internal invariant failure: names the source location, exits(3). */
AT_NORETURN AT_PRINTF(3, 4) void at_die_at(const char *file, int line, const char *fmt, ...);

#define AT_ASSERT(cond)                                                        \
  do {                                                                         \
    if (!(cond)) at_die_at(__FILE__, __LINE__, "assertion failed: %s", #cond); \
  } while (0)

/* A file being written under a temporary name: a fatal error removes it, so
 * that no partial output is left behind. One at a time; clear after rename. */
void at_temp_file_register(const char *path);
void at_temp_file_clear(void);

/* Allocation that never returns NULL; names what it was for. */
void *at_malloc(size_t bytes, const char *what);
void *at_calloc(size_t count, size_t size, const char *what);
void *at_realloc(void *p, size_t bytes, const char *what);
char *at_strdup(const char *s);

/* 64-byte aligned allocation (for vectorised loops); free with at_free_aligned. */
void *at_malloc_aligned(size_t bytes, const char *what);
void at_free_aligned(void *p);

#endif
