#include "core/progress.h"

#include <string.h>
#include <unistd.h>

#include "core/clock.h"

static int g_quiet;

void progress_set_quiet(int quiet) { g_quiet = quiet != 0; }
int progress_quiet(void) { return g_quiet; }

void progress_begin(Progress *p, FILE *out, const char *label, long total, long done, int every) {
  memset(p, 0, sizeof *p);
  p->out = out;
  p->tty = isatty(fileno(out));
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total;
  p->start_done = done;
  p->t0 = at_now_seconds();
  p->every = every > 0 ? every : 1;
}

static void format_eta(double seconds, char *buf, size_t size) {
  if (!(seconds >= 0) || seconds > 1e7) {
    snprintf(buf, size, "--:--");
    return;
  }
  long s = (long)(seconds + 0.5);
  if (s >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void progress_update(Progress *p, long done, double units_per_s, const char *units, const char *extra) {
  p->updates++;
  if (g_quiet) return;
  double now = at_now_seconds();
  double per_item = (now - p->t0) / (double)(done - p->start_done > 0 ? done - p->start_done : 1);
  char eta[32];
  format_eta(per_item * (double)(p->total - done), eta, sizeof eta);
  if (p->tty) {
    if (now - p->last_draw < 0.1 && done < p->total) return;
    p->last_draw = now;
    const int width = 24;
    int fill = p->total > 0 ? (int)((double)width * done / p->total) : 0;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(p->out, "\r%s [%s] %ld/%ld  %.1f %s/s  ETA %s  %s\033[K", p->label, bar, done, p->total, units_per_s,
            units, eta, extra ? extra : "");
    fflush(p->out);
    p->drawn = 1;
  } else if (p->updates % p->every == 0 || done == p->total) {
    fprintf(p->out, "%s %ld/%ld  %.1f %s/s  ETA %s  %s\n", p->label, done, p->total, units_per_s, units, eta,
            extra ? extra : "");
    fflush(p->out);
  }
}

void progress_count(Progress *p, long done, const char *units) {
  const double dt = at_now_seconds() - p->t0;
  progress_update(p, done, (double)(done - p->start_done) / (dt > 1e-9 ? dt : 1e-9), units, NULL);
}

void progress_clear(Progress *p) {
  if (p->tty && p->drawn && !g_quiet) {
    fputs("\r\033[K", p->out);
    fflush(p->out);
    p->drawn = 0;
  }
}

void progress_end(Progress *p) {
  if (p->tty && !g_quiet) {
    fputc('\n', p->out);
    fflush(p->out);
  }
}
