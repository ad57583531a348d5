/* Reading a model from its config: INI sections -> layers, checked strictly
 * (every complaint names file:line, the layer and the shapes), every shape
 * inferred. No memory on any backend yet (model_allocate). The sections are
 * those of the layer types in host/nn/layers/ plus [model]. */
#ifndef AT_MODEL_CONFIG_H
#define AT_MODEL_CONFIG_H

#include "nn/model.h"

/* A model config (with includes and --set overrides). */
Model *model_from_config(const char *path, const char *const *overrides, int n_overrides);
/* Same, from config text held in memory (e.g. the `config` attribute of a
 * weights file); origin names it in messages. */
Model *model_from_text(const char *text, const char *origin);

/* Sections a bigger config holds beside the model's (an experiment's [data]
 * and [train]): their types (NULL-terminated), left to their own reader, and
 * a hint naming them for the unknown-section message. */
typedef struct ForeignSections {
  const char *const *types;
  const char *hint; /* e.g. "[data], [train] in experiment configs" */
} ForeignSections;

/* From an already loaded config; foreign may be NULL. The caller checks the
 * foreign sections' keys. The model's text (Model.config_text) leaves them out. */
struct IniFile;
Model *model_from_ini(struct IniFile *ini, const ForeignSections *foreign);

/* Section types that keep their bare name as label: [model]. */
extern const char *const k_model_singletons[];

#endif
