/* auratag prep DATASET.ini --list FILES.csv --out DIR [--set SECTION.KEY=VALUE]
 *              [--threads N] [--keep-work] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/prep.h"
#include "cli/cli.h"
#include "core/error.h"

static const char k_usage[] =
    "auratag prep DATASET.ini --list FILES.csv --out DIR [--set SECTION.KEY=VALUE ...] [--threads N] [--keep-work]";

int cmd_prep(int argc, char **argv) {
  PrepOptions o;
  memset(&o, 0, sizeof o);
  for (int i = 0; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: %s\n\n"
             "Decodes every file of FILES.csv (columns among path, split, tags, song, fold), computes the front end\n"
             "of the dataset config and writes DIR/{train,valid,test}.h5, DIR/tags.txt and DIR/prep-report.json.\n"
             "Files that cannot be decoded are skipped and reported. An interrupted prep resumes where it stopped\n"
             "when run again with the same arguments (work records in DIR/.prep/, removed at the end unless\n"
             "--keep-work). --threads defaults to OMP_NUM_THREADS or every core.\n",
             k_usage);
      return 0;
    }
    if (!strcmp(argv[i], "--list") && v) o.list = argv[++i];
    else if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) && v) o.out = argv[++i];
    else if (!strcmp(argv[i], "--threads") && v) {
      char *end;
      long t = strtol(argv[++i], &end, 10);
      if (*end || t < 1 || t > 1024) at_fatal("--threads takes a number from 1 to 1024, not '%s'", argv[i]);
      o.threads = (int)t;
    } else if (!strcmp(argv[i], "--set") && v) {
      if (o.n_overrides == AT_PREP_MAX_OVERRIDES) at_fatal("at most %d --set options", AT_PREP_MAX_OVERRIDES);
      o.overrides[o.n_overrides++] = argv[++i];
    } else if (!strcmp(argv[i], "--keep-work")) {
      o.keep_work = 1;
    } else if (argv[i][0] == '-') {
      at_fatal("unknown option '%s' (or it lacks its value); usage: %s", argv[i], k_usage);
    } else if (!o.dataset_config) {
      o.dataset_config = argv[i];
    } else {
      at_fatal("'%s' is extra; usage: %s", argv[i], k_usage);
    }
  }
  if (!o.dataset_config || !o.list || !o.out) at_fatal("usage: %s", k_usage);
  return prep_run(&o);
}
