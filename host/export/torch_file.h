/* `auratag export --format torch`: a file torch.load reads (docs/export.md),
 * with weights_only=True, holding
 *   {"format": "auratag-torch", "config": the resolved model config text,
 *    "tags": [names of the outputs] or None,
 *    "state_dict": OrderedDict(LAYER.weight, LAYER.bias, LAYER.running_mean,
 *                              LAYER.running_var, LAYER.num_batches_tracked)}
 * the names scripts/auratag_torch.py's modules use, so that
 * auratag_torch.load("model.pt") (or AuratagNet(config).load_state_dict)
 * rebuilds the model. The file is PyTorch's own layout: a zip archive (libzip,
 * stored) of data.pkl (pickle protocol 2, written here: the few opcodes a
 * state dict needs), one file per tensor under data/, and version. */
#ifndef AT_TORCH_FILE_H
#define AT_TORCH_FILE_H

#include "nn/model.h"

void torch_export_model(const Model *m, const char *path);

#endif
