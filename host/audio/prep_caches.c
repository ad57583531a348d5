/* prep's output caches (see prep_caches.h). */
#include "audio/prep_caches.h"

#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/prep.h"
#include "core/error.h"
#include "io/h5_util.h"

/* The front-end parameters beyond the cache's CacheFrontEnd description. */
static void add_front_end_attributes(hid_t file, const FrontEndSpec *fe) {
  h5_write_int_attr(file, "center", fe->center);
  h5_write_string_attr(file, "pad", fe->pad == PAD_CONSTANT ? "constant" : "reflect");
  if (fe->representation == REPR_MFCC) h5_write_int_attr(file, "n_mels", fe->n_mels);
  h5_write_double_attr(file, "power", fe->power);
  h5_write_int_attr(file, "mfcc_deltas", fe->mfcc_deltas);
  h5_write_double_attr(file, "db_ref", fe->db_ref);
  h5_write_double_attr(file, "db_amin", fe->db_amin);
  h5_write_double_attr(file, "db_top_db", fe->db_top_db);
  h5_write_double_attr(file, "log_c", fe->log_c);
}

/* Adds prep's attributes to a finished cache: every dataset and front-end
 * parameter, the config text, the normalisation statistics. */
static void add_attributes(const PrepCacheJob *job, const char *path, int split) {
  const DatasetConfig *dc = job->dc;
  h5_quiet();
  hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) at_fatal("cannot reopen '%s' to add its attributes", path);
  h5_write_string_attr(file, "dataset", dc->name);
  h5_write_string_attr(file, "split", prep_split_names[split]);
  h5_write_string_attr(file, "dataset_config", dc->text);
  h5_write_string_attr(file, "dataset_kind", dataset_kind_name(dc->kind));
  h5_write_int_attr(file, "top_tags", dc->top_tags);
  h5_write_double_attr(file, "clip_seconds", dc->clip_seconds);
  h5_write_string_attr(file, "clip", dataset_clip_name(dc->clip));
  h5_write_int_attr(file, "chunk_frames", dc->chunk_frames);
  h5_write_string_attr(file, "normalise", dataset_normalise_name(dc->normalise));
  h5_write_string_attr(file, "feature_dtype", dc->feature_bytes == 2 ? "float16" : "float32");
  if (job->has_norm) {
    h5_write_double_attr(file, "norm_mean", job->mean);
    h5_write_double_attr(file, "norm_std", job->std);
  }
  add_front_end_attributes(file, &dc->fe);
  char hash[32];
  snprintf(hash, sizeof hash, "%016" PRIx64, job->list->hash);
  h5_write_string_attr(file, "file_list", job->list->path);
  h5_write_string_attr(file, "file_list_fnv1a64", hash);
  if (H5Fclose(file) < 0) at_fatal("cannot finish '%s' (is the disk full?)", path);
}

static CacheSpec cache_spec(const PrepCacheJob *job, int split) {
  CacheSpec spec;
  memset(&spec, 0, sizeof spec);
  spec.n = job->examples[split];
  spec.bins = job->work->rows;
  spec.frames = job->work->frames;
  spec.feature_bytes = job->dc->feature_bytes;
  spec.kind = job->dc->kind;
  spec.n_tags = job->vocab->n;
  spec.tags = job->vocab->names;
  spec.has_song = job->list->has_song || job->dc->chunk_frames > 0;
  spec.has_fold = job->list->has_fold;
  frontend_describe(&job->dc->fe, &spec.front_end);
  return spec;
}

/* Row i's examples, from its work record, at *index onwards. */
static void put_row(const PrepCacheJob *job, CacheWriter *w, int i, int *index, uint8_t *labels) {
  const DatasetConfig *dc = job->dc;
  const PrepList *l = job->list;
  const PrepVocab *v = job->vocab;
  const PrepRow *r = &l->rows[i];
  PrepRecordHeader h;
  if (prep_work_read_header(job->work, r, &h) != 0)
    at_fatal("the work record of '%s' disappeared from %s while prep was running", r->path, job->work->dir);
  float *x = prep_work_read_data(job->work, r, &h);
  const size_t per = (size_t)job->work->rows * (size_t)job->work->frames;
  if (job->has_norm) prep_normalise(x, (size_t)h.examples * per, job->mean, job->std);
  memset(labels, 0, (size_t)v->n + 1);
  int32_t label = 0;
  if (dc->kind == CACHE_MULTI_LABEL) {
    for (int k = 0; k < r->n_tags; k++)
      if (v->of_name[r->tags[k]] >= 0) labels[v->of_name[r->tags[k]]] = 1;
  } else {
    label = v->of_name[r->tags[0]];
  }
  const int32_t song = l->has_song ? r->song : i;
  char id[PATH_MAX + 32];
  for (int e = 0; e < h.examples; e++) {
    if (dc->chunk_frames > 0) snprintf(id, sizeof id, "%s#%d", r->path, e);
    else snprintf(id, sizeof id, "%s", r->path);
    cache_writer_put(w, (*index)++, x + (size_t)e * per, dc->kind == CACHE_MULTI_LABEL ? labels : NULL, label, id, song,
                     r->fold);
  }
  free(x);
}

static void write_split(const PrepCacheJob *job, int split, const char *final_path) {
  const DatasetConfig *dc = job->dc;
  char staged[PATH_MAX + 32];
  snprintf(staged, sizeof staged, "%s/%s.h5", job->work->dir, prep_split_names[split]);
  const CacheSpec spec = cache_spec(job, split);
  CacheWriter *w = cache_writer_create(staged, &spec);
  uint8_t *labels = at_malloc((size_t)job->vocab->n + 1, "labels");
  int index = 0;
  for (int i = 0; i < job->list->n; i++) {
    const PrepRow *r = &job->list->rows[i];
    if (r->ok && r->split == split) put_row(job, w, i, &index, labels);
  }
  free(labels);
  AT_ASSERT(index == spec.n);
  cache_writer_finish(w);
  at_temp_file_register(staged);
  add_attributes(job, staged, split);
  h5_commit_file(staged, final_path);
  at_temp_file_clear();
  printf("wrote %s: %d example%s x %d x %d (%s), %d %s\n", final_path, spec.n, spec.n == 1 ? "" : "s", spec.bins,
         spec.frames, dc->feature_bytes == 2 ? "float16" : "float32", job->vocab->n,
         dc->kind == CACHE_MULTI_LABEL ? "tags" : "classes");
}

void prep_caches_write(const PrepCacheJob *job) {
  for (int s = 0; s < PREP_N_SPLITS; s++) {
    char final_path[PATH_MAX + 32];
    snprintf(final_path, sizeof final_path, "%s/%s.h5", job->out, prep_split_names[s]);
    if (job->examples[s]) {
      write_split(job, s, final_path);
    } else if (access(final_path, F_OK) == 0) {
      remove(final_path);
      printf("removed %s: left by an earlier prep, and this list has no %s example\n", final_path, prep_split_names[s]);
    }
  }
}
