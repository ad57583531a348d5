/* Knobs of the cuDNN test double (tests/cuda/fake/cudnn.c): algorithms that
 * fail when run, for the tests of cudnn_ops.c's fallback, and a record of
 * what ran, for tests that must know which algorithm and math type a call
 * reached. Plain ints (cudnnStatus_t, cudnnMathType_t and the algorithm
 * enums' values), so that a test need not include cudnn.h. */
#ifndef AT_FAKE_CUDNN_H
#define AT_FAKE_CUDNN_H

enum { FAKE_CUDNN_NO_ALGO = -1, FAKE_CUDNN_EVERY_ALGO = -2 };

/* Running this algorithm of the direction (a cudnnConvolution*Algo_t value,
 * FAKE_CUDNN_EVERY_ALGO: any of them) answers fake_cudnn_fail_status and
 * writes nothing; the search (Find*Ex) reports it with that status too.
 * FAKE_CUDNN_NO_ALGO (the default): none fails. */
extern int fake_cudnn_fail_algo_fwd, fake_cudnn_fail_algo_data, fake_cudnn_fail_algo_filter;
/* CUDNN_STATUS_EXECUTION_FAILED unless a test sets another (e.g. CUDNN_STATUS_ALLOC_FAILED). */
extern int fake_cudnn_fail_status;

/* Per direction: the last successful call's algorithm and the math its
 * kernel ran in (CUDNN_TENSOR_OP_MATH or CUDNN_FMA_MATH; -1 before any),
 * its workspace size argument, and counts of calls that ran and that
 * failed (the knob above, a short workspace, a bad argument). */
enum { FAKE_CUDNN_FWD, FAKE_CUDNN_DATA, FAKE_CUDNN_FILTER, FAKE_CUDNN_DIRECTIONS };
typedef struct FakeCudnnRuns {
  int algo, math;
  unsigned long workspace_bytes;
  long calls, failed;
} FakeCudnnRuns;
extern FakeCudnnRuns fake_cudnn_runs[FAKE_CUDNN_DIRECTIONS];
extern long fake_cudnn_searches; /* Find*AlgorithmEx calls */
extern long fake_cudnn_bn_calls; /* batch-norm calls that ran */

#endif
