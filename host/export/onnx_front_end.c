#include "export/onnx_front_end.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/dsp.h"
#include "core/error.h"
#include "core/scalar_math.h"

#define FE "front_end" /* the prefix of the front end's tensor and node names */

static const char *node(OnnxGraph *g, const char *op, const char *const *in, int n_in, const char *out,
                        OnnxNode **made) {
  const char *name = onnx_name(g, FE, out);
  OnnxNode *n = onnx_node(g, op, name, in, n_in, name);
  if (made) *made = n;
  return name;
}

static const char *node1(OnnxGraph *g, const char *op, const char *a, const char *out) {
  return node(g, op, &a, 1, out, NULL);
}

static const char *node2(OnnxGraph *g, const char *op, const char *a, const char *b, const char *out) {
  const char *in[2] = {a, b};
  return node(g, op, in, 2, out, NULL);
}

static const char *float_scalar(OnnxGraph *g, const char *name, float v) {
  return onnx_floats(g, onnx_name(g, FE, name), &v, 0, NULL);
}

static const char *int64s(OnnxGraph *g, const char *name, const int64_t *v, int n) {
  return onnx_int64s(g, onnx_name(g, FE, name), v, n);
}

static const char *int64_scalar(OnnxGraph *g, const char *name, int64_t v) {
  return onnx_int64_scalar(g, onnx_name(g, FE, name), v);
}

/* x rounded to binary16 and back: musicnn's float16 steps. */
static const char *round_half(OnnxGraph *g, const char *x, const char *out) {
  char half[64];
  snprintf(half, sizeof half, "%s_f16", out);
  OnnxNode *n;
  const char *h = node(g, "Cast", &x, 1, half, &n);
  onnx_attr_int(n, "to", 10); /* FLOAT16 */
  const char *y = node(g, "Cast", &h, 1, out, &n);
  onnx_attr_int(n, "to", 1); /* FLOAT */
  return y;
}

/* audio [samples] zero-padded at its end to min_samples (tag's rule for a
 * short file). */
static const char *padded_audio(OnnxGraph *g, const OnnxFrontEnd *f) {
  const int64_t zero[1] = {0}, need[1] = {f->min_samples};
  const char *n = node1(g, "Shape", "audio", "samples");
  const char *missing = node2(g, "Sub", int64s(g, "min_samples", need, 1), n, "missing");
  const char *end = node2(g, "Max", missing, int64s(g, "zero", zero, 1), "pad_end");
  const char *parts[2] = {int64s(g, "pad_begin", zero, 1), end};
  OnnxNode *cat;
  const char *pads = node(g, "Concat", parts, 2, "short_pads", &cat);
  onnx_attr_int(cat, "axis", 0);
  return node2(g, "Pad", "audio", pads, "padded");
}

/* The padded audio, padded for centred frames, as [1, samples', 1] for STFT. */
static const char *signal_of(OnnxGraph *g, const OnnxFrontEnd *f) {
  const FrontEndSpec *s = f->fe;
  const char *x = padded_audio(g, f);
  if (s->center) {
    const int64_t half[2] = {s->n_fft / 2, s->n_fft / 2};
    OnnxNode *pad;
    const char *in[2] = {x, int64s(g, "center_pads", half, 2)};
    x = node(g, "Pad", in, 2, "centred", &pad);
    if (s->pad == PAD_REFLECT) onnx_attr_string(pad, "mode", "reflect");
  }
  const int64_t axes[2] = {0, 2};
  return node2(g, "Unsqueeze", x, int64s(g, "signal_axes", axes, 2), "signal");
}

/* [1, frames, n_fft/2 + 1] magnitude or power, through ONNX's STFT. */
static const char *spectrum_of(OnnxGraph *g, const OnnxFrontEnd *f, const char *signal) {
  const FrontEndSpec *s = f->fe;
  double *wd = at_malloc(sizeof(double) * (size_t)s->n_fft, "window");
  float *w = at_malloc(sizeof(float) * (size_t)s->n_fft, "window");
  dsp_window(s->window, s->n_fft, wd);
  for (int i = 0; i < s->n_fft; i++) w[i] = (float)wd[i]; /* the front end's own float window */
  const int64_t wdims[1] = {s->n_fft};
  const char *in[4] = {signal, int64_scalar(g, "hop", s->hop), onnx_floats(g, onnx_name(g, FE, "window"), w, 1, wdims),
                       int64_scalar(g, "n_fft", s->n_fft)};
  free(wd);
  free(w);
  OnnxNode *stft;
  const char *complex = node(g, "STFT", in, 4, "stft", &stft);
  onnx_attr_int(stft, "onesided", 1);
  OnnxNode *sq;
  const char *power = node(g, "ReduceSumSquare", &complex, 1, "power", &sq);
  const int64_t last[1] = {3};
  onnx_attr_ints(sq, "axes", last, 1);
  onnx_attr_int(sq, "keepdims", 0);
  return s->power == 1 ? node1(g, "Sqrt", power, "magnitude") : power;
}

/* [1, frames, rows]: the mel bands (auratag's own filterbank) or the lowest bins. */
static const char *rows_of(OnnxGraph *g, const OnnxFrontEnd *f, const char *spectrum) {
  const FrontEndSpec *s = f->fe;
  const int n_freq = s->n_fft / 2 + 1;
  if (s->representation == REPR_STFT) {
    if (s->n_bins == n_freq) return spectrum;
    const int64_t starts[1] = {0}, ends[1] = {s->n_bins}, axes[1] = {2};
    const char *in[4] = {spectrum, int64s(g, "bins_start", starts, 1), int64s(g, "bins_end", ends, 1),
                         int64s(g, "bins_axis", axes, 1)};
    return node(g, "Slice", in, 4, "bins", NULL);
  }
  FrontEndPlan *plan = frontend_plan_create(s);
  const float *mel = frontend_mel_matrix(plan); /* [bands, n_freq] */
  float *t = at_malloc(sizeof(float) * (size_t)n_freq * (size_t)s->n_bins, "filterbank");
  for (int b = 0; b < s->n_bins; b++)
    for (int k = 0; k < n_freq; k++) t[(size_t)k * s->n_bins + b] = mel[(size_t)b * n_freq + k];
  const int64_t dims[2] = {n_freq, s->n_bins};
  const char *fb = onnx_floats(g, onnx_name(g, FE, "filterbank"), t, 2, dims);
  free(t);
  frontend_plan_free(plan);
  return node2(g, "MatMul", spectrum, fb, "mel");
}

static const char *compressed(OnnxGraph *g, const OnnxFrontEnd *f, const char *x) {
  const FrontEndSpec *s = f->fe;
  const float inv_ln10 = (float)(1.0 / M_LN10);
  switch (s->compression) {
    case COMPRESS_NONE: return x;
    case COMPRESS_LOG10_1P: {
      const char *y = node2(g, "Mul", x, float_scalar(g, "log_c", (float)s->log_c), "scaled");
      const char *u = node2(g, "Add", y, float_scalar(g, "one", 1.0f), "one_plus");
      return node2(g, "Mul", node1(g, "Log", u, "ln"), float_scalar(g, "inv_ln10", inv_ln10), "log10");
    }
    case COMPRESS_LOG10_1P_HALF: {
      const char *h = round_half(g, x, "power_f16");
      const char *c = float_scalar(g, "log_c_f16", at_half_to_float(at_float_to_half((float)s->log_c)));
      const char *p = round_half(g, node2(g, "Mul", h, c, "scaled"), "scaled_f16");
      const char *u = round_half(g, node2(g, "Add", p, float_scalar(g, "one", 1.0f), "one_plus"), "one_plus_f16");
      const char *l = node2(g, "Mul", node1(g, "Log", u, "ln"), float_scalar(g, "inv_ln10", inv_ln10), "log10");
      return round_half(g, l, "log10_f16");
    }
    case COMPRESS_DB: {
      const float amin = s->db_amin > 1.17549435e-38 ? (float)s->db_amin : 1.17549435e-38f;
      const char *m = node2(g, "Max", x, float_scalar(g, "amin", amin), "floored");
      const char *db = node2(g, "Mul", node1(g, "Log", m, "ln"), float_scalar(g, "db_scale", (float)(10.0 / M_LN10)), "db10");
      const float offset = (float)(10.0 * log10(s->db_amin > s->db_ref ? s->db_amin : s->db_ref));
      const char *y = node2(g, "Sub", db, float_scalar(g, "db_offset", offset), "db");
      if (!(s->db_top_db > 0)) return y;
      OnnxNode *r;
      const char *mx = node(g, "ReduceMax", &y, 1, "db_max", &r);
      onnx_attr_int(r, "keepdims", 1);
      const char *floor_db = node2(g, "Sub", mx, float_scalar(g, "top_db", (float)s->db_top_db), "db_floor");
      return node2(g, "Max", y, floor_db, "db_top");
    }
  }
  return x;
}

/* Crop k of K = ceil(frames / width) crops starts at round-half-up(k (frames
 * - width) / (K - 1)) (data/crop_spacing.h; K = 1 only when frames = width):
 * indices [K, width] of the frames to gather. */
static const char *crop_indices(OnnxGraph *g, const char *features, int width) {
  const int64_t two[1] = {2}, one[1] = {1}, w[1] = {width}, w1[1] = {width - 1}, axis0[1] = {0};
  const char *shape = node1(g, "Shape", features, "features_shape");
  const int64_t frames_at[1] = {2};
  const char *frames = node2(g, "Gather", shape, int64s(g, "frames_at", frames_at, 1), "frames"); /* [1] */
  const char *k_count = node2(g, "Div", node2(g, "Add", frames, int64s(g, "width_less_1", w1, 1), "frames_up"),
                              int64s(g, "width", w, 1), "crops");
  const char *span = node2(g, "Sub", frames, int64s(g, "width_1", w, 1), "span");
  const char *k_less_1 = node2(g, "Sub", k_count, int64s(g, "crop_one", one, 1), "crops_less_1");
  const char *count_scalar = node2(g, "Squeeze", k_count, int64s(g, "axis0", axis0, 1), "crops_scalar");
  const char *range_in[3] = {int64_scalar(g, "zero_s", 0), count_scalar, int64_scalar(g, "one_s", 1)};
  const char *ks = node(g, "Range", range_in, 3, "crop_k", NULL); /* [K] */
  const char *num = node2(g, "Add",
                          node2(g, "Mul", node2(g, "Mul", ks, span, "k_span"), int64s(g, "two", two, 1), "two_k_span"),
                          k_less_1, "start_num");
  const char *den = node2(g, "Mul", node2(g, "Max", k_less_1, int64s(g, "one_1", one, 1), "crops_less_1_pos"),
                          int64s(g, "two_1", two, 1), "start_den");
  const char *starts = node2(g, "Div", num, den, "starts");
  const int64_t axis1[1] = {1};
  const char *column = node2(g, "Unsqueeze", starts, int64s(g, "axis1", axis1, 1), "starts_column"); /* [K, 1] */
  const char *offsets_in[3] = {int64_scalar(g, "zero_s1", 0), int64_scalar(g, "width_s", width), int64_scalar(g, "one_s1", 1)};
  const char *offsets = node(g, "Range", offsets_in, 3, "crop_offsets", NULL); /* [width] */
  return node2(g, "Add", column, offsets, "crop_frames"); /* [K, width] */
}

const char *onnx_front_end(OnnxGraph *g, const OnnxFrontEnd *f, int width) {
  const FrontEndSpec *s = f->fe;
  if (s->representation == REPR_MFCC)
    at_fatal("--with-front-end: the model's front end is MFCC, which the ONNX export does not build (stft and mel do)");
  OnnxNode *t;
  const char *x, *features;
  if (s->representation == REPR_WAVEFORM) { /* the samples are the features: [1, 1, samples] */
    const int64_t axes[2] = {0, 1};
    x = node2(g, "Unsqueeze", padded_audio(g, f), int64s(g, "waveform_axes", axes, 2), "waveform");
  } else {
    x = compressed(g, f, rows_of(g, f, spectrum_of(g, f, signal_of(g, f)))); /* [1, frames, rows] */
  }
  if (f->has_norm) {
    x = node2(g, "Sub", x, float_scalar(g, "norm_mean", (float)f->norm_mean), "centred_features");
    x = node2(g, "Mul", x, float_scalar(g, "norm_inv_std", (float)(1.0 / f->norm_std)), "normalised");
  }
  if (s->representation == REPR_WAVEFORM) {
    features = x;
  } else {
    features = node(g, "Transpose", &x, 1, "features", &t); /* [1, rows, frames] */
    const int64_t perm[3] = {0, 2, 1};
    onnx_attr_ints(t, "perm", perm, 3);
  }
  const char *in[2] = {features, crop_indices(g, features, width)};
  OnnxNode *gather;
  const char *crops = node(g, "Gather", in, 2, "crops_gathered", &gather); /* [1, rows, K, width] */
  onnx_attr_int(gather, "axis", 2);
  const char *spectrogram = node(g, "Transpose", &crops, 1, "spectrogram", &t); /* [K, 1, rows, width] */
  const int64_t perm4[4] = {2, 0, 1, 3};
  onnx_attr_ints(t, "perm", perm4, 4);
  return spectrogram;
}
