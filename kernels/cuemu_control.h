/* C interface to the kernel emulator (kernels/cuemu.h), for the tests that
 * drive emulated kernels from C: the order in which the threads of a block
 * (and the blocks of a grid) run, and counters. */
#ifndef AT_CUEMU_CONTROL_H
#define AT_CUEMU_CONTROL_H

#ifdef __cplusplus
extern "C" {
#endif

enum { CUEMU_ORDER_FORWARD = 0, CUEMU_ORDER_REVERSE = 1, CUEMU_ORDER_SHUFFLE = 2 };

/* Thread and block order of the following launches; seed drives the shuffle. */
void cuemu_set_order(int order, unsigned long seed);
/* Called before every launch with its stream (the CUDA runtime's test
 * double installs one); a non-zero answer cancels the launch. */
void cuemu_set_launch_hook(int (*hook)(void *stream, const char *kernel));
/* Kernel launches so far. */
unsigned long cuemu_launch_count(void);

#ifdef __cplusplus
}
#endif

#endif
