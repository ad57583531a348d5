/* Reading a TensorFlow checkpoint (a "tensor bundle": PREFIX.index and
 * PREFIX.data-00000-of-0000N) without TensorFlow.
 *
 * PREFIX.index is a LevelDB-format table (sorted string table): a footer
 * that points at an index block, whose entries point at data blocks, whose
 * entries map each tensor's name to a BundleEntryProto (dtype, shape, shard,
 * offset, size and the masked CRC-32C of its bytes). The entry with the empty
 * name is the bundle's header. The tensors' bytes lie in the data shards,
 * little-endian, row-major (TensorFlow's layouts: conv kernels [kh, kw, in,
 * out], dense [in, out]).
 *
 * Every failure is a message in `why` naming the file: missing, truncated,
 * not a table, compressed blocks (not written by TensorFlow's saver), a
 * checksum that does not match. */
#ifndef AT_TF_BUNDLE_H
#define AT_TF_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define TF_DT_FLOAT 1 /* TensorFlow's DataType enum */
#define TF_MAX_DIMS 8

typedef struct TfTensorEntry {
  char *name;
  int dtype;
  int ndim;
  int64_t dims[TF_MAX_DIMS];
  int shard;
  uint64_t offset, size;
  uint32_t masked_crc32c;
} TfTensorEntry;

typedef struct TfBundle {
  char *prefix;
  int n_shards;
  TfTensorEntry *entries; /* sorted by name, as the table stores them */
  int n;
} TfBundle;

/* Reads PREFIX.index. 0, or -1 with why filled (nothing to free). */
int tf_bundle_open(const char *prefix, TfBundle *b, char *why, size_t why_size);
void tf_bundle_free(TfBundle *b);

/* The entry named `name`, or NULL. */
const TfTensorEntry *tf_bundle_find(const TfBundle *b, const char *name);

/* A float32 tensor's values (count = the product of its dims; caller frees),
 * its checksum verified. NULL with why filled on failure. */
float *tf_bundle_read_floats(const TfBundle *b, const TfTensorEntry *e, char *why, size_t why_size);

#endif
