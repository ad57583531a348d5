/* libFuzzer target: the cache reader. The input describes a cache file --
 * format and version attributes, the dtype, rank and shape of /features, the
 * kind and shape of the labels, tags, ids, song and fold datasets, contiguous
 * or chunked layout, and a truncation point -- which is written with the HDF5
 * API and then opened and read. Each must either load or stop with one clear
 * error; a crash, a hang, a read out of bounds or a leak of the reader's own
 * checks is a bug. (The bytes of valid HDF5 metadata are HDF5's business, so
 * this target varies what a cache says, not how HDF5 encodes it.) */
#include <fcntl.h>
#include <hdf5.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "data/cache.h"
#include "io/h5_util.h"
#include "fuzz/fuzz_util.h"

static jmp_buf g_back;
static void back_to_fuzzer(void) { longjmp(g_back, 1); }

typedef struct Bytes {
  const uint8_t *p;
  size_t n, i;
} Bytes;

static unsigned take(Bytes *b) { return b->i < b->n ? b->p[b->i++] : 0; }

static void dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims, int chunked) {
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  int empty = 0;
  for (int i = 0; i < rank; i++) empty |= dims[i] == 0;
  if (chunked && !empty) {
    hsize_t chunk[4];
    for (int i = 0; i < rank; i++) chunk[i] = i == 0 ? 1 : dims[i];
    H5Pset_chunk(dcpl, rank, chunk);
  }
  hid_t ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= dims[i];
  size_t bytes = count * H5Tget_size(type) + 1;
  uint8_t *buf = calloc(1, bytes);
  for (size_t i = 0; i < bytes; i++) buf[i] = (uint8_t)(i * 37 + 11);
  if (H5Tget_class(type) == H5T_STRING) { /* variable-length strings: pointers */
    char **s = calloc(count + 1, sizeof(char *));
    for (size_t i = 0; i < count; i++) s[i] = "x";
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
    free(s);
  } else if (count) {
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  }
  free(buf);
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
}

static void write_cache(const char *path, Bytes *b) {
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  unsigned flags = take(b);
  if (flags & 1) h5_write_string_attr(file, "format", (flags & 2) ? "auratag-cache" : "auratag-weights");
  if (flags & 4) {
    int version = (flags & 8) ? 1 : (int)take(b) - 100;
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file, "version", (flags & 16) ? H5T_STD_I32LE : H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    double dv = version;
    H5Awrite(a, (flags & 16) ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE, (flags & 16) ? (void *)&version : (void *)&dv);
    H5Aclose(a);
    H5Sclose(space);
  }
  if (flags & 32) h5_write_string_attr(file, "representation", "mel");
  const int chunked = (flags & 64) != 0;
  hsize_t n = take(b) % 6, bins = take(b) % 9, frames = take(b) % 9, tags = take(b) % 5;
  unsigned f2 = take(b);
  hid_t ftypes[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I32LE, H5T_IEEE_F32BE};
  hid_t ftype = ftypes[f2 & 3];
  if ((f2 & 12) == 12) { /* float16 */
    ftype = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(ftype, 15, 10, 5, 0, 10);
    H5Tset_size(ftype, 2);
    H5Tset_ebias(ftype, 15);
  }
  if (f2 & 16) {
    int rank = (f2 & 32) ? 2 : 3;
    hsize_t dims[3] = {n, bins, frames};
    if (f2 & 64) dims[take(b) % 3] = take(b) % 7;
    dataset(file, "features", ftype, rank, dims, chunked);
  }
  unsigned f3 = take(b);
  hsize_t ln = (f3 & 1) ? n : take(b) % 6;
  if (f3 & 2) {
    hsize_t dims[2] = {ln, (f3 & 4) ? tags : take(b) % 5};
    dataset(file, "labels", (f3 & 8) ? H5T_STD_U8LE : H5T_IEEE_F32LE, 2, dims, 0);
  } else if (f3 & 16) {
    hsize_t dims[1] = {ln};
    dataset(file, "label", (f3 & 8) ? H5T_STD_I32LE : H5T_STD_I64LE, 1, dims, 0);
  }
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, H5T_VARIABLE);
  H5Tset_cset(str, H5T_CSET_UTF8);
  if (f3 & 32) {
    hsize_t dims[1] = {(f3 & 64) ? tags : take(b) % 5};
    dataset(file, "tags", (f3 & 128) ? str : H5T_STD_I32LE, 1, dims, 0);
  }
  unsigned f4 = take(b);
  if (f4 & 1) {
    hsize_t dims[1] = {(f4 & 2) ? n : take(b) % 6};
    dataset(file, "ids", (f4 & 4) ? str : H5T_IEEE_F32LE, 1, dims, 0);
  }
  if (f4 & 8) {
    hsize_t dims[1] = {(f4 & 16) ? n : take(b) % 6};
    dataset(file, "song", (f4 & 32) ? H5T_STD_I32LE : H5T_IEEE_F32LE, 1, dims, 0);
  }
  if (f4 & 64) {
    hsize_t dims[1] = {(f4 & 128) ? n : take(b) % 6};
    dataset(file, "fold", H5T_STD_I32LE, 1, dims, 0);
  }
  H5Tclose(str);
  if ((f2 & 12) == 12) H5Tclose(ftype);
  H5Fclose(file);
  unsigned cut = take(b);
  if (cut & 1) { /* truncate */
    FILE *fp = fopen(path, "rb+");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    long keep = (long)((double)size * (double)(take(b) % 256) / 256.0);
    if (truncate(path, keep) != 0) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/auratag-fuzz-%d.h5", (int)getpid());
    at_set_fatal_hook(back_to_fuzzer);
    h5_quiet();
  }
  static unsigned char before[MAX_FD];
  open_fds(before);
  Bytes b = {data, size, 0};
  write_cache(path, &b);
  static Cache *volatile c;
  c = NULL;
  if (setjmp(g_back) == 0) {
    c = cache_open(path);
    float *buf = malloc(sizeof(float) * (size_t)c->bins * (size_t)c->frames + 1);
    for (int i = 0; i < c->n; i++) cache_read(c, i, 0, c->frames, buf);
    free(buf);
    cache_close(c);
    c = NULL;
  }
  /* after a fatal error: close whatever the reader left open */
  ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_ids > 0) {
    hid_t *ids = malloc(sizeof(hid_t) * (size_t)open_ids);
    H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, (size_t)open_ids, ids);
    for (ssize_t i = 0; i < open_ids; i++) {
      H5I_type_t t = H5Iget_type(ids[i]);
      if (t == H5I_FILE) H5Fclose(ids[i]);
      else if (t == H5I_DATASET) H5Dclose(ids[i]);
      else if (t == H5I_GROUP) H5Gclose(ids[i]);
      else if (t == H5I_ATTR) H5Aclose(ids[i]);
      else if (t == H5I_DATATYPE) H5Tclose(ids[i]);
    }
    free(ids);
  }
  close_new_fds(before);
  remove(path);
  return 0;
}
