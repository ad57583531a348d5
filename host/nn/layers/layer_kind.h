/* One layer type, everything about it in one table: its config section and
 * keys, shape inference, parameters, forward and backward passes through the
 * Backend table, and its deconvnet step. Each type lives in its own file
 * (host/nn/layers/<type>.c) and is listed once in layer_registry.c; the
 * config reader (model_config.c), the executor (model.c) and the deconvnet
 * loop over the table and never name a type.
 *
 * Adding a layer type: see docs/architecture.md ("Adding a layer type"). */
#ifndef AT_LAYER_KIND_H
#define AT_LAYER_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model.h"

struct IniSection;
struct OnnxLayer;

/* Reading one section: the layer's name, inputs, `in` and a default `out`
 * (= in) are set before LayerKind.build runs. */
typedef struct LayerBuild {
  Model *m;
  int index;
  Layer *L;
  struct IniSection *s;
  char in_text[64]; /* the input's dims as FREQxTIMExCHANNELS, for messages */
} LayerBuild;

/* One layer's pass over n examples. */
typedef struct LayerPass {
  Model *m;
  int index;
  const Layer *L;
  LayerBuffers *buf;
  const Backend *be;
  int n;
  int training;        /* forward: batch statistics, dropout */
  uint64_t seed, step; /* forward: dropout masks */
  /* backward: where the gradient of input k goes (NULL: the model input,
   * not needed); spare[k]: scratch of input k's size for a gradient the op
   * must write anyway (then dropped) */
  float *dx[AT_MAX_INPUTS];
  float *spare[AT_MAX_INPUTS];
} LayerPass;

/* How a layer's output is held. */
typedef enum {
  LAYER_OUT_OWN,     /* a buffer of its own */
  LAYER_OUT_IN_PLACE, /* over its input's buffer when the input allows it (output_reusable), else its own */
  LAYER_OUT_VIEW     /* its input's buffer, reinterpreted (set at each forward) */
} LayerOutput;

struct LayerKind {
  const char *name;     /* the config section type: [conv] */
  const char *keys;     /* accepted keys, listed when a section has an unknown one */
  int joins_inputs;     /* reads `inputs` (two or more) instead of `input` */
  LayerOutput output;
  int output_reusable;  /* backward does not read the output: a following in-place layer may overwrite it */
  int opens_conv_block; /* starts one of Choi's conv blocks (deconvnet and activations count them) */

  /* Reads the section's keys (defaults and checks), sets L->out and the
   * hyper-parameters, declares the parameter tensors (layer_add_param), MACs. */
  void (*build)(LayerBuild *b);
  /* Extra backend memory beyond out/grad (switches, masks, statistics) for
   * `count` = max_batch x output elements; NULL when none. */
  void (*allocate)(const Layer *L, LayerBuffers *buf, const Backend *be, size_t count);
  void (*forward)(LayerPass *p);
  void (*backward)(LayerPass *p); /* dy = buf->grad; writes p->dx[k] where not NULL */
  /* The deconvnet's step down through the layer for one example: from
   * `signal` (the layer's output shape) towards its input. Returns 1 when
   * the result is in `below`, 0 when it stayed in `signal`. NULL: the
   * deconvnet cannot go down through this type. */
  int (*deconv)(LayerPass *p, float *signal, float *below);
  /* Its inference-mode form as ONNX nodes (nn/onnx_graph.h); returns the
   * tensor holding its output (x->output, or an input it passes on). NULL:
   * `auratag export` refuses models with this type. */
  const char *(*to_onnx)(struct OnnxLayer *x);
};

/* Every layer type, in the order `unknown section type` lists them. */
extern const LayerKind *const k_layer_kinds[];
extern const int k_layer_kind_count;
/* The kind whose section type is `name`, or NULL. */
const LayerKind *layer_kind_named(const char *name);

/* ---- for the build functions (model_config.c) ---- */

/* Declares a parameter tensor of layer `layer`; returns its index in Model.params. */
int layer_add_param(Model *m, int layer, const char *name, int trainable, ParamInit init, int ndim, const int *dims);
/* The `init` key (he_normal, ...), defaulting to the model's. */
InitKind layer_read_init(LayerBuild *b);
/* The dims of the model input (AT_INPUT) or of layer `index`'s output. */
Dims layer_source_dims(const Model *m, int index);
/* FREQxTIMExCHANNELS, as every message writes shapes. */
void layer_dims_text(Dims d, char *buf, size_t size);

/* ---- for the passes ---- */

/* The backend shapes of a [batchnorm] and a [maxpool] / [avgpool] layer over n examples. */
BatchNormShape layer_bn_shape(const Layer *L, int n);
PoolShape layer_pool_shape(const Layer *L, int n);

/* Batch norm -> ReLU -> max-pool as one operation (chain.c). The length of
 * the chain that can be fused at layer `head`, or 0: 3 for a per-channel
 * [batchnorm] whose only reader is a [relu] whose only reader is a
 * [maxpool], 2 for such a [batchnorm] read only by a [maxpool]. */
int layer_chain_fusable(const Model *m, int head);
/* The head of the fused chain whose tail (the max-pool) is layer `tail`, and
 * the tail of the one whose head (the batch norm) is layer `head`. */
int layer_chain_head(const Model *m, int tail);
int layer_chain_tail(const Model *m, int head);
/* The chain's forward (head's batch norm in training mode when `training`)
 * and its backward, dx the gradient of the head's input (NULL: not needed). */
void layer_chain_forward(Model *m, int head, int n, int training);
void layer_chain_backward(Model *m, int head, int n, float *dx);


static inline const float *layer_x(const LayerPass *p, int k) {
  int src = p->L->inputs[k];
  return src == AT_INPUT ? p->m->input_ptr : p->m->buffers[src].out;
}
static inline size_t layer_out_count(const LayerPass *p) { return (size_t)p->n * at_dims_count(p->L->out); }
static inline size_t layer_in_count(const LayerPass *p) { return (size_t)p->n * at_dims_count(p->L->in); }
/* Device pointers of a parameter tensor and of its gradient (NULL when index < 0). */
static inline float *layer_param(const LayerPass *p, int index) {
  return index < 0 ? NULL : model_param_data(p->m, &p->m->params[index]);
}
static inline float *layer_grad(const LayerPass *p, int index) {
  return index < 0 ? NULL : p->m->grads + p->m->params[index].offset;
}
/* A pass over layer i of a model with memory, n examples. */
static inline LayerPass layer_pass(Model *m, int i, int n) {
  LayerPass p = {0};
  p.m = m;
  p.index = i;
  p.L = &m->layers[i];
  p.buf = &m->buffers[i];
  p.be = m->be;
  p.n = n;
  return p;
}

#endif
