/* `auratag export --with-front-end`: audio in, tags out (docs/export.md).
 * The front end as ONNX operators (opset 17): the zero padding of a file
 * shorter than one crop, centred frames, STFT with auratag's own window, power
 * or magnitude, auratag's own mel filterbank (or the lowest STFT bins), the
 * compression (musicnn's float16 steps through float16 casts), the training
 * split's normalisation, and the equally spaced crops `auratag tag` takes
 * (data/crop_spacing.h), as the batch of the network. */
#ifndef AT_ONNX_FRONT_END_H
#define AT_ONNX_FRONT_END_H

#include "audio/frontend.h"
#include "nn/onnx_graph.h"

typedef struct OnnxFrontEnd {
  const FrontEndSpec *fe;
  long min_samples; /* the fewest samples that give one crop (audio/model_input.h) */
  int has_norm;
  double norm_mean, norm_std;
} OnnxFrontEnd;

/* Nodes from the graph input "audio" (float [samples], mono at the front
 * end's sample rate) to the crops [crops, 1, rows, width]; returns their name.
 * MFCC front ends are refused. */
const char *onnx_front_end(OnnxGraph *g, const OnnxFrontEnd *f, int width);

#endif
