/* CPU or GPU front end behind one interface (see feature_maker.h). */
#include "audio/feature_maker.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const GpuFrontEndOps *gpu_ops;

void at_frontend_register_gpu(const GpuFrontEndOps *ops) { gpu_ops = ops; }

struct FeatureMaker {
  FrontEndPlan *cpu;
  void *gpu; /* NULL: the CPU does the work */
};

FeatureMaker *feature_maker_create(const FrontEndSpec *s, const Backend *be) {
  FeatureMaker *fm = at_calloc(1, sizeof *fm, "front end");
  fm->cpu = frontend_plan_create(s);
  /* A waveform's front end is a copy of the signal: nothing for a GPU to do
   * (the samples go to the device with the batch, as spectrograms do). */
  if (be && !strcmp(be->name, "cuda") && gpu_ops && s->representation != REPR_WAVEFORM) fm->gpu = gpu_ops->create(s);
  return fm;
}

void feature_maker_free(FeatureMaker *fm) {
  if (!fm) return;
  if (fm->gpu) gpu_ops->release(fm->gpu);
  frontend_plan_free(fm->cpu);
  free(fm);
}

int feature_maker_on_gpu(const FeatureMaker *fm) { return fm->gpu != NULL; }

const FrontEndPlan *feature_maker_cpu_plan(const FeatureMaker *fm) { return fm->cpu; }

void feature_maker_compute(FeatureMaker *fm, const float *signal, long samples, float *features) {
  if (fm->gpu) gpu_ops->compute(fm->gpu, signal, samples, features);
  else frontend_compute(fm->cpu, signal, samples, features);
}

void feature_maker_stft(FeatureMaker *fm, const float *signal, long samples, float *spectrum) {
  if (fm->gpu) gpu_ops->stft(fm->gpu, signal, samples, spectrum);
  else frontend_stft(fm->cpu, signal, samples, spectrum);
}

void feature_maker_istft(FeatureMaker *fm, const float *spectrum, long frames, float *signal, long samples) {
  if (fm->gpu) gpu_ops->istft(fm->gpu, spectrum, frames, signal, samples);
  else frontend_istft(fm->cpu, spectrum, frames, signal, samples);
}
