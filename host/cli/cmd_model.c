/* auratag model CONFIG: the layer table (shapes, parameters, MACs). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"

static const CliOption k_options[] = {
    CLI_OPTION_SET,
    {"config", 0, NULL, NULL, "print the resolved config instead of the layer table"},
    {0},
};
const CliCommand k_cli_model = {
    "model", "CONFIG.ini|WEIGHTS.h5 [--set SECTION.KEY=VALUE ...] [--config]",
    "Prints the layer table of a model: output shape (frequency x time x channels), parameters, forward MACs and "
    "totals. A weights file or checkpoint carries its model.",
    k_options, "auratag model configs/models/fcn4.ini --set conv1.filters=64"};

int cmd_model(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_model, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  ModelArgs a = {.config = p.positional[0]};
  int print_config = 0;
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "set")) cli_add_override(&a, p.value[i]);
    else if (cli_is(&p, i, "config")) print_config = 1;
  }
  Model *m = cli_load_model(&a);
  if (print_config) fputs(m->config_text, stdout);
  else model_print_summary(m, stdout);
  model_free(m);
  return 0;
}
