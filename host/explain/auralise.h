/* From a deconvolved map to sound (Choi, Fazekas & Sandler 2016b; see
 * docs/papers.md §3.3): the map, brought to the linear-frequency bins of the STFT,
 * multiplies the original complex STFT element by element (the original
 * phase is kept, as Choi did) and the inverse STFT makes audio.
 *
 * Bringing the map to linear bins:
 *  - STFT-input models (choi_auralise5): the map is the mask, bin for bin
 *    (bins the front end dropped get 0);
 *  - mel-input models: each linear bin gets the filterbank-weighted mean of
 *    the mel bands that cover it, mask[f] = sum_b W[b, f] map[b] /
 *    sum_b W[b, f] (the transpose of the filterbank, normalised per bin so
 *    that a constant map gives a constant mask; bins no band covers get 0).
 *    The pseudo-inverse was not used: it rings (negative lobes between band
 *    centres) and the deconvolved map is a pattern, not a spectrum to
 *    recover exactly;
 *  - MFCC inputs have no such map back (the DCT mixes all bands): refused.
 * The mask is used as Choi used it: neither normalised nor clipped (it can
 * be negative); the model's compression (dB, log) is not undone: the map is
 * a pattern in the model's input domain. */
#ifndef AT_AURALISE_H
#define AT_AURALISE_H

#include "audio/frontend.h"

/* Linear bins of the STFT: n_fft / 2 + 1. */
int auralise_bins(const FrontEndSpec *fe);
/* mask[auralise_bins, frames] from map[frontend_rows, frames]; stops with the
 * reason for MFCC front ends. */
void auralise_mask(const FrontEndSpec *fe, const FrontEndPlan *plan, const float *map, int frames, float *mask);
/* spectrum (frontend_stft's interleaved complex [bins, frames]) times mask,
 * into out (same layout). */
void auralise_apply_mask(const float *spectrum, const float *mask, int bins, int frames, float *out);

#endif
