/* Audio -> model input (see model_input.h). */
#include "audio/model_input.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void model_input_init(ModelInput *mi, const PrepSetup *setup, int width, const Backend *be) {
  memset(mi, 0, sizeof *mi);
  const FrontEndSpec *fe = &setup->dc->fe;
  mi->fe = fe;
  mi->rows = frontend_rows(fe);
  mi->width = width;
  long need = (long)(width - 1) * fe->hop;
  if (need < 1) need = 1;
  while (frontend_frames(fe, need) < width) need += fe->hop;
  mi->min_samples = need;
  mi->has_norm = setup->has_norm;
  mi->norm_mean = setup->norm_mean;
  mi->norm_std = setup->norm_std;
  mi->fm = feature_maker_create(fe, be);
}

void model_input_free(ModelInput *mi) {
  feature_maker_free(mi->fm);
  memset(mi, 0, sizeof *mi);
}

int model_input_load(const ModelInput *mi, const char *path, Audio *au, long *decoded, char *why, size_t why_size) {
  if (audio_load(path, mi->fe->sample_rate, au, why, why_size) != 0) return -1;
  *decoded = au->n;
  if (au->n < mi->min_samples) {
    float *grown = at_calloc((size_t)mi->min_samples, sizeof(float), "padded signal");
    memcpy(grown, au->samples, sizeof(float) * (size_t)au->n);
    free(au->samples);
    au->samples = grown;
    au->n = mi->min_samples;
  }
  return 0;
}

float *model_input_features(ModelInput *mi, const float *signal, long samples, long *frames, char *why,
                            size_t why_size) {
  *frames = frontend_frames(mi->fe, samples);
  const size_t count = (size_t)mi->rows * (size_t)*frames;
  float *feat = at_malloc(sizeof(float) * count, "features");
  feature_maker_compute(mi->fm, signal, samples, feat);
  if (frontend_find_non_finite(feat, count, mi->rows, *frames, why, why_size)) {
    free(feat);
    return NULL;
  }
  if (mi->has_norm) prep_normalise(feat, count, mi->norm_mean, mi->norm_std);
  return feat;
}

void model_input_crop(const ModelInput *mi, const float *features, long frames, long start, float *out) {
  AT_ASSERT(start >= 0 && start + mi->width <= frames);
  for (int r = 0; r < mi->rows; r++)
    memcpy(out + (size_t)r * (size_t)mi->width, features + (size_t)r * (size_t)frames + (size_t)start,
           sizeof(float) * (size_t)mi->width);
}
