/* Small HDF5 helpers shared by every file format of auratag. */
#include "io/h5_util.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/files.h"

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

void h5_write_string_attr(long long loc, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2((hid_t)loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0 || H5Awrite(attr, type, &value) < 0) at_fatal("HDF5: cannot write attribute '%s'", name);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

void h5_require_one_value(long long id, int is_attribute, const char *path, const char *what) {
  hid_t space = is_attribute ? H5Aget_space((hid_t)id) : H5Dget_space((hid_t)id);
  hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (space >= 0) H5Sclose(space);
  if (n != 1)
    at_fatal("%s: %s holds %lld values where one belongs (a corrupt or foreign file?)", path, what, (long long)n);
}

char *h5_read_string_attr(long long loc, const char *name, const char *path) {
  if (H5Aexists((hid_t)loc, name) <= 0) return NULL;
  hid_t attr = H5Aopen((hid_t)loc, name, H5P_DEFAULT);
  if (attr < 0) at_fatal("%s: cannot open attribute '%s' (a corrupt file?)", path, name);
  char what[300];
  snprintf(what, sizeof what, "attribute '%s'", name);
  h5_require_one_value(attr, 1, path, what);
  hid_t ftype = H5Aget_type(attr);
  if (H5Tget_class(ftype) != H5T_STRING) at_fatal("%s: attribute '%s' is not a string", path, name);
  char *out;
  if (H5Tis_variable_str(ftype) > 0) {
    hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype)); /* HDF5 does not convert ASCII <-> UTF-8 */
    char *value = NULL;
    if (H5Aread(attr, mtype, &value) < 0) at_fatal("%s: cannot read attribute '%s'", path, name);
    out = at_strdup(value ? value : "");
    H5free_memory(value);
    H5Tclose(mtype);
  } else {
    size_t size = H5Tget_size(ftype);
    out = at_calloc(size + 1, 1, "attribute text");
    hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtype, size);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    if (H5Aread(attr, mtype, out) < 0) at_fatal("%s: cannot read attribute '%s'", path, name);
    H5Tclose(mtype);
  }
  H5Tclose(ftype);
  H5Aclose(attr);
  return out;
}

char **h5_read_strings(long long loc, const char *name, const char *kind, const char *path, long *count) {
  *count = 0;
  if (H5Lexists((hid_t)loc, name, H5P_DEFAULT) <= 0) return NULL;
  hid_t ds = H5Dopen2((hid_t)loc, name, H5P_DEFAULT);
  if (ds < 0) at_fatal("%s '%s': /%s is not a dataset or cannot be opened (corrupt file?)", kind, path, name);
  hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
  hsize_t dims[8] = {0};
  int ndim = H5Sget_simple_extent_ndims(space);
  if (ndim >= 0 && ndim <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
  if (ndim != 1)
    at_fatal("%s '%s': /%s has %d dimensions, expected a 1-D list of strings", kind, path, name, ndim);
  if (H5Tget_class(type) != H5T_STRING) at_fatal("%s '%s': /%s does not hold strings", kind, path, name);
  long n = (long)dims[0];
  if (dims[0] > (hsize_t)(1L << 30)) at_fatal("%s '%s': /%s has %llu entries", kind, path, name, (unsigned long long)dims[0]);
  char **out = at_calloc((size_t)n + 1, sizeof(char *), name);
  if (n > 0 && H5Tis_variable_str(type) > 0) {
    hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(type)); /* HDF5 does not convert ASCII <-> UTF-8 */
    char **raw = at_calloc((size_t)n, sizeof(char *), name);
    if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
      at_fatal("%s '%s': cannot read /%s (corrupt file?)", kind, path, name);
    for (long i = 0; i < n; i++) out[i] = at_strdup(raw[i] ? raw[i] : "");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, raw);
    free(raw);
    H5Tclose(mtype);
  } else if (n > 0) {
    size_t size = H5Tget_size(type);
    hid_t mtype = H5Tcopy(type);
    char *raw = at_malloc((size_t)n * size, name);
    if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
      at_fatal("%s '%s': cannot read /%s (corrupt file?)", kind, path, name);
    int spacepad = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
    for (long i = 0; i < n; i++) {
      const char *s = raw + (size_t)i * size;
      size_t len = strnlen(s, size);
      while (spacepad && len > 0 && s[len - 1] == ' ') len--;
      out[i] = at_malloc(len + 1, name);
      memcpy(out[i], s, len);
      out[i][len] = 0;
    }
    free(raw);
    H5Tclose(mtype);
  }
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(ds);
  *count = n;
  return out;
}

long long h5_create_staged(const char *path, char *tmp, unsigned long tmp_size) {
  snprintf(tmp, tmp_size, "%s.tmp.%d", path, (int)getpid());
  h5_quiet();
  at_make_parent_dirs(path);
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) at_fatal("cannot create '%s' (is its folder writable?)", tmp);
  at_temp_file_register(tmp);
  return file;
}

void h5_commit_file(const char *tmp_path, const char *path) {
  int fd = open(tmp_path, O_RDONLY);
  if (fd < 0 || fsync(fd) != 0) at_fatal("cannot flush '%s' to disk: %s", tmp_path, strerror(errno));
  close(fd);
  if (rename(tmp_path, path) != 0) {
    int err = errno;
    remove(tmp_path);
    at_fatal("cannot move '%s' into place as '%s': %s", tmp_path, path, strerror(err));
  }
}

static void write_scalar_attr(long long loc, const char *name, hid_t file_type, hid_t mem_type, const void *v) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2((hid_t)loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0 || H5Awrite(attr, mem_type, v) < 0) at_fatal("HDF5: cannot write the attribute '%s' (is the disk full?)", name);
  H5Aclose(attr);
  H5Sclose(space);
}

void h5_write_double_attr(long long loc, const char *name, double v) {
  write_scalar_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

int h5_read_double_attr(long long loc, const char *name, double *v, const char *path) {
  if (H5Aexists((hid_t)loc, name) <= 0) return 0;
  hid_t a = H5Aopen((hid_t)loc, name, H5P_DEFAULT);
  if (a >= 0) {
    char what[300];
    snprintf(what, sizeof what, "attribute '%s'", name);
    h5_require_one_value(a, 1, path, what);
  }
  int ok = a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
  if (a >= 0) H5Aclose(a);
  return ok;
}

static void write_array(long long loc, const char *name, hid_t file_type, hid_t mem_type, const void *data, int ndim,
                        const unsigned long long *dims, const char *path) {
  hsize_t d[8];
  for (int i = 0; i < ndim && i < 8; i++) d[i] = (hsize_t)dims[i];
  hid_t space = H5Screate_simple(ndim, d, NULL);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = space >= 0 ? H5Dcreate2((hid_t)loc, name, file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t st = ds >= 0 ? H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
  if (ds >= 0) H5Dclose(ds);
  H5Pclose(lcpl);
  if (space >= 0) H5Sclose(space);
  if (st < 0) at_fatal("cannot write dataset '%s' to '%s' (is the disk full?)", name, path);
}

void h5_write_floats(long long loc, const char *name, const float *data, int ndim, const unsigned long long *dims,
                     const char *path) {
  write_array(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, ndim, dims, path);
}

void h5_write_uint8s(long long loc, const char *name, const uint8_t *data, int ndim, const unsigned long long *dims,
                     const char *path) {
  write_array(loc, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, data, ndim, dims, path);
}

void h5_write_int32s(long long loc, const char *name, const int32_t *data, int ndim, const unsigned long long *dims,
                     const char *path) {
  write_array(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, data, ndim, dims, path);
}

void *h5_read_array(long long loc, const char *name, H5ReadAs as, int ndim, long long *dims, const char *path) {
  if (H5Lexists((hid_t)loc, name, H5P_DEFAULT) <= 0) return NULL;
  hid_t ds = H5Dopen2((hid_t)loc, name, H5P_DEFAULT);
  if (ds < 0) at_fatal("%s: cannot open dataset '%s' (a corrupt file?)", path, name);
  hid_t space = H5Dget_space(ds);
  hsize_t d[8];
  int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (rank != ndim || ndim > 8 || H5Sget_simple_extent_dims(space, d, NULL) != rank)
    at_fatal("%s: dataset '%s' has %d dimensions where %d belong (a corrupt or foreign file?)", path, name, rank, ndim);
  /* at most 2^31 values: a corrupt shape cannot overflow the size below */
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = (long long)d[i];
    if (d[i] > 0 && count > ((size_t)1 << 31) / d[i])
      at_fatal("%s: dataset '%s' claims more than 2^31 values (a corrupt file?)", path, name);
    count *= (size_t)d[i];
  }
  const hid_t mem_type = as == H5_AS_FLOAT ? H5T_NATIVE_FLOAT : as == H5_AS_UINT8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_INT32;
  void *data = at_malloc((count ? count : 1) * (as == H5_AS_UINT8 ? 1 : 4), name);
  if (H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    at_fatal("%s: cannot read dataset '%s' (a corrupt file, or not numbers?)", path, name);
  H5Sclose(space);
  H5Dclose(ds);
  return data;
}

void h5_write_strings(long long loc, const char *name, const char *const *values, int n, const char *path) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t ds = H5Dcreate2((hid_t)loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = ds >= 0 ? H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) : -1;
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  H5Tclose(type);
  if (st < 0) at_fatal("cannot write dataset '%s' to '%s' (is the disk full?)", name, path);
}

void h5_write_int_attr(long long loc, const char *name, int v) {
  write_scalar_attr(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v);
}

void h5_write_long_attr(long long loc, const char *name, long v) {
  write_scalar_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_LONG, &v);
}
