/* Checkpoints: a weights file (io/weights_h5.h, so `auratag eval` and
 * `auratag model` read it as is) plus everything needed to continue a run
 * exactly:
 *   / attribute  experiment = the resolved experiment config text
 *   / attribute  front_end = how the training cache was made (data/cache_front_end.h)
 *   / attribute  train_cache = which training cache: its example count and a
 *                hash of its ids (a resume refuses a replaced cache)
 *   /train       attributes: epoch, cursor, step, lr, schedule and selection
 *                state, partial-epoch loss sums, optimizer kind and steps
 *   /train/optimizer_1, optimizer_2   SGD momentum / Adam moments (float32)
 * The RNG needs no state: dropout masks and the loader's order and crops are
 * functions of (seed, step) and (seed, epoch, position). Written to a
 * temporary name, fsynced and renamed: a crash leaves the previous one. */
#ifndef AT_CHECKPOINT_H
#define AT_CHECKPOINT_H

#include "nn/model.h"
#include "nn/optimizer.h"

typedef struct TrainState {
  long epoch;  /* epoch in progress (0-based) */
  long cursor; /* batches of it already trained */
  long step;   /* optimizer steps so far */
  double lr;
  double best_metric; /* of the selection metric (NaN before the first) */
  long best_epoch, epochs_since_best;
  long plateau_bad_epochs;
  double pons_best_loss; /* lowest epoch training loss so far */
  long pons_rises, pons_total_rises;
  double epoch_loss_sum; /* partial epoch: sum of batch losses x rows */
  long epoch_rows;
  long nan_skipped;
  long finished; /* 1 when the run has ended (epochs done or stopped) */
  long ranks;    /* processes of the data-parallel job (resume with as many) */
} TrainState;

void checkpoint_save(const char *path, const Model *m, const Optimizer *opt, const TrainState *st,
                     const char *experiment_text, const char *front_end, const char *train_cache);
/* Loads weights, statistics, optimizer buffers and state into an allocated
 * model and optimizer of the same shape. */
void checkpoint_load(const char *path, Model *m, Optimizer *opt, TrainState *st);
/* The experiment config stored in a checkpoint (caller frees). */
char *checkpoint_read_experiment(const char *path);
/* The train_cache attribute (caller frees), or NULL in older checkpoints. */
char *checkpoint_read_train_cache(const char *path);

#endif
