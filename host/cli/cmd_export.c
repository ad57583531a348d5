/* auratag export WEIGHTS|RUN_DIR|NAME --format onnx|h5 -o FILE
 *
 * onnx: the network in inference mode as an ONNX model (docs/export.md):
 * input "spectrogram" [batch, channels, frequency, time], outputs "logits"
 * and "probabilities" [batch, classes]; what the outputs mean and the front
 * end the spectrogram must come from travel in its metadata_props.
 * torch: a state dict with the model config and tags (export/torch_file.h).
 * h5: a clean weights file (parameters, statistics, tags; no optimiser or
 * loader state). Each writes the model card FILE.json beside the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "audio/dataset_config.h"
#include "audio/model_input.h"
#include "audio/prep.h"
#include "data/cache.h"
#include "export/model_card.h"
#include "export/onnx_file.h"
#include "export/torch_file.h"
#include "io/weights_h5.h"
#include "train/experiment.h"

#include "commit.h" /* AT_COMMIT, written by the Makefile */

typedef struct ExportArgs {
  const char *weights, *format, *out;
  int with_front_end;
} ExportArgs;

static const CliOption k_options[] = {
    {"format", 0, "onnx|torch|h5", "onnx", "ONNX (opset 17), a PyTorch state dict with its config (torch.load), or a clean auratag weights file"},
    {"out", 'o', "FILE", NULL, "the file to write (required); its model card goes beside it as FILE.json"},
    {"with-front-end", 0, NULL, NULL,
     "onnx: from a mono waveform at the model's sample rate to tag probabilities, as `auratag tag` computes them"},
    {0},
};
const CliCommand k_cli_export = {
    "export", "WEIGHTS.h5|RUN_DIR|NAME [--format onnx|torch|h5] [--with-front-end] -o FILE",
    "Writes a trained model in inference mode as ONNX (tag names and front end in its metadata), as a PyTorch "
    "state dict, or as a clean weights file; and its model card (FILE.json).",
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
    else if (cli_is(&p, i, "with-front-end")) a->with_front_end = 1;
  }
  if (a->with_front_end && strcmp(a->format, "onnx") != 0)
    cli_usage_error(&k_cli_export, "--with-front-end builds an ONNX graph: it goes with --format onnx");
  if (strcmp(a->format, "onnx") != 0 && strcmp(a->format, "torch") != 0 && strcmp(a->format, "h5") != 0)
    cli_usage_error(&k_cli_export, "--format '%s': the export writes onnx, torch or h5", a->format);
  if (!a->out) cli_usage_error(&k_cli_export, "-o FILE is required");
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

/* The front end a model was trained with, where it can be known: the
 * weights' own dataset config, or the run's training cache while it is there
 * (and was made by prep from audio: a synthetic cache says nothing of audio).
 * Returns 0 when neither. */
static int front_end_setup(const EvalModel *em, const char *dataset_config, PrepSetup *setup, char *desc,
                           size_t desc_size) {
  int have = dataset_config != NULL;
  if (!have && em->experiment) {
    Experiment *e = experiment_from_text(em->experiment, em->path);
    have = access(e->data.train, R_OK) == 0 && prep_cache_has_setup(e->data.train);
    experiment_free(e);
  }
  if (!have) return 0;
  char cache_path[4300];
  cache_close(cli_front_end_for(em, "export", NULL, setup, cache_path, sizeof cache_path, desc, desc_size));
  return 1;
}

/* RUN/results.json beside a run's checkpoint, or NULL. */
static char *run_results(const char *weights_path) {
  char path[4400];
  const char *slash = strrchr(weights_path, '/');
  snprintf(path, sizeof path, "%.*sresults.json", slash ? (int)(slash - weights_path + 1) : 0, weights_path);
  return access(path, R_OK) == 0 ? at_read_text_file(path, 1 << 26) : NULL;
}

int cmd_export(int argc, char **argv) {
  ExportArgs a;
  parse(argc, argv, &a);
  EvalModel em;
  cli_load_for_eval(a.weights, 1, 1, 0, stdout, &em);
  const Model *m = em.m;
  char *tags = tags_json(m), *dataset_config = weights_read_dataset_config(em.path);
  char card_path[4400];
  model_card_path(a.out, card_path, sizeof card_path);
  if (!strcmp(card_path, a.out)) cli_usage_error(&k_cli_export, "-o %s: name the file with another extension than .json", a.out);
  PrepSetup setup;
  char desc[1024] = "", norm[256] = "none";
  const int known = front_end_setup(&em, dataset_config, &setup, desc, sizeof desc);
  if (a.with_front_end && !known)
    at_fatal("--with-front-end: '%s' does not say how its input was computed from audio (weights from `auratag "
             "init`, or a run on a synthetic or missing cache); export the run whose training cache `auratag prep` "
             "made, or a model imported with its front end",
             em.path);
  if (known && setup.has_norm) snprintf(norm, sizeof norm, "global: mean %.9g, std %.9g", setup.norm_mean, setup.norm_std);
  if (!strcmp(a.format, "h5")) {
    if (dataset_config) weights_save_with_front_end(m, a.out, dataset_config);
    else weights_save(m, a.out);
    printf("wrote %s: weights of model %s (%zu parameters)\n", a.out, m->name, m->n_weights);
  }
  if (!strcmp(a.format, "torch")) {
    torch_export_model(m, a.out);
    printf("wrote %s: the state dict of model %s with its config and tags (scripts/auratag_torch.py loads it)\n",
           a.out, m->name);
  }
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
  if (!strcmp(a.format, "onnx")) {
    OnnxFrontEnd fe = {0};
    if (a.with_front_end) {
      ModelInput in;
      model_input_init(&in, &setup, m->input.w, m->be);
      fe = (OnnxFrontEnd){.fe = &setup.dc->fe, .min_samples = in.min_samples, .has_norm = setup.has_norm,
                          .norm_mean = setup.norm_mean, .norm_std = setup.norm_std};
      model_input_free(&in);
    }
    onnx_export_model(m, a.with_front_end ? &fe : NULL, metadata, AT_VERSION, a.out);
    if (a.with_front_end)
      printf("wrote %s: ONNX opset %d, input audio [samples] (mono, %g Hz), outputs probabilities [%d] (the mean over "
             "crops of %d frames, as auratag tag) and crop_probabilities [crops, %d]\n",
             a.out, AT_ONNX_OPSET, setup.dc->fe.sample_rate, m->classes, m->input.w, m->classes);
    else
      printf("wrote %s: ONNX opset %d, input spectrogram [batch, %d, %d, %d], outputs logits and probabilities "
             "[batch, %d]%s\n",
             a.out, AT_ONNX_OPSET, m->input.c, m->input.h, m->input.w, m->classes,
             m->output_names ? "" : " (the weights do not name their outputs: metadata tags = [])");
  }
  ModelCard card = {.m = m, .source = em.path, .file = a.out, .format = a.format, .dataset_config = dataset_config,
                    .experiment = em.experiment, .version = AT_VERSION, .commit = AT_COMMIT};
  card.front_end = known ? desc : em.front_end[0] ? em.front_end : NULL;
  card.sample_rate = known ? setup.dc->fe.sample_rate : 0;
  card.normalisation = known ? norm : NULL;
  if (known) prep_setup_free(&setup);
  char *results = run_results(em.path);
  card.results_json = results;
  model_card_write(&card, card_path);
  printf("wrote %s: the model card\n", card_path);
  free(results);
  free(tags);
  free(dataset_config);
  free(em.experiment);
  model_free(em.m);
  return 0;
}
