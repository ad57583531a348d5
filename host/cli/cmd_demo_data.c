/* auratag demo-data OUT_DIR: renders the demo dataset (audio/demo_render.h)
 * -- WAV clips, files.csv for `auratag prep`, clips.csv and README.txt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/demo_render.h"
#include "cli/cli.h"
#include "core/error.h"

static const char *k_usage =
    "usage: auratag demo-data OUT_DIR [--clips 400] [--seconds 4] [--rate 22050] [--seed 1]\n"
    "                         [--soundfont PATH] [--quiet]\n"
    "Renders short clips of generated music with FluidSynth and a General MIDI SoundFont\n"
    "(default /usr/share/sounds/sf2/FluidR3_GM.sf2, Debian package fluid-soundfont-gm), tagged with\n"
    "their instrument families (piano organ guitar strings brass reed), drums, and a tempo class\n"
    "(slow medium fast); writes OUT_DIR/audio/*.wav, files.csv (path,split,tags), clips.csv, README.txt.";

int cmd_demo_data(int argc, char **argv) {
  const char *out = NULL;
  DemoSpec s = {.clips = 400, .seconds = 4, .rate = 22050, .seed = 1};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const int has_value = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf("%s\n", k_usage);
      return 0;
    } else if (!strcmp(a, "--quiet")) s.quiet = 1;
    else if (!has_value && a[0] == '-') at_fatal("demo-data: %s needs a value\n%s", a, k_usage);
    else if (!strcmp(a, "--clips")) s.clips = (int)cli_parse_long("demo-data", a, argv[++i], 1, 1000000);
    else if (!strcmp(a, "--seconds")) s.seconds = cli_parse_real("demo-data", a, argv[++i], 0.1, 600);
    else if (!strcmp(a, "--rate")) s.rate = cli_parse_real("demo-data", a, argv[++i], 8000, 96000);
    else if (!strcmp(a, "--seed")) s.seed = (uint64_t)cli_parse_long("demo-data", a, argv[++i], 0, 0x7fffffffffffffffL);
    else if (!strcmp(a, "--soundfont")) s.soundfont = argv[++i];
    else if (a[0] == '-') at_fatal("demo-data: unknown option '%s'\n%s", a, k_usage);
    else if (!out) out = a;
    else at_fatal("demo-data: one output folder at a time ('%s' is extra)\n%s", a, k_usage);
  }
  if (!out) at_fatal("demo-data: no output folder given\n%s", k_usage);
  demo_write_dataset(out, &s);
  return 0;
}
