/* Shared by the C tests: run a piece of code in a child process and capture
 * how it ended, to check that bad input stops with exit status 1 and the
 * right message (at_fatal ends the process, so it cannot be called in the
 * test's own process). */
#ifndef AT_TEST_UTIL_H
#define AT_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Failed checks of this test program; CHECK prints the condition and a message. */
static int failures __attribute__((unused)) = 0;
#define CHECK(cond, ...)          \
  do {                            \
    if (!(cond)) {                \
      printf("FAIL %s: ", #cond); \
      printf(__VA_ARGS__);        \
      printf("\n");               \
      failures++;                 \
    }                             \
  } while (0)

typedef void (*ChildBody)(const void *arg);

static inline void test_child_exit_now(int status, void *arg) {
  (void)arg;
  _exit(status);
}

/* Runs body(arg) in a child with stderr captured into msg (a trailing newline
 * dropped). Returns the exit status, or 128 + signal if it was killed. */
static inline int run_in_child(ChildBody body, const void *arg, char *msg, size_t size) {
  fflush(stdout);
  fflush(stderr);
  int p[2];
  if (pipe(p) != 0) abort();
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    on_exit(test_child_exit_now, NULL); /* skip LeakSanitizer's exit check: a fatal error leaks by design */
    close(p[0]);
    if (dup2(p[1], 2) < 0) _exit(9);
    close(p[1]);
    body(arg);
    _exit(0);
  }
  close(p[1]);
  size_t len = 0;
  ssize_t got;
  while (len + 1 < size && (got = read(p[0], msg + len, size - 1 - len)) > 0) len += (size_t)got;
  char sink[256];
  while (read(p[0], sink, sizeof sink) > 0) {
  }
  msg[len] = '\0';
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  char *nl = strrchr(msg, '\n');
  if (nl && nl[1] == '\0') *nl = '\0';
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
