/* Optimisers over the model's flat parameter buffer (PyTorch semantics). */
#ifndef AT_OPTIMIZER_H
#define AT_OPTIMIZER_H

#include <stddef.h>

#include "nn/backend.h"

typedef enum { OPT_SGD, OPT_ADAM } OptimizerKind;

/* A parameter group (torch.optim's param_groups): the floats
 * [offset, offset + count) learn at lr * lr_scale. A scale of 0 leaves them
 * untouched (no update, no weight decay), as requires_grad = False does. */
typedef struct OptimizerGroup {
  size_t offset, count;
  float lr_scale;
} OptimizerGroup;

typedef struct Optimizer {
  OptimizerKind kind;
  SgdConfig sgd;
  AdamConfig adam; /* adam.step counts completed updates */
  const Backend *be;
  size_t n;
  float *buf1, *buf2; /* SGD: momentum; Adam: first and second moments */
  long steps;         /* updates done */
  OptimizerGroup *groups; /* NULL: one group of everything at scale 1 */
  int n_groups;
} Optimizer;

/* Defaults as torch.optim: SGD(lr, momentum 0), Adam(lr 1e-3, 0.9, 0.999, 1e-8). */
Optimizer *optimizer_create(const Backend *be, OptimizerKind kind, size_t n);
void optimizer_step(Optimizer *opt, float *params, const float *grads);
/* Replaces the groups (copied); they must not overlap and stay inside n. */
void optimizer_set_groups(Optimizer *opt, const OptimizerGroup *groups, int n_groups);
void optimizer_free(Optimizer *opt);

#endif
