/* Dataset configs (configs/datasets/NAME.ini): how `auratag prep` turns a
 * list of audio files into spectrogram caches.
 *
 *   [dataset]
 *   name = mtat_choi
 *   kind = multi_label          ; or single_label
 *   top_tags = 50               ; 0: every tag of the training split (multi-label only)
 *   clip_seconds = 29.12        ; 0: the whole file
 *   clip = centre               ; or start: where a longer file is cut
 *   chunk_frames = 0            ; >0: non-overlapping chunks of this many frames
 *   normalise = none            ; or global (statistics of the training split)
 *   feature_dtype = float16     ; or float32
 *   [frontend]
 *   ...                         ; audio/frontend.h, frontend_spec_from_ini
 *
 * Every parameter is also written into the caches' root attributes, with the
 * resolved config text itself (`dataset_config`), so that `auratag tag` can
 * compute a model's input from any audio file exactly as its training cache
 * was made. */
#ifndef AT_DATASET_CONFIG_H
#define AT_DATASET_CONFIG_H

#include "audio/frontend.h"
#include "data/cache.h"

typedef enum { CLIP_CENTRE, CLIP_START } ClipMode;
typedef enum { NORMALISE_NONE, NORMALISE_GLOBAL } NormaliseMode;

typedef struct DatasetConfig {
  char origin[4096]; /* the file (or "cache X") it came from, for messages */
  char name[128];
  CacheLabelKind kind;
  int top_tags;
  double clip_seconds;
  ClipMode clip;
  int chunk_frames;
  NormaliseMode normalise;
  int feature_bytes; /* 2 (float16) or 4 (float32) */
  FrontEndSpec fe;
  char *text; /* the resolved config (includes spliced, --set applied) */
} DatasetConfig;

/* Reads and checks a dataset config strictly (file:line errors). */
DatasetConfig *dataset_config_load(const char *path, const char *const *overrides, int n_overrides);
/* The same from text (the `dataset_config` attribute of a cache). */
DatasetConfig *dataset_config_from_text(const char *text, const char *origin);
void dataset_config_free(DatasetConfig *d);

const char *dataset_kind_name(CacheLabelKind k);
const char *dataset_clip_name(ClipMode m);
const char *dataset_normalise_name(NormaliseMode m);

/* Samples of a clip at the front end's rate (0: whole files). */
long dataset_clip_samples(const DatasetConfig *d);
/* Frames of every example in the caches: chunk_frames, else the frames of
 * one clip. */
int dataset_example_frames(const DatasetConfig *d);

/* Cuts a signal to the clip rule (centre or start crop of a longer signal,
 * zeros appended to a shorter one, as Choi's audio_processor.py). Returns a
 * new buffer of *out_n samples (malloc'd); n itself when clip_seconds = 0. */
float *dataset_cut_clip(const DatasetConfig *d, const float *signal, long n, long *out_n);

/* A one-line text of everything that determines an example's features
 * (front end, clip, chunking): the key of prep's per-file work records. */
void dataset_feature_signature(const DatasetConfig *d, char *out, size_t size);

#endif
