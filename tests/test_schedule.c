/* The learning-rate schedules, model selection and stopping rules, epoch by
 * epoch, against hand-worked sequences. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "train/schedule.h"


static TrainState fresh(double lr) {
  TrainState st;
  memset(&st, 0, sizeof st);
  st.lr = lr;
  st.best_metric = NAN;
  st.pons_best_loss = INFINITY;
  st.best_epoch = -1;
  return st;
}

static void epoch(const TrainConfig *tc, TrainState *st, double loss, double score, int *improved) {
  *improved = schedule_after_epoch(tc, st, loss, score);
  st->epoch++;
}

int main(void) {
  int imp;
  { /* step: lr0 * gamma^floor(done / step_size) */
    TrainConfig tc = {.lr = 0.1, .schedule = SCHEDULE_STEP, .step_size = 2, .gamma = 0.5};
    TrainState st = fresh(0.1);
    double want[] = {0.1, 0.05, 0.05, 0.025, 0.025};
    for (int e = 0; e < 5; e++) {
      epoch(&tc, &st, 1.0, 0.5, &imp);
      CHECK(fabs(st.lr - want[e]) < 1e-15, "step: epoch %d lr %g, want %g", e, st.lr, want[e]);
    }
  }
  { /* plateau: patience 2, factor 0.1, floor 1e-3 */
    TrainConfig tc = {.lr = 1.0, .schedule = SCHEDULE_PLATEAU, .patience = 2, .factor = 0.1, .min_lr = 1e-3};
    TrainState st = fresh(1.0);
    double scores[] = {0.5, 0.6, 0.6, 0.55, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    double want[] = {1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3, 1e-3};
    for (int e = 0; e < 11; e++) {
      epoch(&tc, &st, 1.0, scores[e], &imp);
      CHECK(fabs(st.lr - want[e]) < 1e-12, "plateau: epoch %d lr %g, want %g", e, st.lr, want[e]);
    }
    CHECK(st.best_epoch == 4 && st.best_metric == 0.7, "plateau: best epoch %ld (%g)", st.best_epoch, st.best_metric);
  }
  { /* selection: equal score is not an improvement; NaN never is */
    TrainConfig tc = {.lr = 1.0};
    TrainState st = fresh(1.0);
    epoch(&tc, &st, 1.0, NAN, &imp);
    CHECK(!imp, "NaN score counted as best");
    epoch(&tc, &st, 1.0, 0.3, &imp);
    CHECK(imp && st.best_epoch == 1, "first finite score is the best");
    epoch(&tc, &st, 1.0, 0.3, &imp);
    CHECK(!imp && st.epochs_since_best == 1, "a tie is not an improvement");
  }
  { /* early stopping after 3 epochs without improvement */
    TrainConfig tc = {.lr = 1.0, .early_stop = 3};
    TrainState st = fresh(1.0);
    double scores[] = {0.1, 0.2, 0.2, 0.15, 0.19};
    for (int e = 0; e < 5; e++) {
      epoch(&tc, &st, 1.0, scores[e], &imp);
      CHECK(st.finished == (e == 4), "early stop at epoch %d: finished %ld", e, st.finished);
    }
  }
  { /* Pons: losses 5 4 [6 6 6] 3 -> the rise count (3) passed pons_rises (2): halve at the improvement */
    TrainConfig tc = {.lr = 0.01, .schedule = SCHEDULE_PONS, .pons_rises = 2, .pons_stop_rises = 5};
    TrainState st = fresh(0.01);
    double losses[] = {5, 4, 6, 6, 6, 3, 7, 2, 9, 9};
    double want_lr[] = {0.01, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005, 0.005};
    long want_finished[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1}; /* 5th rise at epoch 8 */
    for (int e = 0; e < 10; e++) {
      epoch(&tc, &st, losses[e], -losses[e], &imp);
      CHECK(fabs(st.lr - want_lr[e]) < 1e-15, "pons: epoch %d lr %g, want %g", e, st.lr, want_lr[e]);
      CHECK(st.finished == want_finished[e], "pons: epoch %d finished %ld (total rises %ld)", e, st.finished,
            st.pons_total_rises);
    }
    /* after 2 rises (not more than 2) an improvement does not halve */
    TrainState s2 = fresh(0.01);
    double l2[] = {5, 6, 6, 4};
    for (int e = 0; e < 4; e++) epoch(&tc, &s2, l2[e], 0, &imp);
    CHECK(s2.lr == 0.01 && s2.pons_best_loss == 4, "pons: 2 rises must not halve (lr %g)", s2.lr);
  }
  printf(failures ? "schedule tests: %d failures\n" : "PASS schedules, selection and stopping rules (%d failures)\n", failures);
  return failures ? 1 : 0;
}
