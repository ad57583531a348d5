/* auratag synth OUT_DIR: a synthetic dataset with learnable tags (synth.h),
 * as train.h5, valid.h5 and test.h5 caches. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "data/synth.h"

static const CliOption k_options[] = {
    {"bins", 0, "N", "40", "frequency bins per frame"},
    {"frames", 0, "N", "80", "frames per example"},
    {"tags", 0, "N", "8", "multi-label: this many tags"},
    {"classes", 0, "N", NULL, "single-label: this many classes (instead of --tags)"},
    {"train", 0, "N", "2000", "examples in train.h5"},
    {"valid", 0, "N", "400", "examples in valid.h5"},
    {"test", 0, "N", "400", "examples in test.h5"},
    {"seed", 0, "N", "1", "the seed of everything random"},
    {"patterns", 0, "mixed|bands|rhythms|both", "mixed", "what makes a tag: a frequency band, an onset rate, or both"},
    {"songs", 0, "K", NULL, "group every K examples into a song (/song)"},
    {"folds", 0, "F", NULL, "assign songs to F cross-validation folds (/fold)"},
    {"float32", 0, NULL, NULL, "store float32 features (default: float16)"},
    {"chunked", 0, NULL, NULL, "chunked /features (one example per chunk) instead of contiguous"},
    {0},
};
const CliCommand k_cli_synth = {
    "synth", "OUT_DIR [--tags 8 | --classes 8] [--bins 40 --frames 80] [--patterns P] [--songs K --folds F]",
    "Writes synthetic caches (train.h5, valid.h5, test.h5) with learnable tags: quick experiments and tests.",
    k_options, "auratag synth data/synth --tags 8 --patterns both"};

static int parse_patterns(const CliArgs *p, int i) {
  const char *v = p->value[i];
  if (!strcmp(v, "mixed")) return SYNTH_MIXED;
  if (!strcmp(v, "bands")) return SYNTH_BANDS;
  if (!strcmp(v, "rhythms")) return SYNTH_RHYTHMS;
  if (!strcmp(v, "both")) return SYNTH_BOTH;
  cli_usage_error(&k_cli_synth, "--patterns '%s' is not one of mixed, bands, rhythms, both", v);
}

int cmd_synth(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_synth, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  const char *out = p.positional[0];
  SynthSpec s = {.bins = 40, .frames = 80, .seed = 1, .feature_bytes = 2};
  int tags = 0, classes = 0;
  long n_split[3] = {2000, 400, 400};
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "float32")) s.feature_bytes = 4;
    else if (cli_is(&p, i, "chunked")) s.chunked = 1;
    else if (cli_is(&p, i, "bins")) s.bins = (int)cli_long(&p, i, 1, 100000);
    else if (cli_is(&p, i, "frames")) s.frames = (int)cli_long(&p, i, 2, 10000000);
    else if (cli_is(&p, i, "tags")) tags = (int)cli_long(&p, i, 1, 100000);
    else if (cli_is(&p, i, "classes")) classes = (int)cli_long(&p, i, 2, 100000);
    else if (cli_is(&p, i, "train")) n_split[0] = cli_long(&p, i, 1, 100000000);
    else if (cli_is(&p, i, "valid")) n_split[1] = cli_long(&p, i, 1, 100000000);
    else if (cli_is(&p, i, "test")) n_split[2] = cli_long(&p, i, 1, 100000000);
    else if (cli_is(&p, i, "seed")) s.seed = (uint64_t)cli_long(&p, i, 0, 0x7fffffffffffffffL);
    else if (cli_is(&p, i, "songs")) s.examples_per_song = (int)cli_long(&p, i, 1, 1000000);
    else if (cli_is(&p, i, "folds")) s.folds = (int)cli_long(&p, i, 1, 1000);
    else if (cli_is(&p, i, "patterns")) s.patterns = parse_patterns(&p, i);
  }
  if (tags && classes) cli_usage_error(&k_cli_synth, "--tags (multi-label) and --classes (single-label) exclude each other");
  if (!tags && !classes) tags = 8;
  s.n_tags = tags;
  s.classes = classes;
  at_make_dirs(out);

  static const char *k_split[3] = {"train", "valid", "test"};
  for (int k = 0; k < 3; k++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.h5", out, k_split[k]);
    s.n = (int)n_split[k];
    s.stream = (uint64_t)k;
    synth_write(path, &s);
    printf("wrote %s: %d examples of %d bins x %d frames, %d %s, float%d\n", path, s.n, s.bins, s.frames,
           tags ? tags : classes, tags ? "tags (multi-label)" : "classes (single-label)", 8 * s.feature_bytes);
  }
  return 0;
}
