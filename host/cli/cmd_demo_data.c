/* auratag demo-data OUT_DIR: renders the demo dataset (audio/demo_render.h)
 * -- WAV clips, files.csv for `auratag prep`, clips.csv and README.txt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/demo_render.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/progress.h"

static const CliOption k_options[] = {
    {"clips", 0, "N", "400", "how many clips"},
    {"seconds", 0, "S", "4", "length of each clip"},
    {"rate", 0, "HZ", "22050", "sample rate"},
    {"seed", 0, "N", "1", "the seed of the generated music"},
    {"soundfont", 0, "PATH", "/usr/share/sounds/sf2/FluidR3_GM.sf2 (Debian: fluid-soundfont-gm)", "a General MIDI SoundFont"},
    {0},
};
const CliCommand k_cli_demo_data = {
    "demo-data", "OUT_DIR [--clips 400] [--seconds 4] [--rate 22050] [--seed 1] [--soundfont PATH]",
    "Renders the demo dataset with FluidSynth: clips of generated music tagged with their instrument families "
    "(piano organ guitar strings brass reed), drums and a tempo class (slow medium fast); writes OUT_DIR/audio/*.wav, "
    "files.csv (path,split,tags) for `auratag prep`, clips.csv and README.txt. Deterministic from the seed.",
    k_options, "auratag demo-data data/demo --clips 100"};

int cmd_demo_data(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_demo_data, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  const char *out = p.positional[0];
  DemoSpec s = {.clips = 400, .seconds = 4, .rate = 22050, .seed = 1};
  s.quiet = progress_quiet(); /* the global --quiet (cli/main.c) */
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "clips")) s.clips = (int)cli_long(&p, i, 1, 1000000);
    else if (cli_is(&p, i, "seconds")) s.seconds = cli_real(&p, i, 0.1, 600);
    else if (cli_is(&p, i, "rate")) s.rate = cli_real(&p, i, 8000, 96000);
    else if (cli_is(&p, i, "seed")) s.seed = (uint64_t)cli_long(&p, i, 0, 0x7fffffffffffffffL);
    else if (cli_is(&p, i, "soundfont")) s.soundfont = p.value[i];
  }
  demo_write_dataset(out, &s);
  return 0;
}
