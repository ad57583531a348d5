/* auratag prep DATASET.ini --list FILES.csv --out DIR [--set SECTION.KEY=VALUE]
 *              [--threads N] [--keep-work] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/prep.h"
#include "cli/cli.h"
#include "core/error.h"

static const CliOption k_options[] = {
    {"list", 0, "FILES.csv", NULL, "the audio files: columns among path, split, tags, song, fold (required)"},
    {"out", 'o', "DIR", NULL, "where DIR/{train,valid,test}.h5, tags.txt and prep-report.json go (required)"},
    {"set", 0, "SECTION.KEY=VALUE", NULL, "override a dataset config value (repeatable)"},
    {"threads", 0, "N", "OMP_NUM_THREADS, else every core", "decoding threads"},
    {"keep-work", 0, NULL, NULL, "keep the work records (DIR/.prep/) after a successful run"},
    {0},
};
const CliCommand k_cli_prep = {
    "prep", "DATASET.ini --list FILES.csv --out DIR [--set SECTION.KEY=VALUE ...] [--threads N] [--keep-work]",
    "Decodes every listed file, computes the dataset config's front end and writes spectrogram caches. Files "
    "that cannot be decoded are skipped and reported. An interrupted prep resumes where it stopped when run again "
    "with the same arguments.",
    k_options, "auratag prep configs/datasets/demo.ini --list data/demo/files.csv --out data/demo/cache"};

int cmd_prep(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_prep, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  PrepOptions o;
  memset(&o, 0, sizeof o);
  o.dataset_config = p.positional[0];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "list")) o.list = p.value[i];
    else if (cli_is(&p, i, "out")) o.out = p.value[i];
    else if (cli_is(&p, i, "threads")) o.threads = (int)cli_long(&p, i, 1, 1024);
    else if (cli_is(&p, i, "keep-work")) o.keep_work = 1;
    else if (cli_is(&p, i, "set")) {
      if (o.n_overrides == AT_PREP_MAX_OVERRIDES) cli_usage_error(&k_cli_prep, "at most %d --set options", AT_PREP_MAX_OVERRIDES);
      o.overrides[o.n_overrides++] = p.value[i];
    }
  }
  if (!o.list || !o.out) cli_usage_error(&k_cli_prep, "--list FILES.csv and --out DIR are required");
  return prep_run(&o);
}
