/* Batch norm -> ReLU -> max-pool, fused: the block of Choi's FCNs, run as
 * the backend's one bn_relu_maxpool operation instead of three; also batch
 * norm -> max-pool, the block of musicnn and its VGG baseline (their ReLU
 * comes first and already runs in place over the convolution's output).
 *
 * Why: separately, the batch norm writes a tensor the size of the
 * convolution's output, the ReLU keeps it, and backward needs two more of
 * that size (FCN-4's first block: 537 MB each at batch 8). Fused, only the
 * pooled output and its switches are kept: FCN-4 training at batch 8 peaks
 * about 1 GB lower, and the memory-bound part of the step reads the
 * convolution's output once. The numbers are those of the three layers run
 * one by one (the CPU bit for bit; tests/test_model.c compares whole
 * training steps).
 *
 * The model (nn/model.c) fuses a chain at model_allocate unless
 * Model.keep_outputs is set: the batch norm and the ReLU then have no output
 * and no gradient buffer; the batch norm's forward and the max-pool's
 * backward run the chain. */
#include "nn/layers/layer_kind.h"

extern const LayerKind k_layer_batchnorm, k_layer_relu, k_layer_maxpool;

int layer_chain_fusable(const Model *m, int head) {
  if (head + 1 >= m->n_layers) return 0;
  const Layer *bn = &m->layers[head], *next = &m->layers[head + 1];
  if (bn->kind != &k_layer_batchnorm || bn->bn_axis != AT_BN_PER_CHANNEL || bn->consumers != 1 ||
      next->inputs[0] != head)
    return 0;
  if (next->kind == &k_layer_maxpool) return 2;
  if (next->kind != &k_layer_relu || next->consumers != 1 || head + 2 >= m->n_layers) return 0;
  const Layer *pool = &m->layers[head + 2];
  return pool->kind == &k_layer_maxpool && pool->inputs[0] == head + 1 ? 3 : 0;
}

int layer_chain_head(const Model *m, int tail) { return m->buffers[tail - 1].chain == CHAIN_INNER ? tail - 2 : tail - 1; }

int layer_chain_tail(const Model *m, int head) { return m->buffers[head + 1].chain == CHAIN_INNER ? head + 2 : head + 1; }

/* The chain's last layer, and whether a ReLU sits inside. */
static int chain_tail(const Model *m, int head, int *relu) {
  const int tail = layer_chain_tail(m, head);
  *relu = tail == head + 2;
  return tail;
}

void layer_chain_forward(Model *m, int head, int n, int training) {
  LayerPass bn = layer_pass(m, head, n);
  int relu;
  const int tail = chain_tail(m, head, &relu);
  LayerBuffers *out = &m->buffers[tail];
  const Layer *L = bn.L;
  const BatchNormShape b = layer_bn_shape(L, n);
  const PoolShape p = layer_pool_shape(&m->layers[tail], n);
  m->be->bn_relu_maxpool_forward(&b, &p, relu, training, layer_x(&bn, 0), layer_param(&bn, L->weight),
                                 layer_param(&bn, L->bias), bn.buf->save_mean, bn.buf->save_invstd,
                                 layer_param(&bn, L->running_mean), layer_param(&bn, L->running_var), out->out,
                                 out->switches);
  if (training) bn.buf->batches_tracked++;
}

void layer_chain_backward(Model *m, int head, int n, float *dx) {
  LayerPass bn = layer_pass(m, head, n);
  int relu;
  const int tail = chain_tail(m, head, &relu);
  const LayerBuffers *out = &m->buffers[tail];
  const Layer *L = bn.L;
  const BatchNormShape b = layer_bn_shape(L, n);
  const PoolShape p = layer_pool_shape(&m->layers[tail], n);
  const int trained = !L->frozen;
  m->be->bn_relu_maxpool_backward(&b, &p, relu, trained, layer_x(&bn, 0), out->out, out->grad, out->switches,
                                  layer_param(&bn, L->weight), bn.buf->save_mean, bn.buf->save_invstd,
                                  layer_param(&bn, L->running_var), dx, trained ? layer_grad(&bn, L->weight) : NULL,
                                  trained ? layer_grad(&bn, L->bias) : NULL);
}
