/* Experiment configs: a model config (usually `include`d) plus [data] and
 * [train] sections, all in one INI namespace so that `--set train.lr=1e-4` and
 * `--set conv1.filters=64` work alike.
 *
 *   include = ../models/pons_time.ini
 *   [data]
 *   train = ../../data/synth/train.h5    ; paths relative to this file
 *   valid = ../../data/synth/valid.h5
 *   [train]
 *   optimizer = sgd
 *   lr = 0.01
 *   ...                                  (docs/configs.md) */
#ifndef AT_EXPERIMENT_H
#define AT_EXPERIMENT_H

#include <stdint.h>

#include "nn/model.h"
#include "config/device_settings.h"
#include "train/layer_settings.h"

typedef enum { SCHEDULE_NONE, SCHEDULE_STEP, SCHEDULE_PLATEAU, SCHEDULE_PONS } ScheduleKind;
typedef enum { SELECT_ROC_AUC, SELECT_PR_AUC, SELECT_LOSS, SELECT_ACCURACY } SelectMetric;
typedef enum { ON_NAN_STOP, ON_NAN_SKIP } OnNan;
typedef enum { TRAIN_CLASSIFY, TRAIN_PROTOTYPICAL } TrainMode;

typedef struct DataConfig {
  char train[4096], valid[4096], test[4096]; /* "" when absent */
  int crop;          /* frames per training row; 0: the model's input width */
  int eval_crops;    /* equally spaced crops per example in evaluation */
  int fold;          /* -1: no folds; k: train on fold != k, test on fold == k */
  int valid_fold;    /* with fold >= 0: fold used for validation (-1: none) */
  int threads, prefetch;
  double fraction;         /* train on this fraction of the training split (nested subsets) */
  uint64_t fraction_seed;  /* which examples: the first fraction of a permutation from this seed */
  int per_class;           /* 0: all; k: k examples per class (per tag) from the same permutation */
} DataConfig;

typedef struct TrainConfig {
  char run[256]; /* run folder name under the runs root */
  char root[4096];
  uint64_t seed;
  char init[4096]; /* weights to start from (transfer learning), or "" */
  /* mode = prototypical (Snell et al. 2017; train/prototypical.h): each batch
   * is an episode of n_way classes x (k_shot support + n_query queries) from
   * the training split, the loss is on layer `embedding`'s output; `episodes`
   * per epoch (0: as many as fill the training split once). */
  TrainMode mode;
  int n_way, k_shot, n_query, episodes;
  int embedding_layer; /* resolved: [train] embedding, else the input of the classifier head */
  int optimizer; /* OptimizerKind */
  double lr, momentum, weight_decay, beta1, beta2, eps;
  int nesterov;
  int batch, epochs;
  int drop_last; /* leave out each epoch's last, incomplete batch */
  double clip_norm; /* 0: off */
  ScheduleKind schedule;
  int step_size;
  double gamma;            /* step: lr *= gamma every step_size epochs */
  int patience;            /* plateau */
  double factor, min_lr;   /* plateau */
  int pons_rises, pons_stop_rises;
  int early_stop; /* epochs without improvement of the selection metric; 0: off */
  SelectMetric select;
  OnNan on_nan;
  int checkpoint_every; /* steps between `last` checkpoints inside an epoch; 0: epoch ends only */
  int log_every;        /* steps between progress lines when not on a terminal */
  long max_steps;       /* stop after this many steps in total (0: no limit; for tests) */
  int micro_batches;    /* each rank's slice of a batch in this many parts, gradients accumulated */
  double collective_timeout; /* seconds a data-parallel collective may wait for the other ranks */
  int tensorboard;      /* write TensorBoard events into RUN/tb/ (train/tensorboard.h) */
  /* where it runs (docs/gpu.md); the command line's --backend / --device win */
  char backend[16];     /* auto | cpu | cuda */
  CudaOptions cuda;
} TrainConfig;

typedef struct Experiment {
  char path[4096];
  char *text; /* the resolved experiment config (everything) */
  Model *model;
  DataConfig data;
  TrainConfig train;
  LayerSettings *layers; /* [train] freeze and lr_scale */
} Experiment;

Experiment *experiment_load(const char *path, const char *const *overrides, int n_overrides);
/* From the text stored in a checkpoint (paths are absolute by then). */
Experiment *experiment_from_text(const char *text, const char *origin);
void experiment_free(Experiment *e);
/* The model of a model config or of an experiment config (its [data] and
 * [train] left unread), with --set overrides. */
Model *experiment_model_from_config(const char *path, const char *const *overrides, int n_overrides);

/* `train --resume RUN --set K=V`: only keys that cannot change the steps
 * already taken (how long to go on, how often to log and save, how many
 * loader threads); any other is a fatal error listing the allowed ones. */
void experiment_check_resume_overrides(const char *const *overrides, int n_overrides);

const char *select_metric_name(SelectMetric m);

/* The experiment's backend and CUDA settings, where the command line did not
 * set them (at_device_settings). */
void experiment_apply_device(const Experiment *e);

#endif
