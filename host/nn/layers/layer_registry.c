/* Every layer type, once. The order is the one `unknown section type` lists. */
#include <string.h>

#include "nn/layers/layer_kind.h"

/* layer_kinds.h is made by the Makefile: AT_LAYER_KIND(k_layer_NAME) for every
 * `const LayerKind k_layer_NAME = {` in host/nn/layers/, in file order. */
#define AT_LAYER_KIND(kind) extern const LayerKind kind;
#include "layer_kinds.h"
#undef AT_LAYER_KIND

#define AT_LAYER_KIND(kind) &kind,
const LayerKind *const k_layer_kinds[] = {
#include "layer_kinds.h"
};
#undef AT_LAYER_KIND
const int k_layer_kind_count = (int)(sizeof k_layer_kinds / sizeof k_layer_kinds[0]);

const LayerKind *layer_kind_named(const char *name) {
  for (int i = 0; i < k_layer_kind_count; i++)
    if (!strcmp(k_layer_kinds[i]->name, name)) return k_layer_kinds[i];
  return NULL;
}

const char *layer_type_name(const Layer *L) { return L->kind ? L->kind->name : "?"; }
int layer_opens_conv_block(const Layer *L) { return L->kind && L->kind->opens_conv_block; }
