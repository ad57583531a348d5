/* A run's evaluations and config as TensorBoard summaries (the writer:
 * train/tensorboard.h): the numbers eval_write_json writes, tagged
 * SPLIT/loss, SPLIT/roc_auc, SPLIT/roc_auc/TAG, ... (SPLIT/song/... for
 * song-level results), the test results as a Markdown table, and the
 * resolved config as text. The trainer calls these with its global step;
 * every function accepts a NULL writer. */
#ifndef AT_TENSORBOARD_RUN_H
#define AT_TENSORBOARD_RUN_H

#include "data/cache.h"
#include "train/evaluate.h"
#include "train/tensorboard.h"

/* Loss and metrics of an evaluation of `split` ("valid", "test") at `step`. */
void tb_log_eval(TbWriter *tb, long step, const char *split, const EvalResult *r, const Cache *c);
/* The test results as a Markdown table (tag "test/metrics"); `epoch`: the
 * 1-based epoch whose weights were tested. */
void tb_log_results_table(TbWriter *tb, long step, long epoch, const EvalResult *r, const Cache *c);
/* The resolved experiment config at step 0 (tag "config"), as a code block. */
void tb_log_config(TbWriter *tb, const char *config_text);

#endif
