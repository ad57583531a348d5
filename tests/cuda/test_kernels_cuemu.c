/* The emulator itself: a correct kernel gives the same answer in every
 * thread order; a race gives different answers across orders; a barrier
 * reached by only some threads, and an impossible block size, stop with a
 * message naming the kernel; shared memory that nobody wrote reads as NaN;
 * atomics from many threads and blocks count exactly. */
#include <math.h>
#include <string.h>

#include "cuemu_probe.h"
#include "kernel_test.h"

static void divergent_child(const void *arg) {
  (void)arg;
  float out[64];
  probe_divergent(out);
}

static void bad_block_child(const void *arg) {
  (void)arg;
  static float out[2048];
  probe_bad_block(out);
}

int main(void) {
  int checks = 0;
  float x[128], sums[3];
  for (int i = 0; i < 128; i++) x[i] = (float)(i % 7) - 2.5f;
  double want = 0;
  for (int i = 0; i < 100; i++) want += x[i];
  for (int o = 0; o < 3; o++) {
    cuemu_set_order(kt_orders[o], 11);
    probe_block_sum(x, 100, &sums[o]);
    CHECK(fabs(sums[o] - want) < 1e-4, "block sum (%s order) %g, want %g", kt_order_names[o], sums[o], want);
    checks++;
  }
  CHECK(sums[0] == sums[1] && sums[1] == sums[2], "a correct kernel differs across orders");
  checks++;

  float racy[3][64];
  for (int o = 0; o < 3; o++) {
    cuemu_set_order(kt_orders[o], 12);
    probe_racy(racy[o]);
  }
  CHECK(memcmp(racy[0], racy[1], sizeof racy[0]) != 0,
        "a missing barrier is not visible: forward and reversed orders agree");
  checks++;

  char msg[1024];
  int status = run_in_child(divergent_child, NULL, msg, sizeof msg);
  CHECK(status != 0 && strstr(msg, "__syncthreads divergence") && strstr(msg, "divergent_kernel"),
        "divergence: status %d, message '%s'", status, msg);
  checks++;
  status = run_in_child(bad_block_child, NULL, msg, sizeof msg);
  CHECK(status != 0 && strstr(msg, "invalid block size"), "block of 2048: status %d, message '%s'", status, msg);
  checks++;

  float out[32];
  cuemu_set_order(CUEMU_ORDER_FORWARD, 1);
  probe_uninitialised_shared(out);
  int all_nan = 1;
  for (int i = 0; i < 32; i++) all_nan &= isnan(out[i]);
  CHECK(all_nan, "unwritten shared memory does not read as NaN");
  checks++;

  unsigned count = 0;
  cuemu_set_order(CUEMU_ORDER_SHUFFLE, 3);
  unsigned long launches = cuemu_launch_count();
  probe_atomic_count(&count, 7, 96);
  CHECK(count == 7 * 96 && cuemu_launch_count() == launches + 1, "atomics counted %u of %d", count, 7 * 96);
  checks++;

  printf("%s  emulator: orders agree on a correct kernel, a race shows, divergence and bad launches stop, "
         "unwritten shared memory is NaN, atomics exact\n",
         failures ? "FAIL" : "PASS");
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
