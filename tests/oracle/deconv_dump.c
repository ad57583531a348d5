/* Test tool (never part of the product): runs the deconvnet (host/explain/
 * deconvnet.c) on a model with seeded weights and a seeded input and writes
 * what tests/oracle/torch_deconv.py needs to redo the same procedure with
 * PyTorch's max_pool2d indices, max_unpool2d, relu and conv_transpose2d:
 *
 *   / attrs   config, target (layer name), feature, top_n
 *   /input                        [1, c, h, w]
 *   /initial/<layer>/<param>      the weights
 *   /switches/<layer>             int32 max-pool switches of the forward pass
 *   /target                       the target layer's output [1, c, h, w]
 *   /deconv                       the deconvolved map [1, c, h, w]
 *
 * usage: deconv_dump CONFIG OUT.h5 --layer L --feature K [--top N] [--seed S]
 *                    [--set K=V ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "explain/deconvnet.h"
#include "io/h5_util.h"
#include "nn/model_config.h"
#include "oracle/dump_h5.h"

int main(int argc, char **argv) {
  if (argc < 3) at_fatal("usage: deconv_dump CONFIG OUT.h5 --layer L --feature K [--top N] [--seed S]");
  const char *config = argv[1], *out = argv[2], *layer = "1";
  int feature = 0, top = 0;
  unsigned long long seed = 7;
  const char *overrides[64];
  int n_overrides = 0;
  for (int i = 3; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--layer")) layer = v;
    else if (!strcmp(a, "--feature")) feature = atoi(v);
    else if (!strcmp(a, "--top")) top = atoi(v);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--set") && n_overrides < 64) overrides[n_overrides++] = v;
    else at_fatal("unknown option %s", a);
  }
  const Backend *be = at_backend_cpu();
  Model *m = model_from_config(config, overrides, n_overrides);
  m->keep_outputs = 1; /* the deconvnet reads inner layers */
  model_allocate(m, be, 1);
  model_init_weights(m, seed);
  const int target = deconv_target(m, layer);
  const size_t in_count = at_dims_count(m->input);
  float *x = at_malloc(sizeof(float) * in_count, "input");
  /* a non-negative "spectrogram" (the deconvnet's real inputs are magnitudes) */
  for (size_t i = 0; i < in_count; i++) x[i] = at_rng_uniform(seed, 1u << 30, i);
  Deconvnet *d = deconv_create(m, target);
  deconv_forward(d, x);
  float *map = at_malloc(sizeof(float) * in_count, "deconvolved map");
  deconv_feature(d, feature, top, map);

  h5_quiet();
  hid_t file = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) at_fatal("cannot create %s", out);
  h5_write_string_attr(file, "config", m->config_text);
  h5_write_string_attr(file, "target", m->layers[target].name);
  h5_write_double_attr(file, "feature", feature);
  h5_write_double_attr(file, "top_n", top);
  hsize_t in_dims[4] = {1, (hsize_t)m->input.c, (hsize_t)m->input.h, (hsize_t)m->input.w};
  write_array(file, "input", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 4, in_dims, x);
  write_array(file, "deconv", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 4, in_dims, map);
  write_params(file, "initial", m, 0);
  const Layer *T = &m->layers[target];
  hsize_t t_dims[4] = {1, (hsize_t)T->out.c, (hsize_t)T->out.h, (hsize_t)T->out.w};
  write_floats(file, "target", m->buffers[target].out, at_dims_count(T->out), 4, t_dims, be);
  for (int i = 0; i <= target; i++) {
    const Layer *L = &m->layers[i];
    if (strcmp(layer_type_name(L), "maxpool") != 0) continue;
    char name[128];
    snprintf(name, sizeof name, "switches/%s", L->name);
    hsize_t dims[4] = {1, (hsize_t)L->out.c, (hsize_t)L->out.h, (hsize_t)L->out.w};
    write_array(file, name, H5T_NATIVE_INT32, H5T_STD_I32LE, 4, dims, m->buffers[i].switches);
  }
  H5Fclose(file);
  deconv_free(d);
  model_free(m);
  free(x);
  free(map);
  return 0;
}
