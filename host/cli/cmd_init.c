/* auratag init CONFIG -o weights.h5 [--seed N]: seeded initial weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "io/weights_h5.h"

int cmd_init(int argc, char **argv) {
  ModelArgs a = {0};
  const char *out = NULL;
  unsigned long long seed = 1;
  for (int i = 0; i < argc; i++) {
    if (cli_take_override(&a, argc, argv, &i)) continue;
    if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      char *end;
      seed = strtoull(argv[++i], &end, 10);
      if (*end || end == argv[i]) at_fatal("init: --seed '%s' is not a non-negative integer", argv[i]);
    } else if (argv[i][0] == '-') at_fatal("init: unknown option '%s'", argv[i]);
    else if (!a.config) a.config = argv[i];
    else at_fatal("init: one config at a time ('%s' is extra)", argv[i]);
  }
  if (!a.config || !out) at_fatal("usage: auratag init CONFIG -o WEIGHTS.h5 [--seed N] [--set SECTION.KEY=VALUE ...]");
  Model *m = cli_load_model(&a);
  model_allocate(m, at_backend_cpu(), 1);
  model_init_weights(m, seed);
  weights_save(m, out);
  printf("wrote %s: model %s, %zu parameters, seed %llu\n", out, m->name, m->n_weights, seed);
  model_free(m);
  return 0;
}
