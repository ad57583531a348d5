/* The model card every export writes beside its file (MODEL.json next to
 * MODEL.onnx; docs/export.md): what the model is, what it takes and gives,
 * what it was trained on and how well it did, and what wrote it. */
#ifndef AT_MODEL_CARD_H
#define AT_MODEL_CARD_H

#include "nn/model.h"

typedef struct ModelCard {
  const Model *m;
  const char *source;         /* the weights file exported */
  const char *file, *format;  /* the export written, and its format */
  const char *front_end;      /* one-line description, or NULL */
  double sample_rate;         /* Hz, 0: unknown */
  const char *normalisation;  /* "none", "global mean M std S", or NULL: unknown */
  const char *dataset_config; /* the weights' own dataset config text, or NULL */
  const char *experiment;     /* a checkpoint's experiment config text, or NULL */
  const char *results_json;   /* the run's results.json text, or NULL */
  const char *version, *commit;
} ModelCard;

/* `MODEL.onnx` -> `MODEL.json` (the same path with the extension replaced). */
void model_card_path(const char *export_path, char *out, size_t size);
void model_card_write(const ModelCard *card, const char *path);

#endif
