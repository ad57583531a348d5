/* auratag init CONFIG -o weights.h5 [--seed N]: seeded initial weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "io/weights_h5.h"

static const CliOption k_options[] = {
    {"out", 'o', "WEIGHTS.h5", NULL, "the weights file to write (required)"},
    {"seed", 0, "N", "1", "the seed of the initialisation"},
    CLI_OPTION_SET,
    {0},
};
const CliCommand k_cli_init = {
    "init", "CONFIG.ini -o WEIGHTS.h5 [--seed N] [--set SECTION.KEY=VALUE ...]",
    "Writes seeded initial weights (He / Glorot, as the papers' frameworks did).", k_options,
    "auratag init configs/models/pons_time.ini -o pons_time-init.h5 --seed 7"};

int cmd_init(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_init, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  ModelArgs a = {.config = p.positional[0]};
  const char *out = NULL;
  unsigned long long seed = 1;
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "set")) cli_add_override(&a, p.value[i]);
    else if (cli_is(&p, i, "out")) out = p.value[i];
    else if (cli_is(&p, i, "seed")) seed = (unsigned long long)cli_long(&p, i, 0, 0x7fffffffffffffffL);
  }
  if (!out) cli_usage_error(&k_cli_init, "-o WEIGHTS.h5 is required");
  const char *inputs[] = {a.config, NULL};
  cli_refuse_output_over_inputs(&k_cli_init, "-o", out, inputs);
  Model *m = cli_load_model(&a);
  model_allocate(m, at_backend_cpu(), 1);
  model_init_weights(m, seed);
  weights_save(m, out);
  printf("wrote %s: model %s, %zu parameters, seed %llu\n", out, m->name, m->n_weights, seed);
  model_free(m);
  return 0;
}
