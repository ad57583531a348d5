/* Audio -> a model's input, the one way `tag`, `activations` and `auralise`
 * do it: decode and resample to the front end's rate, zero-pad at the end to
 * at least one crop (as prep pads short clips), the front end of the model's
 * training cache (on the GPU when the backend is cuda), the cache's global
 * normalisation, then crops of the model's width spaced as in evaluation
 * (data/crop_spacing.h). */
#ifndef AT_MODEL_INPUT_H
#define AT_MODEL_INPUT_H

#include <stddef.h>

#include "audio/audio_io.h"
#include "audio/feature_maker.h"
#include "audio/prep.h"

typedef struct ModelInput {
  const FrontEndSpec *fe; /* borrowed from the PrepSetup */
  FeatureMaker *fm;
  int rows; /* feature rows per frame */
  int width; /* the model's crop, in frames */
  long min_samples; /* the fewest samples that give one full crop */
  int has_norm;
  double norm_mean, norm_std;
} ModelInput;

/* For a model `width` frames wide, with what its training cache recorded
 * (prep_read_setup; it must outlive mi); the front end on be's device. */
void model_input_init(ModelInput *mi, const PrepSetup *setup, int width, const Backend *be);
void model_input_free(ModelInput *mi);

/* Decodes path at the front end's rate, zero-padded at the end to
 * min_samples; *decoded = the samples before padding (padded when
 * *decoded < au->n). 0, or -1 with the reason in why. */
int model_input_load(const ModelInput *mi, const char *path, Audio *au, long *decoded, char *why, size_t why_size);

/* The normalised features [rows, *frames] of a signal (caller frees), or
 * NULL with the reason in why when the front end gave a value that is not
 * finite (the one rule of audio/frontend.h: such a file is refused). */
float *model_input_features(ModelInput *mi, const float *signal, long samples, long *frames, char *why,
                            size_t why_size);

/* out [rows, width] = the crop of features [rows, frames] starting at frame start. */
void model_input_crop(const ModelInput *mi, const float *features, long frames, long start, float *out);

#endif
