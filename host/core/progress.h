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
} Progress;

void progress_begin(Progress *p, FILE *out, const char *label, long total, long done, int every);
/* units: what `rate` counts (e.g. "samples"), amount processed so far. */
void progress_update(Progress *p, long done, double units_per_s, const char *units, const char *extra);
void progress_end(Progress *p);

#endif
