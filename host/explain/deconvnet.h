/* The deconvnet of Zeiler & Fergus, as Choi, Fazekas & Sandler (2016) used it
 * to explain music CNNs: one example goes forward to layer L, recording the
 * max-pool switches; all of L's output but feature map k (or its n largest
 * activations) is zeroed; the signal then goes back down, layer by layer:
 *   max-pool   -> unpooling through the recorded switches
 *   ReLU / ELU -> ReLU (the rectification of the way up)
 *   conv       -> transposed convolution with the layer's own weights (the
 *                 backward-data pass: kernels flipped, channels transposed),
 *                 no bias
 *   batch norm, dropout -> skipped (identity): the deconvnet reconstructs
 *                 the pattern that drives a feature, and BN only rescales
 *                 channels (Choi's 5-layer net has none)
 * down to the input: a map with the input's shape. It runs on the model's
 * backend (CPU or CUDA) with the backend's ops only. Layers between the
 * input and L must form a chain of the kinds above (a branch of Pons'
 * Time-Frequency net is fine, anything after a dense, concat or add is not). */
#ifndef AT_DECONVNET_H
#define AT_DECONVNET_H

#include "nn/model.h"

/* Index of the layer named `name`, or of the last layer of conv block
 * `name` when it is a number ("3": the layers after the third conv, up to
 * the next conv or the first layer the deconvnet cannot invert). Stops with
 * the reason when there is none or the chain below it cannot be inverted. */
int deconv_target(const Model *m, const char *name);

typedef struct Deconvnet Deconvnet;
/* For a model allocated with max_batch >= 1. */
Deconvnet *deconv_create(Model *m, int target);
void deconv_free(Deconvnet *d);

/* Forward pass of one example (input_host [c, h, w] of the model's input),
 * eval mode. Then deconv_feature as often as wanted. */
void deconv_forward(Deconvnet *d, const float *input_host);
/* Features (channels) of the target layer's output. */
int deconv_features(const Deconvnet *d);
/* The deconvolved map of feature k (top_n > 0: only its top_n largest
 * activations kept), into out_host [input c, h, w]. Returns the largest
 * activation of feature k (0 when the feature is silent: the map is zero). */
float deconv_feature(Deconvnet *d, int k, int top_n, float *out_host);

#endif
