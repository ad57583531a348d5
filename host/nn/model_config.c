/* Model configs: INI sections -> layers, with strict checks and shape
 * inference. Every complaint names file:line, the layer and the shapes. */
#include "nn/model_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ini_file.h"
#include "core/error.h"
#include "nn/layers/layer_kind.h"

static const char *const k_init_names[] = {"he_normal", "he_uniform", "glorot_uniform", "glorot_normal", NULL};

static const char *const k_model_keys = "name, input (FREQxTIMExCHANNELS), output (sigmoid|softmax), init";

/* Sections that are neither [model] nor a layer belong to another reader
 * (their types were checked against ForeignSections while reading). */
static int is_foreign(const char *type) { return strcmp(type, "model") != 0 && !layer_kind_named(type); }

static const char *accepted_keys(const char *type) {
  if (!strcmp(type, "model")) return k_model_keys;
  const LayerKind *k = layer_kind_named(type);
  return k ? k->keys : NULL;
}

void layer_dims_text(Dims d, char *buf, size_t size) { snprintf(buf, size, "%dx%dx%d", d.h, d.w, d.c); }

static int find_layer(const Model *m, int before, const char *name) {
  if (!strcmp(name, "input")) return AT_INPUT;
  for (int i = 0; i < before; i++)
    if (!strcmp(m->layers[i].name, name)) return i;
  return -2;
}

Dims layer_source_dims(const Model *m, int index) { return index == AT_INPUT ? m->input : m->layers[index].out; }

InitKind layer_read_init(LayerBuild *b) {
  return (InitKind)ini_get_choice(b->s, "init", (int)b->m->default_init, k_init_names);
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

int layer_add_param(Model *m, int layer, const char *name, int trainable, ParamInit init, int ndim, const int *dims) {
  m->params = at_realloc(m->params, sizeof(ParamTensor) * (size_t)(m->n_params + 1), "parameter list");
  ParamTensor *p = &m->params[m->n_params];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->layer = layer;
  p->trainable = trainable;
  p->init = init;
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

static void build_layer(Model *m, int i, IniSection *s) {
  Layer *L = &m->layers[i];
  const int multi = L->kind->joins_inputs;
  parse_inputs(m, i, s, multi ? "inputs" : "input", multi);
  L->in = layer_source_dims(m, L->inputs[0]);
  L->out = L->in;
  LayerBuild b = {.m = m, .index = i, .L = L, .s = s};
  layer_dims_text(L->in, b.in_text, sizeof b.in_text);
  L->kind->build(&b);
  if (L->out.h < 1 || L->out.w < 1 || L->out.c < 1)
    ini_fail(s, NULL, "output shape would be empty (input %s)", b.in_text);
}

static int listed(const char *type, const char *const *types) {
  for (; types && *types; types++)
    if (!strcmp(*types, type)) return 1;
  return 0;
}

static void fail_unknown_section(const IniSection *s, const ForeignSections *foreign) {
  char known[512] = "";
  for (int t = 0; t < k_layer_kind_count; t++) {
    strcat(known, t ? ", " : "");
    strcat(known, k_layer_kinds[t]->name);
  }
  if (foreign && foreign->hint)
    ini_fail(s, NULL, "unknown section type '[%s]'; layer types: %s (and %s)", s->type, known, foreign->hint);
  ini_fail(s, NULL, "unknown section type '[%s]'; layer types: %s", s->type, known);
}

Model *model_from_ini(IniFile *ini, const ForeignSections *foreign) {
  Model *m = at_calloc(1, sizeof(Model), "model");
  IniSection *ms = ini_section(ini, "model");
  if (!ms) at_fatal("%s: no [model] section; a model config starts with [model] (name, input, output)", ini->path);
  if (ms != &ini->sections[0]) ini_fail(ms, NULL, "[model] must be the first section");
  snprintf(m->name, sizeof m->name, "%s", ini_get_string(ms, "name", "model"));
  IniEntry *in = ini_entry(ms, "input");
  if (!in) ini_fail(ms, NULL, "missing required key 'input' (FREQxTIMExCHANNELS, e.g. 96x1366x1)");
  int h, w, c = 1;
  int used = 0, got = sscanf(in->value, "%dx%d%n", &h, &w, &used);
  if (got == 2 && in->value[used] == 'x') { /* FxTxC */
    int more = 0;
    if (sscanf(in->value + used, "x%d%n", &c, &more) == 1) used += more;
    else got = 0;
  }
  while (in->value[used] == ' ' || in->value[used] == '\t') used++;
  if (in->value[used] != '\0') got = 0; /* trailing text: 40x80x1x5, "40x80 garbage" */
  if (got < 2 || h < 1 || w < 1 || c < 1 || h > 1 << 16 || w > 1 << 24 || c > 1 << 16)
    ini_fail(ms, in, "'%s' is not an input shape; write FREQxTIMExCHANNELS, e.g. 96x1366x1", in->value);
  m->input = (Dims){c, h, w};
  static const char *const outputs[] = {"sigmoid", "softmax", NULL};
  m->output = (OutputKind)ini_get_choice(ms, "output", 0, outputs);
  m->default_init = (InitKind)ini_get_choice(ms, "init", INIT_HE_NORMAL, k_init_names);

  m->layers = at_calloc((size_t)ini->n_sections, sizeof(Layer), "layers");
  m->buffers = at_calloc((size_t)ini->n_sections, sizeof(LayerBuffers), "layer buffers");
  for (int si = 1; si < ini->n_sections; si++) {
    IniSection *s = &ini->sections[si];
    if (foreign && listed(s->type, foreign->types)) continue;
    const LayerKind *kind = layer_kind_named(s->type);
    if (!kind) fail_unknown_section(s, foreign);
    int i = m->n_layers++;
    Layer *L = &m->layers[i];
    L->kind = kind;
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
  layer_dims_text(last->out, d, sizeof d);
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
  m->config_text = ini_to_text(ini, is_foreign);
  return m;
}

const char *const k_model_singletons[] = {"model", NULL};

Model *model_from_config(const char *path, const char *const *overrides, int n_overrides) {
  IniFile *ini = ini_load(path, k_model_singletons);
  for (int i = 0; i < n_overrides; i++) ini_override(ini, overrides[i]);
  Model *m = model_from_ini(ini, NULL);
  ini_free(ini);
  return m;
}

Model *model_from_text(const char *text, const char *origin) {
  IniFile *ini = ini_load_text(text, origin, k_model_singletons);
  Model *m = model_from_ini(ini, NULL);
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
  layer_dims_text(m->input, d, sizeof d);
  fprintf(out, "model %s: input %s (FREQxTIMExCHANNELS), %d outputs (%s)\n\n", m->name, d, m->classes,
          m->output == OUTPUT_SIGMOID ? "sigmoid, multi-label" : "softmax, single-label");
  fprintf(out, "%-16s %-10s %-18s %14s %16s\n", "layer", "type", "output", "parameters", "forward MACs");
  double macs = 0;
  for (int i = 0; i < m->n_layers; i++) {
    const Layer *L = &m->layers[i];
    layer_dims_text(L->out, d, sizeof d);
    fprintf(out, "%-16s %-10s %-18s %14zu %16.0f\n", L->name, layer_type_name(L), d, L->n_params, L->macs);
    macs += L->macs;
  }
  fprintf(out, "%-16s %-10s %-18s %14zu %16.0f\n", "total", "", "", m->n_weights, macs);
  fprintf(out, "\ntrainable parameters: %zu (%.2f M); batch-norm running statistics: %zu\n", m->n_weights,
          (double)m->n_weights / 1e6, m->n_state);
  fprintf(out, "forward: %.3f GMACs per example; one training step ~ %.2f GFLOP per example (6 x MACs)\n",
          macs / 1e9, 6.0 * macs / 1e9);
}
