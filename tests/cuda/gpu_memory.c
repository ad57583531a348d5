/* Device memory of training on the CUDA backend, counted by the CUDA
 * runtime's test double (tests/cuda/fake/: every cudaMalloc, most bytes live
 * at once): the model's buffers at a batch size, Adam's state and the
 * trainer's two input slots — what the GPU holds when the first step starts.
 * cuDNN's workspace (capped by train.workspace_mb) and the CUDA context come
 * on top, and the scratch of the fused batch norm -> ReLU -> max-pool
 * chains, allocated at the first step, is added. Also prints, for
 * comparison, the same model with every layer's output kept (no fused
 * chains) and what auratag took before the gradient buffers were shared
 * (one per layer, and a scratch for every model). The double's lazy
 * memory (CUEMU_LAZY_MEMORY=1) keeps the host from paying for the count.
 *
 * usage: gpu_memory CONFIG BATCH [CONFIG BATCH ...]   (make bench runs it)
 * Prints one RESULT line per model. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda/cuda_backend.h"
#include "fake/fake_cuda.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"

/* The model at `batch` with Adam's state and the input slots, allocated on
 * the double; returns the most bytes live at once (the model is kept in *out). */
static size_t allocate(const Backend *cuda, const char *config, int batch, int keep_outputs, Model **out,
                       Optimizer **adam, void **slots) {
  Model *m = model_from_config(config, NULL, 0);
  m->keep_outputs = keep_outputs;
  const size_t before = fake_cuda_device_bytes();
  fake_cuda_high_water_bytes = before;
  model_allocate(m, cuda, batch);
  *adam = optimizer_create(cuda, OPT_ADAM, m->n_weights);
  const size_t input = sizeof(float) * (size_t)batch * at_dims_count(m->input);
  const size_t targets = sizeof(float) * (size_t)batch * m->classes + sizeof(int32_t) * (size_t)batch;
  slots[0] = cuda->alloc(input), slots[1] = cuda->alloc(input);
  slots[2] = cuda->alloc(targets), slots[3] = cuda->alloc(targets);
  *out = m;
  return fake_cuda_high_water_bytes - before;
}

static void release(const Backend *cuda, Model *m, Optimizer *adam, void **slots) {
  for (int i = 0; i < 4; i++) cuda->release(slots[i]);
  optimizer_free(adam);
  model_free(m);
}

/* The scratch the fused batch norm -> ReLU -> max-pool chains share on the
 * CUDA backend (host/cuda/cuda_backend.c: AT_SCRATCH_CHAIN and _DY), grown
 * at the first step to the largest chain's: the batch norm's input and the
 * pool's output (at least one float per channel). */
static size_t chain_scratch_bytes(const Model *m, int batch) {
  size_t dense = 0, pooled = 0;
  for (int i = 0; i < m->n_layers; i++) {
    if (m->buffers[i].chain == CHAIN_HEAD) {
      const size_t n = (size_t)batch * at_dims_count(m->layers[i].in);
      if (n > dense) dense = n;
      if ((size_t)m->layers[i].in.c > pooled) pooled = (size_t)m->layers[i].in.c;
    }
    if (m->buffers[i].chain == CHAIN_TAIL && (size_t)batch * at_dims_count(m->layers[i].out) > pooled)
      pooled = (size_t)batch * at_dims_count(m->layers[i].out);
  }
  return sizeof(float) * (dense + pooled);
}

static void count(const Backend *cuda, const char *config, int batch) {
  Model *m, *separate;
  Optimizer *adam;
  void *slots[4];
  size_t total = allocate(cuda, config, batch, 0, &m, &adam, slots);
  const size_t chain_scratch = chain_scratch_bytes(m, batch);
  total += chain_scratch;
  const size_t shared = sizeof(float) * m->grad_floats;
  const char *name = m->name;
  char model_name[64];
  snprintf(model_name, sizeof model_name, "%s", name);
  const int n_slots = m->n_grad_slots;
  release(cuda, m, adam, slots);
  /* the same model with every layer's output kept (no fused chain) */
  const size_t unfused = allocate(cuda, config, batch, 1, &separate, &adam, slots);
  /* before the sharing: a gradient buffer per layer, and a scratch as large
   * as the largest layer input whether any layer needed it or not */
  size_t per_layer = 0, old_scratch = 0;
  for (int i = 0; i < separate->n_layers; i++) {
    const Layer *L = &separate->layers[i];
    per_layer += sizeof(float) * (size_t)batch * at_dims_count(L->out);
    size_t in = 0;
    for (int k = 0; k < L->n_inputs; k++)
      in += sizeof(float) * (size_t)batch *
            at_dims_count(L->inputs[k] < 0 ? separate->input : separate->layers[L->inputs[k]].out);
    if (in > old_scratch) old_scratch = in;
  }
  const size_t scratch = sizeof(float) * (separate->scratch_floats ? separate->scratch_floats : 1);
  const size_t then = unfused - sizeof(float) * separate->grad_floats - scratch + per_layer + old_scratch;
  release(cuda, separate, adam, slots);
  printf("%-40s batch %3d: %8.2f GB on the device (%.1f MB per example; %.2f GB of it the fused chains' scratch); "
         "activation gradients %.2f GB in %d shared buffers; without fusing the chains %.2f GB (%.2fx now); "
         "before the gradient sharing %.2f GB (%.2fx now)\n",
         config, batch, total / 1e9, total / 1e6 / batch, chain_scratch / 1e9, shared / 1e9, n_slots, unfused / 1e9,
         (double)unfused / (double)total, then / 1e9, (double)then / (double)total);
  printf("RESULT impl=auratag-cuda model=%s batch=%d device_bytes=%zu chain_scratch_bytes=%zu gradient_bytes=%zu "
         "gradient_buffers=%d device_bytes_unfused=%zu device_bytes_before_sharing=%zu\n",
         model_name, batch, total, chain_scratch, shared, n_slots, unfused, then);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc % 2 != 1) {
    fprintf(stderr, "usage: %s CONFIG BATCH [CONFIG BATCH ...]\n", argv[0]);
    return 2;
  }
  setenv("CUEMU_LAZY_MEMORY", "1", 1);
  CudaOptions opt = at_cuda_default_options();
  opt.conv = AT_CONV_GEMM; /* no cuDNN plans: nothing runs */
  const Backend *cuda = at_backend_cuda(&opt);
  for (int i = 1; i + 1 < argc; i += 2) count(cuda, argv[i], atoi(argv[i + 1]));
  return 0;
}
