/* The published musicnn models (the musicnn package 0.1.0, Pons & Serra 2019:
 * folders MTT_musicnn, MSD_musicnn, MSD_musicnn_big, MTT_vgg, MSD_vgg, each a
 * TensorFlow 1 checkpoint) into auratag weights, without TensorFlow.
 *
 * The checkpoint's variables are named by creation order (conv2d, conv2d_1,
 * ..., batch_normalization_N, dense, dense_1); their shapes say which model
 * it is. Layouts become auratag's (PyTorch's): conv kernels [time, freq, in,
 * out] -> [out, in, freq, time]; dense [in, out] -> [out, in]. Where the
 * package flattens in another order than auratag's layers (musicnn's back
 * end interleaves each feature's max and mean; the VGG's flatten runs over
 * time, then channels), the rows of the layers that read the flat vector are
 * permuted, so the imported model computes the package's function. */
#ifndef AT_MUSICNN_IMPORT_H
#define AT_MUSICNN_IMPORT_H

#include "io/tf_bundle.h"
#include "nn/model.h"

typedef enum { MUSICNN_UNKNOWN, MUSICNN_SMALL, MUSICNN_BIG, MUSICNN_VGG } MusicnnKind;

/* Which architecture the checkpoint holds (from its tensors' shapes). */
MusicnnKind musicnn_kind(const TfBundle *b);
/* The shipped model config of a kind: configs/models/<name>.ini. */
const char *musicnn_config_name(MusicnnKind k);

/* Copies every tensor of the checkpoint into m (a model built from the
 * kind's config and allocated). Fatal, naming the checkpoint and the tensor,
 * on a missing tensor or a shape that does not fit. */
void musicnn_load(Model *m, MusicnnKind k, const TfBundle *b);

#endif
