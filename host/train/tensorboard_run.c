/* A run's evaluations and config as TensorBoard summaries (see
 * tensorboard_run.h). */
#include "train/tensorboard_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void tb_put(TbWriter *tb, long step, double value, const char *fmt, ...) AT_PRINTF(4, 5);
static void tb_put(TbWriter *tb, long step, double value, const char *fmt, ...) {
  if (!tb) return;
  char tag[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tag, sizeof tag, fmt, ap);
  va_end(ap);
  tb_scalar(tb, tag, step, value);
}

/* What eval_write_json writes under "clip" (or "song"): macro and per-tag
 * ROC-AUC and PR-AUC, or accuracy, balanced accuracy and per-class recall. */
static void tb_metrics(TbWriter *tb, long step, const char *prefix, int multi_label, const TagMetrics *tm,
                       const ClassMetrics *cm, const Cache *c) {
  if (multi_label) {
    tb_put(tb, step, tm->macro_roc_auc, "%s/roc_auc", prefix);
    tb_put(tb, step, tm->macro_pr_auc, "%s/pr_auc", prefix);
    for (int j = 0; j < tm->n_tags; j++) {
      tb_put(tb, step, tm->roc_auc[j], "%s/roc_auc/%s", prefix, c->tags[j]);
      tb_put(tb, step, tm->pr_auc[j], "%s/pr_auc/%s", prefix, c->tags[j]);
    }
  } else {
    tb_put(tb, step, cm->accuracy, "%s/accuracy", prefix);
    tb_put(tb, step, cm->balanced_accuracy, "%s/balanced_accuracy", prefix);
    for (int j = 0; j < cm->n_classes; j++) tb_put(tb, step, cm->per_class_accuracy[j], "%s/accuracy/%s", prefix, c->tags[j]);
  }
}

void tb_log_eval(TbWriter *tb, long step, const char *split, const EvalResult *r, const Cache *c) {
  tb_put(tb, step, r->loss, "%s/loss", split);
  tb_metrics(tb, step, split, r->multi_label, &r->tags, &r->classes, c);
  if (r->n_songs) {
    char song[64];
    snprintf(song, sizeof song, "%s/song", split);
    tb_metrics(tb, step, song, r->multi_label, &r->song_tags, &r->song_classes, c);
  }
}

/* A table cell: '|' would end it. */
static void markdown_cell(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '|') fputc('\\', out);
    fputc(*s, out);
  }
}

void tb_log_results_table(TbWriter *tb, long step, long epoch, const EvalResult *r, const Cache *c) {
  if (!tb) return;
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (!out) return; /* no memory for the text: TensorBoard is a view, the run goes on */
  fprintf(out, "%d examples of `%s`, the weights of epoch %ld\n\n", r->n, c->path, epoch);
  if (r->multi_label) {
    fprintf(out, "| tag | positives | ROC-AUC | PR-AUC |\n|---|---:|---:|---:|\n");
    for (int j = 0; j < r->n_tags; j++) {
      fprintf(out, "| ");
      markdown_cell(out, c->tags[j]);
      fprintf(out, " | %d | %.4f | %.4f |\n", r->tags.positives[j], r->tags.roc_auc[j], r->tags.pr_auc[j]);
    }
    fprintf(out, "| **macro** | | **%.4f** | **%.4f** |\n", r->tags.macro_roc_auc, r->tags.macro_pr_auc);
  } else {
    fprintf(out, "| class | recall |\n|---|---:|\n");
    for (int j = 0; j < r->n_tags; j++) {
      fprintf(out, "| ");
      markdown_cell(out, c->tags[j]);
      fprintf(out, " | %.4f |\n", r->classes.per_class_accuracy[j]);
    }
    fprintf(out, "| **accuracy** | **%.4f** |\n| **balanced accuracy** | **%.4f** |\n", r->classes.accuracy,
            r->classes.balanced_accuracy);
  }
  fclose(out);
  tb_text(tb, "test/metrics", step, text);
  free(text);
}

void tb_log_config(TbWriter *tb, const char *config_text) {
  if (!tb) return;
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (!out) return; /* no memory for the text: TensorBoard is a view, the run goes on */
  for (const char *line = config_text; *line;) {
    const size_t n = strcspn(line, "\n");
    fprintf(out, "    %.*s\n", (int)n, line);
    line += n + (line[n] == '\n');
  }
  fclose(out);
  tb_text(tb, "config", 0, text);
  free(text);
}
