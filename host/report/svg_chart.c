/* Line charts and heat maps as SVG (report/svg_chart.h). */
#include "report/svg_chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/html.h"

/* Tableau's ten colours: distinct, readable on white, kind to colour blindness. */
static const char *const k_palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
enum { MAX_TICKS = 40, MARGIN_LEFT = 62, MARGIN_RIGHT = 14, MARGIN_TOP = 28, MARGIN_BOTTOM = 46, LEGEND_WIDTH = 170, FONT = 12 };

static const char *palette(int i) { return k_palette[((i % 10) + 10) % 10]; }

/* A stream for an SVG document of W x H pixels, its white background drawn. */
static FILE *svg_begin(char **text, size_t *size, int W, int H) {
  FILE *out = open_memstream(text, size);
  if (!out) at_fatal("out of memory drawing a chart");
  fprintf(out,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"%d\">\n"
          "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
          W, H, W, H, FONT, W, H);
  return out;
}

Chart chart_defaults(const char *title, const char *x_label, const char *y_label) {
  Chart c = {title, x_label, y_label, 480, 300, NAN, NAN, NAN, NAN, 0, 0, 0, 0};
  return c;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks`
 * intervals over span. */
static double nice_step(double span, int ticks) {
  double raw = span / ticks;
  double power = pow(10.0, floor(log10(raw)));
  double f = raw / power;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * power;
}

typedef struct Axis {
  double lo, hi; /* in plotted units (log10 of the value on a log axis) */
  double step;   /* tick step; 1 decade on a log axis */
  int log;
} Axis;

static double plotted(const Axis *a, double v) { return a->log ? log10(v) : v; }

/* Range and ticks of one axis from [lo, hi] of the data, unless fixed. */
static Axis make_axis(double data_lo, double data_hi, double fixed_lo, double fixed_hi, int log_scale, int integer) {
  Axis a = {0, 1, 0.2, log_scale};
  double lo = isnan(fixed_lo) ? data_lo : fixed_lo, hi = isnan(fixed_hi) ? data_hi : fixed_hi;
  /* beyond 1e300 the span overflows: such values are drawn as if absent */
  if (!isfinite(lo) || !isfinite(hi) || fabs(lo) > 1e300 || fabs(hi) > 1e300) lo = log_scale ? 1e-3 : 0.0, hi = 1.0;
  if (log_scale) {
    lo = log10(lo > 0 ? lo : 1e-12), hi = log10(hi > 0 ? hi : 1e-12);
    if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
    a.lo = isnan(fixed_lo) ? floor(lo) : lo;
    a.hi = isnan(fixed_hi) ? ceil(hi) : hi;
    if (a.hi <= a.lo) a.hi = a.lo + 1;
    a.step = ceil((a.hi - a.lo) / 6.0);
    return a;
  }
  /* a (nearly) constant series: a span relative to its size, so that the
   * ticks stay distinct numbers (a loss stuck at ln 2, a value near 1e6) */
  const double size = fmax(fabs(lo), fabs(hi));
  if (hi - lo < 1e-3 * size || hi - lo < 1e-12) {
    double pad = size > 1e-12 ? size * 0.05 : 0.5;
    lo -= pad, hi += pad;
  }
  a.step = nice_step(hi - lo, 5);
  if (integer && a.step < 1) a.step = 1;
  if (!(a.step > 0) || !isfinite(a.step)) a.step = hi - lo; /* never: the span is finite and positive */
  a.lo = isnan(fixed_lo) ? floor(lo / a.step) * a.step : lo;
  a.hi = isnan(fixed_hi) ? ceil(hi / a.step) * a.step : hi;
  return a;
}

static void tick_label(char *buf, size_t size, const Axis *a, double v) {
  if (a->log) {
    snprintf(buf, size, "1e%d", (int)lround(v));
    return;
  }
  if (fabs(v) < a->step * 1e-6) v = 0.0;
  if (fabs(v) >= 1e5 || (v != 0.0 && a->step < 1e-4)) { /* short enough for the margin */
    snprintf(buf, size, "%.4g", v);
    return;
  }
  double digits = a->step >= 1 ? 0 : ceil(-log10(a->step) - 1e-9);
  if (digits > 6) digits = 6;
  snprintf(buf, size, "%.*f", (int)digits, v);
}

char *svg_line_chart(const Chart *chart, const ChartSeries *series, int n_series) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (int s = 0; s < n_series; s++)
    for (int i = 0; i < series[s].n; i++) {
      double x = series[s].x[i], y = series[s].y[i];
      if (!isfinite(x) || !isfinite(y) || (chart->log_y && y <= 0)) continue;
      xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
    }
  const Axis ax = make_axis(xlo, xhi, chart->x_min, chart->x_max, 0, chart->integer_x);
  const Axis ay = make_axis(ylo, yhi, chart->y_min, chart->y_max, chart->log_y, 0);
  const int legend = chart->legend && n_series > 0;
  int legend_rows = 0;
  for (int s = 0; legend && s < n_series; s++) legend_rows += series[s].name != NULL;
  const int W = chart->width + (legend ? LEGEND_WIDTH : 0);
  const int H = chart->height > MARGIN_TOP + 18 * legend_rows + 10 ? chart->height : MARGIN_TOP + 18 * legend_rows + 10;
  const double px0 = MARGIN_LEFT, px1 = chart->width - MARGIN_RIGHT, py0 = H - MARGIN_BOTTOM, py1 = MARGIN_TOP;
#define SX(v) (px0 + ((v) - ax.lo) / (ax.hi - ax.lo) * (px1 - px0))
#define SY(v) (py0 - (plotted(&ay, (v)) - ay.lo) / (ay.hi - ay.lo) * (py0 - py1))

  char *text = NULL;
  size_t size = 0;
  FILE *out = svg_begin(&text, &size, W, H);
  if (chart->title) {
    fprintf(out, "<text x=\"%.1f\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\">", chart->width / 2.0); /* over the whole picture: small charts have long titles */
    html_text(out, chart->title);
    fputs("</text>\n", out);
  }
  /* grid and ticks */
  char label[64];
  /* ticks by index, at most MAX_TICKS: no float accumulation can stall */
  for (int t = 0, first = (int)ceil(ax.lo / ax.step - 1e-9); t < MAX_TICKS; t++) {
    double v = (first + t) * ax.step;
    if (v > ax.hi + ax.step * 1e-9) break;
    double x = SX(v);
    tick_label(label, sizeof label, &ax, v);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", x, py0, x, py1);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, py0 + 15, label);
  }
  for (int t = 0, first = (int)ceil(ay.lo / ay.step - 1e-9); t < MAX_TICKS; t++) {
    double v = (first + t) * ay.step;
    if (v > ay.hi + ay.step * 1e-9) break;
    double y = py0 - (v - ay.lo) / (ay.hi - ay.lo) * (py0 - py1);
    tick_label(label, sizeof label, &ay, v);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", px0, y, px1, y);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", px0 - 5, y + 4, label);
  }
  fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", px0, py1,
          px1 - px0, py0 - py1);
  if (chart->x_label) {
    fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", (px0 + px1) / 2, H - 10);
    html_text(out, chart->x_label);
    fputs("</text>\n", out);
  }
  if (chart->y_label) {
    fprintf(out, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">", (py0 + py1) / 2);
    html_text(out, chart->y_label);
    fputs("</text>\n", out);
  }
  fprintf(out, "<svg x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" viewBox=\"%.1f %.1f %.1f %.1f\" "
               "overflow=\"hidden\">\n",
          px0, py1, px1 - px0, py0 - py1, px0, py1, px1 - px0, py0 - py1);
  if (chart->diagonal && !chart->log_y)
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n",
            SX(fmax(ax.lo, ay.lo)), SY(fmax(ax.lo, ay.lo)), SX(fmin(ax.hi, ay.hi)), SY(fmin(ax.hi, ay.hi)));
  for (int s = 0; s < n_series; s++) {
    const ChartSeries *se = &series[s];
    const char *color = palette(se->color);
    int open = 0;
    for (int i = 0; i < se->n; i++) {
      double x = se->x[i], y = se->y[i];
      if (!isfinite(x) || !isfinite(y) || (chart->log_y && y <= 0)) {
        if (open) fputs("\"/>\n", out), open = 0;
        continue;
      }
      if (!open)
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"", color,
                se->dashed ? " stroke-dasharray=\"6 3\"" : ""),
            open = 1;
      fprintf(out, "%.2f,%.2f ", SX(x), SY(y));
    }
    if (open) fputs("\"/>\n", out);
    if (se->markers)
      for (int i = 0; i < se->n; i++)
        if (isfinite(se->x[i]) && isfinite(se->y[i]) && !(chart->log_y && se->y[i] <= 0))
          fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.6\" fill=\"%s\"/>", SX(se->x[i]), SY(se->y[i]), color);
  }
  fputs("</svg>\n", out);
  if (legend) {
    int row = 0;
    for (int s = 0; s < n_series; s++) {
      if (!series[s].name) continue;
      double y = py1 + 10 + 18 * row++;
      fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>",
              chart->width + 4, y, chart->width + 26, y, palette(series[s].color),
              series[s].dashed ? " stroke-dasharray=\"6 3\"" : "");
      fprintf(out, "<text x=\"%d\" y=\"%.1f\">", chart->width + 31, y + 4);
      /* long run names are cut to fit the column, at a character (UTF-8)
       * boundary; the tables carry them whole */
      char name[26];
      snprintf(name, sizeof name, "%s", series[s].name);
      if (strlen(series[s].name) >= sizeof name) {
        size_t cut = sizeof name - 4;
        while (cut > 0 && ((unsigned char)name[cut] & 0xC0) == 0x80) cut--;
        strcpy(name + cut, "...");
      }
      html_text(out, name);
      fputs("</text>\n", out);
    }
  }
  fputs("</svg>\n", out);
  fclose(out);
#undef SX
#undef SY
  return text;
}

char *svg_heatmap(const char *title, const char *row_axis, const char *col_axis, const char *const *labels, int n,
                  const long *counts) {
  const int cell = n <= 6 ? 56 : n <= 12 ? 40 : 26, label_w = 90, top = 40;
  const int W = label_w + 30 + cell * n + 20, H = top + cell * n + label_w + 20;
  char *text = NULL;
  size_t size = 0;
  FILE *out = svg_begin(&text, &size, W, H);
  fprintf(out, "<text x=\"%d\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\">", W / 2);
  html_text(out, title);
  fputs("</text>\n", out);
  const int x0 = label_w + 30, y0 = top;
  for (int i = 0; i < n; i++) {
    long row_total = 0;
    for (int j = 0; j < n; j++) row_total += counts[(size_t)i * n + j];
    for (int j = 0; j < n; j++) {
      long v = counts[(size_t)i * n + j];
      double share = row_total ? (double)v / (double)row_total : 0.0;
      /* white to dark blue by the row's share */
      int r = (int)lround(255 - share * (255 - 8)), g = (int)lround(255 - share * (255 - 48)),
          b = (int)lround(255 - share * (255 - 107));
      fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"#ccc\"/>",
              x0 + j * cell, y0 + i * cell, cell, cell, r, g, b);
      fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%ld</text>\n", x0 + j * cell + cell / 2,
              y0 + i * cell + cell / 2 + 4, share > 0.5 ? "white" : "black", v);
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", x0 - 6, y0 + i * cell + cell / 2 + 4);
    html_text(out, labels[i]);
    fputs("</text>\n", out);
  }
  for (int j = 0; j < n; j++) {
    fprintf(out, "<text transform=\"translate(%d %d) rotate(-45)\" text-anchor=\"end\">", x0 + j * cell + cell / 2,
            y0 + n * cell + 12);
    html_text(out, labels[j]);
    fputs("</text>\n", out);
  }
  fprintf(out, "<text transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">", y0 + n * cell / 2);
  html_text(out, row_axis);
  fprintf(out, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x0 + n * cell / 2, H - 6);
  html_text(out, col_axis);
  fputs("</text>\n</svg>\n", out);
  fclose(out);
  return text;
}
