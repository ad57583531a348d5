#include "core/stop_signals.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) {
  if (g_stop_signal && sig == SIGINT) {
    static const char msg[] = "\nauratag: second interrupt: stopping at once (nothing more is saved)\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(128 + SIGINT);
  }
  if (!g_stop_signal) g_stop_signal = sig;
}

void at_stop_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART; /* the job's reads and collectives go on until it looks */
  const int stops[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
    /* a signal ignored by whoever started us stays ignored (nohup: SIGHUP;
     * a shell's background job: SIGINT), as shells and most tools do */
    struct sigaction old;
    if (sigaction(stops[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(stops[i], &sa, NULL);
  }
  signal(SIGXFSZ, SIG_IGN);
}

int at_stop_signal(void) { return g_stop_signal; }

const char *at_signal_name(int sig) {
  static char other[32];
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: snprintf(other, sizeof other, "signal %d", sig); return other;
  }
}
