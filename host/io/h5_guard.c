#include "io/h5_guard.h"

#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/h5_util.h"

/* Messages are formatted when the guard is armed: a signal handler may only
 * write(2) and _exit. */
static char g_crash_msg[4600];
static size_t g_crash_len;
static char g_hang_msg[4600];
static size_t g_hang_len;

static void on_crash(int sig) {
  (void)sig;
  ssize_t r = write(STDERR_FILENO, g_crash_msg, g_crash_len);
  (void)r;
  _exit(1);
}

static void on_hang(int sig) {
  (void)sig;
  ssize_t r = write(STDERR_FILENO, g_hang_msg, g_hang_len);
  (void)r;
  _exit(1);
}

enum { N_CRASH = 4 };
static const int k_crash_signals[N_CRASH] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};

/* Static, not on the stack: an at_fatal inside a guarded section that a fuzz
 * target's fatal hook leaves by longjmp keeps the guard armed; the next
 * h5_guard_begin restores the saved handlers first. */
static struct {
  int armed;
  struct sigaction saved[N_CRASH + 1]; /* the crash signals, then SIGALRM */
  unsigned alarm_left;
} g_guard;

unsigned h5_guard_deadline(unsigned long long bytes) {
  /* 10 s, plus 1 s per 256 MiB: a slow disk reads that much in far less */
  unsigned long long s = 10 + bytes / (256ull << 20);
  return s > 600 ? 600u : (unsigned)s;
}

/* A test hook: AURATAG_TEST_H5_STALL=SECONDS makes the guarded section of a
 * file wait that long once armed, so that the deadline can be tested
 * without a file that really sends HDF5 into a loop. */
static void test_stall(void) {
  const char *s = getenv("AURATAG_TEST_H5_STALL");
  if (s && *s) sleep((unsigned)atoi(s));
}

static size_t format_message(char *dst, size_t cap, const char *fmt, const char *kind, const char *path,
                             const char *what, const char *advice) {
  int n = snprintf(dst, cap, fmt, kind, path, what, advice);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void h5_guard_end(void) {
  if (!g_guard.armed) return;
  alarm(g_guard.alarm_left); /* whatever alarm the caller had (0: none) */
  for (int i = 0; i < N_CRASH; i++) sigaction(k_crash_signals[i], &g_guard.saved[i], NULL);
  sigaction(SIGALRM, &g_guard.saved[N_CRASH], NULL);
  g_guard.armed = 0;
}

void h5_guard_begin(const char *path, const char *kind, const char *advice) {
  h5_guard_end();
  struct stat st;
  unsigned deadline = h5_guard_deadline(stat(path, &st) == 0 ? (unsigned long long)st.st_size : 0);
  char what[96];
  g_crash_len = format_message(g_crash_msg, sizeof g_crash_msg,
                               "auratag: error: %s '%s' is corrupt: %s; %s\n", kind, path,
                               "the HDF5 library crashed reading it", advice);
  snprintf(what, sizeof what, "the HDF5 library did not finish reading its metadata in %u s", deadline);
  g_hang_len = format_message(g_hang_msg, sizeof g_hang_msg, "auratag: error: %s '%s' is corrupt: %s; %s\n", kind,
                              path, what, advice);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_crash;
  for (int i = 0; i < N_CRASH; i++) sigaction(k_crash_signals[i], &sa, &g_guard.saved[i]);
  sa.sa_handler = on_hang;
  sigaction(SIGALRM, &sa, &g_guard.saved[N_CRASH]);
  g_guard.alarm_left = alarm(deadline);
  g_guard.armed = 1;
  test_stall();
}

long long h5_open_guarded(const char *path, const char *kind, const char *advice) {
  h5_quiet();
  if (access(path, R_OK) != 0) at_fatal("cannot read %s '%s': %s", kind, path, strerror(errno));
  h5_guard_begin(path, kind, advice);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) at_fatal("%s '%s' is not a readable HDF5 file (truncated or corrupt?); %s", kind, path, advice);
  return (long long)file;
}
