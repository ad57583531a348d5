#include "train/schedule.h"

#include <math.h>

int schedule_after_epoch(const TrainConfig *tc, TrainState *st, double train_loss, double score) {
  const int improved = isfinite(score) && (isnan(st->best_metric) || score > st->best_metric);
  if (improved) {
    st->best_metric = score;
    st->best_epoch = st->epoch;
    st->epochs_since_best = 0;
  } else {
    st->epochs_since_best++;
  }
  switch (tc->schedule) {
    case SCHEDULE_NONE: break;
    case SCHEDULE_STEP: /* lr0 * gamma^floor(epochs done / step_size) */
      st->lr = tc->lr * pow(tc->gamma, (double)((st->epoch + 1) / tc->step_size));
      break;
    case SCHEDULE_PLATEAU: /* reduce on plateau of the selection metric */
      st->plateau_bad_epochs = improved ? 0 : st->plateau_bad_epochs + 1;
      if (st->plateau_bad_epochs >= tc->patience) {
        st->lr = fmax(st->lr * tc->factor, tc->min_lr);
        st->plateau_bad_epochs = 0;
      }
      break;
    case SCHEDULE_PONS:
      /* Pons et al. 2016 (jordipons/CBMI2016 runCBMI2016.py): count the epochs
       * whose training loss is not below the best so far; when the loss next
       * improves after more than pons_rises of them, halve lr and reset the
       * count; stop after pons_stop_rises such epochs in all. */
      if (train_loss < st->pons_best_loss) {
        if (st->pons_rises > tc->pons_rises) {
          st->lr *= 0.5;
          st->pons_rises = 0;
        }
        st->pons_best_loss = train_loss;
      } else {
        st->pons_rises++;
        st->pons_total_rises++;
        if (st->pons_total_rises >= tc->pons_stop_rises) st->finished = 1;
      }
      break;
  }
  if (tc->early_stop && st->epochs_since_best >= tc->early_stop) st->finished = 1;
  return improved;
}
