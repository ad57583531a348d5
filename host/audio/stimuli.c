/* The analysis stimuli of Choi, Fazekas & Sandler 2016 (stimuli.h): note
 * lists for the templates, rendered with FluidSynth (demo_render_notes) or
 * as pure sines, levelled per group, written as WAV + stimuli.csv. */
#include "audio/stimuli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio_io.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"

const char *const stim_key_names[STIM_N_KEYS] = {"Bb2", "Eb2", "A3", "G4"};
const int stim_key_midi[STIM_N_KEYS] = {46, 39, 57, 67};
const char *const stim_instrument_names[STIM_N_INSTRUMENTS] = {"Sine",      "Piano",    "Acoustic_guitar",
                                                               "Electric_guitar", "Saxophone", "Strings"};
const int stim_instrument_programs[STIM_N_INSTRUMENTS] = {-1, 0, 25, 27, 65, 48};
const char *const stim_chord_set_names[STIM_N_CHORD_SETS] = {"intervals", "M_m", "sus4_M7", "7_m", "dim_blank"};
const char *const stim_drum_pattern_names[STIM_N_DRUM_PATTERNS] = {"4beat", "8beat", "16beat"};

#define CHORD_SET_REFERENCE 1 /* M_m: the level reference of a key x instrument */
#define HARMONIC_VELOCITY 90
#define GATE 0.95
#define LEVEL_DB (-20.0)

/* A chord: its intervals above the root, -1 terminated (an empty one is a
 * rest). */
typedef struct Chord {
  int iv[5];
} Chord;

/* The chords of a chord set, in order, each taking an equal slot. */
static int chord_set(int set, Chord *out) {
  static const Chord k_two[4][2] = {
      {{{0, 4, 7, -1}}, {{0, 3, 7, -1}}},        /* M_m: major, minor */
      {{{0, 5, 7, -1}}, {{0, 4, 7, 11, -1}}},    /* sus4_M7: sus4, major 7th */
      {{{0, 4, 7, 10, -1}}, {{0, 3, 7, -1}}},    /* 7_m: dominant 7th, minor */
      {{{0, 3, 6, -1}}, {{-1}}},                 /* dim_blank: diminished, silence */
  };
  if (set == 0) { /* intervals: minor second .. octave */
    for (int k = 1; k <= 12; k++) out[k - 1] = (Chord){{0, k, -1}};
    return 12;
  }
  AT_ASSERT(set >= 1 && set < STIM_N_CHORD_SETS);
  out[0] = k_two[set - 1][0];
  out[1] = k_two[set - 1][1];
  return 2;
}

int stim_chord_notes(int key, int set, double seconds, DemoNote *out) {
  AT_ASSERT(key >= 0 && key < STIM_N_KEYS);
  Chord chords[12];
  const int n_chords = chord_set(set, chords);
  const double slot = seconds / n_chords;
  int n = 0;
  for (int c = 0; c < n_chords; c++)
    for (int v = 0; v < 5 && chords[c].iv[v] >= 0; v++) {
      AT_ASSERT(n < STIM_MAX_NOTES);
      out[n++] = (DemoNote){c * slot, (c + GATE) * slot, 0, stim_key_midi[key] + chords[c].iv[v], HARMONIC_VELOCITY};
    }
  return n;
}

/* GM percussion keys */
enum { KICK = 36, SNARE = 38, HIHAT = 42, TOM_FLOOR_LOW = 41, TOM_LOW = 45, TOM_HI_MID = 48, TOM_HIGH = 50 };

int stim_drum_notes(int pattern, int fill, double seconds, DemoNote *out) {
  AT_ASSERT(pattern >= 0 && pattern < STIM_N_DRUM_PATTERNS);
  const int steps = 32; /* 2 bars of 16 sixteenths */
  const double step = seconds / steps, len = fmin(0.1, 0.9 * step);
  const int hat_every = 4 >> pattern; /* 4, 2, 1 sixteenths */
  static const int k_fill[8] = {SNARE, SNARE, TOM_HIGH, TOM_HIGH, TOM_HI_MID, TOM_HI_MID, TOM_LOW, TOM_FLOOR_LOW};
  const int fill_from = 24; /* bar 2, beat 3 */
  int n = 0;
#define HIT(s, k, v) (out[n++] = (DemoNote){(s)*step, (s)*step + len, DEMO_DRUM_CHANNEL, (k), (v)})
  for (int s = 0; s < steps; s++) {
    const int in_bar = s % 16;
    if (fill && s >= fill_from) {
      if (s == fill_from) HIT(s, KICK, 100);
      HIT(s, k_fill[s - fill_from], 100);
      continue;
    }
    if (in_bar == 0 || in_bar == 8) HIT(s, KICK, 100);
    if (in_bar == 4 || in_bar == 12) HIT(s, SNARE, 100);
    if (s % hat_every == 0) HIT(s, HIHAT, s % 4 == 0 ? 85 : 70);
  }
#undef HIT
  AT_ASSERT(n <= STIM_MAX_NOTES);
  return n;
}

void stim_render_sine(const DemoNote *notes, int n_notes, double rate, long n, float *out) {
  const double attack = 0.005, release = 0.020, pi = 3.14159265358979323846;
  double *acc = at_calloc((size_t)(n > 0 ? n : 1), sizeof(double), "sine render");
  for (int i = 0; i < n_notes; i++) {
    const DemoNote *x = &notes[i];
    const double f = 440.0 * pow(2.0, (x->key - 69) / 12.0), amp = 0.1 * x->vel / 127.0;
    long a = (long)ceil(x->t0 * rate), b = (long)floor((x->t1 + release) * rate);
    if (a < 0) a = 0;
    if (b > n - 1) b = n - 1;
    for (long j = a; j <= b; j++) {
      const double t = j / rate - x->t0;
      double env = 1.0;
      if (t < attack) env = 0.5 - 0.5 * cos(pi * t / attack);
      const double after = j / rate - x->t1;
      if (after > 0) env *= after < release ? 0.5 + 0.5 * cos(pi * after / release) : 0.0;
      acc[j] += amp * env * sin(2 * pi * f * t);
    }
  }
  for (long j = 0; j < n; j++) out[j] = (float)acc[j];
  free(acc);
}

/* ---- writing ---- */

static double rms_of(const float *x, long n) {
  double s = 0;
  for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
  return sqrt(s / (double)(n > 0 ? n : 1));
}

static double peak_of(const float *x, long n) {
  double p = 0;
  for (long i = 0; i < n; i++)
    if (fabs(x[i]) > p) p = fabs(x[i]);
  return p;
}

/* Levels a group of `count` renders of n samples by the gain that brings
 * render `ref` to LEVEL_DB RMS (kept below a 0.99 peak), and writes them. */
static void level_and_write(float *const *audio, char (*paths)[4300], int count, int ref, long n, double rate) {
  double gain = pow(10.0, LEVEL_DB / 20.0) / rms_of(audio[ref], n), peak = 0;
  for (int i = 0; i < count; i++) peak = fmax(peak, peak_of(audio[i], n));
  if (peak * gain > 0.99) gain = 0.99 / peak;
  for (int i = 0; i < count; i++) {
    for (long j = 0; j < n; j++) audio[i][j] = (float)(audio[i][j] * gain);
    audio_write_wav(paths[i], audio[i], n, rate);
  }
}

static void check_sound(const float *x, long n, const char *name) {
  if (rms_of(x, n) < 1e-6)
    at_fatal("stimuli: %s rendered silent (does the SoundFont have General MIDI sounds? Debian: fluid-soundfont-gm)",
             name);
}

enum { STIM_GROUP = STIM_N_CHORD_SETS > STIM_N_DRUMS ? STIM_N_CHORD_SETS : STIM_N_DRUMS };

/* What rendering needs: the synth, a group of clips levelled together, their paths. */
typedef struct StimRender {
  const StimuliSpec *spec;
  DemoSynth *synth;
  const char *audio_dir;
  long n; /* samples per clip */
  float *audio[STIM_GROUP];
  char (*paths)[4300];
  DemoNote *notes;
  int programs[DEMO_CHANNELS];
} StimRender;

/* Every key x instrument x chord set, one gain per key x instrument. */
static void render_harmonic(StimRender *r, FILE *csv) {
  const StimuliSpec *spec = r->spec;
  const long n = r->n;
  for (int k = 0; k < STIM_N_KEYS; k++)
    for (int ins = 0; ins < STIM_N_INSTRUMENTS; ins++) {
      for (int set = 0; set < STIM_N_CHORD_SETS; set++) {
        char name[128];
        snprintf(name, sizeof name, "%s_%s_%s", stim_key_names[k], stim_instrument_names[ins],
                 stim_chord_set_names[set]);
        snprintf(r->paths[set], sizeof r->paths[set], "%s/%s.wav", r->audio_dir, name);
        const int n_notes = stim_chord_notes(k, set, spec->seconds, r->notes);
        if (stim_instrument_programs[ins] < 0) {
          stim_render_sine(r->notes, n_notes, spec->rate, n, r->audio[set]);
        } else {
          for (int ch = 0; ch < DEMO_CHANNELS; ch++) r->programs[ch] = -1;
          r->programs[0] = stim_instrument_programs[ins];
          demo_render_notes(r->synth, r->notes, n_notes, r->programs, n, r->audio[set]);
        }
        check_sound(r->audio[set], n, name);
        fprintf(csv, "audio/%s.wav,harmonic,%s,%s,%s,\n", name, stim_key_names[k], stim_instrument_names[ins],
                stim_chord_set_names[set]);
      }
      level_and_write(r->audio, r->paths, STIM_N_CHORD_SETS, CHORD_SET_REFERENCE, n, spec->rate);
    }
}

/* Every drum pattern with and without its fill, one gain for all. */
static void render_drums(StimRender *r, FILE *csv) {
  const StimuliSpec *spec = r->spec;
  for (int p = 0; p < STIM_N_DRUM_PATTERNS; p++)
    for (int fill = 0; fill < 2; fill++) {
      const int i = 2 * p + fill;
      char name[64];
      snprintf(name, sizeof name, "drums_%s%s", stim_drum_pattern_names[p], fill ? "_fill" : "");
      snprintf(r->paths[i], sizeof r->paths[i], "%s/%s.wav", r->audio_dir, name);
      const int n_notes = stim_drum_notes(p, fill, spec->seconds, r->notes);
      for (int ch = 0; ch < DEMO_CHANNELS; ch++) r->programs[ch] = -1;
      r->programs[DEMO_DRUM_CHANNEL] = 0; /* standard kit */
      demo_render_notes(r->synth, r->notes, n_notes, r->programs, r->n, r->audio[i]);
      check_sound(r->audio[i], r->n, name);
      fprintf(csv, "audio/%s.wav,drums,,drums,,%s%s\n", name, stim_drum_pattern_names[p], fill ? "_fill" : "");
    }
  level_and_write(r->audio, r->paths, STIM_N_DRUMS, 0, r->n, spec->rate);
}

static void write_readme(const char *out_dir, const StimuliSpec *spec, const char *soundfont) {
  char final_path[4200];
  snprintf(final_path, sizeof final_path, "%s/README.txt", out_dir);
  FILE *f = fopen(final_path, "w");
  if (!f) at_fatal("stimuli: cannot write '%s': %s", final_path, strerror(errno));
  fprintf(f,
          "auratag analysis stimuli (Choi, Fazekas & Sandler 2016, arXiv 1607.02444): %d harmonic and %d drum\n"
          "templates of %g s, mono 16-bit WAV at %g Hz (audio/), listed in stimuli.csv\n"
          "(path,kind,key,instrument,chords,drums). Rendered by `auratag stimuli` with FluidSynth and\n"
          "%s (Sine: pure sines). No randomness: the same options give the same files.\n\n"
          "Harmonic: keys Bb2 Eb2 A3 G4 (the chords' root) x instruments Sine, Piano (GM 0),\n"
          "Acoustic_guitar (25), Electric_guitar (27), Saxophone (65), Strings (48) x chord sets\n"
          "(semitones above the root, equal slots, each chord held 95%% of its slot):\n"
          "  intervals  dyads {0,k}, k = 1..12 (minor second .. octave), 12 slots\n"
          "  M_m        major {0,4,7} | minor {0,3,7}\n"
          "  sus4_M7    sus4 {0,5,7} | major 7th {0,4,7,11}\n"
          "  7_m        dominant 7th {0,4,7,10} | minor {0,3,7}\n"
          "  dim_blank  diminished {0,3,6} | silence\n"
          "Drums (GM channel 10, standard kit; 2 bars of 4/4 over the clip): kick on 1 and 3, snare on\n"
          "2 and 4, closed hi-hat on quarters (4beat), eighths (8beat) or sixteenths (16beat); _fill:\n"
          "the last two beats are a fill (kick + snare, snare, high tom x2, hi-mid tom x2, low tom,\n"
          "low floor tom in sixteenths).\n"
          "Levels: one gain per key x instrument (M_m at -20 dBFS RMS) and one for the drums (4beat).\n",
          STIM_N_HARMONIC, STIM_N_DRUMS, spec->seconds, spec->rate, soundfont ? soundfont : "(none)");
  if (ferror(f) | fclose(f)) at_fatal("stimuli: writing '%s' failed", final_path);
}

void stimuli_write(const char *out_dir, const StimuliSpec *spec) {
  const long n = (long)llround(spec->seconds * spec->rate);
  if (n < 64) at_fatal("stimuli: clips of %g s at %g Hz are too short", spec->seconds, spec->rate);
  const char *soundfont = spec->soundfont ? spec->soundfont : demo_find_soundfont();
  struct stat st;
  if (soundfont && stat(soundfont, &st) != 0)
    at_fatal("stimuli: SoundFont '%s': %s (the Debian package fluid-soundfont-gm installs "
             "/usr/share/sounds/sf2/FluidR3_GM.sf2)",
             soundfont, strerror(errno));
  StimRender r;
  memset(&r, 0, sizeof r);
  r.spec = spec;
  r.n = n;
  r.synth = demo_synth_create(soundfont, spec->rate);
  at_make_dirs(out_dir);
  char audio_dir[4096];
  snprintf(audio_dir, sizeof audio_dir, "%s/audio", out_dir);
  at_make_dirs(audio_dir);
  r.audio_dir = audio_dir;
  r.paths = at_malloc(sizeof(*r.paths) * STIM_GROUP, "stimulus paths");
  for (int i = 0; i < STIM_GROUP; i++) r.audio[i] = at_malloc(sizeof(float) * (size_t)n, "stimulus audio");
  r.notes = at_malloc(sizeof(DemoNote) * STIM_MAX_NOTES, "stimulus notes");

  char csv_path[4200];
  snprintf(csv_path, sizeof csv_path, "%s/stimuli.csv.tmp", out_dir);
  FILE *csv = fopen(csv_path, "w");
  if (!csv) at_fatal("stimuli: cannot write '%s': %s", csv_path, strerror(errno));
  fprintf(csv, "path,kind,key,instrument,chords,drums\n");
  const double t0 = at_now_seconds();
  render_harmonic(&r, csv);
  render_drums(&r, csv);
  const double elapsed = at_now_seconds() - t0;
  if (ferror(csv) | fclose(csv)) at_fatal("stimuli: writing '%s' failed", csv_path);
  char final_path[4200];
  snprintf(final_path, sizeof final_path, "%s/stimuli.csv", out_dir);
  if (rename(csv_path, final_path) != 0) at_fatal("stimuli: cannot rename '%s': %s", csv_path, strerror(errno));
  write_readme(out_dir, spec, soundfont);

  if (!spec->quiet)
    printf("stimuli: %d harmonic + %d drum templates of %g s at %g Hz in %.1f s; wrote %s/stimuli.csv, audio/, "
           "README.txt\n",
           STIM_N_HARMONIC, STIM_N_DRUMS, spec->seconds, spec->rate, elapsed, out_dir);
  for (int i = 0; i < STIM_GROUP; i++) free(r.audio[i]);
  free(r.paths);
  free(r.notes);
  demo_synth_free(r.synth);
}
