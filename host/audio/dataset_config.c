#include "audio/dataset_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ini_file.h"
#include "core/error.h"

static const char *const k_singletons[] = {"dataset", "frontend", NULL};
static const char *const k_kinds[] = {"multi_label", "single_label", NULL};
static const char *const k_clips[] = {"centre", "start", NULL};
static const char *const k_normalise[] = {"none", "global", NULL};
static const char *const k_dtypes[] = {"float16", "float32", NULL};

const char *dataset_kind_name(CacheLabelKind k) { return k == CACHE_SINGLE_LABEL ? "single_label" : "multi_label"; }
const char *dataset_clip_name(ClipMode m) { return k_clips[m]; }
const char *dataset_normalise_name(NormaliseMode m) { return k_normalise[m]; }

static const char *accepted_keys(const char *type) {
  if (!strcmp(type, "dataset"))
    return "name, kind, top_tags, clip_seconds, clip, chunk_frames, normalise, feature_dtype";
  if (!strcmp(type, "frontend"))
    return "sample_rate, n_fft, hop, window, center, pad, power, representation, n_bins, n_mels, mfcc_deltas, fmin, "
           "fmax, mel_scale, mel_norm, compression, db_ref, db_amin, db_top_db, log_c (which apply depends on "
           "representation and compression; see configs/datasets/*.ini)";
  return NULL;
}

static DatasetConfig *from_ini(IniFile *ini, const char *origin) {
  for (int i = 0; i < ini->n_sections; i++) {
    IniSection *s = &ini->sections[i];
    if (strcmp(s->type, "dataset") != 0 && strcmp(s->type, "frontend") != 0)
      ini_fail(s, NULL, "unknown section in a dataset config; expected [dataset] and [frontend]");
  }
  IniSection *ds = ini_section(ini, "dataset");
  IniSection *fs = ini_section(ini, "frontend");
  if (!ds) at_fatal("%s: a dataset config needs a [dataset] section (see configs/datasets/)", origin);
  if (!fs) at_fatal("%s: a dataset config needs a [frontend] section (see configs/datasets/)", origin);

  DatasetConfig *d = at_calloc(1, sizeof *d, "dataset config");
  snprintf(d->origin, sizeof d->origin, "%s", origin);
  IniEntry *name = ini_entry(ds, "name");
  const char *nm = name ? name->value : NULL;
  if (!nm) {
    /* the file name without folder and .ini */
    const char *slash = strrchr(origin, '/');
    const char *base = slash ? slash + 1 : origin;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
    snprintf(d->name, sizeof d->name, "%.*s", (int)len, base);
  } else {
    if (!nm[0] || strlen(nm) >= sizeof d->name) ini_fail(ds, name, "the name must have 1 to %zu characters", sizeof d->name - 1);
    snprintf(d->name, sizeof d->name, "%s", nm);
  }
  d->kind = ini_get_choice(ds, "kind", 0, k_kinds) == 1 ? CACHE_SINGLE_LABEL : CACHE_MULTI_LABEL;
  d->top_tags = (int)ini_get_int(ds, "top_tags", 0, 0, 100000);
  if (d->kind == CACHE_SINGLE_LABEL && d->top_tags)
    ini_fail(ds, ini_entry(ds, "top_tags"), "top_tags is for multi-label datasets; a single-label dataset keeps every "
                                            "class of its training split");
  d->clip_seconds = ini_get_float(ds, "clip_seconds", 0, 0, 86400);
  d->clip = ini_get_choice(ds, "clip", 0, k_clips) ? CLIP_START : CLIP_CENTRE;
  d->chunk_frames = (int)ini_get_int(ds, "chunk_frames", 0, 0, 1000000);
  d->normalise = ini_get_choice(ds, "normalise", 0, k_normalise) ? NORMALISE_GLOBAL : NORMALISE_NONE;
  d->feature_bytes = ini_get_choice(ds, "feature_dtype", 0, k_dtypes) ? 4 : 2;

  frontend_spec_defaults(&d->fe);
  frontend_spec_from_ini(fs, &d->fe);
  ini_check_all_used(ini, accepted_keys);

  if (d->clip_seconds == 0 && d->chunk_frames == 0)
    at_fatal("%s: [dataset] needs clip_seconds > 0 or chunk_frames > 0: every example of a cache has the same "
             "number of frames, so whole files of any length must be cut into chunks",
             origin);
  if (d->clip_seconds > 0) {
    long samples = dataset_clip_samples(d);
    if (samples < 1) at_fatal("%s: clip_seconds = %g is less than one sample at %g Hz", origin, d->clip_seconds, d->fe.sample_rate);
    long frames = frontend_frames(&d->fe, samples);
    if (frames < 1)
      at_fatal("%s: a clip of %g s gives no frame (n_fft %d, hop %d)", origin, d->clip_seconds, d->fe.n_fft, d->fe.hop);
    if (d->chunk_frames > frames)
      at_fatal("%s: chunk_frames = %d is more than the %ld frames of a %g s clip", origin, d->chunk_frames, frames,
               d->clip_seconds);
    if (frames > 10000000) at_fatal("%s: a clip of %g s is %ld frames: too long for a cache example", origin, d->clip_seconds, frames);
  }
  d->text = ini_to_text(ini, NULL);
  return d;
}

DatasetConfig *dataset_config_load(const char *path, const char *const *overrides, int n_overrides) {
  IniFile *ini = ini_load(path, k_singletons);
  for (int i = 0; i < n_overrides; i++) ini_override(ini, overrides[i]);
  DatasetConfig *d = from_ini(ini, path);
  ini_free(ini);
  return d;
}

DatasetConfig *dataset_config_from_text(const char *text, const char *origin) {
  IniFile *ini = ini_load_text(text, origin, k_singletons);
  DatasetConfig *d = from_ini(ini, origin);
  ini_free(ini);
  return d;
}

void dataset_config_free(DatasetConfig *d) {
  if (!d) return;
  free(d->text);
  free(d);
}

long dataset_clip_samples(const DatasetConfig *d) {
  if (d->clip_seconds <= 0) return 0;
  /* 29.12 s x 12 kHz = 349 440 samples: round, not truncate (29.12 * 12000
   * is 349439.99999999994 in binary floating point) */
  return (long)floor(d->clip_seconds * d->fe.sample_rate + 0.5);
}

int dataset_example_frames(const DatasetConfig *d) {
  if (d->chunk_frames > 0) return d->chunk_frames;
  return (int)frontend_frames(&d->fe, dataset_clip_samples(d));
}

float *dataset_cut_clip(const DatasetConfig *d, const float *signal, long n, long *out_n) {
  long fit = dataset_clip_samples(d);
  if (fit == 0) fit = n;
  float *out = at_malloc(sizeof(float) * (size_t)(fit > 0 ? fit : 1), "clip");
  if (n >= fit) {
    /* Choi: src[(n - n_fit) / 2 : (n + n_fit) / 2] */
    long start = d->clip == CLIP_CENTRE ? (n - fit) / 2 : 0;
    memcpy(out, signal + start, sizeof(float) * (size_t)fit);
  } else {
    memcpy(out, signal, sizeof(float) * (size_t)n);
    memset(out + n, 0, sizeof(float) * (size_t)(fit - n));
  }
  *out_n = fit;
  return out;
}

void dataset_feature_signature(const DatasetConfig *d, char *out, size_t size) {
  const FrontEndSpec *f = &d->fe;
  snprintf(out, size,
           "v1 sr=%.17g n_fft=%d hop=%d window=%d center=%d pad=%d power=%.17g repr=%d bins=%d mels=%d fmin=%.17g fmax=%.17g "
           "mel_scale=%d mel_norm=%d deltas=%d compression=%d db_ref=%.17g db_amin=%.17g db_top=%.17g log_c=%.17g "
           "clip=%.17g/%d chunk=%d",
           f->sample_rate, f->n_fft, f->hop, (int)f->window, f->center, (int)f->pad, f->power, (int)f->representation, f->n_bins, f->n_mels,
           f->fmin, f->fmax, (int)f->mel_scale, (int)f->mel_norm, f->mfcc_deltas, (int)f->compression, f->db_ref,
           f->db_amin, f->db_top_db, f->log_c, d->clip_seconds, (int)d->clip, d->chunk_frames);
}
