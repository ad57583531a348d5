/* auratag import musicnn MODEL_DIR -o WEIGHTS.h5 [--labels FILE]
 *
 * A published model into an ordinary auratag weights file. Today one source:
 * the musicnn package 0.1.0 (its folders MTT_musicnn, MSD_musicnn,
 * MSD_musicnn_big, MTT_vgg, MSD_vgg hold TensorFlow 1 checkpoints, read
 * here without TensorFlow: io/tf_bundle.h, io/musicnn_import.h). The file
 * carries the architecture (configs/models/musicnn*.ini), the tag names in
 * the model's output order (the package's MTT_LABELS or MSD_LABELS, read from
 * its configuration.py beside MODEL_DIR, or --labels: one tag a line) and,
 * as `dataset_config`, the front end the model expects
 * (configs/datasets/musicnn.ini). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "io/h5_util.h"
#include "io/musicnn_import.h"
#include "io/weights_h5.h"
#include "nn/backend_registry.h"
#include "nn/model_config.h"

static const CliOption k_options[] = {
    {"out", 'o', "WEIGHTS.h5", NULL, "the weights file to write (required)"},
    {"labels", 0, "FILE", "MTT_LABELS or MSD_LABELS of the package's configuration.py",
     "the tag names, one a line, in the model's output order"},
    {0},
};
const CliCommand k_cli_import = {
    "import", "musicnn MODEL_DIR -o WEIGHTS.h5 [--labels FILE]",
    "Converts a published model into auratag weights: the musicnn package's checkpoints (MTT_musicnn, "
    "MSD_musicnn, MSD_musicnn_big, MTT_vgg, MSD_vgg), read without TensorFlow, with their tags and front end.",
    k_options, "auratag import musicnn musicnn-0.1.0/musicnn/MTT_musicnn -o models/musicnn-mtt.h5"};

/* NAME = ['a', 'b', ...] in a Python file: the quoted strings of that list. */
static int read_python_list(const char *path, const char *name, char ***out) {
  char *text = at_read_text_file(path, 1 << 20);
  int n = 0;
  char pattern[64];
  snprintf(pattern, sizeof pattern, "%s = [", name);
  const char *p = strstr(text, pattern);
  if (p) {
    p += strlen(pattern);
    *out = at_calloc(1024, sizeof(char *), "labels");
    while (*p && *p != ']' && n < 1023) {
      if (*p == '\'' || *p == '"') {
        const char quote = *p++;
        const char *end = strchr(p, quote);
        if (!end) break;
        char *label = at_malloc((size_t)(end - p) + 1, "a label");
        memcpy(label, p, (size_t)(end - p));
        label[end - p] = '\0';
        (*out)[n++] = label;
        p = end + 1;
      } else {
        p++;
      }
    }
  }
  free(text);
  return n;
}

static int read_lines(const char *path, char ***out) {
  char *text = at_read_text_file(path, 1 << 20);
  int n = 0;
  *out = at_calloc(1024, sizeof(char *), "labels");
  for (char *line = strtok(text, "\n"); line && n < 1023; line = strtok(NULL, "\n")) {
    size_t len = strlen(line);
    while (len && isspace((unsigned char)line[len - 1])) line[--len] = '\0';
    if (len) (*out)[n++] = at_strdup(line);
  }
  free(text);
  return n;
}

/* The tag names: --labels, else the package's list for the model's data set. */
static int model_labels(const char *dir, const char *labels_file, char ***labels) {
  if (labels_file) return read_lines(labels_file, labels);
  char folder[4200], config[4300];
  snprintf(folder, sizeof folder, "%s", dir);
  size_t len = strlen(folder);
  while (len > 1 && folder[len - 1] == '/') folder[--len] = '\0';
  const char *base = strrchr(folder, '/') ? strrchr(folder, '/') + 1 : folder;
  const char *list = !strncmp(base, "MTT", 3) ? "MTT_LABELS" : !strncmp(base, "MSD", 3) ? "MSD_LABELS" : NULL;
  if (!list)
    at_fatal("'%s': its folder name starts with neither MTT nor MSD, so its tags are unknown; give --labels FILE", dir);
  snprintf(config, sizeof config, "%s/../configuration.py", folder);
  if (access(config, R_OK) != 0)
    at_fatal("'%s' has no ../configuration.py (the package's, with %s); give --labels FILE", dir, list);
  const int n = read_python_list(config, list, labels);
  if (n == 0) at_fatal("'%s' has no %s list; give --labels FILE", config, list);
  return n;
}

int cmd_import(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_import, argc, argv, &p);
  cli_require_positionals(&p, 2, 2);
  const char *source = p.positional[0], *dir = p.positional[1], *out = NULL, *labels_file = NULL;
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "out")) out = p.value[i];
    else if (cli_is(&p, i, "labels")) labels_file = p.value[i];
  }
  if (strcmp(source, "musicnn") != 0) cli_usage_error(&k_cli_import, "unknown source '%s': the one known is musicnn", source);
  if (!out) cli_usage_error(&k_cli_import, "-o WEIGHTS.h5 is required");
  const char *inputs[] = {dir, NULL};
  cli_refuse_output_over_inputs(&k_cli_import, "-o", out, inputs);

  char prefix[4200], why[512];
  snprintf(prefix, sizeof prefix, "%s/", dir); /* the package's checkpoints are DIR/.index and DIR/.data-* */
  TfBundle b;
  if (tf_bundle_open(prefix, &b, why, sizeof why) != 0) at_fatal("%s", why);
  const MusicnnKind kind = musicnn_kind(&b);
  if (kind == MUSICNN_UNKNOWN)
    at_fatal("'%s' is a TensorFlow checkpoint of another architecture than musicnn, musicnn_big or musicnn_vgg", dir);
  char config_rel[128], dataset_rel[] = "configs/datasets/musicnn.ini";
  snprintf(config_rel, sizeof config_rel, "configs/models/%s.ini", musicnn_config_name(kind));
  Model *m = model_from_config(cli_shipped_file(config_rel, "import"), NULL, 0);
  char **labels = NULL;
  const int n_labels = model_labels(dir, labels_file, &labels);
  if (n_labels != m->classes)
    at_fatal("%d tag names for model '%s', which has %d outputs", n_labels, m->name, m->classes);
  model_allocate(m, at_backend_cpu(), 1);
  musicnn_load(m, kind, &b);
  model_set_output_names(m, (const char *const *)labels);
  char *dataset = at_read_text_file(cli_shipped_file(dataset_rel, "import"), 1 << 20);
  weights_save_with_front_end(m, out, dataset);
  printf("wrote %s: %s from %s (%d tensors read, %zu parameters, %d tags: %s, %s, ...)\n", out, m->name, dir, b.n,
         m->n_weights, n_labels, labels[0], labels[1]);
  free(dataset);
  for (int i = 0; i < n_labels; i++) free(labels[i]);
  free(labels);
  tf_bundle_free(&b);
  model_free(m);
  return 0;
}
