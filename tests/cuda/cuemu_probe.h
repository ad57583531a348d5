/* Emulator probes (tests/cuda/cuemu_probe.cu). */
#ifndef AT_CUEMU_PROBE_H
#define AT_CUEMU_PROBE_H
#ifdef __cplusplus
extern "C" {
#endif
void probe_block_sum(const float *x, int n, float *out);
void probe_racy(float *out);
void probe_divergent(float *out);
void probe_uninitialised_shared(float *out);
void probe_atomic_count(unsigned *count, int blocks, int threads);
void probe_bad_block(float *out);
#ifdef __cplusplus
}
#endif
#endif
