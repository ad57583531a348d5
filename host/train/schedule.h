/* What happens after an epoch: model selection bookkeeping, the learning-rate
 * schedule, and whether to stop. A pure function of the config and the
 * state, so it is tested alone and resumes exactly. */
#ifndef AT_SCHEDULE_H
#define AT_SCHEDULE_H

#include "train/checkpoint.h"
#include "train/experiment.h"

/* score: the selection value of this epoch, higher is better (NaN: none).
 * Updates best_metric / best_epoch / epochs_since_best, the lr and the
 * schedule counters, and sets finished when a stopping rule fires (the epoch
 * count itself is checked by the caller). Returns 1 if this epoch is the
 * best so far. */
int schedule_after_epoch(const TrainConfig *tc, TrainState *st, double train_loss, double score);

#endif
