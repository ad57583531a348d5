/* Which backend a run uses and the CUDA backend's settings: plain data that
 * the command line and an experiment's [train] section fill, and that the
 * backend registry (nn/backend_registry.h) and the CUDA backend read. Kept
 * out of the generic Backend interface (nn/backend.h), which knows no device. */
#ifndef AT_DEVICE_SETTINGS_H
#define AT_DEVICE_SETTINGS_H

#include <stddef.h>

/* Settings of the CUDA backend (docs/gpu.md). */
typedef enum { AT_CONV_AUTO = 0, AT_CONV_CUDNN = 1, AT_CONV_GEMM = 2 } CudaConvEngine;
typedef struct CudaOptions {
  int device;              /* CUDA device ordinal (after CUDA_VISIBLE_DEVICES) */
  CudaConvEngine conv;     /* auto: cuDNN when available, else im2col + cuBLAS */
  int deterministic;       /* deterministic algorithms only, and no TF32 */
  int tf32;                /* TF32 tensor cores for convolutions and GEMMs */
  int benchmark;           /* cudnnFind*Ex: time every algorithm once per shape */
  size_t workspace_limit;  /* bytes of cuDNN workspace at most */
} CudaOptions;
/* Defaults: device 0, auto engine, TF32 on, heuristics, 1 GiB workspace. */
CudaOptions at_cuda_default_options(void);

/* Which backend a command uses: "cpu", "cuda", or "auto" (cuda when this
 * build has it and a GPU is usable, else cpu), and the CUDA settings. The
 * command line (--backend, --device, --set backend=..., --set device=...)
 * fills this before any command runs; an experiment's [train] keys apply
 * where the command line said nothing. */
typedef struct DeviceSettings {
  char backend[16];
  CudaOptions cuda;
  int backend_from_command_line, device_from_command_line;
} DeviceSettings;
DeviceSettings *at_device_settings(void);

#endif
