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

static const char *k_usage =
    "usage: auratag synth OUT_DIR [--bins 40] [--frames 80] [--tags 8 | --classes 8] [--train 2000]\n"
    "                     [--valid 400] [--test 400] [--seed 1] [--float32] [--patterns mixed|bands|rhythms|both]\n"
    "                     [--songs K] [--folds F] [--chunked]";

int cmd_synth(int argc, char **argv) {
  const char *out = NULL;
  SynthSpec s = {.bins = 40, .frames = 80, .seed = 1, .feature_bytes = 2};
  int tags = 0, classes = 0;
  long n_split[3] = {2000, 400, 400};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf("%s\n", k_usage);
      return 0;
    } else if (!strcmp(a, "--float32")) s.feature_bytes = 4;
    else if (!strcmp(a, "--chunked")) s.chunked = 1;
    else if (!has_value && a[0] == '-') at_fatal("synth: %s needs a value\n%s", a, k_usage);
    else if (!strcmp(a, "--bins")) s.bins = (int)cli_parse_long("synth", a, argv[++i], 1, 100000);
    else if (!strcmp(a, "--frames")) s.frames = (int)cli_parse_long("synth", a, argv[++i], 2, 10000000);
    else if (!strcmp(a, "--tags")) tags = (int)cli_parse_long("synth", a, argv[++i], 1, 100000);
    else if (!strcmp(a, "--classes")) classes = (int)cli_parse_long("synth", a, argv[++i], 2, 100000);
    else if (!strcmp(a, "--train")) n_split[0] = cli_parse_long("synth", a, argv[++i], 1, 100000000);
    else if (!strcmp(a, "--valid")) n_split[1] = cli_parse_long("synth", a, argv[++i], 1, 100000000);
    else if (!strcmp(a, "--test")) n_split[2] = cli_parse_long("synth", a, argv[++i], 1, 100000000);
    else if (!strcmp(a, "--seed")) s.seed = (uint64_t)cli_parse_long("synth", a, argv[++i], 0, 0x7fffffffffffffffL);
    else if (!strcmp(a, "--songs")) s.examples_per_song = (int)cli_parse_long("synth", a, argv[++i], 1, 1000000);
    else if (!strcmp(a, "--folds")) s.folds = (int)cli_parse_long("synth", a, argv[++i], 1, 1000);
    else if (!strcmp(a, "--patterns")) {
      const char *v = argv[++i];
      if (!strcmp(v, "mixed")) s.patterns = SYNTH_MIXED;
      else if (!strcmp(v, "bands")) s.patterns = SYNTH_BANDS;
      else if (!strcmp(v, "rhythms")) s.patterns = SYNTH_RHYTHMS;
      else if (!strcmp(v, "both")) s.patterns = SYNTH_BOTH;
      else at_fatal("synth: --patterns '%s' is not one of mixed, bands, rhythms, both", v);
    } else if (a[0] == '-') at_fatal("synth: unknown option '%s'\n%s", a, k_usage);
    else if (!out) out = a;
    else at_fatal("synth: one output folder at a time ('%s' is extra)\n%s", a, k_usage);
  }
  if (!out) at_fatal("synth: no output folder given\n%s", k_usage);
  if (tags && classes) at_fatal("synth: --tags (multi-label) and --classes (single-label) exclude each other");
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
