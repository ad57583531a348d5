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

void optimizer_set_groups(Optimizer *opt, const OptimizerGroup *groups, int n_groups) {
  free(opt->groups);
  opt->groups = NULL;
  opt->n_groups = 0;
  if (n_groups == 0) return;
  opt->groups = at_malloc(sizeof(OptimizerGroup) * (size_t)n_groups, "optimizer groups");
  for (int g = 0; g < n_groups; g++) {
    AT_ASSERT(groups[g].offset + groups[g].count <= opt->n && groups[g].lr_scale >= 0);
    opt->groups[g] = groups[g];
  }
  opt->n_groups = n_groups;
}

static void update(Optimizer *opt, float *params, const float *grads, size_t offset, size_t count, float lr_scale) {
  if (opt->kind == OPT_SGD) {
    SgdConfig c = opt->sgd;
    c.lr *= lr_scale;
    opt->be->sgd_update(&c, params + offset, grads + offset, opt->buf1 + offset, count, opt->steps == 0);
  } else {
    AdamConfig c = opt->adam;
    c.lr *= lr_scale;
    opt->be->adam_update(&c, params + offset, grads + offset, opt->buf1 + offset, opt->buf2 + offset, count);
  }
}

void optimizer_step(Optimizer *opt, float *params, const float *grads) {
  opt->adam.step = opt->steps + 1;
  if (!opt->groups) update(opt, params, grads, 0, opt->n, 1.0f);
  for (int g = 0; g < opt->n_groups; g++)
    if (opt->groups[g].lr_scale > 0 && opt->groups[g].count > 0)
      update(opt, params, grads, opt->groups[g].offset, opt->groups[g].count, opt->groups[g].lr_scale);
  opt->steps++;
}

void optimizer_free(Optimizer *opt) {
  if (!opt) return;
  opt->be->release(opt->buf1);
  opt->be->release(opt->buf2);
  free(opt->groups);
  free(opt);
}
