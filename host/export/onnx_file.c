#include "export/onnx_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnx.pb-c.h>

#include "core/error.h"
#include "core/files.h"
#include "nn/layers/layer_kind.h"
#include "nn/onnx_graph.h"

struct OnnxNode {
  Onnx__NodeProto proto;
  OnnxGraph *g;
};

/* The graph being built. Every allocation is owned by it and freed at once
 * after packing (protobuf-c's messages point into these blocks). */
struct OnnxGraph {
  Onnx__NodeProto **nodes;
  size_t n_nodes, cap_nodes;
  Onnx__TensorProto **inits;
  size_t n_inits, cap_inits;
  void **owned;
  size_t n_owned, cap_owned;
};

static void *grow(void *array, size_t *cap, size_t need, size_t item) {
  if (need <= *cap) return array;
  *cap = *cap ? 2 * *cap : 16;
  if (*cap < need) *cap = need;
  void *p = realloc(array, *cap * item);
  if (!p) at_fatal("out of memory building the ONNX graph");
  return p;
}

static void *own(OnnxGraph *g, size_t bytes) {
  void *p = at_calloc(1, bytes ? bytes : 1, "ONNX graph");
  g->owned = grow(g->owned, &g->cap_owned, g->n_owned + 1, sizeof(void *));
  g->owned[g->n_owned++] = p;
  return p;
}

static char *own_string(OnnxGraph *g, const char *s) {
  char *p = own(g, strlen(s) + 1);
  memcpy(p, s, strlen(s) + 1);
  return p;
}

static char *own_printf(OnnxGraph *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = own(g, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

const char *onnx_name(OnnxGraph *g, const char *layer, const char *suffix) {
  return own_printf(g, "%s/%s", layer, suffix);
}

static Onnx__TensorProto *add_initializer(OnnxGraph *g, const char *name, int ndim, const int64_t *dims) {
  Onnx__TensorProto *t = own(g, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = own_string(g, name);
  t->n_dims = (size_t)ndim;
  t->dims = own(g, sizeof(int64_t) * (size_t)ndim);
  if (ndim > 0) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
  t->has_data_type = 1;
  g->inits = grow(g->inits, &g->cap_inits, g->n_inits + 1, sizeof(void *));
  g->inits[g->n_inits++] = t;
  return t;
}

const char *onnx_floats(OnnxGraph *g, const char *name, const float *data, int ndim, const int64_t *dims) {
  Onnx__TensorProto *t = add_initializer(g, name, ndim, dims);
  size_t count = 1;
  for (int i = 0; i < ndim; i++) count *= (size_t)dims[i];
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  /* raw_data is little-endian float32, as this machine's floats */
  t->has_raw_data = 1;
  t->raw_data.len = count * sizeof(float);
  t->raw_data.data = own(g, t->raw_data.len);
  memcpy(t->raw_data.data, data, t->raw_data.len);
  return t->name;
}

const char *onnx_int64s(OnnxGraph *g, const char *name, const int64_t *data, int n) {
  const int64_t dims[1] = {n};
  Onnx__TensorProto *t = add_initializer(g, name, 1, dims);
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  t->n_int64_data = (size_t)n;
  t->int64_data = own(g, sizeof(int64_t) * (size_t)n);
  memcpy(t->int64_data, data, sizeof(int64_t) * (size_t)n);
  return t->name;
}

const char *onnx_int64_scalar(OnnxGraph *g, const char *name, int64_t value) {
  Onnx__TensorProto *t = add_initializer(g, name, 0, NULL);
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  t->n_int64_data = 1;
  t->int64_data = own(g, sizeof(int64_t));
  t->int64_data[0] = value;
  return t->name;
}

OnnxNode *onnx_node(OnnxGraph *g, const char *op, const char *name, const char *const *inputs, int n_inputs,
                    const char *output) {
  OnnxNode *n = own(g, sizeof *n);
  n->g = g;
  onnx__node_proto__init(&n->proto);
  n->proto.op_type = own_string(g, op);
  n->proto.name = own_string(g, name);
  n->proto.n_input = (size_t)n_inputs;
  n->proto.input = own(g, sizeof(char *) * (size_t)n_inputs);
  for (int i = 0; i < n_inputs; i++) n->proto.input[i] = own_string(g, inputs[i]);
  n->proto.n_output = 1;
  n->proto.output = own(g, sizeof(char *));
  n->proto.output[0] = own_string(g, output);
  g->nodes = grow(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(void *));
  g->nodes[g->n_nodes++] = &n->proto;
  return n;
}

static Onnx__AttributeProto *add_attr(OnnxNode *n, const char *name, Onnx__AttributeProto__AttributeType type) {
  Onnx__AttributeProto *a = own(n->g, sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = own_string(n->g, name);
  a->has_type = 1;
  a->type = type;
  /* the attribute list is small: a fresh owned copy per addition */
  Onnx__AttributeProto **list = own(n->g, sizeof(void *) * (n->proto.n_attribute + 1));
  if (n->proto.n_attribute) memcpy(list, n->proto.attribute, sizeof(void *) * n->proto.n_attribute);
  list[n->proto.n_attribute++] = a;
  n->proto.attribute = list;
  return a;
}

void onnx_attr_int(OnnxNode *n, const char *name, int64_t value) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = 1;
  a->i = value;
}

void onnx_attr_ints(OnnxNode *n, const char *name, const int64_t *values, int count) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = (size_t)count;
  a->ints = own(n->g, sizeof(int64_t) * (size_t)count);
  memcpy(a->ints, values, sizeof(int64_t) * (size_t)count);
}

void onnx_attr_float(OnnxNode *n, const char *name, float value) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = value;
}

void onnx_attr_string(OnnxNode *n, const char *name, const char *value) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  a->has_s = 1;
  a->s.len = strlen(value);
  a->s.data = (uint8_t *)own_string(n->g, value);
}

void onnx_reshape_to(OnnxGraph *g, const char *layer, const char *input, Dims d, const char *output) {
  const int64_t shape[4] = {0, d.c, d.h, d.w}; /* 0: the batch dimension as it is */
  const char *args[2] = {input, onnx_int64s(g, onnx_name(g, layer, output), shape, 4)};
  onnx_node(g, "Reshape", onnx_name(g, layer, "reshape"), args, 2, output);
}

/* A float tensor's type: [first, dims...] with a symbolic first dimension. */
static Onnx__ValueInfoProto *value_info(OnnxGraph *g, const char *name, const char *first, int ndim, const int64_t *dims) {
  Onnx__ValueInfoProto *v = own(g, sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = own_string(g, name);
  Onnx__TypeProto *type = own(g, sizeof *type);
  onnx__type_proto__init(type);
  Onnx__TypeProto__Tensor *tensor = own(g, sizeof *tensor);
  onnx__type_proto__tensor__init(tensor);
  tensor->has_elem_type = 1;
  tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  Onnx__TensorShapeProto *shape = own(g, sizeof *shape);
  onnx__tensor_shape_proto__init(shape);
  shape->n_dim = (size_t)ndim + (first != NULL);
  shape->dim = own(g, sizeof(void *) * shape->n_dim);
  for (size_t i = 0; i < shape->n_dim; i++) {
    Onnx__TensorShapeProto__Dimension *d = own(g, sizeof *d);
    onnx__tensor_shape_proto__dimension__init(d);
    if (first && i == 0) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = own_string(g, first);
    } else {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = dims[i - (first != NULL)];
    }
    shape->dim[i] = d;
  }
  tensor->shape = shape;
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tensor;
  v->type = type;
  return v;
}

/* The layers' nodes; returns the name of the last layer's output. */
static const char *emit_layers(OnnxGraph *g, const Model *m, const char *input, const char **outputs) {
  for (int i = 0; i < m->n_layers; i++) {
    const Layer *L = &m->layers[i];
    if (!L->kind->to_onnx)
      at_fatal("model '%s': layer '%s' is a [%s], which has no ONNX form yet; the export supports: conv, conv1d, "
               "batchnorm, relu, elu, maxpool, avgpool, dropout, dense, flatten, reshape, concat, add",
               m->name, L->name, layer_type_name(L));
    const int reserved = !strcmp(L->name, "spectrogram") || !strcmp(L->name, "logits") || !strcmp(L->name, "probabilities");
    OnnxLayer x = {.g = g, .m = m, .L = L, .output = reserved ? own_printf(g, "%s_out", L->name) : own_string(g, L->name)};
    for (int k = 0; k < L->n_inputs; k++) x.inputs[k] = L->inputs[k] == AT_INPUT ? input : outputs[L->inputs[k]];
    outputs[i] = L->kind->to_onnx(&x);
  }
  return outputs[m->n_layers - 1];
}

static Onnx__StringStringEntryProto *entry(OnnxGraph *g, const char *key, const char *value) {
  Onnx__StringStringEntryProto *e = own(g, sizeof *e);
  onnx__string_string_entry_proto__init(e);
  e->key = own_string(g, key);
  e->value = own_string(g, value);
  return e;
}

void onnx_export_model(const Model *m, const OnnxFrontEnd *front_end, const char *const *metadata,
                       const char *producer_version, const char *path) {
  OnnxGraph g = {0};
  const char *input = front_end ? onnx_front_end(&g, front_end, m->input.w) : "spectrogram";
  const char **outputs = at_calloc((size_t)m->n_layers, sizeof(char *), "layer outputs");
  const char *last = emit_layers(&g, m, input, outputs);
  free(outputs);
  /* [batch, classes, 1, 1] -> [batch, classes], then the output activation */
  const char *logits = front_end ? "crop_logits" : "logits", *probs = front_end ? "crop_probabilities" : "probabilities";
  OnnxNode *flat = onnx_node(&g, "Flatten", logits, &last, 1, logits);
  onnx_attr_int(flat, "axis", 1);
  OnnxNode *act = onnx_node(&g, m->output == OUTPUT_SIGMOID ? "Sigmoid" : "Softmax", probs, &logits, 1, probs);
  if (m->output == OUTPUT_SOFTMAX) onnx_attr_int(act, "axis", 1);
  if (front_end) { /* tag's answer: the mean over the crops */
    OnnxNode *mean = onnx_node(&g, "ReduceMean", "probabilities", &probs, 1, "probabilities");
    const int64_t axes[1] = {0};
    onnx_attr_ints(mean, "axes", axes, 1);
    onnx_attr_int(mean, "keepdims", 0);
  }

  Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
  graph.name = own_string(&g, m->name);
  graph.n_node = g.n_nodes;
  graph.node = g.nodes;
  graph.n_initializer = g.n_inits;
  graph.initializer = g.inits;
  const int64_t in_dims[3] = {m->input.c, m->input.h, m->input.w}, out_dims[1] = {m->classes};
  Onnx__ValueInfoProto *in = front_end ? value_info(&g, "audio", "samples", 0, NULL)
                                       : value_info(&g, "spectrogram", "batch", 3, in_dims);
  Onnx__ValueInfoProto *outs[2] = {value_info(&g, "logits", "batch", 1, out_dims),
                                   value_info(&g, "probabilities", "batch", 1, out_dims)};
  if (front_end) {
    outs[0] = value_info(&g, "probabilities", NULL, 1, out_dims);
    outs[1] = value_info(&g, "crop_probabilities", "crops", 1, out_dims);
  }
  graph.n_input = 1;
  graph.input = &in;
  graph.n_output = 2;
  graph.output = outs;

  Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  opset.domain = "";
  opset.has_version = 1;
  opset.version = AT_ONNX_OPSET;
  Onnx__OperatorSetIdProto *opsets[1] = {&opset};
  size_t n_meta = 0;
  while (metadata && metadata[2 * n_meta]) n_meta++;
  Onnx__StringStringEntryProto **meta = own(&g, sizeof(void *) * (n_meta + 1));
  for (size_t i = 0; i < n_meta; i++) meta[i] = entry(&g, metadata[2 * i], metadata[2 * i + 1]);

  Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
  model.has_ir_version = 1;
  model.ir_version = AT_ONNX_IR_VERSION;
  model.n_opset_import = 1;
  model.opset_import = opsets;
  model.producer_name = "auratag";
  model.producer_version = (char *)producer_version;
  model.graph = &graph;
  model.n_metadata_props = n_meta;
  model.metadata_props = meta;
  const size_t size = onnx__model_proto__get_packed_size(&model);
  uint8_t *buf = at_malloc(size + 1, "ONNX file");
  if (onnx__model_proto__pack(&model, buf) != size) at_fatal("ONNX: packing the model gave an unexpected size");
  at_write_file(path, buf, size);
  free(buf);
  for (size_t i = 0; i < g.n_owned; i++) free(g.owned[i]);
  free(g.owned);
  free(g.nodes);
  free(g.inits);
}
