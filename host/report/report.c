/* The report page (report/report.h): head, style and the sorting script,
 * the comparison of several runs, then a section per run. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/files.h"
#include "report/html.h"
#include "report/report_sections.h"

enum { FIGURE_LIMIT = 32 << 20 };

static const char k_style[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1300px;padding:0 16px;color:#222}"
    "h1{margin-bottom:4px}h2{border-top:2px solid #ccc;padding-top:12px;margin-top:36px}"
    "table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}th{background:#f2f2f2}"
    "table.sortable th{cursor:pointer;user-select:none}table.sortable th[aria-sort=ascending]::after{content:' \\25B2'}"
    "table.sortable th[aria-sort=descending]::after{content:' \\25BC'}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}"
    ".multiples{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;display:flex;gap:2px}"
    ".partial{background:#fff3cd;border:1px solid #e0c36a;padding:8px}.note{color:#555;font-style:italic}"
    "pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}img{max-width:100%;height:auto}"
    "table.gallery td,table.gallery th{vertical-align:top;text-align:left}table.gallery img{max-width:520px}"
    "code{background:#f3f3f3;padding:0 3px}";

/* Sorting: a click on a heading orders the rows by that column's data-value
 * (numbers, or text where the heading says data-type="text"), descending
 * first for numbers, ascending first for text; a second click reverses.
 * Undefined values (NaN) stay last. */
static const char k_script[] =
    "document.querySelectorAll('table.sortable').forEach(function(table){"
    "var heads=table.querySelectorAll('thead th');"
    "heads.forEach(function(th,col){th.addEventListener('click',function(){"
    "var text=th.getAttribute('data-type')==='text';"
    "var current=th.getAttribute('aria-sort');"
    "var ascending=current?current==='descending':text;"
    "heads.forEach(function(h){h.removeAttribute('aria-sort');});"
    "th.setAttribute('aria-sort',ascending?'ascending':'descending');"
    "var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);"
    "rows.sort(function(a,b){var x=a.cells[col].getAttribute('data-value'),y=b.cells[col].getAttribute('data-value');"
    "if(text){return ascending?x.localeCompare(y):y.localeCompare(x);}"
    "x=parseFloat(x);y=parseFloat(y);if(isNaN(x))return isNaN(y)?0:1;if(isNaN(y))return -1;"
    "return ascending?x-y:y-x;});"
    "rows.forEach(function(r){body.appendChild(r);});});});});";

void report_number(FILE *out, double v, int decimals) {
  if (isnan(v)) fputs("&ndash;", out);
  else fprintf(out, "%.*f", decimals, v);
}

void report_number_cell(FILE *out, double v, int decimals) {
  if (isnan(v)) {
    fputs("<td data-value=\"NaN\">&ndash;</td>", out);
    return;
  }
  fprintf(out, "<td data-value=\"%.17g\">", v);
  report_number(out, v, decimals);
  fputs("</td>", out);
}

void report_text_cell(FILE *out, const char *text) {
  fputs("<td data-value=\"", out);
  html_text(out, text);
  fputs("\">", out);
  html_text(out, text);
  fputs("</td>", out);
}

void report_chart(FILE *out, const Chart *chart, const ChartSeries *series, int n_series, const char *alt) {
  char *svg = svg_line_chart(chart, series, n_series);
  html_svg(out, svg, alt);
  free(svg);
}

/* The length of the prefix all run names share, up to and including its
 * last '-' or '_' (runs of one sweep or one demo differ only after it):
 * the legends leave it out so that the names fit. */
static size_t shared_prefix(const RunFolder *runs, int n) {
  size_t len = 0;
  for (size_t i = 0; n > 1 && runs[0].name[i]; i++) {
    for (int r = 1; r < n; r++)
      if (runs[r].name[i] != runs[0].name[i]) return len;
    if (runs[0].name[i] == '-' || runs[0].name[i] == '_') len = i + 1;
  }
  return len;
}

static void comparison(FILE *out, const RunFolder *runs, int n) {
  fputs("<section id=\"comparison\">\n<h2>The runs compared</h2>\n<table class=\"sortable\" data-table=\"comparison\">"
        "<thead><tr><th data-key=\"run\" data-type=\"text\">run</th><th data-key=\"model\" data-type=\"text\">model</th>"
        "<th data-key=\"parameters\">parameters</th><th data-key=\"epochs\">epochs</th>"
        "<th data-key=\"best_epoch\">kept epoch</th><th data-key=\"select\" data-type=\"text\">chosen by</th>"
        "<th data-key=\"valid\">its score</th>"
        "<th data-key=\"test1\">test ROC-AUC or accuracy</th><th data-key=\"test2\">test PR-AUC or balanced accuracy</th>"
        "<th data-key=\"status\" data-type=\"text\">status</th></tr></thead><tbody>\n",
        out);
  for (int i = 0; i < n; i++) {
    const RunFolder *r = &runs[i];
    fputs("<tr data-run=\"", out);
    html_text(out, r->name);
    fputs("\"><td data-value=\"", out);
    html_text(out, r->name);
    fprintf(out, "\"><a href=\"#run-%d\">", i + 1);
    html_text(out, r->name);
    fputs("</a></td>", out);
    report_text_cell(out, r->model_name ? r->model_name : "");
    report_number_cell(out, r->model_name ? (double)r->parameters : NAN, 0);
    report_number_cell(out, (double)r->curves.n, 0);
    report_number_cell(out, json_number_at(r->results, "best_epoch"), 0);
    /* the selection score is negated for the loss (higher is better there) */
    const cJSON *select = cJSON_GetObjectItemCaseSensitive(r->results, "select");
    const char *by = cJSON_IsString(select) ? select->valuestring : "";
    report_text_cell(out, by);
    double score = json_number_at(r->results, "best_score");
    report_number_cell(out, strcmp(by, "loss") ? score : -score, 4);
    report_number_cell(out, r->test_metric1, 4);
    report_number_cell(out, r->test_metric2, 4);
    const char *status = r->status == RUN_FINISHED ? "finished" : r->status == RUN_TRAINING ? "training" : "stopped";
    report_text_cell(out, status);
    fputs("</tr>\n", out);
  }
  fputs("</tbody></table>\n<div class=\"charts\">\n", out);
  ChartSeries *series = at_malloc((size_t)n * sizeof *series, "chart series");
  const size_t prefix = shared_prefix(runs, n);
  if (prefix) {
    char *common = at_strdup(runs[0].name);
    common[prefix] = '\0';
    fputs("<p>The legends leave out <code>", out);
    html_text(out, common);
    fputs("</code>, which every run's name begins with.</p>\n", out);
    free(common);
  }
  /* the validation metric, the training loss and the validation loss of every run */
  for (int panel = 0; panel < 3; panel++) {
    int multi = 0, single = 0;
    for (int i = 0; i < n; i++) {
      const RunCurves *c = &runs[i].curves;
      const double *y = panel == 0 ? c->valid_metric1 : panel == 1 ? c->train_loss : c->valid_loss;
      /* the palette has ten colours: the next ten runs are dashed */
      ChartSeries s = {runs[i].name + prefix, c->epoch, y, c->n, i, (i / 10) % 2, 1};
      series[i] = s;
      multi += runs[i].multi_label == 1, single += runs[i].multi_label == 0;
    }
    const char *metric = multi && single ? "macro ROC-AUC or accuracy" : single ? "accuracy" : "macro ROC-AUC";
    char title[96];
    snprintf(title, sizeof title, "Validation %s", metric);
    Chart chart = chart_defaults(panel == 0 ? title : panel == 1 ? "Training loss" : "Validation loss", "epoch",
                                 panel == 0 ? metric : "loss (mean per example)");
    chart.legend = chart.integer_x = 1;
    chart.width = 420;
    report_chart(out, &chart, series, n, chart.title);
  }
  free(series);
  fputs("</div>\n</section>\n", out);
}

/* Runs of one folder name (a/s1, b/s1) are named by their last two path
 * components, so that tables and legends tell them apart. */
static void distinct_names(RunFolder *runs, int n) {
  int *shared = at_calloc((size_t)(n ? n : 1), sizeof *shared, "run names");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) shared[i] |= j != i && !strcmp(runs[i].name, runs[j].name);
  for (int i = 0; i < n; i++) {
    if (!shared[i]) continue;
    const char *p = runs[i].dir + strlen(runs[i].dir);
    int slashes = 0;
    while (p > runs[i].dir && !(p[-1] == '/' && ++slashes == 2)) p--;
    free(runs[i].name);
    runs[i].name = at_strdup(p);
  }
  free(shared);
}

void report_write(const char *out_path, const char *const *run_dirs, int n_runs, const ReportOptions *o) {
  RunFolder *runs = at_calloc((size_t)n_runs, sizeof *runs, "run folders");
  for (int i = 0; i < n_runs; i++) run_folder_read(run_dirs[i], &runs[i]);
  distinct_names(runs, n_runs);
  char *page = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&page, &size);
  if (!out) at_fatal("out of memory writing the report");
  const char *title = o && o->title ? o->title : "auratag report";
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", out);
  html_text(out, title);
  fprintf(out, "</title>\n<style>%s</style>\n</head><body>\n<h1>", k_style);
  html_text(out, title);
  char when[64];
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(out, "</h1>\n<p>Written by <code>auratag report</code> on %s from %d run folder%s.</p>\n", when, n_runs,
          n_runs == 1 ? "" : "s");
  for (int i = 0; o && i < o->n_figures; i++) {
    fputs("<figure class=\"extra\">", out);
    if (!html_file(out, o->figures[i], o->figures[i], FIGURE_LIMIT))
      at_fatal("--figure '%s': not a readable PNG or SVG file of at most 32 MiB (told by its contents)", o->figures[i]);
    fputs("</figure>\n", out);
  }
  if (n_runs > 1) comparison(out, runs, n_runs);
  for (int i = 0; i < n_runs; i++) report_run_section(out, &runs[i], i + 1);
  fprintf(out, "<script>%s</script>\n</body></html>\n", k_script);
  fclose(out);
  at_make_parent_dirs(out_path);
  at_write_file(out_path, page, size);
  for (int i = 0; i < n_runs; i++) {
    const RunFolder *r = &runs[i];
    printf("%s: %s", r->name, r->status == RUN_FINISHED ? "finished" : r->status == RUN_TRAINING ? "still training (partial)" : "stopped early (partial)");
    if (!r->test) printf("; no test evaluation");
    else if (!r->has_predictions && r->multi_label == 1) printf("; no per-tag curves (%s)", r->predictions_note);
    if (r->n_auralisations) printf("; %d auralisation%s", r->n_auralisations, r->n_auralisations == 1 ? "" : "s");
    printf("\n");
  }
  printf("wrote %s (%.1f MB)\n", out_path, (double)size / 1e6);
  free(page);
  for (int i = 0; i < n_runs; i++) run_folder_free(&runs[i]);
  free(runs);
}
