/* The one clock for timing work (progress, reports, timeouts). */
#ifndef AT_CLOCK_H
#define AT_CLOCK_H

/* Seconds on a monotonic clock: only differences mean anything. */
double at_now_seconds(void);

#endif
