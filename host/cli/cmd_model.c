/* auratag model CONFIG: the layer table (shapes, parameters, MACs). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"

int cmd_model(int argc, char **argv) {
  ModelArgs a = {0};
  int print_config = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_take_override(&a, argc, argv, &i)) continue;
    if (!strcmp(argv[i], "--config")) print_config = 1;
    else if (argv[i][0] == '-') at_fatal("model: unknown option '%s'; usage: auratag model CONFIG [--set K=V ...] [--config]", argv[i]);
    else if (!a.config) a.config = argv[i];
    else at_fatal("model: one config at a time ('%s' is extra)", argv[i]);
  }
  if (!a.config) at_fatal("usage: auratag model CONFIG.ini|WEIGHTS.h5 [--set SECTION.KEY=VALUE ...] [--config]");
  Model *m = cli_load_model(&a);
  if (print_config) fputs(m->config_text, stdout);
  else model_print_summary(m, stdout);
  model_free(m);
  return 0;
}
