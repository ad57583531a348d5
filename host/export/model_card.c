#include "export/model_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/ini_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "data/cache.h"

void model_card_path(const char *export_path, char *out, size_t size) {
  const char *slash = strrchr(export_path, '/'), *dot = strrchr(export_path, '.');
  const int stem = dot && (!slash || dot > slash + 1) ? (int)(dot - export_path) : (int)strlen(export_path);
  snprintf(out, size, "%.*s.json", stem, export_path);
}

static void key(FILE *out, const char *name, int first) {
  fputs(first ? "\n  " : ",\n  ", out);
  json_string(out, name);
  fputs(": ", out);
}

static void string_or_null(FILE *out, const char *s) {
  if (s) json_string(out, s);
  else fputs("null", out);
}

/* The [data] splits of the experiment: their caches and, where the file is
 * still there, how many examples each holds. */
static void training_data(FILE *out, const char *experiment, const char *origin) {
  if (!experiment) {
    fputs("null", out);
    return;
  }
  static const char *const singletons[] = {"model", "data", "train", NULL};
  IniFile *ini = ini_load_text(experiment, origin, singletons);
  IniSection *s = ini_section(ini, "data");
  fputs("{", out);
  const char *splits[] = {"train", "valid", "test"};
  for (int i = 0; i < 3; i++) {
    const char *path = s ? ini_get_string(s, splits[i], "") : "";
    fprintf(out, "%s\"%s\": ", i ? ", " : "", splits[i]);
    if (!*path) {
      fputs("null", out);
      continue;
    }
    fputs("{\"cache\": ", out);
    json_string(out, path);
    if (access(path, R_OK) == 0) {
      Cache *c = cache_open(path);
      fprintf(out, ", \"examples\": %d", c->n);
      cache_close(c);
    }
    fputs("}", out);
  }
  const char *subset[] = {"fold", "valid_fold", "fraction", "fraction_seed", "per_class"};
  for (int i = 0; s && i < 5; i++) {
    const char *v = ini_get_string(s, subset[i], "");
    if (!*v) continue;
    fprintf(out, ", \"%s\": ", subset[i]);
    json_string(out, v);
  }
  fputs("}", out);
  ini_free(ini);
}

void model_card_write(const ModelCard *card, const char *path) {
  const Model *m = card->m;
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (!out) at_fatal("out of memory writing the model card");
  fputs("{", out);
  key(out, "format", 1), json_string(out, "auratag-model-card");
  key(out, "model", 0), json_string(out, m->name);
  key(out, "parameters", 0), fprintf(out, "%zu", m->n_weights);
  key(out, "model_config", 0), json_string(out, m->config_text);
  key(out, "input", 0);
  fprintf(out, "{\"shape\": [%d, %d, %d], \"layout\": \"channels, frequency bands, frames\", \"sample_rate\": ",
          m->input.c, m->input.h, m->input.w);
  if (card->sample_rate > 0) fprintf(out, "%.17g", card->sample_rate);
  else fputs("null", out);
  fputs(", \"front_end\": ", out), string_or_null(out, card->front_end);
  fputs(", \"normalisation\": ", out), string_or_null(out, card->normalisation);
  fputs(", \"dataset_config\": ", out), string_or_null(out, card->dataset_config);
  fputs("}", out);
  key(out, "output", 0);
  fprintf(out, "{\"activation\": \"%s\", \"classes\": %d, \"tags\": ", m->output == OUTPUT_SIGMOID ? "sigmoid" : "softmax",
          m->classes);
  if (m->output_names) {
    fputs("[", out);
    for (int j = 0; j < m->classes; j++) {
      if (j) fputs(", ", out);
      json_string(out, m->output_names[j]);
    }
    fputs("]", out);
  } else {
    fputs("null", out);
  }
  fputs("}", out);
  key(out, "training_data", 0), training_data(out, card->experiment, card->source);
  key(out, "results", 0), fputs(card->results_json ? card->results_json : "null", out);
  key(out, "source", 0), json_string(out, card->source);
  key(out, "export", 0);
  fputs("{\"file\": ", out), json_string(out, card->file);
  fputs(", \"format\": ", out), json_string(out, card->format);
  fputs("}", out);
  key(out, "auratag", 0);
  fputs("{\"version\": ", out), json_string(out, card->version);
  fputs(", \"commit\": ", out), json_string(out, card->commit);
  fputs("}\n}\n", out);
  if (fclose(out) != 0) at_fatal("out of memory writing the model card");
  at_write_text_file(path, text);
  free(text);
}
