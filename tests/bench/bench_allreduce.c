/* All-reduce time of a gradient buffer the size of FCN-4's (17,365,938
 * floats) over the ranks of an MPI job, through auratag's own path
 * (dist_allreduce_sum on the CPU backend: one MPI_Iallreduce with its
 * deadline and arrival messages). Run under mpirun -np N (tests/bench/
 * bench_dist.sh); prints one line from rank 0:
 *   ALLREDUCE ranks=N floats=F ms=median busbw_GBps=B
 * with NCCL's bus-bandwidth convention: 2 (N - 1) / N x bytes / time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "dist/dist.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  dist_init(&argc, &argv);
  const size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 17365938;
  const int reps = argc > 2 ? atoi(argv[2]) : 10;
  const Backend *be = at_backend_cpu();
  float *g = be->alloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) g[i] = (float)(i % 97) * 1e-3f;
  double t[64];
  for (int r = 0; r < reps + 1 && r < 64; r++) {
    double t0 = at_now_seconds();
    dist_allreduce_sum(be, g, n, "benchmark", r);
    t[r] = at_now_seconds() - t0;
  }
  const int N = dist_size();
  qsort(t + 1, (size_t)reps, sizeof(double), cmp); /* the first is a warm-up */
  const double med = t[1 + reps / 2];
  if (dist_rank() == 0)
    printf("ALLREDUCE ranks=%d floats=%zu ms=%.2f busbw_GBps=%.2f\n", N, n, 1e3 * med,
           N > 1 ? 2.0 * (N - 1) / N * (double)n * 4 / med / 1e9 : 0.0);
  be->release(g);
  dist_finalize();
  return 0;
}
