/* auratag models: the installed models (models/NAME.h5, as
 * scripts/fetch-musicnn.sh installs them), which every command that reads
 * weights accepts by NAME. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "io/weights_h5.h"
#include "nn/model_config.h"

static const CliOption k_options[] = {{0}};
const CliCommand k_cli_models = {
    "models", "",
    "Lists the installed models (models/NAME.h5): name, architecture, parameters, tags and whether the file carries "
    "its front end; any command that reads weights takes NAME.",
    k_options, "auratag models"};

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cmd_models(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_models, argc, argv, &p);
  cli_require_positionals(&p, 0, 0);
  const char *dir = cli_find_shipped_file("models");
  DIR *d = dir ? opendir(dir) : NULL;
  char *names[512];
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d)) && n < 512;) {
    const size_t len = strlen(e->d_name);
    if (len > 3 && !strcmp(e->d_name + len - 3, ".h5")) names[n++] = at_strdup(e->d_name);
  }
  if (d) closedir(d);
  if (n == 0) {
    printf("no installed models (models/*.h5); `bash scripts/fetch-musicnn.sh` installs the published musicnn ones\n");
    return 0;
  }
  qsort(names, (size_t)n, sizeof names[0], by_name);
  printf("%-16s %-14s %12s  %s\n", "name", "architecture", "parameters", "tags / front end");
  for (int i = 0; i < n; i++) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    char *text = weights_read_config(path);
    Model *m = model_from_text(text, path);
    free(text);
    model_allocate(m, at_backend_cpu(), 1);
    weights_load(m, path);
    char *front_end = weights_read_dataset_config(path);
    names[i][strlen(names[i]) - 3] = '\0';
    printf("%-16s %-14s %12zu  %d tags%s%s%s; %s\n", names[i], m->name, m->n_weights, m->classes,
           m->output_names ? " (" : "", m->output_names ? m->output_names[0] : "", m->output_names ? ", ...)" : "",
           front_end ? "its own front end" : "front end from its training cache");
    free(front_end);
    model_free(m);
    free(names[i]);
  }
  return 0;
}
