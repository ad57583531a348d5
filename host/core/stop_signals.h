/* SIGINT, SIGTERM and SIGHUP, handled by one thread.
 *
 * at_signals_init (first thing in main, before any thread exists) blocks the
 * three in every thread and leaves them to a watcher thread that waits for
 * them with sigwait: no worker, loader or library thread is ever interrupted
 * by them. By default the watcher ends the process as the signal would have.
 * A long job that can stop cleanly (training) calls at_stop_signals_catch:
 * then the watcher only records the signal; the job looks at it between
 * steps, saves what it has and exits with 128 + the signal's number. A second
 * SIGINT exits at once. Signals ignored at start (nohup, a script's
 * background job) stay ignored. SIGXFSZ (a file size limit reached) is
 * ignored, so that the write fails with EFBIG and the writer reports it
 * instead of the process dying without a word. */
#ifndef AT_STOP_SIGNALS_H
#define AT_STOP_SIGNALS_H

void at_signals_init(void);
/* From now on a stop signal is recorded instead of ending the process. */
void at_stop_signals_catch(void);
/* The first stop signal recorded since at_stop_signals_catch, or 0. */
int at_stop_signal(void);
/* "SIGINT", "SIGTERM", "SIGHUP" or "signal N". */
const char *at_signal_name(int sig);

#endif
