/* auratag auralise WEIGHTS_OR_RUN AUDIO --layer L [--feature K[,K...] | --all]
 *                  [--top N] [--start S] [--dur D] [--out DIR] [--cache TRAIN.h5]
 *
 * Explains what a trained model's features respond to, as Choi, Fazekas &
 * Sandler (2016) did: the model's own front end on an excerpt of AUDIO, the
 * deconvnet from feature K of layer L back to the input (explain/deconvnet.h),
 * the deconvolved map as a mask on the excerpt's STFT, the inverse STFT as a
 * WAV (explain/auralise.h). Writes into DIR:
 *   original.wav              the excerpt resynthesised (STFT -> ISTFT)
 *   input.png                 the model's input
 *   <layer>_f<K>.wav          the auralised feature
 *   <layer>_f<K>_deconv.png   the deconvolved map
 *   <layer>_f<K>_masked.png   the masked spectrogram (dB)
 *   <layer>_grid.png          with --all: every feature's map, tiled
 *   maps.h5                   the numbers: /input [rows, frames], /deconv/<K>
 *                             [rows, frames], /mask/<K> [n_fft/2 + 1, frames]
 *   index.md, index.html      what is where, to listen and look through */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_io.h"
#include "audio/feature_maker.h"
#include "audio/frontend.h"
#include "audio/model_input.h"
#include "audio/prep.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "data/cache.h"
#include "explain/auralise.h"
#include "explain/deconvnet.h"
#include "explain/png_image.h"
#include "io/h5_util.h"

typedef struct AuraliseArgs {
  const char *weights, *audio, *layer, *features, *out, *cache;
  int all, top;
  double start, dur;
} AuraliseArgs;

static const CliOption k_options[] = {
    {"layer", 0, "L", NULL, "the conv block whose features are deconvolved (1 = the first; required)"},
    {"feature", 0, "K[,K...]", NULL, "which features of the layer (or --all)"},
    {"all", 0, NULL, NULL, "every feature of the layer"},
    {"top", 0, "N", "every activation", "keep only the N strongest activations of each feature map"},
    {"start", 0, "S", "0", "where the excerpt starts, in seconds"},
    {"dur", 0, "D", "the model's input length", "the excerpt's length, in seconds"},
    {"out", 'o', "DIR", "auralise", "the folder for the WAVs, PNGs, maps.h5 and index.html"},
    {"cache", 0, "TRAIN_CACHE.h5", "the run's training cache", "the cache whose front end the model was trained with"},
    {0},
};
const CliCommand k_cli_auralise = {
    "auralise", "WEIGHTS.h5|RUN_DIR AUDIO --layer L (--feature K[,K...] | --all) [--out DIR]",
    "Deconvolves features of a layer back to the input (Choi et al. 2016b) and turns them into audio (masks on "
    "the excerpt's STFT with its phase) and pictures.",
    k_options, "auratag auralise checkpoints/demo-fcn3 clip.wav --layer 1 --feature 0,1,2,3 --out auralise"};

static void parse(int argc, char **argv, AuraliseArgs *a) {
  memset(a, 0, sizeof *a);
  a->out = "auralise";
  a->dur = -1;
  CliArgs p;
  cli_parse(&k_cli_auralise, argc, argv, &p);
  cli_require_positionals(&p, 2, 2);
  a->weights = p.positional[0];
  a->audio = p.positional[1];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "layer")) a->layer = p.value[i];
    else if (cli_is(&p, i, "feature")) a->features = p.value[i];
    else if (cli_is(&p, i, "all")) a->all = 1;
    else if (cli_is(&p, i, "top")) a->top = (int)cli_long(&p, i, 1, 1 << 30);
    else if (cli_is(&p, i, "start")) a->start = cli_real(&p, i, 0, 1e6);
    else if (cli_is(&p, i, "dur")) a->dur = cli_real(&p, i, 0, 1e6);
    else if (cli_is(&p, i, "out")) a->out = p.value[i];
    else if (cli_is(&p, i, "cache")) a->cache = p.value[i];
  }
  if (!a->layer) cli_usage_error(&k_cli_auralise, "--layer L is required");
  if (!a->all && !a->features) cli_usage_error(&k_cli_auralise, "say which features: --feature K (or K1,K2,...) or --all");
  if (a->all && a->features) cli_usage_error(&k_cli_auralise, "--feature and --all exclude each other");
}

/* ---- frequencies of the model's input rows, for the axes ---- */
typedef struct RowAxis {
  const FrontEndSpec *fe;
  const float *mel; /* [bands, bins] or NULL */
} RowAxis;

static double input_row_hz(int row, const void *ctx) {
  const RowAxis *r = ctx;
  const int bins = auralise_bins(r->fe);
  if (!r->mel) return row * r->fe->sample_rate / r->fe->n_fft;
  int best = 0; /* a band's centre: its largest weight */
  for (int f = 1; f < bins; f++)
    if (r->mel[(size_t)row * bins + f] > r->mel[(size_t)row * bins + best]) best = f;
  return best * r->fe->sample_rate / r->fe->n_fft;
}

static double linear_bin_hz(int row, const void *ctx) {
  const FrontEndSpec *fe = ctx;
  return row * fe->sample_rate / fe->n_fft;
}

/* ---- audio ---- */

/* ISTFT of spectrum [bins, frames] into a WAV of `samples` samples; peak
 * normalised to 0.9 (as Choi's librosa write_wav(norm=True)); returns the
 * gain applied (0 for silence, which stays silent). */
static double write_istft(FeatureMaker *fm, const float *spectrum, int frames, long samples, double rate,
                          const char *path) {
  float *sig = at_malloc(sizeof(float) * (size_t)samples, "auralised audio");
  feature_maker_istft(fm, spectrum, frames, sig, samples);
  float peak = 0;
  for (long i = 0; i < samples; i++)
    if (fabsf(sig[i]) > peak) peak = fabsf(sig[i]);
  double gain = peak > 0 ? 0.9 / peak : 0.0;
  for (long i = 0; i < samples; i++) sig[i] = (float)(sig[i] * gain);
  audio_write_wav(path, sig, samples, rate);
  free(sig);
  return gain;
}

/* 20 log10 |z| of an interleaved complex [bins, frames], floored at -120 dB */
static void magnitude_db(const float *spectrum, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) {
    double m = hypot(spectrum[2 * i], spectrum[2 * i + 1]);
    out[i] = (float)(20.0 * log10(m > 1e-6 ? m : 1e-6));
  }
}

static int *feature_list(const AuraliseArgs *a, int features, int *count) {
  int *list = at_malloc(sizeof(int) * (size_t)(features + 1), "feature list");
  int n = 0;
  if (a->all) {
    for (int k = 0; k < features; k++) list[n++] = k;
  } else {
    const char *p = a->features;
    while (*p) {
      char *end;
      long k = strtol(p, &end, 10);
      if (end == p || k < 0 || k >= features)
        at_fatal("--feature %s: features of this layer are 0..%d", a->features, features - 1);
      if (n == features) at_fatal("--feature %s: too many features", a->features);
      list[n++] = (int)k;
      p = *end == ',' ? end + 1 : end;
      if (*end && *end != ',') at_fatal("--feature takes K or K1,K2,..., not '%s'", a->features);
    }
  }
  *count = n;
  return list;
}

/* Long (~180 lines) on purpose for now: its deconvnet and layer calls are being reworked by the layer-table change;
 * split it (excerpt, per-feature outputs, index) once that lands. */
/* The excerpt as the model sees it: its input [rows, width] and the complex
 * STFT [bins, width] the masks apply to. */
typedef struct Excerpt {
  const FrontEndSpec *fe;
  int rows, bins, width;
  long samples;   /* the samples the first `width` frames cover */
  double seconds; /* width frames, in seconds */
  double kept;    /* seconds of audio kept (--dur), the rest zeros */
  float *input, *spectrum;
} Excerpt;

/* Reads AUDIO from --start, keeps --dur seconds (zeros after), and computes
 * the model's input and the STFT of the first `width` frames. */
static void load_excerpt(const AuraliseArgs *a, const Model *m, ModelInput *in, Excerpt *x) {
  const FrontEndSpec *fe = in->fe;
  const double sr = fe->sample_rate;
  const int width = m->input.w;
  const long need = in->min_samples; /* the fewest samples that give the model's width */
  const double model_seconds = (double)need / sr;
  if (a->dur >= 0 && a->dur > model_seconds + 1e-9)
    at_fatal("--dur %g: model '%s' reads %d frames = %.3f s at a time; use --dur %.3f or less (or several --start)",
             a->dur, m->name, width, model_seconds, model_seconds);
  Audio au;
  char why[512];
  if (audio_load(a->audio, sr, &au, why, sizeof why) != 0) at_fatal("%s: cannot read: %s", a->audio, why);
  audio_print_warning(&au, a->audio);
  const long s0 = (long)llround(a->start * sr);
  if (s0 >= au.n) at_fatal("--start %g s is past the end of %s (%.3f s)", a->start, a->audio, au.n / sr);
  const long keep = a->dur >= 0 ? (long)llround(a->dur * sr) : need;
  float *excerpt = at_calloc((size_t)need, sizeof(float), "excerpt");
  for (long i = 0; i < keep && i < need && s0 + i < au.n; i++) excerpt[i] = au.samples[s0 + i];
  audio_free(&au);

  memset(x, 0, sizeof *x);
  x->fe = fe;
  x->rows = in->rows;
  x->bins = auralise_bins(fe);
  x->width = width;
  x->kept = (double)keep / sr;
  long frames_all;
  float *feat_all = model_input_features(in, excerpt, need, &frames_all, why, sizeof why);
  if (!feat_all) at_fatal("%s: cannot auralise: %s", a->audio, why);
  float *spec_all = at_malloc(sizeof(float) * 2 * (size_t)x->bins * frames_all, "spectrum");
  feature_maker_stft(in->fm, excerpt, need, spec_all);
  x->input = at_malloc(sizeof(float) * (size_t)x->rows * width, "model input");
  x->spectrum = at_malloc(sizeof(float) * 2 * (size_t)x->bins * width, "spectrum");
  model_input_crop(in, feat_all, frames_all, 0, x->input);
  for (int f = 0; f < x->bins; f++)
    memcpy(x->spectrum + 2 * (size_t)f * width, spec_all + 2 * (size_t)f * frames_all, sizeof(float) * 2 * width);
  free(feat_all);
  free(spec_all);
  free(excerpt);
  x->samples = (long)(width - 1) * fe->hop + (fe->center ? 0 : fe->n_fft);
  x->seconds = (double)width * fe->hop / sr;
}

/* What is written beside the WAVs: the index (Markdown and HTML), the grid
 * of every map (--all) and maps.h5. */
typedef struct Report {
  const char *dir, *layer;
  char *md_text, *html_text;
  size_t md_len, html_len;
  FILE *md, *html;
  Image grid;
  int cols, tile_w, tile_h, gap;
  char maps_path[4600], maps_tmp[4600];
  long long maps;
} Report;

static const uint8_t k_ink[3] = {20, 20, 20};

static void report_begin(Report *r, const AuraliseArgs *a, const EvalModel *em, const char *layer, const char *desc,
                         const Excerpt *x, int n_feat) {
  const Model *m = em->m;
  memset(r, 0, sizeof *r);
  r->dir = a->out;
  r->layer = layer;
  /* the grid: every map, tiled, each on its own scale */
  r->cols = (int)ceil(sqrt((double)n_feat));
  const int grid_rows = (n_feat + r->cols - 1) / r->cols;
  r->tile_w = x->width < 200 ? x->width : 200;
  r->tile_h = x->rows < 160 ? x->rows : 160;
  r->gap = 4;
  r->grid = image_new(r->cols * (r->tile_w + r->gap) + r->gap, grid_rows * (r->tile_h + r->gap + 10) + r->gap + 16, 255);
  char title[160];
  snprintf(title, sizeof title, "%s: ALL %d FEATURES", layer, n_feat);
  image_draw_text(&r->grid, r->gap, 4, title, 1, k_ink);

  r->md = open_memstream(&r->md_text, &r->md_len);
  r->html = open_memstream(&r->html_text, &r->html_len);
  if (!r->md || !r->html) at_fatal("out of memory for the index");
  fprintf(r->md, "# Auralisation of %s, layer %s\n\nModel `%s` (%s), audio `%s` from %.3f s (%.3f s), front end: %s.\n\n"
                 "Deconvnet (Zeiler & Fergus, as Choi et al. 2016): unpooling through the recorded switches, ReLU, "
                 "transposed convolution, down to the input; the map masks the excerpt's STFT (original phase kept) "
                 "and the inverse STFT gives the audio. Each WAV is peak-normalised to 0.9.\n\n"
                 "- original, resynthesised: [original.wav](original.wav)\n- input: ![input](input.png)\n"
                 "- the numbers (input, maps, masks): `maps.h5`\n\n"
                 "| feature | peak activation | audio | deconvolved map | masked spectrogram |\n|---|---|---|---|---|\n",
          m->name, layer, m->name, em->path, a->audio, a->start, x->kept, desc);
  fprintf(r->html, "<!doctype html><meta charset=utf-8><title>auralisation %s</title>\n<h1>Auralisation of %s, layer %s</h1>\n"
                   "<p>audio %s from %.3f s; <a href=original.wav>original (resynthesised)</a> <audio controls "
                   "src=original.wav></audio></p><img src=input.png>\n<table border=1 cellpadding=4>\n"
                   "<tr><th>feature<th>peak activation<th>audio<th>deconvolved map<th>masked spectrogram\n",
          layer, m->name, layer, a->audio, a->start);

  snprintf(r->maps_path, sizeof r->maps_path, "%s/maps.h5", a->out);
  snprintf(r->maps_tmp, sizeof r->maps_tmp, "%s/maps.h5.tmp", a->out);
  h5_quiet();
  r->maps = H5Fcreate(r->maps_tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (r->maps < 0) at_fatal("cannot create '%s'", r->maps_tmp);
  const unsigned long long in_dims[2] = {(unsigned long long)x->rows, (unsigned long long)x->width};
  h5_write_floats(r->maps, "input", x->input, 2, in_dims, r->maps_path);
  h5_write_string_attr(r->maps, "model", m->name);
  h5_write_string_attr(r->maps, "layer", layer);
  h5_write_string_attr(r->maps, "front_end", desc);
}

/* Feature k, the i-th shown: its map and mask into maps.h5, its tile, its row of the index. */
static void report_feature(Report *r, const Excerpt *x, int i, int k, float peak, const float *map, const float *mask) {
  const unsigned long long in_dims[2] = {(unsigned long long)x->rows, (unsigned long long)x->width};
  const unsigned long long mask_dims[2] = {(unsigned long long)x->bins, (unsigned long long)x->width};
  char dsname[64];
  snprintf(dsname, sizeof dsname, "deconv/%d", k);
  h5_write_floats(r->maps, dsname, map, 2, in_dims, r->maps_path);
  snprintf(dsname, sizeof dsname, "mask/%d", k);
  h5_write_floats(r->maps, dsname, mask, 2, mask_dims, r->maps_path);
  const int gx = r->gap + (i % r->cols) * (r->tile_w + r->gap), gy = 20 + (i / r->cols) * (r->tile_h + r->gap + 10);
  float lo = INFINITY, hi = -INFINITY;
  for (size_t j = 0; j < (size_t)x->rows * x->width; j++) {
    if (map[j] < lo) lo = map[j];
    if (map[j] > hi) hi = map[j];
  }
  image_draw_map(&r->grid, gx, gy + 9, r->tile_w, r->tile_h, map, x->rows, x->width, lo, hi);
  char num[16], base[256];
  snprintf(num, sizeof num, "%d", k);
  image_draw_text(&r->grid, gx, gy, num, 1, k_ink);
  snprintf(base, sizeof base, "%s_f%d", r->layer, k);
  fprintf(r->md, "| %d | %.4g | [%s.wav](%s.wav) | ![](%s_deconv.png) | ![](%s_masked.png) |\n", k, peak, base, base,
          base, base);
  fprintf(r->html, "<tr><td>%d<td>%.4g<td><audio controls src=%s.wav></audio><td><img src=%s_deconv.png>"
                   "<td><img src=%s_masked.png>\n", k, peak, base, base, base);
}

static void report_end(Report *r, int all) {
  if (H5Fclose(r->maps) < 0) at_fatal("cannot finish writing '%s' (is the disk full?)", r->maps_tmp);
  h5_commit_file(r->maps_tmp, r->maps_path);
  char path[4600];
  if (all) {
    snprintf(path, sizeof path, "%s/%s_grid.png", r->dir, r->layer);
    image_save_png(&r->grid, path);
    fprintf(r->md, "\nAll features of %s: ![grid](%s_grid.png)\n", r->layer, r->layer);
    fprintf(r->html, "</table><h2>All features</h2><img src=%s_grid.png>\n", r->layer);
  } else {
    fprintf(r->html, "</table>\n");
  }
  fclose(r->md);
  fclose(r->html);
  snprintf(path, sizeof path, "%s/index.md", r->dir);
  at_write_text_file(path, r->md_text);
  snprintf(path, sizeof path, "%s/index.html", r->dir);
  at_write_text_file(path, r->html_text);
  free(r->md_text);
  free(r->html_text);
  image_free(&r->grid);
}

/* Feature k: its deconvolved map, the mask it makes, the masked STFT back
 * to audio, and the two pictures. Returns its peak activation. */
static float auralise_one(Deconvnet *d, FeatureMaker *fm, const RowAxis *axis, const Excerpt *x, const AuraliseArgs *a,
                          const char *layer, int k, float *map, float *mask) {
  const size_t cells = (size_t)x->bins * x->width;
  float *masked = at_malloc(sizeof(float) * 2 * cells, "masked spectrum");
  float *db = at_malloc(sizeof(float) * cells, "masked dB");
  const float peak = deconv_feature(d, k, a->top, map);
  auralise_mask(x->fe, feature_maker_cpu_plan(fm), map, x->width, mask);
  auralise_apply_mask(x->spectrum, mask, x->bins, x->width, masked);
  char base[256], path[4600], title[160];
  snprintf(base, sizeof base, "%s_f%d", layer, k);
  snprintf(path, sizeof path, "%s/%s.wav", a->out, base);
  write_istft(fm, masked, x->width, x->samples, x->fe->sample_rate, path);
  snprintf(title, sizeof title, "%s FEATURE %d: DECONVOLVED", layer, k);
  snprintf(path, sizeof path, "%s/%s_deconv.png", a->out, base);
  png_write_spectrogram(path, title, map, x->rows, x->width, x->seconds, input_row_hz, axis, NAN, NAN);
  magnitude_db(masked, cells, db);
  snprintf(title, sizeof title, "%s FEATURE %d: MASKED DB", layer, k);
  snprintf(path, sizeof path, "%s/%s_masked.png", a->out, base);
  png_write_spectrogram(path, title, db, x->bins, x->width, x->seconds, linear_bin_hz, x->fe, -120.0f, NAN);
  free(masked);
  free(db);
  return peak;
}

int cmd_auralise(int argc, char **argv) {
  AuraliseArgs a;
  parse(argc, argv, &a);
  EvalModel em;
  cli_load_for_eval(a.weights, 1, 1, 1, stdout, &em);
  Model *m = em.m;
  PrepSetup setup;
  char cache_path[4200], desc[1024];
  Cache *cache = cli_front_end_for(&em, "auralise", a.cache, &setup, cache_path, sizeof cache_path, desc, sizeof desc);
  cache_close(cache);
  const FrontEndSpec *fe = &setup.dc->fe;
  if (fe->representation == REPR_MFCC || fe->representation == REPR_WAVEFORM)
    at_fatal("model '%s' reads %s: auralisation needs a spectrogram-input model (STFT or mel)", m->name,
             fe->representation == REPR_MFCC ? "MFCCs" : "the waveform");
  const int target = deconv_target(m, a.layer);
  const char *layer = m->layers[target].name;
  ModelInput in;
  model_input_init(&in, &setup, m->input.w, m->be);
  Excerpt x;
  load_excerpt(&a, m, &in, &x);

  at_make_dirs(a.out);
  char path[4600];
  const RowAxis axis = {fe, fe->representation == REPR_MEL ? frontend_mel_matrix(feature_maker_cpu_plan(in.fm)) : NULL};
  snprintf(path, sizeof path, "%s/original.wav", a.out);
  write_istft(in.fm, x.spectrum, x.width, x.samples, fe->sample_rate, path);
  snprintf(path, sizeof path, "%s/input.png", a.out);
  png_write_spectrogram(path, "INPUT", x.input, x.rows, x.width, x.seconds, input_row_hz, &axis, NAN, NAN);

  Deconvnet *d = deconv_create(m, target);
  deconv_forward(d, x.input);
  int n_feat = 0;
  int *list = feature_list(&a, deconv_features(d), &n_feat);
  float *map = at_malloc(sizeof(float) * (size_t)x.rows * x.width, "deconvolved map");
  float *mask = at_malloc(sizeof(float) * (size_t)x.bins * x.width, "mask");
  Report report;
  report_begin(&report, &a, &em, layer, desc, &x, n_feat);
  Progress bar;
  progress_begin(&bar, stdout, "features", n_feat, 0, 8);
  const double t0 = at_now_seconds();
  for (int i = 0; i < n_feat; i++) {
    const float peak = auralise_one(d, in.fm, &axis, &x, &a, layer, list[i], map, mask);
    report_feature(&report, &x, i, list[i], peak, map, mask);
    progress_update(&bar, i + 1, (i + 1) / fmax(at_now_seconds() - t0, 1e-9), "features", NULL);
  }
  progress_end(&bar);
  report_end(&report, a.all);
  printf("auralised %d feature(s) of %s (%s) -> %s/index.html (and index.md)\n", n_feat, layer, m->name, a.out);
  free(list);
  free(map);
  free(mask);
  free(x.input);
  free(x.spectrum);
  deconv_free(d);
  model_input_free(&in);
  prep_setup_free(&setup);
  model_free(m);
  free(em.experiment);
  return 0;
}
