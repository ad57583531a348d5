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

static const char *k_usage =
    "usage: auratag stimuli OUT_DIR [--rate 22050] [--seconds 4] [--soundfont PATH] [--quiet]\n"
    "Renders the analysis templates of Choi, Fazekas & Sandler 2016: keys Bb2 Eb2 A3 G4 x instruments\n"
    "Sine Piano Acoustic_guitar Electric_guitar Saxophone Strings x chord sets intervals M_m sus4_M7 7_m\n"
    "dim_blank, and drums (4beat 8beat 16beat, with and without a fill), with FluidSynth and a General\n"
    "MIDI SoundFont (default /usr/share/sounds/sf2/FluidR3_GM.sf2, Debian package fluid-soundfont-gm);\n"
    "writes OUT_DIR/audio/*.wav, stimuli.csv (path,kind,key,instrument,chords,drums), README.txt.";

int cmd_stimuli(int argc, char **argv) {
  const char *out = NULL;
  StimuliSpec s = {.seconds = 4, .rate = 22050};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const int has_value = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf("%s\n", k_usage);
      return 0;
    } else if (!strcmp(a, "--quiet")) s.quiet = 1;
    else if (!has_value && a[0] == '-') at_fatal("stimuli: %s needs a value\n%s", a, k_usage);
    else if (!strcmp(a, "--seconds")) s.seconds = cli_parse_real("stimuli", a, argv[++i], 0.1, 600);
    else if (!strcmp(a, "--rate")) s.rate = cli_parse_real("stimuli", a, argv[++i], 8000, 96000);
    else if (!strcmp(a, "--soundfont")) s.soundfont = argv[++i];
    else if (a[0] == '-') at_fatal("stimuli: unknown option '%s'\n%s", a, k_usage);
    else if (!out) out = a;
    else at_fatal("stimuli: one output folder at a time ('%s' is extra)\n%s", a, k_usage);
  }
  if (!out) at_fatal("stimuli: no output folder given\n%s", k_usage);
  stimuli_write(out, &s);
  return 0;
}
