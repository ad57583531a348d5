/* Prediction files: writing (predict, training's test split) and reading
 * (the report). */
#include "train/predictions.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/h5_guard.h"
#include "io/h5_util.h"

void predictions_write(const char *path, const char *model_name, const EvalResult *r, const Cache *c) {
  char tmp[4300];
  hid_t file = (hid_t)h5_create_staged(path, tmp, sizeof tmp);
  h5_write_string_attr(file, "format", "auratag-predictions");
  h5_write_string_attr(file, "model", model_name);
  h5_write_string_attr(file, "cache", c->path);
  h5_write_string_attr(file, "activation", r->multi_label ? "sigmoid" : "softmax");
  const unsigned long long dims[2] = {(unsigned long long)r->n, (unsigned long long)r->n_tags};
  h5_write_floats(file, "probabilities", r->probs, 2, dims, tmp);
  h5_write_floats(file, "logits", r->logits, 2, dims, tmp);
  /* the evaluated examples (a split's subset of the cache, or all of it) */
  const char **ids = at_malloc((size_t)(r->n ? r->n : 1) * sizeof *ids, "prediction ids");
  for (int i = 0; i < r->n; i++) ids[i] = c->ids[r->examples[i]];
  h5_write_strings(file, "ids", ids, r->n, tmp);
  free(ids);
  h5_write_strings(file, "tags", (const char *const *)c->tags, c->n_tags, tmp);
  if (c->kind == CACHE_MULTI_LABEL) {
    uint8_t *labels = at_malloc((size_t)(r->n ? r->n : 1) * (size_t)r->n_tags, "prediction labels");
    for (int i = 0; i < r->n; i++)
      memcpy(labels + (size_t)i * r->n_tags, c->labels + (size_t)r->examples[i] * c->n_tags, (size_t)r->n_tags);
    h5_write_uint8s(file, "labels", labels, 2, dims, tmp);
    free(labels);
  } else {
    int32_t *label = at_malloc((size_t)(r->n ? r->n : 1) * sizeof *label, "prediction labels");
    for (int i = 0; i < r->n; i++) label[i] = c->label[r->examples[i]];
    h5_write_int32s(file, "label", label, 1, dims, tmp);
    free(label);
  }
  if (H5Fclose(file) < 0) at_fatal("cannot finish '%s' (is the disk full?)", tmp);
  h5_commit_file(tmp, path);
  at_temp_file_clear();
}

void predictions_read(const char *path, Predictions *p) {
  memset(p, 0, sizeof *p);
  const char *advice = "make it again with auratag predict RUN CACHE.h5 -o FILE";
  hid_t file = (hid_t)h5_open_guarded(path, "predictions file", advice);
  char *format = h5_read_string_attr(file, "format", path);
  if (!format || strcmp(format, "auratag-predictions"))
    at_fatal("'%s' is not an auratag predictions file (format attribute '%s'); %s", path, format ? format : "absent",
             advice);
  free(format);
  long long dims[2], ldims[2];
  p->probs = h5_read_array(file, "probabilities", H5_AS_FLOAT, 2, dims, path);
  if (!p->probs) at_fatal("'%s' has no /probabilities; %s", path, advice);
  p->n = (int)dims[0];
  p->n_tags = (int)dims[1];
  long count = 0;
  p->tags = h5_read_strings(file, "tags", "predictions file", path, &count);
  if (count != p->n_tags) at_fatal("'%s': /tags holds %ld names for %d columns of /probabilities", path, count, p->n_tags);
  char *activation = h5_read_string_attr(file, "activation", path);
  p->multi_label = !activation || strcmp(activation, "softmax") != 0;
  free(activation);
  p->labels = h5_read_array(file, "labels", H5_AS_UINT8, 2, ldims, path);
  if (p->labels && (ldims[0] != dims[0] || ldims[1] != dims[1]))
    at_fatal("'%s': /labels is [%lld, %lld] but /probabilities is [%lld, %lld]", path, ldims[0], ldims[1], dims[0],
             dims[1]);
  p->label = h5_read_array(file, "label", H5_AS_INT32, 1, ldims, path);
  if (p->label) {
    if (ldims[0] != dims[0]) at_fatal("'%s': /label has %lld values for %lld examples", path, ldims[0], dims[0]);
    for (int i = 0; i < p->n; i++)
      if (p->label[i] < 0 || p->label[i] >= p->n_tags)
        at_fatal("'%s': /label[%d] = %d is not a class index below %d", path, i, (int)p->label[i], p->n_tags);
  }
  if (p->labels)
    for (size_t i = 0; i < (size_t)p->n * (size_t)p->n_tags; i++)
      if (p->labels[i] > 1) at_fatal("'%s': /labels holds %u where 0 or 1 belong", path, (unsigned)p->labels[i]);
  H5Fclose(file);
  h5_guard_end();
}

void predictions_free(Predictions *p) {
  free(p->probs);
  free(p->labels);
  free(p->label);
  if (p->tags)
    for (int i = 0; i < p->n_tags; i++) free(p->tags[i]);
  free(p->tags);
  memset(p, 0, sizeof *p);
}
