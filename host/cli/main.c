/* auratag: train, evaluate and explain the CNNs of music auto-tagging research. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "dist/dist.h"
#include "nn/backend.h"
#ifdef AT_WITH_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/cuda_frontend.h"
#include "nn/backend_registry.h"
#endif

typedef struct Command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} Command;

static const Command k_commands[] = {
    {"model", cmd_model, "CONFIG [--set K=V]     print the layer table: shapes, parameters, MACs"},
    {"init", cmd_init, "CONFIG -o W.h5 [--seed N]  write seeded initial weights (HDF5)"},
    {"train", cmd_train, "EXPERIMENT [--set K=V] | --resume RUN_DIR  train a model on spectrogram caches"},
    {"eval", cmd_eval, "WEIGHTS_OR_RUN CACHE.h5 [--json F] [--csv F]  per-tag ROC/PR-AUC or accuracy"},
    {"predict", cmd_predict, "WEIGHTS_OR_RUN CACHE.h5 -o PRED.h5  per-example probabilities"},
    {"synth", cmd_synth, "OUT_DIR [--tags 8 | --classes 8] [--bins 40 --frames 80]  synthetic caches with learnable tags"},
    {"prep", cmd_prep, "DATASET.ini --list FILES.csv --out DIR [--set K=V] [--threads N]  audio files -> spectrogram caches"},
    {"tag", cmd_tag, "WEIGHTS_OR_RUN AUDIO... [--top 10] [--json]  top tags of audio files"},
    {"auralise", cmd_auralise, "WEIGHTS_OR_RUN AUDIO --layer L --feature K|--all [--out DIR]  deconvolve features, listen to them"},
    {"stimuli", cmd_stimuli, "OUT_DIR [--rate 22050] [--seconds 4]  render Choi et al.'s analysis templates (chords, drums): WAVs + stimuli.csv"},
    {"activations", cmd_activations, "WEIGHTS_OR_RUN --list stimuli.csv --out ACT.h5  per-feature mean activation of every conv block"},
    {"selftest", cmd_selftest, "[--json F] [--device N] [--quick]  prove the GPU path: every op and training steps vs the CPU"},
    {"demo-data", cmd_demo_data, "OUT_DIR [--clips 400] [--seconds 4] [--seed 1]  render the demo dataset (FluidSynth): WAVs + files.csv"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: auratag COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
    fprintf(out, "  %-11s %s\n", k_commands[i].name, k_commands[i].summary);
  fprintf(out, "\nShapes are written FREQUENCYxTIME(xCHANNELS); models are INI files in configs/models/.\n");
}

/* Options every command takes, removed from argv before the command sees
 * them: --backend NAME / --set backend=NAME and --device N / --set device=N. */
static int take_device_options(int argc, char **argv) {
  DeviceSettings *ds = at_device_settings();
  int out = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *value = NULL;
    int is_backend = 0;
    if ((!strcmp(a, "--backend") || !strcmp(a, "--device")) && i + 1 < argc) {
      is_backend = !strcmp(a, "--backend");
      value = argv[++i];
    } else if (!strcmp(a, "--set") && i + 1 < argc &&
               (!strncmp(argv[i + 1], "backend=", 8) || !strncmp(argv[i + 1], "device=", 7))) {
      is_backend = argv[i + 1][0] == 'b';
      value = strchr(argv[++i], '=') + 1;
    } else {
      argv[out++] = argv[i];
      continue;
    }
    if (is_backend) {
      if (strcmp(value, "cpu") && strcmp(value, "cuda") && strcmp(value, "auto"))
        at_fatal("backend '%s': use cpu, cuda or auto", value);
      snprintf(ds->backend, sizeof ds->backend, "%s", value);
      ds->backend_from_command_line = 1;
    } else {
      char *end = NULL;
      long d = strtol(value, &end, 10);
      if (!*value || *end || d < 0 || d > 1024) at_fatal("device '%s': expected a GPU number (0, 1, ...)", value);
      ds->cuda.device = (int)d;
      ds->device_from_command_line = 1;
    }
  }
  argv[out] = NULL;
  return out;
}

int main(int argc, char **argv) {
#ifdef AT_WITH_CUDA
  at_backend_register_cuda(at_backend_cuda, cuda_device_count, cuda_backend_description);
  at_frontend_register_gpu(cuda_frontend_ops());
  dist_register_device_allreduce(cuda_nccl_allreduce);
#endif
  argc = take_device_options(argc, argv);
  dist_init(&argc, &argv);
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
    if (!strcmp(argv[1], k_commands[i].name)) {
      int rc = k_commands[i].run(argc - 2, argv + 2);
      dist_finalize();
      return rc;
    }
  fprintf(stderr, "auratag: error: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
