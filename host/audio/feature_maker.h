/* The front end on whichever device the command runs: the GPU one
 * (host/cuda/cuda_frontend.c: cuFFT + cuBLAS + kernels) when the backend is
 * cuda and this build has it, else the CPU one (frontend.h, FFTW). Same
 * contracts as frontend_compute / frontend_stft / frontend_istft; results
 * agree to rounding (tested under emulation, proven on a GPU by selftest's
 * op checks of the kernels). A CPU plan is always kept for the filterbank
 * matrix. One call at a time per maker. */
#ifndef AT_FEATURE_MAKER_H
#define AT_FEATURE_MAKER_H

#include "audio/frontend.h"
#include "nn/backend.h"

/* What a build with the CUDA backend registers at start-up. */
typedef struct GpuFrontEndOps {
  void *(*create)(const FrontEndSpec *s);
  void (*release)(void *f);
  void (*compute)(void *f, const float *signal, long samples, float *features);
  void (*stft)(void *f, const float *signal, long samples, float *spectrum);
  void (*istft)(void *f, const float *spectrum, long frames, float *signal, long samples);
} GpuFrontEndOps;
void at_frontend_register_gpu(const GpuFrontEndOps *ops);

typedef struct FeatureMaker FeatureMaker;
/* be: the backend the command runs on (started); NULL: the CPU. */
FeatureMaker *feature_maker_create(const FrontEndSpec *s, const Backend *be);
void feature_maker_free(FeatureMaker *fm);
int feature_maker_on_gpu(const FeatureMaker *fm);
const FrontEndPlan *feature_maker_cpu_plan(const FeatureMaker *fm);
void feature_maker_compute(FeatureMaker *fm, const float *signal, long samples, float *features);
void feature_maker_stft(FeatureMaker *fm, const float *signal, long samples, float *spectrum);
void feature_maker_istft(FeatureMaker *fm, const float *spectrum, long frames, float *signal, long samples);

#endif
