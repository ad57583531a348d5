/* auratag stimuli OUT_DIR: renders the analysis stimuli of Choi, Fazekas &
 * Sandler 2016 (audio/stimuli.h) -- harmonic templates (key x instrument x
 * chord set) and drum templates -- as WAV files and stimuli.csv. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/stimuli.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/progress.h"

static const CliOption k_options[] = {
    {"rate", 0, "HZ", "22050", "sample rate"},
    {"seconds", 0, "S", "4", "length of each stimulus"},
    {"soundfont", 0, "PATH", "/usr/share/sounds/sf2/FluidR3_GM.sf2 (Debian: fluid-soundfont-gm)", "a General MIDI SoundFont"},
    {0},
};
const CliCommand k_cli_stimuli = {
    "stimuli", "OUT_DIR [--rate 22050] [--seconds 4] [--soundfont PATH]",
    "Renders the analysis templates of Choi, Fazekas & Sandler 2016 with FluidSynth: keys Bb2 Eb2 A3 G4 x "
    "instruments (sine, piano, acoustic and electric guitar, saxophone, strings) x chord sets, and drum patterns "
    "with and without fills; writes OUT_DIR/audio/*.wav and stimuli.csv (path,kind,key,instrument,chords,drums).",
    k_options, "auratag stimuli data/stimuli"};

int cmd_stimuli(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_stimuli, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  const char *out = p.positional[0];
  StimuliSpec s = {.seconds = 4, .rate = 22050};
  s.quiet = progress_quiet(); /* the global --quiet (cli/main.c) */
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "seconds")) s.seconds = cli_real(&p, i, 0.1, 600);
    else if (cli_is(&p, i, "rate")) s.rate = cli_real(&p, i, 8000, 96000);
    else if (cli_is(&p, i, "soundfont")) s.soundfont = p.value[i];
  }
  stimuli_write(out, &s);
  return 0;
}
