/* prep's report (see prep_report.h). */
#include "audio/prep_report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"

/* The JSON array of skipped files: path, line, reason. */
static void write_skipped(FILE *fp, const PrepList *l) {
  fputc('[', fp);
  int first = 1;
  for (int i = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    if (r->ok) continue;
    fprintf(fp, "%s\n  {\"path\": ", first ? "" : ",");
    json_string(fp, r->path);
    fprintf(fp, ", \"line\": %d, \"reason\": ", r->line);
    json_string(fp, r->reason ? r->reason : "unknown");
    fputc('}', fp);
    first = 0;
  }
  fprintf(fp, "%s]", first ? "" : "\n ");
}

/* The JSON array of files used despite something odd: path, line, warning. */
static void write_warnings(FILE *fp, const PrepList *l) {
  fputc('[', fp);
  int first = 1;
  for (int i = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    if (!r->warning) continue;
    fprintf(fp, "%s\n  {\"path\": ", first ? "" : ",");
    json_string(fp, r->path);
    fprintf(fp, ", \"line\": %d, \"warning\": ", r->line);
    json_string(fp, r->warning);
    fputc('}', fp);
    first = 0;
  }
  fprintf(fp, "%s]", first ? "" : "\n ");
}

void prep_report_write(const PrepOptions *o, const DatasetConfig *dc, const PrepList *l, const PrepVocab *v,
                       const PrepTotals *t) {
  char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
  snprintf(path, sizeof path, "%s/prep-report.json", o->out);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *fp = fopen(tmp, "w");
  if (!fp) at_fatal("cannot create '%s': %s", tmp, strerror(errno));
  fprintf(fp, "{\"dataset\": ");
  json_string(fp, dc->name);
  fprintf(fp, ",\n \"config\": ");
  json_string(fp, o->dataset_config);
  fprintf(fp, ",\n \"list\": ");
  json_string(fp, o->list);
  fprintf(fp, ",\n \"files\": %d,\n \"written\": %d,\n \"resumed\": %d,\n \"examples\": {", t->files, t->written,
          t->resumed);
  for (int s = 0, first = 1; s < PREP_N_SPLITS; s++) {
    if (!t->examples[s]) continue;
    fprintf(fp, "%s\"%s\": %d", first ? "" : ", ", prep_split_names[s], t->examples[s]);
    first = 0;
  }
  fprintf(fp, "},\n \"skipped\": ");
  write_skipped(fp, l);
  fprintf(fp, ",\n \"warnings\": ");
  write_warnings(fp, l);
  fprintf(fp, ",\n \"tags\": [");
  for (int k = 0; k < v->n; k++) {
    if (k) fprintf(fp, ", ");
    json_string(fp, v->names[k]);
  }
  fprintf(fp, "],\n \"kind\": \"%s\",\n \"seconds_of_audio\": ", dataset_kind_name(dc->kind));
  json_number(fp, t->seconds);
  fprintf(fp, ",\n \"wall_seconds\": ");
  json_number(fp, t->wall);
  fprintf(fp, ",\n \"threads\": %d", t->threads);
  if (t->has_norm) {
    fprintf(fp, ",\n \"norm_mean\": ");
    json_number(fp, t->mean);
    fprintf(fp, ",\n \"norm_std\": ");
    json_number(fp, t->std);
  }
  fprintf(fp, "}\n");
  if (fclose(fp) != 0 || rename(tmp, path) != 0) at_fatal("cannot write '%s' (is the disk full?)", path);
}
