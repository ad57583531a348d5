/* Test tool (never part of the product): runs a model on the CPU backend and
 * writes everything the PyTorch oracle (tests/oracle/torch_oracle.py) needs to
 * rebuild the same computation and compare it, tensor by tensor:
 *
 *   / attrs   config, batch, steps, optimizer, lr, momentum, nesterov,
 *             weight_decay, output ("sigmoid" | "softmax")
 *   /input              [n, c, h, w]
 *   /targets | /labels  float [n, classes] | int32 [n]
 *   /initial/<layer>/<param>      the weights before training
 *   /eval/logits                  inference mode (running statistics), initial weights
 *   /step<k>/logits, /step<k>/loss, /step<k>/grads/<layer>/<param>,
 *   /step<k>/masks/<layer>        uint8 dropout masks of training step k
 *   /step<k>/switches/<layer>     int32 max-pool switches of training step k
 *   /step<k>/relu/<layer>         uint8 1 where the ReLU passed its input (y > 0)
 *   /final/<layer>/<param>        after all optimizer steps (incl. running stats)
 *
 * usage: oracle_dump CONFIG OUT.h5 [--batch N] [--steps S] [--optim adam|sgd]
 *                    [--lr X] [--eps E] [--momentum M] [--nesterov] [--wd W] [--seed S]
 *                    [--set K=V ...] */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "io/weights_h5.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"
#include "oracle/dump_h5.h"

int main(int argc, char **argv) {
  if (argc < 3) at_fatal("usage: oracle_dump CONFIG OUT.h5 [options]");
  const char *config = argv[1], *out = argv[2];
  int batch = 2, steps = 3, nesterov = 0;
  const char *optim = "adam";
  double lr = 1e-3, momentum = 0.0, wd = 0.0, eps = 1e-8;
  unsigned long long seed = 7;
  const char *overrides[64];
  int n_overrides = 0;
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--nesterov")) { nesterov = 1; continue; }
    if (!v) at_fatal("option %s needs a value", a);
    if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--steps")) steps = atoi(v);
    else if (!strcmp(a, "--optim")) optim = v;
    else if (!strcmp(a, "--lr")) lr = atof(v);
    else if (!strcmp(a, "--momentum")) momentum = atof(v);
    else if (!strcmp(a, "--eps")) eps = atof(v);
    else if (!strcmp(a, "--wd")) wd = atof(v);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--set") && n_overrides < 64) overrides[n_overrides++] = v;
    else at_fatal("unknown option %s", a);
    i++;
  }
  const Backend *be = at_backend_cpu();
  Model *m = model_from_config(config, overrides, n_overrides);
  m->keep_outputs = 1; /* the trace holds every ReLU's decisions */
  model_allocate(m, be, batch);
  model_init_weights(m, seed);

  /* Inputs and targets from the same counter RNG (streams far from init's). */
  const size_t in_count = (size_t)batch * at_dims_count(m->input);
  float *x = at_malloc(sizeof(float) * in_count, "input");
  for (size_t i = 0; i < in_count; i++) x[i] = at_rng_normal(seed, 1u << 30, i);
  float *x_dev = be->alloc(sizeof(float) * in_count);
  be->to_device(x_dev, x, sizeof(float) * in_count);
  void *targets_dev;
  h5_quiet();
  hid_t file = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) at_fatal("cannot create %s", out);
  h5_write_string_attr(file, "config", m->config_text);
  h5_write_string_attr(file, "optimizer", optim);
  h5_write_string_attr(file, "output", m->output == OUTPUT_SIGMOID ? "sigmoid" : "softmax");
  h5_write_double_attr(file, "batch", batch);
  h5_write_double_attr(file, "steps", steps);
  h5_write_double_attr(file, "lr", lr);
  h5_write_double_attr(file, "momentum", momentum);
  h5_write_double_attr(file, "eps", eps);
  h5_write_double_attr(file, "nesterov", nesterov);
  h5_write_double_attr(file, "weight_decay", wd);
  hsize_t in_dims[4] = {(hsize_t)batch, (hsize_t)m->input.c, (hsize_t)m->input.h, (hsize_t)m->input.w};
  write_array(file, "input", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 4, in_dims, x);
  if (m->output == OUTPUT_SIGMOID) {
    size_t n = (size_t)batch * m->classes;
    float *t = at_malloc(sizeof(float) * n, "targets");
    for (size_t i = 0; i < n; i++) t[i] = at_rng_uniform(seed, (1u << 30) + 1, i) < 0.3f ? 1.0f : 0.0f;
    hsize_t dims[2] = {(hsize_t)batch, (hsize_t)m->classes};
    write_array(file, "targets", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dims, t);
    targets_dev = be->alloc(sizeof(float) * n);
    be->to_device(targets_dev, t, sizeof(float) * n);
    free(t);
  } else {
    int32_t *labels = at_malloc(sizeof(int32_t) * (size_t)batch, "labels");
    for (int i = 0; i < batch; i++) labels[i] = (int32_t)(at_rng_uniform(seed, (1u << 30) + 2, (uint64_t)i) * m->classes);
    hsize_t dims[1] = {(hsize_t)batch};
    write_array(file, "labels", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dims, labels);
    targets_dev = be->alloc(sizeof(int32_t) * (size_t)batch);
    be->to_device(targets_dev, labels, sizeof(int32_t) * (size_t)batch);
    free(labels);
  }
  write_params(file, "initial", m, 0);

  hsize_t logit_dims[2] = {(hsize_t)batch, (hsize_t)m->classes};
  const float *logits = model_forward(m, x_dev, batch, 0, seed, 0);
  write_floats(file, "eval/logits", logits, (size_t)batch * m->classes, 2, logit_dims, be);

  Optimizer *opt = optimizer_create(be, !strcmp(optim, "sgd") ? OPT_SGD : OPT_ADAM, m->n_weights);
  opt->sgd = (SgdConfig){.lr = (float)lr, .momentum = (float)momentum, .weight_decay = (float)wd, .nesterov = nesterov};
  opt->adam.lr = (float)lr;
  opt->adam.weight_decay = (float)wd;
  opt->adam.eps = (float)eps;
  for (int k = 0; k < steps; k++) {
    char name[256];
    logits = model_forward(m, x_dev, batch, 1, seed, (uint64_t)k);
    snprintf(name, sizeof name, "step%d/logits", k);
    write_floats(file, name, logits, (size_t)batch * m->classes, 2, logit_dims, be);
    double loss = model_loss(m, batch, targets_dev, 1);
    snprintf(name, sizeof name, "step%d/loss", k);
    write_array(file, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, NULL, &loss);
    for (int li = 0; li < m->n_layers; li++) {
      const Layer *L = &m->layers[li];
      if (strcmp(layer_type_name(L), "dropout") != 0 || L->p <= 0) continue;
      size_t count = (size_t)batch * at_dims_count(L->out);
      uint8_t *mask = at_malloc(count, "mask");
      be->to_host(mask, m->buffers[li].mask, count);
      hsize_t dims[4] = {(hsize_t)batch, (hsize_t)L->out.c, (hsize_t)L->out.h, (hsize_t)L->out.w};
      snprintf(name, sizeof name, "step%d/masks/%s", k, L->name);
      write_array(file, name, H5T_NATIVE_UINT8, H5T_STD_U8LE, 4, dims, mask);
      free(mask);
    }
    /* Max-pool switches: float32 and float64 may break a near-tie differently,
     * so the oracle routes gradients through ours after checking each one
     * selects a maximum (within rounding). */
    /* Likewise a ReLU input within rounding of zero may fall either side. */
    for (int li = 0; li < m->n_layers; li++) {
      const Layer *L = &m->layers[li];
      if (strcmp(layer_type_name(L), "relu") != 0) continue;
      size_t count = (size_t)batch * at_dims_count(L->out);
      float *y = at_malloc(sizeof(float) * count, "relu output");
      uint8_t *on = at_malloc(count, "relu mask");
      be->to_host(y, m->buffers[li].out, sizeof(float) * count);
      for (size_t i = 0; i < count; i++) on[i] = y[i] > 0.0f;
      hsize_t dims[4] = {(hsize_t)batch, (hsize_t)L->out.c, (hsize_t)L->out.h, (hsize_t)L->out.w};
      snprintf(name, sizeof name, "step%d/relu/%s", k, L->name);
      write_array(file, name, H5T_NATIVE_UINT8, H5T_STD_U8LE, 4, dims, on);
      free(on);
      free(y);
    }
    for (int li = 0; li < m->n_layers; li++) {
      const Layer *L = &m->layers[li];
      if (strcmp(layer_type_name(L), "maxpool") != 0) continue;
      size_t count = (size_t)batch * at_dims_count(L->out);
      int32_t *sw = at_malloc(sizeof(int32_t) * count, "switches");
      be->to_host(sw, m->buffers[li].switches, sizeof(int32_t) * count);
      hsize_t dims[4] = {(hsize_t)batch, (hsize_t)L->out.c, (hsize_t)L->out.h, (hsize_t)L->out.w};
      snprintf(name, sizeof name, "step%d/switches/%s", k, L->name);
      write_array(file, name, H5T_NATIVE_INT32, H5T_STD_I32LE, 4, dims, sw);
      free(sw);
    }
    snprintf(name, sizeof name, "step%d/grads", k);
    write_params(file, name, m, 1);
    optimizer_step(opt, m->weights, m->grads);
  }
  write_params(file, "final", m, 0);
  H5Fclose(file);
  optimizer_free(opt);
  be->release(x_dev);
  be->release(targets_dev);
  free(x);
  model_free(m);
  return 0;
}
