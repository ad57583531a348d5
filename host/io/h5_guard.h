/* Reading an HDF5 file that may be corrupt. A flipped bit in a file's
 * metadata can make libhdf5 crash (SIGSEGV, SIGBUS, SIGFPE, SIGABRT) or loop
 * for ever; neither can be caught as an HDF5 error. Every file auratag
 * reads (weights, checkpoints, caches, predictions, maps) is opened through
 * h5_open_guarded: from there to h5_guard_end, a crash or a deadline ends the
 * process with one message that names the file, says it is corrupt and what
 * to do -- never a bare "Segmentation fault" or a hang.
 *
 * The deadline is short: seconds, growing with the file's size (what the
 * guarded section reads is metadata, labels and ids, not the features). One
 * guarded section at a time (HDF5 is serialised anyway): opening another
 * file re-arms the guard for that file. */
#ifndef AT_H5_GUARD_H
#define AT_H5_GUARD_H

/* Checks that path is readable, turns HDF5's error printing off, arms the
 * guard and opens the file read-only; returns the hid_t. `kind` names the
 * file in messages ("weights file", "checkpoint", "cache", ...), `advice`
 * says what to do with a corrupt one. A file HDF5 cannot open is an error. */
long long h5_open_guarded(const char *path, const char *kind, const char *advice);
/* Arms the guard without opening (for a file opened otherwise). */
void h5_guard_begin(const char *path, const char *kind, const char *advice);
/* Disarms the guard and restores the handlers and alarm it replaced. */
void h5_guard_end(void);
/* The deadline for a file of `bytes` bytes, in seconds. */
unsigned h5_guard_deadline(unsigned long long bytes);

#endif
