/* Charts as SVG text, drawn by auratag for its HTML report: line charts
 * (training curves, ROC and precision-recall curves) with axes, ticks, axis
 * labels, a title and a legend, and heat maps (confusion matrices) with
 * their counts written in the cells. */
#ifndef AT_SVG_CHART_H
#define AT_SVG_CHART_H

typedef struct ChartSeries {
  const char *name; /* legend entry; NULL: none */
  const double *x, *y;
  int n;    /* points; NaN y values break the line */
  int color; /* index into the palette (ten colours, then they repeat) */
  int dashed, markers;
} ChartSeries;

typedef struct Chart {
  const char *title, *x_label, *y_label;
  int width, height; /* pixels of the whole picture */
  /* axis ranges; NaN: from the data (with nice rounded ends) */
  double x_min, x_max, y_min, y_max;
  int log_y;    /* logarithmic y axis (positive values only) */
  int diagonal; /* the chance line y = x (ROC curves) */
  int legend;   /* a legend column at the right */
  int integer_x; /* ticks on whole numbers only (epochs) */
} Chart;

/* A chart with every field set to its default: 480 x 300, ranges from the
 * data, no legend. */
Chart chart_defaults(const char *title, const char *x_label, const char *y_label);

/* The SVG document (caller frees). */
char *svg_line_chart(const Chart *chart, const ChartSeries *series, int n_series);

/* A heat map of counts [rows, cols] (row-major), darker for larger shares of
 * each row (a confusion matrix: row = true class, normalised per row), with
 * the count in each cell and the labels on both axes. */
char *svg_heatmap(const char *title, const char *row_axis, const char *col_axis, const char *const *labels, int n,
                  const long *counts);

#endif
