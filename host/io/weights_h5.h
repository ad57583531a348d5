/* Weights in HDF5, readable with h5py alone (layout in README.md):
 *   /            attributes format = "auratag-weights", version = 1,
 *                config = the resolved model config text, model = its name
 *   /params/<layer>/weight, bias               float32, PyTorch shapes
 *   /params/<layer>/running_mean, running_var  float32 (batch norm)
 *   /params/<layer>/num_batches_tracked        int64 scalar (batch norm)
 *   /         attribute dataset_config (optional): the front end the model expects
 *   /tags     the names of the outputs (the training cache's tags or classes),
 *             UTF-8 strings; absent when unknown (e.g. from `auratag init`)
 * Files are written to a temporary name, fsynced and renamed into place. */
#ifndef AT_WEIGHTS_H5_H
#define AT_WEIGHTS_H5_H

#include "io/h5_util.h"
#include "nn/model.h"

#define AT_WEIGHTS_FORMAT "auratag-weights"
#define AT_WEIGHTS_VERSION 1

void weights_save(const Model *m, const char *path);
/* The same with the front end the model expects: the text of a dataset
 * config (its [frontend] section), stored as the attribute dataset_config,
 * so that `tag` needs no training cache. */
void weights_save_with_front_end(const Model *m, const char *path, const char *dataset_config);
/* The dataset_config attribute, or NULL (caller frees). */
char *weights_read_dataset_config(const char *path);
/* The same, calling extra(file, ctx) to add more before the file is
 * committed (checkpoints add their training state this way). */
void weights_save_extra(const Model *m, const char *path, void (*extra)(long long file, void *ctx), void *ctx);
/* Loads into an allocated model; every tensor must be present with the exact
 * shape, and the file may hold no layer the model lacks. */
void weights_load(Model *m, const char *path);
/* Transfer learning: loads every layer of m whose name the file has with all
 * its tensors (parameters, batch-norm statistics) of the same shapes, and
 * leaves the other layers as they are. Writes the layers it did not load (a new
 * head, another shape) into `skipped` ("" when it loaded everything);
 * returns how many tensors it loaded. */
int weights_load_matching(Model *m, const char *path, char *skipped, size_t skipped_size);
/* The `config` attribute of a weights file (caller frees). */
char *weights_read_config(const char *path);

#endif
