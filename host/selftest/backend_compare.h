/* Every operation of a backend against a reference backend (the CPU), on
 * the same inputs, and whole training steps of a model on both: the core of
 * `auratag selftest` on a GPU, and of the emulated CUDA backend's test here
 * (same code, kernels under cuemu). ggml's test-backend-ops idea.
 *
 * The error of a tensor is max |got - want| / max(max |want|, 1e-30): the
 * largest difference relative to the tensor's own scale, so that values
 * near zero in a large tensor do not dominate. Integer outputs (switches,
 * masks) must be identical. */
#ifndef AT_BACKEND_COMPARE_H
#define AT_BACKEND_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "nn/backend.h"

typedef struct CompareResult {
  int checks, failed;
  double worst;          /* largest error seen */
  char worst_what[160];   /* and where */
} CompareResult;

/* Called for every comparison: op and case, error, tolerance. */
typedef void (*CompareSink)(const char *what, double err, double tol, void *ctx);

/* The operations of the Backend table (AT_BACKEND_OPS) that have no entry
 * in the comparison table, listed in names; returns how many (0: all
 * covered). backend_compare_ops fails when there is any. */
int backend_ops_without_comparison(char *names, size_t size);

/* Runs every op of the Backend table on small and odd shapes. tol: the
 * tolerance of float outputs (1e-5 for FP32 math; TF32 needs ~1e-2). */
CompareResult backend_compare_ops(const Backend *ref, const Backend *dev, double tol, CompareSink sink, void *ctx);

/* Trains `steps` Adam steps of a model on both backends from the same seeded
 * weights and the same random batch; compares the loss of every step and
 * every parameter after the last. overrides: --set style "key=value" lines
 * for the model config (e.g. a smaller input). Optionally times one step
 * on dev (ms_per_step, NULL to skip). */
CompareResult backend_compare_training(const Backend *ref, const Backend *dev, const char *model_config,
                                       const char *const *overrides, int n_overrides, int batch, int steps,
                                       double tol, CompareSink sink, void *ctx, double *ms_per_step);

/* Counts one comparison into r (failed unless err <= tol; NaN fails), keeps
 * the worst, and tells the sink (may be NULL). */
void compare_record(CompareResult *r, const char *what, double err, double tol, CompareSink sink, void *ctx);

/* A sink that prints one line per comparison to the FILE* in ctx. */
void compare_print_sink(const char *what, double err, double tol, void *ctx);

#endif
