/* One file of prep (see prep_file.h). */
#include "audio/prep_file.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_io.h"
#include "audio/frontend.h"
#include "core/error.h"

/* The file's features [rows, *frames], or NULL with r skipped. */
static float *file_features(const DatasetConfig *dc, int rows, FeatureMaker *gpu, FrontEndPlan **plan, PrepRow *r,
                            long *frames_out) {
  Audio a;
  char why[512];
  if (audio_load(r->full, dc->fe.sample_rate, &a, why, sizeof why) != 0) {
    prep_row_skip(r, "%s", why);
    return NULL;
  }
  if (a.warning[0]) r->warning = at_strdup(a.warning);
  r->seconds = (double)a.n / dc->fe.sample_rate;
  long n = a.n;
  float *clip = NULL;
  const float *sig = a.samples;
  if (dc->clip_seconds > 0) {
    clip = dataset_cut_clip(dc, a.samples, a.n, &n);
    sig = clip;
  }
  const long frames = frontend_frames(&dc->fe, n);
  float *feat = NULL;
  if (frames < 1) {
    prep_row_skip(r, "too short: %ld samples (%.3f s) give no frame with n_fft %d", n, r->seconds, dc->fe.n_fft);
  } else if (frames > INT_MAX / 2) {
    prep_row_skip(r, "too long: %ld frames", frames);
  } else {
    feat = at_malloc(sizeof(float) * (size_t)rows * (size_t)frames, "features");
    if (gpu) {
      /* decoding and resampling stay parallel; the GPU takes one file at a time */
#pragma omp critical(prep_gpu_front_end)
      feature_maker_compute(gpu, sig, n, feat);
    } else {
      if (!*plan) *plan = frontend_plan_create(&dc->fe);
      frontend_compute(*plan, sig, n, feat);
    }
  }
  free(clip);
  audio_free(&a);
  *frames_out = frames;
  return feat;
}

/* Cuts features [rows, frames] into the file's examples (takes feat). */
static float *to_examples(const PrepWork *w, const DatasetConfig *dc, float *feat, long frames, PrepRecordHeader *h) {
  const int rows = w->rows;
  h->rows = rows;
  h->file_frames = frames;
  if (dc->chunk_frames <= 0) {
    h->examples = 1;
    h->frames = (int)frames;
    AT_ASSERT(h->frames == w->frames);
    return feat;
  }
  const int C = dc->chunk_frames;
  h->examples = (int)(frames / C); /* Pons: the remainder is dropped */
  h->frames = C;
  float *data = at_malloc(sizeof(float) * ((size_t)h->examples * (size_t)rows * (size_t)C + 1), "chunks");
  for (int k = 0; k < h->examples; k++)
    for (int b = 0; b < rows; b++)
      memcpy(data + ((size_t)k * rows + (size_t)b) * (size_t)C, feat + (size_t)b * (size_t)frames + (size_t)k * C,
             sizeof(float) * (size_t)C);
  free(feat);
  return data;
}

/* Statistics for global normalisation: mean, then the sum of squared
 * deviations, each in a fixed order (four interleaved partial sums, so that
 * the loops are not bound by the latency of one chain). Returns 0, or -1 with
 * r skipped if a value is not finite. */
static int statistics(const float *data, size_t count, const PrepRecordHeader *h, PrepRow *r, double *mean_out,
                      double *m2_out) {
  double s4[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= count; i += 4)
    for (int j = 0; j < 4; j++) s4[j] += data[i + (size_t)j];
  for (; i < count; i++) s4[0] += data[i];
  const double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  char why[256];
  if (!isfinite(sum) && frontend_find_non_finite(data, count, h->rows, h->frames, why, sizeof why)) {
    prep_row_skip(r, "%s", why); /* the one rule of audio/frontend.h */
    return -1;
  }
  const double mean = count ? sum / (double)count : 0;
  double q4[4] = {0, 0, 0, 0};
  for (i = 0; i + 4 <= count; i += 4)
    for (int j = 0; j < 4; j++) {
      const double d = data[i + (size_t)j] - mean;
      q4[j] += d * d;
    }
  for (; i < count; i++) q4[0] += (data[i] - mean) * (data[i] - mean);
  *mean_out = mean;
  *m2_out = (q4[0] + q4[1]) + (q4[2] + q4[3]);
  return 0;
}

void prep_file_compute(const PrepWork *w, const DatasetConfig *dc, FeatureMaker *gpu, FrontEndPlan **plan, PrepRow *r) {
  long frames;
  float *feat = file_features(dc, w->rows, gpu, plan, r, &frames);
  if (!feat) return;
  PrepRecordHeader h;
  memset(&h, 0, sizeof h);
  h.seconds = r->seconds;
  float *data = to_examples(w, dc, feat, frames, &h);
  const size_t count = (size_t)h.examples * (size_t)h.rows * (size_t)h.frames;
  if (statistics(data, count, &h, r, &h.st_mean, &h.st_m2) != 0) {
    free(data);
    return;
  }
  h.st_count = (double)count;
  h.checksum = prep_checksum_floats(data, count);
  if (r->record[0]) prep_work_write(w, r, &h, data);
  free(data);
  r->ok = 1;
  r->examples = h.examples;
  r->file_frames = h.file_frames;
  r->st_count = h.st_count;
  r->st_mean = h.st_mean;
  r->st_m2 = h.st_m2;
}
