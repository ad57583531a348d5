/* Model configs: INI sections -> layers, with strict checks and shape
 * inference. Every complaint names file:line, the layer and the shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ini_file.h"
#include "core/error.h"
#include "nn/model.h"

static const char *const k_type_names[LAYER_TYPE_COUNT] = {
    "conv", "conv1d", "batchnorm", "relu", "elu", "maxpool", "avgpool",
    "dropout", "dense", "concat", "add", "reshape", "flatten"};

static const char *const k_init_names[] = {"he_normal", "he_uniform", "glorot_uniform", "glorot_normal", NULL};

const char *layer_type_name(LayerType t) { return t < LAYER_TYPE_COUNT ? k_type_names[t] : "?"; }

/* Sections of experiment configs, read by the training code (train/experiment.c). */
static int is_experiment_section(const char *type) { return !strcmp(type, "data") || !strcmp(type, "train"); }

static const char *accepted_keys(const char *type) {
  if (is_experiment_section(type)) return NULL;
  if (!strcmp(type, "model")) return "name, input (FREQxTIMExCHANNELS), output (sigmoid|softmax), init";
  if (!strcmp(type, "conv")) return "name, input, filters, size, stride, padding, bias, init";
  if (!strcmp(type, "conv1d")) return "name, input, filters, size, stride, padding, bias, init";
  if (!strcmp(type, "batchnorm")) return "name, input, axis (channel|frequency), momentum, eps";
  if (!strcmp(type, "relu") || !strcmp(type, "flatten")) return "name, input";
  if (!strcmp(type, "elu")) return "name, input, alpha";
  if (!strcmp(type, "maxpool") || !strcmp(type, "avgpool")) return "name, input, size, stride, global (frequency|time|all)";
  if (!strcmp(type, "dropout")) return "name, input, p";
  if (!strcmp(type, "dense")) return "name, input, units, bias, init";
  if (!strcmp(type, "concat") || !strcmp(type, "add")) return "name, inputs";
  if (!strcmp(type, "reshape")) return "name, input, shape (FREQxTIMExCHANNELS)";
  return "(unknown section type)";
}

static void dims_text(Dims d, char *buf, size_t size) { snprintf(buf, size, "%dx%dx%d", d.h, d.w, d.c); }

static int find_layer(const Model *m, int before, const char *name) {
  if (!strcmp(name, "input")) return AT_INPUT;
  for (int i = 0; i < before; i++)
    if (!strcmp(m->layers[i].name, name)) return i;
  return -2;
}

static Dims layer_input_dims(const Model *m, int index) {
  return index == AT_INPUT ? m->input : m->layers[index].out;
}

/* "a, b, c" -> layer indices; each must be declared earlier. */
static void parse_inputs(Model *m, int self, IniSection *s, const char *key, int many) {
  Layer *L = &m->layers[self];
  IniEntry *e = ini_entry(s, key);
  if (!e) {
    if (many) ini_fail(s, NULL, "missing required key '%s' (the names of the layers to join, e.g. inputs = t_flat, f_flat)", key);
    L->inputs[0] = self - 1 >= 0 ? self - 1 : AT_INPUT;
    L->n_inputs = 1;
    return;
  }
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", e->value);
  L->n_inputs = 0;
  for (char *tok = strtok(buf, ", \t"); tok; tok = strtok(NULL, ", \t")) {
    int idx = find_layer(m, self, tok);
    if (idx == -2) ini_fail(s, e, "no layer named '%s' is declared before this one (use 'input' for the model input)", tok);
    if (L->n_inputs == AT_MAX_INPUTS) ini_fail(s, e, "at most %d inputs", AT_MAX_INPUTS);
    L->inputs[L->n_inputs++] = idx;
  }
  if (many && L->n_inputs < 2) ini_fail(s, e, "needs at least two inputs, got %d", L->n_inputs);
  if (!many && L->n_inputs != 1) ini_fail(s, e, "takes exactly one input, got %d", L->n_inputs);
}

/* 'same' padding as TensorFlow/Keras and PyTorch pad it: the extra row of an
 * even total goes to the bottom / right. */
static void same_padding(int in, int k, int stride, int *before, int *after) {
  int out = (in + stride - 1) / stride;
  int total = (out - 1) * stride + k - in;
  if (total < 0) total = 0;
  *before = total / 2;
  *after = total - *before;
}

static void parse_padding(IniSection *s, Layer *L, Dims in, int one_d) {
  IniEntry *e = ini_entry(s, "padding");
  const char *v = e ? e->value : "same";
  if (!strcmp(v, "same")) {
    if (!one_d) same_padding(in.h, L->kh, L->stride_h, &L->pad_top, &L->pad_bottom);
    same_padding(in.w, L->kw, L->stride_w, &L->pad_left, &L->pad_right);
    return;
  }
  if (!strcmp(v, "valid")) return;
  int a[4], n = 0;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", v);
  for (char *tok = strtok(buf, ",x"); tok && n < 5; tok = strtok(NULL, ",x")) {
    char *end;
    long x = strtol(tok, &end, 10);
    while (*end == ' ') end++;
    if (end == tok || *end || x < 0 || x > 4096)
      ini_fail(s, e, "'%s' is not a padding; write same, valid, P, PFREQxPTIME or TOP,BOTTOM,LEFT,RIGHT (non-negative)", v);
    if (n < 4) a[n] = (int)x;
    n++;
  }
  if (one_d) {
    if (n == 1) L->pad_left = L->pad_right = a[0];
    else if (n == 2) L->pad_left = a[0], L->pad_right = a[1];
    else ini_fail(s, e, "'%s': a conv1d takes same, valid, P or LEFT,RIGHT", v);
    return;
  }
  if (n == 1) L->pad_top = L->pad_bottom = L->pad_left = L->pad_right = a[0];
  else if (n == 2) L->pad_top = L->pad_bottom = a[0], L->pad_left = L->pad_right = a[1];
  else if (n == 4) L->pad_top = a[0], L->pad_bottom = a[1], L->pad_left = a[2], L->pad_right = a[3];
  else ini_fail(s, e, "'%s': write same, valid, P, PFREQxPTIME or TOP,BOTTOM,LEFT,RIGHT", v);
}

static int add_param(Model *m, int layer, const char *name, int trainable, int ndim, const int *dims) {
  m->params = at_realloc(m->params, sizeof(ParamTensor) * (size_t)(m->n_params + 1), "parameter list");
  ParamTensor *p = &m->params[m->n_params];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->layer = layer;
  p->trainable = trainable;
  p->ndim = ndim;
  p->count = 1;
  for (int i = 0; i < ndim; i++) {
    p->dims[i] = dims[i];
    p->count *= (size_t)dims[i];
  }
  if (trainable) {
    p->offset = m->n_weights;
    m->n_weights += p->count;
    m->layers[layer].n_params += p->count;
  } else {
    p->offset = m->n_state;
    m->n_state += p->count;
  }
  return m->n_params++;
}

static void build_conv(Model *m, int i, IniSection *s, int one_d) {
  Layer *L = &m->layers[i];
  Dims in = L->in;
  char d[64];
  dims_text(in, d, sizeof d);
  L->filters = (int)ini_require_int(s, "filters", 1, 1 << 16);
  if (one_d) {
    L->kh = 1;
    L->kw = (int)ini_require_int(s, "size", 1, 1 << 16);
    L->stride_h = 1;
    L->stride_w = (int)ini_get_int(s, "stride", 1, 1, 1 << 16);
  } else {
    if (!ini_get_pair(s, "size", &L->kh, &L->kw, 0, 0, 1, 1 << 16))
      ini_fail(s, NULL, "missing required key 'size' (FREQxTIME, e.g. 3x3 or 1x60)");
    ini_get_pair(s, "stride", &L->stride_h, &L->stride_w, 1, 1, 1, 1 << 16);
  }
  L->has_bias = ini_get_bool(s, "bias", 1);
  L->init = (InitKind)ini_get_choice(s, "init", (int)m->default_init, k_init_names);
  int c_in = one_d ? in.c * in.h : in.c;
  int h_in = one_d ? 1 : in.h;
  parse_padding(s, L, in, one_d);
  int hp = h_in + L->pad_top + L->pad_bottom, wp = in.w + L->pad_left + L->pad_right;
  if (L->kh > hp || L->kw > wp)
    ini_fail(s, NULL, "kernel %dx%d does not fit its input %s (%dx%d after padding; shapes are FREQxTIMExCHANNELS)",
             L->kh, L->kw, d, hp, wp);
  L->out.c = L->filters;
  L->out.h = (hp - L->kh) / L->stride_h + 1;
  L->out.w = (wp - L->kw) / L->stride_w + 1;
  if (one_d) {
    int dims[3] = {L->filters, c_in, L->kw};
    L->weight = add_param(m, i, "weight", 1, 3, dims);
  } else {
    int dims[4] = {L->filters, c_in, L->kh, L->kw};
    L->weight = add_param(m, i, "weight", 1, 4, dims);
  }
  if (L->has_bias) L->bias = add_param(m, i, "bias", 1, 1, &L->filters);
  L->macs = (double)at_dims_count(L->out) * c_in * L->kh * L->kw;
}

static void build_pool(Model *m, int i, IniSection *s) {
  Layer *L = &m->layers[i];
  static const char *const globals[] = {"none", "frequency", "time", "all", NULL};
  int global = ini_get_choice(s, "global", 0, globals);
  int has_size = ini_get_pair(s, "size", &L->kh, &L->kw, 0, 0, 1, 1 << 20);
  if (global && has_size) ini_fail(s, ini_entry(s, "size"), "give either 'size' or 'global', not both");
  if (global == 1) L->kh = L->in.h, L->kw = 1;
  else if (global == 2) L->kh = 1, L->kw = L->in.w;
  else if (global == 3) L->kh = L->in.h, L->kw = L->in.w;
  else if (!has_size) ini_fail(s, NULL, "missing 'size' (FREQxTIME, e.g. 2x4) or 'global' (frequency|time|all)");
  ini_get_pair(s, "stride", &L->stride_h, &L->stride_w, L->kh, L->kw, 1, 1 << 20);
  char d[64];
  dims_text(L->in, d, sizeof d);
  if (L->kh > L->in.h || L->kw > L->in.w)
    ini_fail(s, NULL, "pool %dx%d is larger than its input %s (FREQxTIMExCHANNELS); the window must fit (%dx%d at most)",
             L->kh, L->kw, d, L->in.h, L->in.w);
  L->out.c = L->in.c;
  L->out.h = (L->in.h - L->kh) / L->stride_h + 1;
  L->out.w = (L->in.w - L->kw) / L->stride_w + 1;
}

static void build_layer(Model *m, int i, IniSection *s) {
  Layer *L = &m->layers[i];
  const int multi = L->type == LAYER_CONCAT || L->type == LAYER_ADD;
  parse_inputs(m, i, s, multi ? "inputs" : "input", multi);
  L->in = layer_input_dims(m, L->inputs[0]);
  L->out = L->in;
  char d[64];
  dims_text(L->in, d, sizeof d);
  switch (L->type) {
    case LAYER_CONV: build_conv(m, i, s, 0); break;
    case LAYER_CONV1D: build_conv(m, i, s, 1); break;
    case LAYER_BATCHNORM: {
      static const char *const axes[] = {"channel", "frequency", NULL};
      L->bn_axis = (BatchNormAxis)ini_get_choice(s, "axis", 0, axes);
      L->bn_momentum = (float)ini_get_float(s, "momentum", 0.1, 0.0, 1.0);
      L->bn_eps = (float)ini_get_float(s, "eps", 1e-5, 1e-12, 1.0);
      int f = L->bn_axis == AT_BN_PER_CHANNEL ? L->in.c : L->in.h;
      L->weight = add_param(m, i, "weight", 1, 1, &f);
      L->bias = add_param(m, i, "bias", 1, 1, &f);
      L->running_mean = add_param(m, i, "running_mean", 0, 1, &f);
      L->running_var = add_param(m, i, "running_var", 0, 1, &f);
      break;
    }
    case LAYER_RELU: break;
    case LAYER_ELU: L->alpha = (float)ini_get_float(s, "alpha", 1.0, 0.0, 1e6); break;
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL: build_pool(m, i, s); break;
    case LAYER_DROPOUT: L->p = (float)ini_get_float(s, "p", 0.5, 0.0, 0.999); break;
    case LAYER_DENSE: {
      L->units = (int)ini_require_int(s, "units", 1, 1 << 24);
      L->has_bias = ini_get_bool(s, "bias", 1);
      L->init = (InitKind)ini_get_choice(s, "init", (int)m->default_init, k_init_names);
      int dims[2] = {L->units, (int)at_dims_count(L->in)};
      L->weight = add_param(m, i, "weight", 1, 2, dims);
      if (L->has_bias) L->bias = add_param(m, i, "bias", 1, 1, &L->units);
      L->out = (Dims){L->units, 1, 1};
      L->macs = (double)dims[0] * dims[1];
      break;
    }
    case LAYER_CONCAT:
    case LAYER_ADD: {
      IniEntry *e = ini_entry(s, "inputs");
      L->out.c = 0;
      for (int k = 0; k < L->n_inputs; k++) {
        Dims dk = layer_input_dims(m, L->inputs[k]);
        char dt[64];
        dims_text(dk, dt, sizeof dt);
        const char *nk = L->inputs[k] == AT_INPUT ? "input" : m->layers[L->inputs[k]].name;
        if (L->type == LAYER_CONCAT && (dk.h != L->in.h || dk.w != L->in.w))
          ini_fail(s, e, "cannot concatenate along channels: '%s' is %s but the first input is %s; "
                   "frequency and time must match (flatten the branches first to join them as vectors)", nk, dt, d);
        if (L->type == LAYER_ADD && (dk.h != L->in.h || dk.w != L->in.w || dk.c != L->in.c))
          ini_fail(s, e, "cannot add '%s' (%s) to the first input (%s): shapes must be equal", nk, dt, d);
        L->out.c += dk.c;
      }
      if (L->type == LAYER_ADD) L->out.c = L->in.c;
      break;
    }
    case LAYER_RESHAPE: {
      IniEntry *e = ini_entry(s, "shape");
      int h, w, c;
      if (!e) ini_fail(s, NULL, "missing required key 'shape' (FREQxTIMExCHANNELS)");
      if (sscanf(e->value, "%dx%dx%d", &h, &w, &c) != 3 || h < 1 || w < 1 || c < 1)
        ini_fail(s, e, "'%s' is not a shape; write FREQxTIMExCHANNELS with positive sizes", e->value);
      Dims o = {c, h, w};
      if (at_dims_count(o) != at_dims_count(L->in))
        ini_fail(s, e, "cannot reshape %s (%zu values) to %s (%zu values)", d, at_dims_count(L->in), e->value,
                 at_dims_count(o));
      L->out = o;
      break;
    }
    case LAYER_FLATTEN: L->out = (Dims){(int)at_dims_count(L->in), 1, 1}; break;
    default: AT_ASSERT(0);
  }
  if (L->out.h < 1 || L->out.w < 1 || L->out.c < 1)
    ini_fail(s, NULL, "output shape would be empty (input %s)", d);
}

Model *model_from_ini(IniFile *ini) {
  Model *m = at_calloc(1, sizeof(Model), "model");
  IniSection *ms = ini_section(ini, "model");
  if (!ms) at_fatal("%s: no [model] section; a model config starts with [model] (name, input, output)", ini->path);
  if (ms != &ini->sections[0]) ini_fail(ms, NULL, "[model] must be the first section");
  snprintf(m->name, sizeof m->name, "%s", ini_get_string(ms, "name", "model"));
  IniEntry *in = ini_entry(ms, "input");
  if (!in) ini_fail(ms, NULL, "missing required key 'input' (FREQxTIMExCHANNELS, e.g. 96x1366x1)");
  int h, w, c = 1;
  int got = sscanf(in->value, "%dx%dx%d", &h, &w, &c);
  if (got < 2 || h < 1 || w < 1 || c < 1 || h > 1 << 16 || w > 1 << 24 || c > 1 << 16)
    ini_fail(ms, in, "'%s' is not an input shape; write FREQxTIMExCHANNELS, e.g. 96x1366x1", in->value);
  m->input = (Dims){c, h, w};
  static const char *const outputs[] = {"sigmoid", "softmax", NULL};
  m->output = (OutputKind)ini_get_choice(ms, "output", 0, outputs);
  m->default_init = (InitKind)ini_get_choice(ms, "init", INIT_HE_NORMAL, k_init_names);

  m->layers = at_calloc((size_t)ini->n_sections, sizeof(Layer), "layers");
  for (int si = 1; si < ini->n_sections; si++) {
    IniSection *s = &ini->sections[si];
    if (is_experiment_section(s->type)) continue;
    int type = -1;
    for (int t = 0; t < LAYER_TYPE_COUNT; t++)
      if (!strcmp(s->type, k_type_names[t])) type = t;
    if (type < 0) {
      char known[512] = "";
      for (int t = 0; t < LAYER_TYPE_COUNT; t++) {
        strcat(known, t ? ", " : "");
        strcat(known, k_type_names[t]);
      }
      ini_fail(s, NULL, "unknown section type '[%s]'; layer types: %s (and [data], [train] in experiment configs)",
               s->type, known);
    }
    int i = m->n_layers++;
    Layer *L = &m->layers[i];
    L->type = (LayerType)type;
    snprintf(L->name, sizeof L->name, "%s", s->label);
    L->file = s->file;
    L->line = s->line;
    L->weight = L->bias = L->running_mean = L->running_var = -1;
    build_layer(m, i, s);
  }
  if (m->n_layers == 0) ini_fail(ms, NULL, "the model has no layers");
  ini_check_all_used(ini, accepted_keys);

  for (int i = 0; i < m->n_layers; i++)
    for (int k = 0; k < m->layers[i].n_inputs; k++)
      if (m->layers[i].inputs[k] >= 0) m->layers[m->layers[i].inputs[k]].consumers++;
  Layer *last = &m->layers[m->n_layers - 1];
  char d[64];
  dims_text(last->out, d, sizeof d);
  if (last->out.h != 1 || last->out.w != 1)
    at_fatal("%s:%d: the last layer '%s' outputs %s; a model must end in 1x1xCLASSES "
             "(end with [dense] units = CLASSES, or a global pool)", last->file, last->line, last->name, d);
  if (m->output == OUTPUT_SOFTMAX && last->out.c < 2)
    at_fatal("%s:%d: a softmax output needs at least 2 classes, the last layer '%s' has %d", last->file, last->line,
             last->name, last->out.c);
  for (int i = 0; i < m->n_layers - 1; i++)
    if (m->layers[i].consumers == 0)
      at_fatal("%s:%d: layer '%s' is not used by any later layer (its output would be lost); "
               "connect it with 'input =' / 'inputs =' or remove it", m->layers[i].file, m->layers[i].line,
               m->layers[i].name);
  m->classes = last->out.c;
  m->config_text = ini_to_text(ini, is_experiment_section);
  return m;
}

const char *const k_model_singletons[] = {"model", "data", "train", NULL};
#define k_singletons k_model_singletons

Model *model_from_config(const char *path, const char *const *overrides, int n_overrides) {
  IniFile *ini = ini_load(path, k_singletons);
  for (int i = 0; i < n_overrides; i++) ini_override(ini, overrides[i]);
  Model *m = model_from_ini(ini);
  ini_free(ini);
  return m;
}

Model *model_from_text(const char *text, const char *origin) {
  IniFile *ini = ini_load_text(text, origin, k_singletons);
  Model *m = model_from_ini(ini);
  ini_free(ini);
  return m;
}

const ParamTensor *model_param(const Model *m, int layer, const char *name) {
  for (int i = 0; i < m->n_params; i++)
    if (m->params[i].layer == layer && !strcmp(m->params[i].name, name)) return &m->params[i];
  return NULL;
}

float *model_param_data(const Model *m, const ParamTensor *p) {
  return (p->trainable ? m->weights : m->state) + p->offset;
}

void model_print_summary(const Model *m, FILE *out) {
  char d[64];
  dims_text(m->input, d, sizeof d);
  fprintf(out, "model %s: input %s (FREQxTIMExCHANNELS), %d outputs (%s)\n\n", m->name, d, m->classes,
          m->output == OUTPUT_SIGMOID ? "sigmoid, multi-label" : "softmax, single-label");
  fprintf(out, "%-16s %-10s %-18s %14s %16s\n", "layer", "type", "output", "parameters", "forward MACs");
  double macs = 0;
  for (int i = 0; i < m->n_layers; i++) {
    const Layer *L = &m->layers[i];
    dims_text(L->out, d, sizeof d);
    fprintf(out, "%-16s %-10s %-18s %14zu %16.0f\n", L->name, layer_type_name(L->type), d, L->n_params, L->macs);
    macs += L->macs;
  }
  fprintf(out, "%-16s %-10s %-18s %14zu %16.0f\n", "total", "", "", m->n_weights, macs);
  fprintf(out, "\ntrainable parameters: %zu (%.2f M); batch-norm running statistics: %zu\n", m->n_weights,
          (double)m->n_weights / 1e6, m->n_state);
  fprintf(out, "forward: %.3f GMACs per example; one training step ~ %.2f GFLOP per example (6 x MACs)\n",
          macs / 1e9, 6.0 * macs / 1e9);
}
