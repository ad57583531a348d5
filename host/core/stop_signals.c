#include "core/stop_signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int g_stop_signal;
static atomic_int g_catching;
static sigset_t g_watched;

static void *watch(void *unused) {
  (void)unused;
  for (;;) {
    int sig;
    if (sigwait(&g_watched, &sig) != 0) continue;
    if (atomic_load(&g_catching)) {
      if (atomic_load(&g_stop_signal) && sig == SIGINT) {
        static const char msg[] = "\nauratag: second interrupt: stopping at once (nothing more is saved)\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        _exit(128 + SIGINT);
      }
      int none = 0;
      atomic_compare_exchange_strong(&g_stop_signal, &none, sig);
      continue;
    }
    /* nobody stops cleanly: end the process as the signal would have */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    signal(sig, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig);
  }
  return NULL;
}

void at_signals_init(void) {
  signal(SIGXFSZ, SIG_IGN);
  sigemptyset(&g_watched);
  const int stops[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
    struct sigaction old;
    if (sigaction(stops[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaddset(&g_watched, stops[i]);
  }
  pthread_sigmask(SIG_BLOCK, &g_watched, NULL); /* inherited by every thread created after */
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&thread, &attr, watch, NULL) != 0) /* no watcher: leave the signals as they were */
    pthread_sigmask(SIG_UNBLOCK, &g_watched, NULL);
  pthread_attr_destroy(&attr);
}

void at_stop_signals_catch(void) { atomic_store(&g_catching, 1); }

int at_stop_signal(void) { return atomic_load(&g_stop_signal); }

const char *at_signal_name(int sig) {
  static char other[32];
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: snprintf(other, sizeof other, "signal %d", sig); return other;
  }
}
