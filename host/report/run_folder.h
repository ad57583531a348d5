/* A training run folder as the report reads it: what `auratag train` wrote
 * into checkpoints/<run>/ (config.ini, log.jsonl, best.h5 / last.h5,
 * results.json, test-predictions.h5) and what `auratag auralise --out
 * RUN/NAME` added. Every part may be missing (a run still training, one that
 * stopped, one from an older auratag); what is missing is recorded, and the
 * report says so in a sentence. Only a folder that is no run at all (no
 * config.ini and no log.jsonl) is an error. */
#ifndef AT_RUN_FOLDER_H
#define AT_RUN_FOLDER_H

#include <cjson/cJSON.h>

#include "train/predictions.h"

/* Per-epoch values from log.jsonl; NaN where an epoch did not log one. The
 * validation metrics are macro ROC-AUC and PR-AUC (multi-label) or accuracy
 * and balanced accuracy (single-label). */
typedef struct RunCurves {
  int n; /* epochs 1..n */
  double *epoch, *train_loss, *valid_loss, *valid_metric1, *valid_metric2, *lr;
} RunCurves;

typedef enum { RUN_FINISHED, RUN_TRAINING, RUN_STOPPED } RunStatus;

typedef struct RunFolder {
  char *dir, *name;
  char *config_text;   /* config.ini, or NULL */
  char *weights_path;  /* best.h5, else last.h5, or NULL */
  char *model_name, *model_table; /* from the weights' model, or NULL */
  long parameters;
  RunStatus status;
  long training_pid;   /* RUN_TRAINING: the process holding the folder */
  long last_step;      /* the last step log.jsonl records */
  char stop_detail[256]; /* RUN_STOPPED: the last event's type and detail, if any */
  int bad_log_lines;   /* lines of log.jsonl that are not JSON (a cut write) */
  int multi_label;     /* -1: unknown (nothing evaluated yet) */
  RunCurves curves;
  cJSON *results;      /* results.json, or NULL */
  cJSON *test_file;    /* test-eval.json or test.json (auratag eval --json), or NULL */
  const cJSON *test;   /* the test evaluation: results.json's "test", else that file's; or NULL */
  const char *test_from; /* the file it came from */
  double test_metric1, test_metric2; /* its macro ROC-AUC and PR-AUC, or accuracy and balanced accuracy; NaN if none */
  int has_predictions; /* test-predictions.h5 read, with labels */
  char predictions_note[512]; /* why there are no curves, when there are none */
  Predictions predictions;
  char **auralisations; /* subfolders holding an auralisation (original.wav) */
  int n_auralisations;
} RunFolder;

/* The number of a JSON object's key, NaN when absent or null. */
double json_number_at(const cJSON *o, const char *key);
/* qsort's comparison of two strings (char *). */
int compare_names(const void *a, const void *b);

/* Reads what exists; stops with a clear message only when `dir` is not a
 * run folder or a file in it is corrupt beyond reading. */
void run_folder_read(const char *dir, RunFolder *r);
void run_folder_free(RunFolder *r);

/* The metric names of the curves and the comparison: "macro ROC-AUC" /
 * "macro PR-AUC" or "accuracy" / "balanced accuracy". */
const char *run_metric1_name(const RunFolder *r);
const char *run_metric2_name(const RunFolder *r);

#endif
