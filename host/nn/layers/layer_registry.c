/* Every layer type, once. The order is the one `unknown section type` lists. */
#include <string.h>

#include "nn/layers/layer_kind.h"

extern const LayerKind k_layer_conv, k_layer_conv1d, k_layer_batchnorm, k_layer_relu, k_layer_elu, k_layer_maxpool,
    k_layer_avgpool, k_layer_dropout, k_layer_dense, k_layer_concat, k_layer_add, k_layer_reshape, k_layer_flatten;

const LayerKind *const k_layer_kinds[] = {
    &k_layer_conv,    &k_layer_conv1d, &k_layer_batchnorm, &k_layer_relu,   &k_layer_elu,
    &k_layer_maxpool, &k_layer_avgpool, &k_layer_dropout,  &k_layer_dense, &k_layer_concat,
    &k_layer_add,     &k_layer_reshape, &k_layer_flatten,
};
const int k_layer_kind_count = (int)(sizeof k_layer_kinds / sizeof k_layer_kinds[0]);

const LayerKind *layer_kind_named(const char *name) {
  for (int i = 0; i < k_layer_kind_count; i++)
    if (!strcmp(k_layer_kinds[i]->name, name)) return k_layer_kinds[i];
  return NULL;
}

const char *layer_type_name(const Layer *L) { return L->kind ? L->kind->name : "?"; }
int layer_opens_conv_block(const Layer *L) { return L->kind && L->kind->opens_conv_block; }
