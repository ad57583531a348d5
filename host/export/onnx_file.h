/* ONNX export of a model in inference mode (docs/export.md): batch norm with
 * its running statistics, dropout removed, a dynamic batch dimension.
 *
 *   input  "spectrogram"    float [batch, channels, frequency, time]
 *   output "logits"         float [batch, classes]
 *          "probabilities"  float [batch, classes] (sigmoid or softmax)
 * or, with a front end (export/onnx_front_end.h: `--with-front-end`):
 *   input  "audio"               float [samples], mono at the front end's rate
 *   output "probabilities"       float [classes]: the mean over the crops, as `auratag tag`
 *          "crop_probabilities"  float [crops, classes]
 *
 * Written with protobuf-c from ONNX's own onnx.proto (opset 17, IR 8); each
 * layer type emits its own nodes (LayerKind.to_onnx, nn/onnx_graph.h). */
#ifndef AT_ONNX_FILE_H
#define AT_ONNX_FILE_H

#include "export/onnx_front_end.h"
#include "nn/model.h"

#define AT_ONNX_OPSET 17
#define AT_ONNX_IR_VERSION 8

/* Writes `m` (allocated on the CPU backend, weights loaded) to `path`,
 * atomically. metadata: key, value, key, value, ..., NULL (metadata_props).
 * A layer type without an ONNX form is a fatal error naming it. */
void onnx_export_model(const Model *m, const OnnxFrontEnd *front_end, const char *const *metadata,
                       const char *producer_version, const char *path);

#endif
