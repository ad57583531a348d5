#include "train/layer_settings.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Marks hit[i] for every layer the pattern names; returns how many. */
static int match_layers(const Model *m, const char *pattern, unsigned char *hit, IniSection *s, const IniEntry *e) {
  int count = 0;
  const char *dots = strstr(pattern, "..");
  if (dots) {
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)(dots - pattern), pattern);
    const int a = model_layer_index(m, first), b = model_layer_index(m, dots + 2);
    char names[2048] = "";
    if (a < 0 || b < 0) model_layer_names(m, names, sizeof names);
    if (a < 0 || b < 0)
      ini_fail(s, e, "'%s': model '%s' has no layer '%s'; its layers: %s", pattern, m->name, a < 0 ? first : dots + 2,
               names);
    if (a > b) ini_fail(s, e, "'%s': '%s' comes after '%s' in the model; write the range first..last", pattern, first, dots + 2);
    for (int i = a; i <= b; i++) hit[i] = 1, count++;
    return count;
  }
  for (int i = 0; i < m->n_layers; i++)
    if (fnmatch(pattern, m->layers[i].name, 0) == 0) hit[i] = 1, count++;
  return count;
}

/* The next trimmed, non-empty item of a comma-separated list (cut in place), or NULL. */
static char *next_item(char **cursor) {
  while (**cursor == ' ' || **cursor == '\t' || **cursor == ',') (*cursor)++;
  if (!**cursor) return NULL;
  char *item = *cursor, *end = item + strcspn(item, ",");
  *cursor = *end ? end + 1 : end;
  *end = '\0';
  while (end > item && (end[-1] == ' ' || end[-1] == '\t')) *--end = '\0';
  return item;
}

static int is_dropout(const Layer *L) { return !strcmp(layer_type_name(L), "dropout"); }

/* The layers that `pattern` names and the setting affects (with parameters;
 * for freeze also dropout), into `hit`; an error when there are none. */
static void select_layers(const Model *m, const char *key, const char *pattern, unsigned char *hit, IniSection *s) {
  const IniEntry *e = ini_entry(s, key);
  const int freeze = !strcmp(key, "freeze");
  memset(hit, 0, (size_t)m->n_layers);
  const int matched = match_layers(m, pattern, hit, s, e);
  int affected = 0;
  for (int i = 0; i < m->n_layers; i++) {
    const Layer *L = &m->layers[i];
    if (hit[i] && !layer_has_parameters(L) && !(freeze && is_dropout(L))) hit[i] = 0;
    affected += hit[i];
  }
  if (affected == 0) {
    char names[2048];
    model_layer_names(m, names, sizeof names);
    ini_fail(s, e, "'%s' names %s of model '%s'; its layers: %s", pattern,
             !matched ? "no layer" : freeze ? "no layer with parameters or dropout" : "no layer with parameters",
             m->name, names);
  }
}

static void read_freeze(LayerSettings *ls, IniSection *s, const Model *m, unsigned char *hit) {
  char *list = at_strdup(ini_get_string(s, "freeze", "")), *cursor = list, *item;
  while ((item = next_item(&cursor))) {
    select_layers(m, "freeze", item, hit, s);
    for (int i = 0; i < m->n_layers; i++)
      if (hit[i]) ls->frozen[i] = 1;
  }
  free(list);
}

static void read_lr_scale(LayerSettings *ls, IniSection *s, const Model *m, unsigned char *hit) {
  char *list = at_strdup(ini_get_string(s, "lr_scale", "")), *cursor = list, *item;
  while ((item = next_item(&cursor))) {
    char *colon = strrchr(item, ':'), *end = NULL;
    double factor = colon ? strtod(colon + 1, &end) : 0;
    if (!colon || end == colon + 1 || *end || !(factor >= 0 && factor <= 1e3))
      ini_fail(s, ini_entry(s, "lr_scale"), "'%s' is not LAYER:FACTOR with a factor from 0 to 1000 (e.g. conv1:0.1)",
               item);
    *colon = '\0';
    select_layers(m, "lr_scale", item, hit, s);
    for (int i = 0; i < m->n_layers; i++)
      if (hit[i]) ls->lr_scale[i] = (float)factor;
  }
  free(list);
}

LayerSettings *layer_settings_read(IniSection *s, const Model *m) {
  LayerSettings *ls = at_calloc(1, sizeof(LayerSettings), "layer settings");
  ls->n_layers = m->n_layers;
  ls->frozen = at_calloc((size_t)m->n_layers, 1, "frozen layers");
  ls->lr_scale = at_malloc(sizeof(float) * (size_t)m->n_layers, "learning-rate scales");
  for (int i = 0; i < m->n_layers; i++) ls->lr_scale[i] = 1.0f;
  unsigned char *hit = at_malloc((size_t)m->n_layers, "layer selection");
  read_freeze(ls, s, m, hit);
  read_lr_scale(ls, s, m, hit);
  free(hit);
  int trained = 0;
  for (int i = 0; i < m->n_layers; i++) {
    if (ls->frozen[i]) ls->lr_scale[i] = 0.0f;
    trained += m->layers[i].n_params > 0 && ls->lr_scale[i] > 0;
  }
  const IniEntry *e = ini_entry(s, "freeze");
  if (!e) e = ini_entry(s, "lr_scale");
  if (!trained)
    ini_fail(s, e, "these settings leave no parameter of model '%s' to train", m->name);
  return ls;
}

void layer_settings_free(LayerSettings *ls) {
  if (!ls) return;
  free(ls->frozen);
  free(ls->lr_scale);
  free(ls);
}

int layer_settings_active(const LayerSettings *ls) {
  for (int i = 0; i < ls->n_layers; i++)
    if (ls->frozen[i] || ls->lr_scale[i] != 1.0f) return 1;
  return 0;
}

void layer_settings_apply(const LayerSettings *ls, Model *m, Optimizer *opt) {
  AT_ASSERT(ls->n_layers == m->n_layers);
  for (int i = 0; i < m->n_layers; i++)
    if (ls->frozen[i]) model_freeze_layer(m, i);
  if (!layer_settings_active(ls)) return;
  /* trainable tensors lie in the flat buffer in parameter order */
  OptimizerGroup *groups = at_malloc(sizeof(OptimizerGroup) * (size_t)(m->n_params + 1), "optimizer groups");
  int n = 0;
  for (int pi = 0; pi < m->n_params; pi++) {
    const ParamTensor *p = &m->params[pi];
    if (!p->trainable) continue;
    const float scale = ls->lr_scale[p->layer];
    if (n > 0 && groups[n - 1].lr_scale == scale && groups[n - 1].offset + groups[n - 1].count == p->offset)
      groups[n - 1].count += p->count;
    else
      groups[n++] = (OptimizerGroup){p->offset, p->count, scale};
  }
  optimizer_set_groups(opt, groups, n);
  free(groups);
}

/* Appends "label: a, b, c" for the layers whose value is `value`. */
static void describe_group(const LayerSettings *ls, const Model *m, int frozen, float scale, char *out, size_t size) {
  size_t used = strlen(out);
  int first = 1;
  for (int i = 0; i < m->n_layers && used + 1 < size; i++) {
    const int in = frozen ? ls->frozen[i]
                          : !ls->frozen[i] && m->layers[i].n_params > 0 && ls->lr_scale[i] == scale;
    if (!in) continue;
    int k = first ? (frozen ? snprintf(out + used, size - used, "%sfrozen: %s", used ? "; " : "", m->layers[i].name)
                            : snprintf(out + used, size - used, "%slr x%g: %s", used ? "; " : "", scale, m->layers[i].name))
                  : snprintf(out + used, size - used, ", %s", m->layers[i].name);
    if (k < 0) break;
    used += (size_t)k;
    first = 0;
  }
}

void layer_settings_describe(const LayerSettings *ls, const Model *m, char *out, size_t size) {
  if (size) out[0] = '\0';
  if (!layer_settings_active(ls)) return;
  describe_group(ls, m, 1, 0, out, size);
  float seen[64];
  int n_seen = 0;
  for (int i = 0; i < m->n_layers && n_seen < 64; i++) {
    if (ls->frozen[i] || m->layers[i].n_params == 0 || ls->lr_scale[i] == 1.0f) continue;
    int known = 0;
    for (int k = 0; k < n_seen; k++) known |= seen[k] == ls->lr_scale[i];
    if (known) continue;
    seen[n_seen++] = ls->lr_scale[i];
    describe_group(ls, m, 0, ls->lr_scale[i], out, size);
  }
}
