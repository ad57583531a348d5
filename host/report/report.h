/* `auratag report`: one self-contained HTML page about one or more training
 * runs (docs/report.md). Per run: its status, training and validation curves
 * against epochs, the test results (a sortable per-tag table with ROC and
 * precision-recall curves per tag, or the per-class table and the confusion
 * matrix), song-level results, the auralisation gallery, the model's layer
 * table and its config; with several runs, a comparison table and the curves
 * overlaid. Every chart is drawn here (report/svg_chart.h). */
#ifndef AT_REPORT_H
#define AT_REPORT_H

typedef struct ReportOptions {
  const char *title;            /* NULL: "auratag report" */
  const char *const *figures;   /* extra pictures (PNG or SVG files) shown first: a sweep's plot */
  int n_figures;
} ReportOptions;

/* Reads the runs and writes the page whole (temporary file, then renamed).
 * Prints one line per run with what it could not show. */
void report_write(const char *out_path, const char *const *run_dirs, int n_runs, const ReportOptions *o);

#endif
