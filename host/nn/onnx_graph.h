/* How a layer type writes itself into an ONNX graph (`auratag export`,
 * docs/export.md). The layer files call this small interface; the builder
 * behind it, with ONNX's protobuf schema, is host/export/onnx_file.c, so
 * that nn/ knows nothing of protobuf.
 *
 * Every tensor of the exported network is 4-D, [batch, channels, frequency,
 * time], as auratag's own activations are, so each layer's ONNX output has
 * exactly its Layer.out dims. Parameters are read on the host (the export
 * runs on the CPU backend). */
#ifndef AT_ONNX_GRAPH_H
#define AT_ONNX_GRAPH_H

#include <stdint.h>

#include "nn/model.h"

typedef struct OnnxGraph OnnxGraph;
typedef struct OnnxNode OnnxNode;

/* One layer being exported. */
typedef struct OnnxLayer {
  OnnxGraph *g;
  const Model *m;
  const Layer *L;
  const char *inputs[AT_MAX_INPUTS]; /* the tensors the layer reads */
  const char *output;                /* the name its output should take */
} OnnxLayer;

/* A fresh tensor name "LAYER/suffix" (owned by the graph). */
const char *onnx_name(OnnxGraph *g, const char *layer, const char *suffix);
/* Initializers (data copied); return their name. */
const char *onnx_floats(OnnxGraph *g, const char *name, const float *data, int ndim, const int64_t *dims);
const char *onnx_int64s(OnnxGraph *g, const char *name, const int64_t *data, int n);
const char *onnx_int64_scalar(OnnxGraph *g, const char *name, int64_t value); /* a 0-d tensor */
/* A node; its attributes follow. */
OnnxNode *onnx_node(OnnxGraph *g, const char *op, const char *name, const char *const *inputs, int n_inputs,
                    const char *output);
void onnx_attr_int(OnnxNode *n, const char *name, int64_t value);
void onnx_attr_ints(OnnxNode *n, const char *name, const int64_t *values, int count);
void onnx_attr_float(OnnxNode *n, const char *name, float value);
void onnx_attr_string(OnnxNode *n, const char *name, const char *value);

/* A parameter tensor's values on the host (a layer's weight, bias, running_mean, ...). */
static inline const float *onnx_layer_param(const OnnxLayer *x, int param_index) {
  const ParamTensor *p = &x->m->params[param_index];
  return (p->trainable ? x->m->weights : x->m->state) + p->offset;
}

/* Reshape `input` to [batch, d.c, d.h, d.w] (batch kept as it is) into `output`. */
void onnx_reshape_to(OnnxGraph *g, const char *layer, const char *input, Dims d, const char *output);

#endif
