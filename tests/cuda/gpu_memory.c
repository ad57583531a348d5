/* Device memory of training on the CUDA backend, counted by the CUDA
 * runtime's test double (tests/cuda/fake/: every cudaMalloc, most bytes live
 * at once): the model's buffers at a batch size, Adam's state and the
 * trainer's two input slots — what the GPU holds when the first step starts.
 * cuDNN's workspace (capped by train.workspace_mb) and the CUDA context come
 * on top. Also prints what auratag took before the gradient buffers were
 * shared (one per layer, and a scratch for every model), for comparison. The double's lazy
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

static void count(const Backend *cuda, const char *config, int batch) {
  Model *m = model_from_config(config, NULL, 0);
  const size_t before = fake_cuda_device_bytes();
  fake_cuda_high_water_bytes = before;
  model_allocate(m, cuda, batch);
  Optimizer *adam = optimizer_create(cuda, OPT_ADAM, m->n_weights);
  const size_t input = sizeof(float) * (size_t)batch * at_dims_count(m->input);
  const size_t targets = sizeof(float) * (size_t)batch * m->classes + sizeof(int32_t) * (size_t)batch;
  void *slots[4] = {cuda->alloc(input), cuda->alloc(input), cuda->alloc(targets), cuda->alloc(targets)};
  const size_t total = fake_cuda_high_water_bytes - before;
  /* before the sharing: a gradient buffer per layer, and a scratch as large
   * as the largest layer input whether any layer needed it or not */
  size_t per_layer = 0, old_scratch = 0;
  for (int i = 0; i < m->n_layers; i++) {
    const Layer *L = &m->layers[i];
    per_layer += sizeof(float) * (size_t)batch * at_dims_count(L->out);
    size_t in = 0;
    for (int k = 0; k < L->n_inputs; k++)
      in += sizeof(float) * (size_t)batch * at_dims_count(L->inputs[k] < 0 ? m->input : m->layers[L->inputs[k]].out);
    if (in > old_scratch) old_scratch = in;
  }
  const size_t shared = sizeof(float) * m->grad_floats, scratch = sizeof(float) * (m->scratch_floats ? m->scratch_floats : 1);
  const size_t then = total - shared - scratch + per_layer + old_scratch;
  printf("%-40s batch %3d: %8.2f GB on the device (%.1f MB per example); activation gradients %.2f GB in %d shared "
         "buffers, one per layer would take %.2f GB; before the sharing %.2f GB in all (%.2fx now)\n",
         config, batch, total / 1e9, total / 1e6 / batch, shared / 1e9, m->n_grad_slots, per_layer / 1e9, then / 1e9,
         (double)then / (double)total);
  printf("RESULT impl=auratag-cuda model=%s batch=%d device_bytes=%zu gradient_bytes=%zu gradient_buffers=%d "
         "per_layer_gradient_bytes=%zu device_bytes_before_sharing=%zu\n",
         m->name, batch, total, shared, m->n_grad_slots, per_layer, then);
  for (int i = 0; i < 4; i++) cuda->release(slots[i]);
  optimizer_free(adam);
  model_free(m);
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
