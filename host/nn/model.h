/* A model: a graph of layers read from a config, its parameters in one flat
 * buffer, and forward / backward passes that run on any backend.
 *
 * Layers are stored in config order, which is a topological order: a layer
 * may only read the model input or layers declared before it. */
#ifndef AT_MODEL_H
#define AT_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/backend.h"

#define AT_MAX_INPUTS 8
#define AT_INPUT (-1) /* "the model input" in Layer.inputs */

/* A layer type (host/nn/layers/<type>.c): its config keys, shapes,
 * parameters, passes and deconvnet step, behind one table. */
typedef struct LayerKind LayerKind;

typedef enum { INIT_HE_NORMAL, INIT_HE_UNIFORM, INIT_GLOROT_UNIFORM, INIT_GLOROT_NORMAL } InitKind;
/* A parameter tensor's initial values: its layer's InitKind, or a constant. */
typedef enum { PARAM_INIT_LAYER, PARAM_INIT_ZEROS, PARAM_INIT_ONES } ParamInit;
typedef enum { OUTPUT_SIGMOID, OUTPUT_SOFTMAX } OutputKind;

/* Per-example shape: channels x frequency x time. */
typedef struct Dims {
  int c, h, w;
} Dims;

static inline size_t at_dims_count(Dims d) { return (size_t)d.c * (size_t)d.h * (size_t)d.w; }

/* One named tensor inside the flat parameter (or state) buffer. */
typedef struct ParamTensor {
  char name[32]; /* PyTorch's name: weight, bias, running_mean, running_var */
  int layer;
  int trainable; /* 1: in Model.weights, 0: in Model.state */
  size_t offset, count;
  int ndim, dims[4];
  ParamInit init;
} ParamTensor;

/* A layer as its config describes it: fixed once the config is read. Its
 * memory on a backend lives apart, in Model.buffers (LayerBuffers). */
typedef struct Layer {
  const LayerKind *kind;
  char name[64];
  const char *file; /* where it was declared, for messages */
  int line;

  int inputs[AT_MAX_INPUTS];
  int n_inputs;
  int consumers; /* how many layers read this layer's output (part of the graph, hence here) */
  Dims in, out;  /* in = first input's dims */

  /* convolution (conv1d is a conv with kh = 1 over C*H input channels) */
  int filters, kh, kw, stride_h, stride_w;
  int pad_top, pad_bottom, pad_left, pad_right;
  int has_bias;
  InitKind init;
  /* batch norm */
  BatchNormAxis bn_axis;
  float bn_eps, bn_momentum;
  /* activations, dropout, dense */
  float alpha, p;
  int units;

  /* Set by a training recipe's `freeze` (model_freeze_layer): the layer runs
   * as in inference (BN on its running statistics, dropout off) and its
   * parameter gradients are zero. */
  int frozen;

  /* indices into Model.params (-1 when absent) */
  int weight, bias, running_mean, running_var;
  size_t n_params; /* trainable floats */
  double macs;     /* forward multiply-accumulates per example */
} Layer;

/* Batch norm -> ReLU -> max-pool run as one backend operation when nobody
 * reads the two inner outputs: those layers then have no output buffer. */
typedef enum {
  CHAIN_NONE = 0,
  CHAIN_HEAD, /* the batch norm: its forward runs the chain */
  CHAIN_INNER, /* the ReLU: nothing of its own */
  CHAIN_TAIL /* the max-pool: holds the output, its backward runs the chain's */
} LayerChain;

/* A layer's memory on the backend (model_allocate) and its run-time state. */
typedef struct LayerBuffers {
  float *out;        /* [max_batch, out] (aliases the input's for in-place layers; a view for reshapes) */
  float *grad;       /* d loss / d out (one of Model.grad_slots, shared by layers whose gradients never live together) */
  int32_t *switches; /* max-pool winners */
  uint8_t *mask;     /* dropout's kept elements */
  float *save_mean, *save_invstd; /* batch norm's batch statistics, for backward */
  int in_place;      /* writes its output over its input (ReLU/ELU after a layer that does not need its own output) */
  LayerChain chain;  /* part of a fused batch norm -> ReLU -> max-pool (nn/layers/chain.c) */
  int grad_ready;    /* backward bookkeeping: grad holds a value this pass */
  long batches_tracked; /* batch norm's training batches so far (PyTorch's num_batches_tracked) */
} LayerBuffers;

typedef struct Model {
  char name[64];
  char *config_text; /* the resolved model config, stored in weight files */
  Dims input;
  OutputKind output;
  int classes;
  InitKind default_init;
  /* What each output means (the training cache's tags or classes, in the
   * order of the outputs); NULL when unknown (weights from `auratag init`,
   * or written before weights files carried them). */
  char **output_names;

  Layer *layers;
  LayerBuffers *buffers; /* one per layer, same index */
  int n_layers;
  ParamTensor *params;
  int n_params;
  size_t n_weights; /* trainable floats */
  size_t n_state;   /* running statistics floats */

  /* memory on the backend */
  const Backend *be;
  int max_batch;
  float *weights, *grads, *state;
  float *scratch;   /* for gradients of tensors with several consumers */
  size_t scratch_floats;
  float **grad_slots; /* the gradient buffers the layers share (model.c: allocate_gradients) */
  int n_grad_slots;
  size_t grad_floats; /* all of them together */
  float *logit_grad;
  const float *input_ptr; /* input of the last forward pass */
  /* Set before model_allocate by whoever reads inner layers' outputs (the
   * deconvnet, activations, embeddings, the oracle's traces): no chain is
   * fused, every layer keeps its output. */
  int keep_outputs;
  /* Set before model_allocate by whoever only runs forward passes (tag,
   * predict, eval, embed, the explain tools): no gradient memory at all
   * (model_backward refuses); the loss still reports its value. */
  int inference_only;
} Model;

void model_free(Model *m);
/* Copies the names of the model's `classes` outputs (replacing any). */
void model_set_output_names(Model *m, const char *const *names);

/* The config section type of a layer: "conv", "relu", ... */
const char *layer_type_name(const Layer *L);
/* Whether the layer starts a conv block (Choi et al.'s blocks: a [conv] and
 * the layers after it up to the next one); conv1d does not. */
int layer_opens_conv_block(const Layer *L);
/* Whether the layer keeps running statistics (saved with num_batches_tracked, as PyTorch does). */
static inline int layer_has_running_stats(const Layer *L) { return L->running_mean >= 0; }

/* Prints: layer, type, output shape (frequency x time x channels),
 * parameters, forward MACs, and totals. */
void model_print_summary(const Model *m, FILE *out);

/* Allocates weights, gradients, state and activations for batches up to
 * max_batch on the backend. */
void model_allocate(Model *m, const Backend *be, int max_batch);

/* Seeded initialisation (He / Glorot as the papers' frameworks did), written
 * on the host and uploaded. BN: gamma 1, beta 0, running mean 0, var 1. */
void model_init_weights(Model *m, uint64_t seed);

/* Forward pass on device input [n, c, h, w]. training=1: batch statistics,
 * dropout with masks from (seed, step). Returns the logits [n, classes]. */
const float *model_forward(Model *m, const float *input, int n, int training, uint64_t seed, uint64_t step);

/* Loss of the last forward pass and, if backward, all parameter gradients.
 * targets: float [n, classes] (sigmoid) or int32 [n] labels (softmax), on the device. */
double model_loss(Model *m, int n, const void *targets, int backward);

/* Backward from a given gradient of the logits (used by model_loss). Layers
 * below the first one with parameters to train are skipped (nothing below
 * them learns); frozen layers' parameter gradients are left at zero. */
void model_backward(Model *m, int n, const float *dlogits);
/* Backward from a given gradient of layer `layer`'s output [n, out] (a loss
 * on an embedding: prototypical networks), through the layers it depends on.
 * Every other parameter gradient is zero. The layer must not be inside a
 * fused chain (Model.keep_outputs). */
void model_backward_from_layer(Model *m, int n, int layer, const float *dy);

/* The index of the layer called `name`, or -1. */
int model_layer_index(const Model *m, const char *name);
/* "a, b, c": every layer's name, for messages (cut at `size`). */
void model_layer_names(const Model *m, char *out, size_t size);

/* Freezes a layer for training (see Layer.frozen). */
void model_freeze_layer(Model *m, int layer);
/* Whether the layer has trainable parameters or running statistics. */
int layer_has_parameters(const Layer *L);
/* The first layer whose parameters are trained (not frozen), or n_layers. */
int model_first_trained_layer(const Model *m);

/* Output probabilities of the last forward pass (sigmoid or softmax). */
void model_probabilities(Model *m, int n, float *probs_device);

/* The parameter tensor of layer `layer` called `name`, or NULL. */
const ParamTensor *model_param(const Model *m, int layer, const char *name);
float *model_param_data(const Model *m, const ParamTensor *p); /* device pointer */

#endif
