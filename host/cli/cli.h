/* Command-line commands: each is a function taking (argc, argv) after the
 * command name and returning the process exit status. */
#ifndef AT_CLI_H
#define AT_CLI_H

#include <stdio.h>

#include "cli/cli_options.h"
#include "nn/model.h"

/* The version of auratag (what `auratag --version` prints, and exports record). */
#define AT_VERSION "0.2.0"

#define AT_MAX_OVERRIDES 64

/* Options common to commands that read a model config. */
typedef struct ModelArgs {
  const char *config; /* a model config (.ini) or a weights file (.h5) */
  const char *overrides[AT_MAX_OVERRIDES];
  int n_overrides;
} ModelArgs;

/* Records one --set SECTION.KEY=VALUE (at most AT_MAX_OVERRIDES). */
void cli_add_override(ModelArgs *a, const char *value);
/* Builds the model: from an INI config, or from the config stored in a
 * weights file (when the path ends in .h5). */
Model *cli_load_model(const ModelArgs *a);

/* A model to evaluate: a weights file, a checkpoint, or a run folder (its
 * best.h5, else last.h5), allocated on the CPU backend for `batch` rows. */
typedef struct EvalModel {
  Model *m;
  char path[4200];      /* the weights file read */
  char front_end[1024]; /* the training cache's front end ("" for plain weights files) */
  char *experiment;     /* a checkpoint's experiment config text (caller frees), or NULL */
  int crops, batch;     /* a checkpoint's [data] eval_crops and [train] batch (else 0 and 16), or the overrides */
} EvalModel;
/* The weights file a command reads: the file itself, a run folder's best.h5
 * (else last.h5), or an installed model's models/NAME.h5; fatal when none. */
void cli_resolve_weights(const char *weights_or_run, char *path, size_t size);
/* crops / batch overrides: 0 keeps the checkpoint's (or the default). Prints
 * "weights: PATH (model NAME)" to log (NULL: nothing). */
/* keep_outputs: every layer keeps its output (Model.keep_outputs), for commands that read inner layers.
 * The model has no gradient memory (Model.inference_only). */
void cli_load_for_eval(const char *weights_or_run, int crops_override, int batch_override, int keep_outputs, FILE *log,
                       EvalModel *out);

/* The front end a model was trained with: --cache's (cache_override), else
 * its run's training cache's; checked against the front end the checkpoint
 * recorded and against the model's input (one channel, as many rows as the
 * front end gives; `command` names the caller in messages). Fills setup
 * (dataset config, normalisation), cache_path and a one-line description;
 * returns the open cache (caller closes), or NULL for a weights file that
 * carries its own front end (dataset_config, from `auratag import`). */
struct PrepSetup;
struct Cache;
struct Cache *cli_front_end_for(const EvalModel *em, const char *command, const char *cache_override,
                                struct PrepSetup *setup, char *cache_path, size_t path_size, char *desc,
                                size_t desc_size);

/* Puts the cache's tags (or classes) in the order of the model's outputs:
 * the same set in another order is mapped by name, other tags are refused
 * (data/cache_tags.h). Weights that do not name their outputs (from `auratag
 * init`) take the cache's columns in order, with a note on stderr. */
void cli_match_cache_to_model(const EvalModel *em, struct Cache *c);

/* Refuses (exit 2) an output path that is one of the command's inputs, or
 * a run's checkpoint (RUN/last.h5, RUN/best.h5 beside RUN/config.ini):
 * writing it would destroy what the command reads or a run's progress.
 * inputs ends with NULL; a folder among them stands for its checkpoints. */
void cli_refuse_output_over_inputs(const CliCommand *command, const char *option, const char *out,
                                   const char *const *inputs);

/* The --set option every model-reading command takes. */
#define CLI_OPTION_SET {"set", 0, "SECTION.KEY=VALUE", NULL, "override a config value (repeatable)"}

/* Each command's table (usage, options, example), listed by `auratag help`. */
extern const CliCommand k_cli_model, k_cli_init, k_cli_train, k_cli_eval, k_cli_predict, k_cli_synth, k_cli_prep,
    k_cli_tag, k_cli_auralise, k_cli_stimuli, k_cli_activations, k_cli_selftest, k_cli_demo_data, k_cli_import, k_cli_models, k_cli_embed, k_cli_export, k_cli_probe, k_cli_report;

int cmd_model(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_prep(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_demo_data(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_auralise(int argc, char **argv);
int cmd_stimuli(int argc, char **argv);
int cmd_activations(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_probe(int argc, char **argv);

/* A file shipped with auratag (configs/...): from the working folder, else
 * beside the executable (./auratag or build/auratag in the source tree);
 * fatal, naming `command`, when neither has it. */
const char *cli_shipped_file(const char *rel, const char *command);
/* The same, NULL when neither has it. */
const char *cli_find_shipped_file(const char *rel);

#endif
