/* Command-line commands: each is a function taking (argc, argv) after the
 * command name and returning the process exit status. */
#ifndef AT_CLI_H
#define AT_CLI_H

#include "nn/model.h"

#define AT_MAX_OVERRIDES 64

/* Options common to commands that read a model config. */
typedef struct ModelArgs {
  const char *config; /* a model config (.ini) or a weights file (.h5) */
  const char *overrides[AT_MAX_OVERRIDES];
  int n_overrides;
} ModelArgs;

/* Consumes "--set K=V" at argv[*i]; returns 1 if it did. */
int cli_take_override(ModelArgs *a, int argc, char **argv, int *i);
/* Builds the model: from an INI config, or from the config stored in a
 * weights file (when the path ends in .h5). */
Model *cli_load_model(const ModelArgs *a);

int cmd_model(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_synth(int argc, char **argv);

#endif
