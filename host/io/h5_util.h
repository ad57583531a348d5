/* HDF5 helpers shared by the weights, checkpoint, cache and prediction files.
 * `loc` is an hid_t (long long here so that callers need not include hdf5.h). */
#ifndef AT_H5_UTIL_H
#define AT_H5_UTIL_H

#include <stdint.h>

/* Turns HDF5's automatic error printing off: auratag says what failed itself. */
void h5_quiet(void);
void h5_write_string_attr(long long loc, const char *name, const char *value); /* UTF-8, variable length */
char *h5_read_string_attr(long long loc, const char *name, const char *path);  /* NULL if absent */
void h5_write_double_attr(long long loc, const char *name, double v);
/* A numeric attribute as a double into *v: 1, or 0 if absent or unreadable;
 * stops, naming path, if it holds more than one value. */
int h5_read_double_attr(long long loc, const char *name, double *v, const char *path);
void h5_write_int_attr(long long loc, const char *name, int v);
void h5_write_long_attr(long long loc, const char *name, long v);
/* A float32 dataset (intermediate groups created); stops naming path on failure. */
void h5_write_floats(long long loc, const char *name, const float *data, int ndim, const unsigned long long *dims,
                     const char *path);
/* The same for uint8 and int32 datasets (labels, classes). */
void h5_write_uint8s(long long loc, const char *name, const uint8_t *data, int ndim, const unsigned long long *dims,
                     const char *path);
void h5_write_int32s(long long loc, const char *name, const int32_t *data, int ndim, const unsigned long long *dims,
                     const char *path);
/* A dataset of `ndim` dimensions read whole, converted to float, uint8 or
 * int32 (element_bytes 4, 1 or 4 with is_float saying which 4); dims[ndim]
 * receives its shape. NULL when absent; stops, naming path, when it has
 * another rank or cannot be read. Caller frees. */
typedef enum { H5_AS_FLOAT, H5_AS_UINT8, H5_AS_INT32 } H5ReadAs;
void *h5_read_array(long long loc, const char *name, H5ReadAs as, int ndim, long long *dims, const char *path);
/* A 1-D dataset of n UTF-8 variable-length strings; stops naming path on failure. */
void h5_write_strings(long long loc, const char *name, const char *const *values, int n, const char *path);
/* A 1-D dataset of strings (variable- or fixed-length) as a NULL-terminated
 * array of n + 1 (caller frees each and the array); NULL and *count = 0 when
 * absent. `kind` and path name the file in errors ("cache 'x.h5': ..."). */
char **h5_read_strings(long long loc, const char *name, const char *kind, const char *path, long *count);
/* A corrupt or foreign file can hold an array where one value belongs:
 * stops, naming path and what, unless the attribute (is_attribute = 1) or
 * dataset `id` holds exactly one value. Call before reading a scalar. */
void h5_require_one_value(long long id, int is_attribute, const char *path, const char *what);
/* Creates the file that h5_commit_file will move to `path`: PATH.tmp.PID
 * (its name into tmp), its folders made, registered so that a fatal error
 * removes it; HDF5's error printing off. Returns the hid_t; stops, naming it,
 * when it cannot be created. */
long long h5_create_staged(const char *path, char *tmp, unsigned long tmp_size);
/* fsync + rename a file written under a temporary name: a crash leaves the old file intact. */
void h5_commit_file(const char *tmp_path, const char *path);

#endif
