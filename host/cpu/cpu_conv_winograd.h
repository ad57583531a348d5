/* Winograd convolutions through oneDNN for large 3x3 layers (see
 * cpu_conv_winograd.c for when and why). Each returns 0, doing nothing,
 * when the shape is not one it takes; the caller then convolves itself.
 * No bias: the caller adds it (and sums its gradient). dx, dw may be NULL. */
#ifndef AT_CPU_CONV_WINOGRAD_H
#define AT_CPU_CONV_WINOGRAD_H

#include "nn/backend.h"

int at_cpu_winograd_forward(const ConvShape *s, const float *x, const float *w, float *y);
int at_cpu_winograd_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx,
                             float *dw);

#endif
