/* Progress of long work: a bar with rate and ETA redrawn in place on a
 * terminal, plain periodic lines otherwise (logs, CI). */
#ifndef AT_PROGRESS_H
#define AT_PROGRESS_H

#include <stdio.h>

typedef struct Progress {
  FILE *out;
  int tty;
  char label[64];
  long total, start_done;
  double t0, last_draw;
  int every; /* plain mode: a line every `every` updates */
  long updates;
  int drawn; /* a bar is on the terminal's current line */
} Progress;

void progress_begin(Progress *p, FILE *out, const char *label, long total, long done, int every);
/* units: what `rate` counts (e.g. "samples"), amount processed so far. */
void progress_update(Progress *p, long done, double units_per_s, const char *units, const char *extra);
/* progress_update with the rate of the items themselves (`done` minus the
 * start, per second since progress_begin), in `units` (e.g. "files"). */
void progress_count(Progress *p, long done, const char *units);
void progress_end(Progress *p);
/* On a terminal, erases a drawn bar (for output that follows on the same
 * terminal); nothing otherwise. */
void progress_clear(Progress *p);

/* The global --quiet: progress_update, _end and _clear print nothing. */
void progress_set_quiet(int quiet);
int progress_quiet(void);

#endif
