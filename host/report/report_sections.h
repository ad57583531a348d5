/* The parts of the report page (report.c: the page, the comparison;
 * report_run.c: one run's section). Internal to host/report. */
#ifndef AT_REPORT_SECTIONS_H
#define AT_REPORT_SECTIONS_H

#include <stdio.h>

#include "report/run_folder.h"
#include "report/svg_chart.h"

/* One run's <section class="run" data-run="NAME" id="run-INDEX">. */
void report_run_section(FILE *out, const RunFolder *r, int index);

/* A table cell carrying the exact value for sorting and checking
 * (data-value) and a rounded one for reading; NaN shows as "–". */
void report_number_cell(FILE *out, double v, int decimals);
/* A text cell: its text as the data-value too (sorting by it). */
void report_text_cell(FILE *out, const char *text);
/* A number as text, "–" when it is NaN (a metric left undefined). */
void report_number(FILE *out, double v, int decimals);
/* An SVG line chart inlined as an image, then freed. */
void report_chart(FILE *out, const Chart *chart, const ChartSeries *series, int n_series, const char *alt);

#endif
