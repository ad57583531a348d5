/* Stopping a long job cleanly on SIGINT, SIGTERM and SIGHUP: the handler
 * only records the signal; the job looks at it between steps, saves what it
 * has and exits with 128 + the signal's number. A second SIGINT exits at
 * once. Signals ignored at start (nohup, background jobs) stay ignored.
 * SIGXFSZ (a file size limit reached) is ignored, so that the write fails
 * with EFBIG and the writer reports it instead of a silent death. */
#ifndef AT_STOP_SIGNALS_H
#define AT_STOP_SIGNALS_H

void at_stop_signals_install(void);
/* The first stop signal received since install, or 0. */
int at_stop_signal(void);
/* "SIGINT", "SIGTERM", "SIGHUP" or "signal N". */
const char *at_signal_name(int sig);

#endif
