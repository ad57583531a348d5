/* auratag train CONFIG [--set K=V ...]  |  auratag train --resume RUN_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "train/trainer.h"

int cmd_train(int argc, char **argv) {
  ModelArgs a = {0};
  const char *resume = NULL;
  for (int i = 0; i < argc; i++) {
    if (cli_take_override(&a, argc, argv, &i)) continue;
    if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume = argv[++i];
    else if (argv[i][0] == '-') at_fatal("train: unknown option '%s'", argv[i]);
    else if (!a.config) a.config = argv[i];
    else at_fatal("train: one config at a time ('%s' is extra)", argv[i]);
  }
  if (!resume && !a.config)
    at_fatal("usage: auratag train EXPERIMENT.ini [--set SECTION.KEY=VALUE ...]\n"
             "       auratag train --resume checkpoints/RUN");
  if (resume && a.config)
    at_fatal("train --resume continues a run with its own stored config; it takes no CONFIG (only --set of "
             "train.max_steps, train.epochs and a few others)");
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
