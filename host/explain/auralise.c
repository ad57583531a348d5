/* Masks and masked spectra for auralisation (see auralise.h). */
#include "explain/auralise.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int auralise_bins(const FrontEndSpec *fe) { return fe->n_fft / 2 + 1; }

void auralise_mask(const FrontEndSpec *fe, const FrontEndPlan *plan, const float *map, int frames, float *mask) {
  const int bins = auralise_bins(fe);
  memset(mask, 0, sizeof(float) * (size_t)bins * frames);
  switch (fe->representation) {
    case REPR_STFT:
      memcpy(mask, map, sizeof(float) * (size_t)fe->n_bins * frames);
      return;
    case REPR_MEL: {
      const float *w = frontend_mel_matrix(plan); /* [bands, bins] */
      const int bands = fe->n_bins;
      for (int f = 0; f < bins; f++) {
        double weight = 0;
        for (int b = 0; b < bands; b++) weight += w[(size_t)b * bins + f];
        if (weight <= 0) continue;
        float *row = mask + (size_t)f * frames;
        for (int b = 0; b < bands; b++) {
          const float wb = (float)(w[(size_t)b * bins + f] / weight);
          if (wb == 0.0f) continue;
          const float *src = map + (size_t)b * frames;
          for (int t = 0; t < frames; t++) row[t] += wb * src[t];
        }
      }
      return;
    }
    case REPR_MFCC:
      at_fatal("auralisation needs a spectrogram-input model (STFT or mel): an MFCC front end mixes all bands in "
               "its DCT and has no per-bin mask");
    case REPR_WAVEFORM:
      at_fatal("auralisation needs a spectrogram-input model (STFT or mel): a waveform model has no spectrogram to "
               "mask");
  }
}

void auralise_apply_mask(const float *spectrum, const float *mask, int bins, int frames, float *out) {
  const size_t n = (size_t)bins * frames;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = spectrum[2 * i] * mask[i];
    out[2 * i + 1] = spectrum[2 * i + 1] * mask[i];
  }
}
