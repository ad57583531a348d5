/* auratag export WEIGHTS|RUN_DIR|NAME --format onnx -o MODEL.onnx
 *
 * The network in inference mode as an ONNX model (docs/export.md): input
 * "spectrogram" [batch, channels, frequency, time], outputs "logits" and
 * "probabilities" [batch, classes]; what the outputs mean and the front end
 * the spectrogram must come from travel in its metadata_props. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/json.h"
#include "export/onnx_file.h"
#include "io/weights_h5.h"

typedef struct ExportArgs {
  const char *weights, *format, *out;
} ExportArgs;

static const CliOption k_options[] = {
    {"format", 0, "onnx", "onnx", "the file format (ONNX, opset 17)"},
    {"out", 'o', "MODEL.onnx", NULL, "the file to write (required)"},
    {0},
};
const CliCommand k_cli_export = {
    "export", "WEIGHTS.h5|RUN_DIR|NAME --format onnx -o MODEL.onnx",
    "Writes a trained model in inference mode as ONNX, with its tag names and front end in the file's metadata.",
    k_options, "auratag export musicnn-mtt --format onnx -o musicnn-mtt.onnx"};

static void parse(int argc, char **argv, ExportArgs *a) {
  memset(a, 0, sizeof *a);
  a->format = "onnx";
  CliArgs p;
  cli_parse(&k_cli_export, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  a->weights = p.positional[0];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "format")) a->format = p.value[i];
    else if (cli_is(&p, i, "out")) a->out = p.value[i];
  }
  if (strcmp(a->format, "onnx") != 0)
    cli_usage_error(&k_cli_export, "--format '%s': the export writes onnx", a->format);
  if (!a->out) cli_usage_error(&k_cli_export, "-o MODEL.onnx is required");
  const char *inputs[] = {a->weights, NULL};
  cli_refuse_output_over_inputs(&k_cli_export, "-o", a->out, inputs);
}

/* The outputs' names as a JSON array ("[]" when the weights do not say). */
static char *tags_json(const Model *m) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (!out) at_fatal("out of memory");
  fputc('[', out);
  for (int j = 0; m->output_names && j < m->classes; j++) {
    if (j) fputs(", ", out);
    json_string(out, m->output_names[j]);
  }
  fputc(']', out);
  fclose(out);
  return text;
}

int cmd_export(int argc, char **argv) {
  ExportArgs a;
  parse(argc, argv, &a);
  EvalModel em;
  cli_load_for_eval(a.weights, 1, 1, stdout, &em);
  const Model *m = em.m;
  char *tags = tags_json(m), *dataset_config = weights_read_dataset_config(em.path);
  char input[256];
  snprintf(input, sizeof input, "spectrogram: float32 [batch, %d channel(s), %d frequency bands, %d frames]",
           m->input.c, m->input.h, m->input.w);
  const char *metadata[32];
  int k = 0;
  metadata[k++] = "model", metadata[k++] = m->name;
  metadata[k++] = "input", metadata[k++] = input;
  metadata[k++] = "output_activation", metadata[k++] = m->output == OUTPUT_SIGMOID ? "sigmoid" : "softmax";
  metadata[k++] = "tags", metadata[k++] = tags;
  if (em.front_end[0]) metadata[k++] = "front_end", metadata[k++] = em.front_end;
  if (dataset_config) metadata[k++] = "dataset_config", metadata[k++] = dataset_config;
  metadata[k++] = "model_config", metadata[k++] = m->config_text;
  metadata[k++] = "source", metadata[k++] = em.path;
  metadata[k] = NULL;
  onnx_export_model(m, metadata, AT_VERSION, a.out);
  printf("wrote %s: ONNX opset %d, input spectrogram [batch, %d, %d, %d], outputs logits and probabilities [batch, %d]"
         "%s\n",
         a.out, AT_ONNX_OPSET, m->input.c, m->input.h, m->input.w, m->classes,
         m->output_names ? "" : " (the weights do not name their outputs: metadata tags = [])");
  free(tags);
  free(dataset_config);
  free(em.experiment);
  model_free(em.m);
  return 0;
}
