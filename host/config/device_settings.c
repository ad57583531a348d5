/* The process's device settings and the CUDA defaults (device_settings.h). */
#include "config/device_settings.h"

#include <stdio.h>
#include <string.h>

CudaOptions at_cuda_default_options(void) {
  CudaOptions o;
  memset(&o, 0, sizeof o);
  o.conv = AT_CONV_AUTO;
  o.tf32 = 1;
  o.workspace_limit = (size_t)1 << 30;
  return o;
}

DeviceSettings *at_device_settings(void) {
  static DeviceSettings s;
  static int ready;
  if (!ready) {
    snprintf(s.backend, sizeof s.backend, "auto");
    s.cuda = at_cuda_default_options();
    ready = 1;
  }
  return &s;
}
