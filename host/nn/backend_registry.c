/* Choosing a backend by name (see backend_registry.h). The CUDA backend lives in its
 * own library; a build that has it registers its factory here, so the rest
 * of auratag links and runs without CUDA. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "nn/backend_registry.h"

static CudaBackendFactory cuda_make;
static CudaDeviceCounter cuda_count;
static CudaDescription cuda_describe;
static const char *current_layer;

void at_backend_register_cuda(CudaBackendFactory make, CudaDeviceCounter count, CudaDescription describe) {
  cuda_make = make;
  cuda_count = count;
  cuda_describe = describe;
}

const char *at_backend_cuda_description(void) { return cuda_describe ? cuda_describe() : "no CUDA backend"; }

int at_backend_cuda_built(void) { return cuda_make != NULL; }

int at_backend_cuda_devices(char *why, size_t why_size) {
  if (!cuda_count) {
    snprintf(why, why_size, "this auratag was built without the CUDA backend (no nvcc at build time, or CUDA=0)");
    return 0;
  }
  return cuda_count(why, why_size);
}

const Backend *at_backend_selected(void) {
  DeviceSettings *s = at_device_settings();
  return at_backend_by_name(s->backend, &s->cuda);
}

const Backend *at_backend_by_name(const char *name, const CudaOptions *opt) {
  if (!strcmp(name, "cpu")) return at_backend_cpu();
  char why[512] = "";
  if (!strcmp(name, "auto")) return at_backend_cuda_devices(why, sizeof why) > 0 ? cuda_make(opt) : at_backend_cpu();
  if (!strcmp(name, "cuda")) {
    if (at_backend_cuda_devices(why, sizeof why) <= 0)
      at_fatal("backend = cuda, but no GPU can be used: %s. Use backend = cpu (or auto)", why);
    return cuda_make(opt);
  }
  at_fatal("unknown backend '%s': use cpu, cuda or auto", name);
}

void at_backend_set_layer(const char *name) { current_layer = name; }
const char *at_backend_layer(void) { return current_layer; }
