#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "io/weights_h5.h"

int cli_take_override(ModelArgs *a, int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--set") != 0) return 0;
  if (*i + 1 >= argc) at_fatal("--set needs SECTION.KEY=VALUE");
  if (a->n_overrides == AT_MAX_OVERRIDES) at_fatal("at most %d --set options", AT_MAX_OVERRIDES);
  a->overrides[a->n_overrides++] = argv[++*i];
  return 1;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

Model *cli_load_model(const ModelArgs *a) {
  if (!a->config) at_fatal("no model config given");
  if (ends_with(a->config, ".h5")) {
    if (a->n_overrides) at_fatal("--set cannot change the model stored in a weights file");
    char *text = weights_read_config(a->config);
    Model *m = model_from_text(text, a->config);
    free(text);
    return m;
  }
  return model_from_config(a->config, a->overrides, a->n_overrides);
}
