/* A training recipe's per-layer settings (docs/configs.md, transfer learning):
 *
 *   [train]
 *   freeze   = input_bn..penultimate        ; no update, inference mode
 *   lr_scale = timbral*:0.1, output:10      ; per-layer learning rates
 *
 * Each item names layers by a name, a glob (fnmatch: `timbral*`) or a range
 * FIRST..LAST in config order. A frozen layer keeps its parameters and running
 * statistics and runs as in inference (batch norm on its running statistics,
 * dropout off); lr_scale multiplies the learning rate (and its schedule) of
 * the layers' parameters, later items overriding earlier ones; a scale of 0
 * stops updates but, unlike freeze, batch norm still learns its statistics. */
#ifndef AT_LAYER_SETTINGS_H
#define AT_LAYER_SETTINGS_H

#include "config/ini_file.h"
#include "nn/model.h"
#include "nn/optimizer.h"

typedef struct LayerSettings {
  int n_layers;
  unsigned char *frozen; /* [n_layers] */
  float *lr_scale;       /* [n_layers]: 1 unless set; 0 when frozen */
} LayerSettings;

/* Reads freeze and lr_scale from the [train] section `s` for model `m`; a
 * pattern that names no layer with parameters, a malformed factor, or a
 * recipe that leaves nothing to train is a config error at its line. */
LayerSettings *layer_settings_read(IniSection *s, const Model *m);
void layer_settings_free(LayerSettings *ls);

/* Whether anything differs from "every layer trained at scale 1". */
int layer_settings_active(const LayerSettings *ls);

/* Marks the model's frozen layers and gives the optimizer one group per run
 * of parameters with the same scale. */
void layer_settings_apply(const LayerSettings *ls, Model *m, Optimizer *opt);

/* One line for the run's output: "frozen: a, b; lr x0.1: c, d" (or ""). */
void layer_settings_describe(const LayerSettings *ls, const Model *m, char *out, size_t size);

#endif
