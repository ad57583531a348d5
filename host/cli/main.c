/* auratag: train, evaluate and explain the CNNs of music auto-tagging research. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/progress.h"
#include "config/device_settings.h"
#include "core/stop_signals.h"
#include "dist/dist.h"
#include "nn/backend.h"
#ifdef AT_WITH_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/cuda_frontend.h"
#include "nn/backend_registry.h"
#endif


typedef struct Command {
  const CliCommand *cli; /* name, usage, options, example */
  int (*run)(int argc, char **argv);
} Command;

static const Command k_commands[] = {
    {&k_cli_model, cmd_model},       {&k_cli_init, cmd_init},         {&k_cli_train, cmd_train},
    {&k_cli_eval, cmd_eval},         {&k_cli_predict, cmd_predict},   {&k_cli_synth, cmd_synth},
    {&k_cli_prep, cmd_prep},         {&k_cli_tag, cmd_tag},           {&k_cli_auralise, cmd_auralise},
    {&k_cli_stimuli, cmd_stimuli},   {&k_cli_activations, cmd_activations},
    {&k_cli_selftest, cmd_selftest}, {&k_cli_demo_data, cmd_demo_data}, {&k_cli_import, cmd_import},
    {&k_cli_models, cmd_models},     {&k_cli_embed, cmd_embed},       {&k_cli_export, cmd_export},
    {&k_cli_probe, cmd_probe},       {&k_cli_report, cmd_report},
};
enum { N_COMMANDS = sizeof k_commands / sizeof k_commands[0] };

/* A command's summary up to its first ';', ':' or end of sentence, for the
 * list of commands. */
static void print_first_clause(FILE *out, const char *text) {
  int len = 0;
  while (text[len] && text[len] != ';' && !(text[len] == ':' && text[len + 1] == ' ') &&
         !(text[len] == '.' && text[len + 1] == ' ' && text[len + 2] >= 'A' && text[len + 2] <= 'Z'))
    len++;
  if (len > 0 && text[len - 1] == '.') len--;
  fprintf(out, "%.*s\n", len, text);
}

static void usage(FILE *out) {
  fprintf(out, "usage: auratag COMMAND [ARGS]    auratag COMMAND --help    auratag --version\n\ncommands:\n");
  for (int i = 0; i < N_COMMANDS; i++) {
    fprintf(out, "  %-12s ", k_commands[i].cli->name);
    print_first_clause(out, k_commands[i].cli->summary);
  }
  fprintf(out, "\nShapes are written FREQUENCYxTIME(xCHANNELS); models are INI files in configs/models/.\n"
               "`auratag help COMMAND` (or `auratag COMMAND --help`) prints a command's options and an example.\n");
}

static void version(void) {
  printf("auratag %s\nbackends: cpu yes, cuda %s, mpi %s\n", AT_VERSION,
#ifdef AT_WITH_CUDA
         "yes",
#else
         "no",
#endif
         dist_built() ? "yes" : "no");
}

static const Command *find_command(const char *name) {
  for (int i = 0; i < N_COMMANDS; i++)
    if (!strcmp(name, k_commands[i].cli->name)) return &k_commands[i];
  return NULL;
}

/* Options every command takes, removed from argv before the command sees
 * them: --backend NAME / --set backend=NAME, --device N / --set device=N and
 * --quiet (no progress output: core/progress.h). */
static int take_device_options(int argc, char **argv) {
  DeviceSettings *ds = at_device_settings();
  int out = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *value = NULL;
    int is_backend = 0;
    if (!strcmp(a, "--quiet")) {
      progress_set_quiet(1);
      continue;
    }
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
  /* A corrupt file can leave libhdf5's own heap damaged after a read it
   * survived; its clean-up at exit would then abort a run that succeeded.
   * The process ends anyway: let the kernel take the memory back. */
  H5dont_atexit();
  at_signals_init(); /* before any thread exists: see core/stop_signals.h */
#ifdef AT_WITH_CUDA
  at_backend_register_cuda(at_backend_cuda, cuda_device_count, cuda_backend_description);
  at_frontend_register_gpu(cuda_frontend_ops());
  dist_register_device_allreduce(cuda_nccl_allreduce);
#endif
  argc = take_device_options(argc, argv);
  if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
    version();
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "help")) { /* auratag help COMMAND = auratag COMMAND --help */
    const Command *c = find_command(argv[2]);
    if (!c) {
      fprintf(stderr, "auratag: error: unknown command '%s'\n\n", argv[2]);
      usage(stderr);
      return 2;
    }
    cli_print_usage(c->cli, stdout);
    return 0;
  }
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const Command *c = find_command(argv[1]);
  if (!c) {
    fprintf(stderr, "auratag: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
  }
  dist_init(&argc, &argv);
  int rc = c->run(argc - 2, argv + 2);
  dist_finalize();
  return rc;
}
