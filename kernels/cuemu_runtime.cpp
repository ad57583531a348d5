/* The C entry points of the kernel emulator (tests only). */
#include "cuemu.h"

extern "C" void cuemu_set_order(int order, unsigned long seed) {
  if (order != CUEMU_ORDER_FORWARD && order != CUEMU_ORDER_REVERSE && order != CUEMU_ORDER_SHUFFLE)
    cuemu::fail("cuemu_set_order: unknown order", "(control)");
  cuemu::order_mode = order;
  cuemu::order_seed = seed;
}

extern "C" unsigned long cuemu_launch_count(void) { return cuemu::launches; }

extern "C" void cuemu_set_launch_hook(int (*hook)(void *stream, const char *kernel)) { cuemu::launch_hook = hook; }
