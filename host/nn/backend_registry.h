/* Choosing a backend by name: the CPU backend always, the CUDA backend when
 * this build has it (registered at start-up) and a GPU is usable. */
#ifndef AT_BACKEND_REGISTRY_H
#define AT_BACKEND_REGISTRY_H

#include <stddef.h>

#include "config/device_settings.h"
#include "nn/backend.h"

/* The backend the settings name (started on first use). */
const Backend *at_backend_selected(void);

/* A build with the CUDA backend registers it at start-up; asking for "cuda"
 * without it, or without a usable GPU, stops with the reason. */
typedef const Backend *(*CudaBackendFactory)(const CudaOptions *opt);
typedef int (*CudaDeviceCounter)(char *why, size_t why_size);
typedef const char *(*CudaDescription)(void);
void at_backend_register_cuda(CudaBackendFactory make, CudaDeviceCounter count, CudaDescription describe);
/* What the CUDA backend runs on (device, engine, math), once started. */
const char *at_backend_cuda_description(void);
const Backend *at_backend_by_name(const char *name, const CudaOptions *opt);
/* Whether this build has a CUDA backend, and how many GPUs it can use (0
 * with the reason in why). */
int at_backend_cuda_built(void);
int at_backend_cuda_devices(char *why, size_t why_size);

#endif
