#include "nn/optimizer.h"

#include <stdlib.h>

#include "core/error.h"

Optimizer *optimizer_create(const Backend *be, OptimizerKind kind, size_t n) {
  Optimizer *opt = at_calloc(1, sizeof(Optimizer), "optimizer");
  opt->kind = kind;
  opt->be = be;
  opt->n = n;
  opt->sgd = (SgdConfig){.lr = 0.01f};
  opt->adam = (AdamConfig){.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  opt->buf1 = be->alloc(sizeof(float) * (n ? n : 1));
  if (kind == OPT_ADAM) opt->buf2 = be->alloc(sizeof(float) * (n ? n : 1));
  return opt;
}

void optimizer_step(Optimizer *opt, float *params, const float *grads) {
  if (opt->kind == OPT_SGD) {
    opt->be->sgd_update(&opt->sgd, params, grads, opt->buf1, opt->n, opt->steps == 0);
  } else {
    opt->adam.step = opt->steps + 1;
    opt->be->adam_update(&opt->adam, params, grads, opt->buf1, opt->buf2, opt->n);
  }
  opt->steps++;
}

void optimizer_free(Optimizer *opt) {
  if (!opt) return;
  opt->be->release(opt->buf1);
  opt->be->release(opt->buf2);
  free(opt);
}
