/* HDF5 writers shared by the oracle dump tools (test code only). */
#ifndef AT_ORACLE_DUMP_H5_H
#define AT_ORACLE_DUMP_H5_H

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/model.h"

static inline void write_array(hid_t loc, const char *name, hid_t mem_type, hid_t file_type, int ndim,
                        const hsize_t *dims, const void *data) {
  hid_t space = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = H5Dcreate2(loc, name, file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) at_fatal("cannot write %s", name);
  H5Dclose(ds);
  H5Pclose(lcpl);
  H5Sclose(space);
}

static inline void write_floats(hid_t loc, const char *name, const float *device, size_t count, int ndim,
                         const hsize_t *dims, const Backend *be) {
  float *host = at_malloc(sizeof(float) * (count ? count : 1), "trace tensor");
  be->to_host(host, device, sizeof(float) * count);
  write_array(loc, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, ndim, dims, host);
  free(host);
}

/* Every parameter tensor under prefix/<layer>/<name>; grads=1 writes gradients. */
static inline void write_params(hid_t file, const char *prefix, const Model *m, int grads) {
  for (int i = 0; i < m->n_params; i++) {
    const ParamTensor *p = &m->params[i];
    if (grads && !p->trainable) continue;
    char name[512];
    snprintf(name, sizeof name, "%s/%s/%s", prefix, m->layers[p->layer].name, p->name);
    hsize_t dims[4];
    for (int d = 0; d < p->ndim; d++) dims[d] = (hsize_t)p->dims[d];
    const float *src = grads ? m->grads + p->offset : model_param_data(m, p);
    write_floats(file, name, src, p->count, p->ndim, dims, m->be);
  }
}

#endif
