/* auratag train CONFIG [--set K=V ...]  |  auratag train --resume RUN_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "train/trainer.h"

static const CliOption k_options[] = {
    CLI_OPTION_SET,
    {"resume", 0, "RUN_DIR", NULL,
     "continue a run exactly where its last checkpoint left it (with --set of train.max_steps, train.epochs, "
     "train.log_every, train.checkpoint_every, train.collective_timeout, data.threads, data.prefetch only)"},
    {0},
};
const CliCommand k_cli_train = {
    "train", "EXPERIMENT.ini [--set SECTION.KEY=VALUE ...] | --resume RUN_DIR",
    "Trains a model on spectrogram caches into checkpoints/<run>/ (config.ini, log.jsonl, last.h5, best.h5, "
    "results.json, TensorBoard events in tb/). SIGINT/SIGTERM/SIGHUP write a checkpoint and stop; --resume continues.",
    k_options, "auratag train configs/experiments/demo_fcn3.ini --set train.run=fcn3-try2 --set train.lr=0.0005"};

int cmd_train(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_train, argc, argv, &p);
  cli_require_positionals(&p, 0, 1);
  ModelArgs a = {.config = p.n_positional ? p.positional[0] : NULL};
  const char *resume = NULL;
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "set")) cli_add_override(&a, p.value[i]);
    else if (cli_is(&p, i, "resume")) resume = p.value[i];
  }
  if (!resume && !a.config) cli_usage_error(&k_cli_train, "give an EXPERIMENT.ini, or --resume RUN_DIR");
  if (resume && a.config)
    cli_usage_error(&k_cli_train, "--resume continues a run with its own stored config; it takes no EXPERIMENT.ini");
  Experiment *e;
  if (resume) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.ini", resume);
    FILE *fp = fopen(path, "r");
    if (!fp) at_fatal("'%s' is not a run folder (no config.ini); runs live under checkpoints/", resume);
    fclose(fp);
    experiment_check_resume_overrides(a.overrides, a.n_overrides);
    e = experiment_load(path, a.overrides, a.n_overrides);
  } else {
    e = experiment_load(a.config, a.overrides, a.n_overrides);
  }
  int status = train_run(e, resume);
  experiment_free(e);
  return status;
}
