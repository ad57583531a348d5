/* One run's section of the report: status, curves, test results, per-tag
 * curves, song level, auralisations, model, config. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/html.h"
#include "report/report_sections.h"
#include "train/metrics.h"

enum { MEDIA_LIMIT = 32 << 20, CURVE_POINTS = 400 };

static void status_paragraph(FILE *out, const RunFolder *r) {
  const RunCurves *c = &r->curves;
  if (r->status == RUN_FINISHED) {
    fprintf(out, "<p class=\"status\">Finished: %d epoch%s, %ld steps", c->n, c->n == 1 ? "" : "s", r->last_step);
    double best_epoch = json_number_at(r->results, "best_epoch"), best = json_number_at(r->results, "best_score");
    const cJSON *select = cJSON_GetObjectItemCaseSensitive(r->results, "select");
    if (isfinite(best_epoch) && cJSON_IsString(select)) {
      /* the selection score is the negated loss when the loss selects (higher is better there) */
      const int by_loss = !strcmp(select->valuestring, "loss");
      fprintf(out, "; the weights kept (best.h5) are those of epoch %.0f, chosen by %s", best_epoch,
              by_loss ? "the lowest loss" : "validation ");
      if (!by_loss) html_text(out, select->valuestring);
      if (isfinite(best)) fprintf(out, " (%.4f)", by_loss ? -best : best);
    }
    fputs(".</p>\n", out);
  } else if (r->status == RUN_TRAINING) {
    fprintf(out, "<p class=\"partial\">Partial: this run is still training");
    if (r->training_pid > 0) fprintf(out, " (process %ld holds the folder)", r->training_pid);
    fprintf(out, "; this report shows the %d epoch%s logged so far (step %ld)%s. Run <code>auratag report</code> "
                 "again when it ends.</p>\n",
            c->n, c->n == 1 ? "" : "s", r->last_step,
            r->test ? "; the test results below are those of an earlier end of the run (results.json) and will be "
                      "replaced"
                    : " and has no test results yet");
  } else {
    fprintf(out, "<p class=\"partial\">Partial: this run stopped before it finished (%d epoch%s logged, step %ld",
            c->n, c->n == 1 ? "" : "s", r->last_step);
    if (r->stop_detail[0]) fputs("; its last event before that: ", out), html_text(out, r->stop_detail);
    fputs("). <code>auratag train --resume ", out);
    html_text(out, r->dir);
    fputs("</code> continues it.</p>\n", out);
  }
  if (r->bad_log_lines)
    fprintf(out, "<p class=\"note\">%d line%s of log.jsonl %s not JSON (a write cut short) and %s left out.</p>\n",
            r->bad_log_lines, r->bad_log_lines == 1 ? "" : "s", r->bad_log_lines == 1 ? "is" : "are",
            r->bad_log_lines == 1 ? "was" : "were");
}

static void training_curves(FILE *out, const RunFolder *r) {
  const RunCurves *c = &r->curves;
  fputs("<h3>Training</h3>\n", out);
  if (c->n == 0) {
    fputs("<p class=\"note\">No epoch has finished yet: there are no curves to draw.</p>\n", out);
    return;
  }
  int validated = 0;
  for (int i = 0; i < c->n; i++) validated |= !isnan(c->valid_loss[i]) || !isnan(c->valid_metric1[i]);
  fputs("<div class=\"charts\">", out);
  ChartSeries loss[2] = {{"training", c->epoch, c->train_loss, c->n, 0, 0, 1},
                         {"validation", c->epoch, c->valid_loss, c->n, 1, 0, 1}};
  Chart chart = chart_defaults("Loss", "epoch", "loss (mean per example)");
  chart.legend = chart.integer_x = 1;
  chart.width = 400;
  report_chart(out, &chart, loss, validated ? 2 : 1, "loss against epochs");
  if (validated && r->multi_label >= 0) {
    ChartSeries metric[2] = {{run_metric1_name(r), c->epoch, c->valid_metric1, c->n, 2, 0, 1},
                             {run_metric2_name(r), c->epoch, c->valid_metric2, c->n, 3, 0, 1}};
    chart = chart_defaults("Validation", "epoch", r->multi_label ? "area under the curve" : "share of examples");
    chart.legend = chart.integer_x = 1;
    chart.width = 400;
    report_chart(out, &chart, metric, 2, "validation metrics against epochs");
  }
  double lo = INFINITY, hi = 0;
  for (int i = 0; i < c->n; i++)
    if (c->lr[i] > 0) lo = fmin(lo, c->lr[i]), hi = fmax(hi, c->lr[i]);
  ChartSeries lr = {"learning rate", c->epoch, c->lr, c->n, 4, 0, 1};
  chart = chart_defaults("Learning rate", "epoch", "learning rate");
  chart.integer_x = 1;
  chart.width = 360;
  chart.log_y = hi > 20 * lo;
  if (!chart.log_y) chart.y_min = 0;
  report_chart(out, &chart, &lr, 1, "learning rate against epochs");
  fputs("</div>\n", out);
  if (!validated)
    fputs("<p class=\"note\">No validation split: the epoch kept was chosen by its training loss.</p>\n", out);
}

/* The rows of a per-tag table from an evaluation's "tags" array. */
static void tag_table(FILE *out, const RunFolder *r, const cJSON *metrics, const char *kind) {
  fputs("<p>Macro ROC-AUC <b>", out);
  report_number(out, json_number_at(metrics, "macro_roc_auc"), 4);
  fputs("</b>, macro PR-AUC <b>", out);
  report_number(out, json_number_at(metrics, "macro_pr_auc"), 4);
  fputs("</b>", out);
  double excluded = json_number_at(metrics, "excluded_roc_auc");
  if (excluded > 0) fprintf(out, " (%.0f tag%s without positives or negatives left out)", excluded, excluded == 1 ? "" : "s");
  fprintf(out, ". Click a column's heading to sort by it.</p>\n<table class=\"sortable\" data-table=\"%s\" data-run=\"", kind);
  html_text(out, r->name);
  fputs("\"><thead><tr><th data-key=\"tag\" data-type=\"text\">tag</th><th data-key=\"positives\">positives</th>"
        "<th data-key=\"roc_auc\">ROC-AUC</th><th data-key=\"pr_auc\">PR-AUC</th></tr></thead><tbody>\n",
        out);
  const cJSON *tag;
  cJSON_ArrayForEach(tag, cJSON_GetObjectItemCaseSensitive(metrics, "tags")) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(tag, "tag");
    const char *text = cJSON_IsString(name) ? name->valuestring : "?";
    fputs("<tr data-tag=\"", out);
    html_text(out, text);
    fputs("\">", out);
    report_text_cell(out, text);
    report_number_cell(out, json_number_at(tag, "positives"), 0);
    report_number_cell(out, json_number_at(tag, "roc_auc"), 4);
    report_number_cell(out, json_number_at(tag, "pr_auc"), 4);
    fputs("</tr>\n", out);
  }
  fputs("</tbody></table>\n", out);
}

/* Per-class recall and the confusion matrix of a single-label evaluation. */
static void class_results(FILE *out, const RunFolder *r, const cJSON *metrics, const char *kind, const char *what) {
  fputs("<p>Accuracy <b>", out);
  report_number(out, json_number_at(metrics, "accuracy"), 4);
  fputs("</b>, balanced accuracy <b>", out);
  report_number(out, json_number_at(metrics, "balanced_accuracy"), 4);
  fputs("</b>.</p>\n", out);
  const cJSON *recall = cJSON_GetObjectItemCaseSensitive(metrics, "per_class_accuracy");
  const cJSON *confusion = cJSON_GetObjectItemCaseSensitive(metrics, "confusion");
  int n = cJSON_GetArraySize(recall);
  if (n <= 0 || cJSON_GetArraySize(confusion) != n) return;
  const char **labels = at_malloc((size_t)n * sizeof *labels, "class names");
  long *counts = at_malloc((size_t)n * (size_t)n * sizeof *counts, "confusion matrix");
  fprintf(out, "<div class=\"charts\"><table class=\"sortable\" data-table=\"%s\" data-run=\"", kind);
  html_text(out, r->name);
  fputs("\"><thead><tr><th data-key=\"class\" data-type=\"text\">class</th><th data-key=\"examples\">examples</th>"
        "<th data-key=\"recall\">recall</th></tr></thead><tbody>\n",
        out);
  int i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, recall) {
    labels[i] = item->string ? item->string : "?";
    const cJSON *row = cJSON_GetArrayItem(confusion, i);
    long total = 0;
    for (int j = 0; j < n; j++) {
      const cJSON *v = cJSON_GetArrayItem(row, j);
      counts[(size_t)i * n + j] = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
      total += counts[(size_t)i * n + j];
    }
    fputs("<tr data-tag=\"", out);
    html_text(out, labels[i]);
    fputs("\">", out);
    report_text_cell(out, labels[i]);
    report_number_cell(out, (double)total, 0);
    report_number_cell(out, cJSON_IsNumber(item) ? item->valuedouble : NAN, 4);
    fputs("</tr>\n", out);
    i++;
  }
  fputs("</tbody></table>\n", out);
  char title[128];
  snprintf(title, sizeof title, "Confusion matrix (%s)", what);
  char *svg = svg_heatmap(title, "true class", "predicted class", labels, n, counts);
  html_svg(out, svg, title);
  free(svg);
  fputs("</div>\n", out);
  free(labels);
  free(counts);
}

/* Thins a curve in [0, 1]^2 to about CURVE_POINTS points per unit of travel:
 * a point is kept when it moved by at least 1/CURVE_POINTS in x or y from the
 * last one kept; the last is always kept. Below 1,000 points nothing is left
 * out, so the drawn areas are exactly the metrics. */
static int thin_curve(double *x, double *y, int n) {
  if (n < 1000) return n;
  int kept = 0;
  for (int i = 0; i < n; i++) {
    if (kept && i < n - 1 && fabs(x[i] - x[kept - 1]) < 1.0 / CURVE_POINTS &&
        fabs(y[i] - y[kept - 1]) < 1.0 / CURVE_POINTS)
      continue;
    x[kept] = x[i], y[kept] = y[i], kept++;
  }
  return kept;
}

/* ROC and precision-recall curves of every tag, as small multiples. */
static void tag_curves(FILE *out, const RunFolder *r) {
  const Predictions *p = &r->predictions;
  fputs("<h4>ROC and precision-recall curves per tag</h4>\n", out);
  if (!r->has_predictions) {
    fputs("<p class=\"note\">No curves: ", out);
    html_text(out, r->predictions_note);
    fputs(".</p>\n", out);
    return;
  }
  long *tp = at_malloc((size_t)(p->n ? p->n : 1) * sizeof *tp, "curve"), *fp = at_malloc((size_t)(p->n ? p->n : 1) * sizeof *fp, "curve");
  double *x = at_malloc(2 * (size_t)(p->n + 1) * sizeof *x, "curve"), *y = at_malloc(2 * (size_t)(p->n + 1) * sizeof *y, "curve");
  fputs("<p>From test-predictions.h5: one operating point per distinct score (the ROC curve joins them, the "
        "precision-recall curve is the step function whose area is the average precision); dashed: chance (ROC) or "
        "the share of positives (precision-recall).</p>\n<div class=\"multiples\">\n",
        out);
  /* the titles quote the table (the same tags in the same order: run_folder.c
   * checks it), which the curves' areas equal */
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->test, "clip"), "tags");
  for (int j = 0; j < p->n_tags; j++) {
    const cJSON *tag = cJSON_GetArrayItem(tags, j);
    int points = metric_operating_points(p->probs + j, p->labels + j, p->n, p->n_tags, tp, fp);
    long pos = points ? tp[points - 1] : 0, neg = points ? fp[points - 1] : 0;
    char title[160];
    if (!pos || !neg) {
      snprintf(title, sizeof title, "%s: no %s in the test split", p->tags[j], pos ? "negatives" : "positives");
      fputs("<p class=\"note\">", out), html_text(out, title), fputs("</p>\n", out);
      continue;
    }
    x[0] = y[0] = 0;
    for (int k = 0; k < points; k++) x[k + 1] = (double)fp[k] / neg, y[k + 1] = (double)tp[k] / pos;
    int n = thin_curve(x, y, points + 1);
    snprintf(title, sizeof title, "%s: ROC-AUC %.3f", p->tags[j], json_number_at(tag, "roc_auc"));
    ChartSeries roc = {NULL, x, y, n, 0, 0, 0};
    Chart chart = chart_defaults(title, "false positive rate", "true positive rate");
    chart.width = 250, chart.height = 230;
    chart.x_min = chart.y_min = 0, chart.x_max = chart.y_max = 1;
    chart.diagonal = 1;
    fputs("<figure>", out);
    report_chart(out, &chart, &roc, 1, title);
    /* (recall, precision) of each point, then the steps: precision P_k held
     * from recall R_(k-1) to R_k, as average precision sums them */
    for (int k = 0; k < points; k++) x[k] = (double)tp[k] / pos, y[k] = (double)tp[k] / (double)(tp[k] + fp[k]);
    n = thin_curve(x, y, points);
    for (int k = n - 1; k >= 0; k--) {
      x[2 * k + 1] = x[k], y[2 * k + 1] = y[k];
      y[2 * k] = y[k];
    }
    for (int k = 0; k < n; k++) x[2 * k] = k ? x[2 * k - 1] : 0.0;
    n *= 2;
    double base_x[2] = {0, 1}, base_y[2] = {(double)pos / (pos + neg), (double)pos / (pos + neg)};
    ChartSeries pr[2] = {{NULL, x, y, n, 1, 0, 0}, {NULL, base_x, base_y, 2, 7, 1, 0}};
    snprintf(title, sizeof title, "%s: PR-AUC %.3f", p->tags[j], json_number_at(tag, "pr_auc"));
    chart = chart_defaults(title, "recall", "precision");
    chart.width = 250, chart.height = 230;
    chart.x_min = chart.y_min = 0, chart.x_max = chart.y_max = 1;
    report_chart(out, &chart, pr, 2, title);
    fputs("</figure>\n", out);
  }
  fputs("</div>\n", out);
  free(tp), free(fp), free(x), free(y);
}

static void test_results(FILE *out, const RunFolder *r) {
  fputs("<h3>Test results</h3>\n", out);
  if (!r->test) {
    fputs("<p class=\"note\">This run has no test evaluation", out);
    if (r->status != RUN_FINISHED) fputs(" yet: training writes it to results.json when it ends.</p>\n", out);
    else {
      fputs(": its experiment has no test split. <code>auratag eval ", out);
      html_text(out, r->dir);
      fputs(" TEST.h5 --json ", out);
      html_text(out, r->dir);
      fputs("/test-eval.json</code> evaluates it, and the report shows that.</p>\n", out);
    }
    return;
  }
  const cJSON *cache = cJSON_GetObjectItemCaseSensitive(r->test, "cache");
  fputs("<p>", out);
  report_number(out, json_number_at(r->test, "examples"), 0);
  fputs(" examples of <code>", out);
  html_text(out, cJSON_IsString(cache) ? cache->valuestring : "?");
  fputs("</code>, evaluated with the kept weights (", out);
  html_text(out, r->test_from);
  fputs("); mean loss ", out);
  report_number(out, json_number_at(r->test, "loss"), 4);
  fputs(".</p>\n", out);
  const cJSON *clip = cJSON_GetObjectItemCaseSensitive(r->test, "clip");
  if (r->multi_label == 1) {
    tag_table(out, r, clip, "test-tags");
    tag_curves(out, r);
  } else {
    class_results(out, r, clip, "test-classes", "test clips");
  }
  const cJSON *song = cJSON_GetObjectItemCaseSensitive(r->test, "song");
  if (cJSON_IsObject(song)) {
    fputs("<h4>Song level</h4>\n<p>", out);
    report_number(out, json_number_at(r->test, "songs"), 0);
    fputs(" songs: each song's score is the mean of its chunks' (tags) or their majority vote (classes).</p>\n", out);
    if (r->multi_label == 1) tag_table(out, r, song, "song-tags");
    else class_results(out, r, song, "song-classes", "songs");
  }
}

static int is_feature_sound(const char *name) {
  size_t n = strlen(name);
  return n > 4 && !strcmp(name + n - 4, ".wav") && strcmp(name, "original.wav");
}

/* A picture or sound of the gallery, or a note that it is missing. */
static void media(FILE *out, const char *path, const char *alt) {
  if (html_file(out, path, alt, MEDIA_LIMIT)) return;
  const char *slash = strrchr(path, '/');
  fputs("<span class=\"note\">", out);
  html_text(out, slash ? slash + 1 : path);
  fputs(" is missing, unreadable or over 32 MiB</span>", out);
}

static void auralisation(FILE *out, const RunFolder *r, const char *sub) {
  char dir[4200], path[4800];
  snprintf(dir, sizeof dir, "%s/%s", r->dir, sub);
  fputs("<h4>", out), html_text(out, sub), fputs("</h4>\n<div class=\"charts\">", out);
  snprintf(path, sizeof path, "%s/input.png", dir);
  media(out, path, "the model's input (spectrogram)");
  snprintf(path, sizeof path, "%s/original.wav", dir);
  fputs("<p>original, resynthesised: ", out);
  media(out, path, "original");
  fputs("</p></div>\n", out);
  DIR *d = opendir(dir);
  if (!d) return;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (is_feature_sound(e->d_name)) {
      if (n == cap) names = at_realloc(names, (size_t)(cap = cap ? 2 * cap : 8) * sizeof *names, "auralisation files");
      names[n++] = at_strdup(e->d_name);
    }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, compare_names);
  fputs("<table class=\"gallery\"><thead><tr><th>feature</th><th>audio</th><th>deconvolved map</th>"
        "<th>masked spectrogram</th></tr></thead><tbody>\n",
        out);
  for (int i = 0; i < n; i++) {
    char stem[300];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[i]) - 4), names[i]);
    fputs("<tr><td>", out), html_text(out, stem), fputs("</td><td>", out);
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    media(out, path, stem);
    fputs("</td><td>", out);
    snprintf(path, sizeof path, "%s/%s_deconv.png", dir, stem);
    media(out, path, "deconvolved map");
    fputs("</td><td>", out);
    snprintf(path, sizeof path, "%s/%s_masked.png", dir, stem);
    media(out, path, "masked spectrogram");
    fputs("</td></tr>\n", out);
    free(names[i]);
  }
  fputs("</tbody></table>\n", out);
  free(names);
}

void report_run_section(FILE *out, const RunFolder *r, int index) {
  /* ids by position: two runs may share a folder name (a/s1, b/s1) */
  fputs("<section class=\"run\" data-run=\"", out);
  html_text(out, r->name);
  fprintf(out, "\" id=\"run-%d\">\n<h2>", index);
  html_text(out, r->name);
  fputs("</h2>\n<p class=\"where\"><code>", out);
  html_text(out, r->dir);
  fputs("</code>", out);
  if (r->model_name) {
    fputs(" &middot; model <b>", out);
    html_text(out, r->model_name);
    fprintf(out, "</b>, %ld parameters", r->parameters);
  }
  fputs("</p>\n", out);
  status_paragraph(out, r);
  training_curves(out, r);
  test_results(out, r);
  if (r->n_auralisations) {
    fputs("<h3>Auralisation</h3>\n<p>What single features of a layer respond to (Choi et al. 2016b): each feature's "
          "deconvolved map masks the excerpt's spectrogram, and the masked spectrogram is heard.</p>\n",
          out);
    for (int i = 0; i < r->n_auralisations; i++) auralisation(out, r, r->auralisations[i]);
  }
  fputs("<h3>Model</h3>\n", out);
  if (r->model_table) {
    fputs("<pre class=\"model\">", out);
    html_text(out, r->model_table);
    fputs("</pre>\n", out);
  } else {
    fputs("<p class=\"note\">No weights yet (neither best.h5 nor last.h5): the layer table comes from them.</p>\n", out);
  }
  fputs("<details><summary>Config (config.ini, as resolved when training started)</summary>\n<pre>", out);
  html_text(out, r->config_text ? r->config_text : "(no config.ini)");
  fputs("</pre></details>\n</section>\n", out);
}
