/* auratag report RUN_DIR [RUN_DIR ...] -o REPORT.html [--title T] [--figure F ...] */
#include <stdio.h>

#include "cli/cli.h"
#include "report/report.h"

static const CliOption k_options[] = {
    {"out", 'o', "REPORT.html", NULL, "the page to write (required)"},
    {"title", 0, "TEXT", "auratag report", "the page's title"},
    {"figure", 0, "FILE", NULL,
     "a PNG or SVG picture to show first, inlined (a sweep's or an experiment's plot); repeatable"},
    {0},
};
const CliCommand k_cli_report = {
    "report", "RUN_DIR [RUN_DIR ...] -o REPORT.html [--title TEXT] [--figure FILE ...]",
    "Writes one self-contained HTML page about training runs: status, loss / validation / learning-rate curves, the "
    "test results as a sortable per-tag table with ROC and precision-recall curves per tag (or per-class recall and "
    "the confusion matrix), song-level results, auralisations with audio players, the model and its config; several "
    "runs are also compared in a table and overlaid curves. Opens offline: every picture and sound is inlined.",
    k_options, "auratag report checkpoints/demo-fcn3 checkpoints/demo-pons_time -o report.html"};

int cmd_report(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_report, argc, argv, &p);
  cli_require_positionals(&p, 1, -1);
  ReportOptions o = {0};
  const char *out = NULL;
  static const char *figures[CLI_MAX_ARGS];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "out")) out = p.value[i];
    else if (cli_is(&p, i, "title")) o.title = p.value[i];
    else if (cli_is(&p, i, "figure")) figures[o.n_figures++] = p.value[i];
  }
  if (!out) cli_usage_error(&k_cli_report, "-o REPORT.html is required");
  o.figures = figures;
  report_write(out, p.positional, p.n_positional, &o);
  return 0;
}
