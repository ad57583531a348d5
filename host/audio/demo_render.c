/* The demo dataset renderer (demo_render.h): generated note patterns played
 * through libfluidsynth by a scheduler of our own (no MIDI files, no audio
 * driver, no sequencer thread). */
#include "audio/demo_render.h"

#include <errno.h>
#include <fluidsynth.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio_io.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/rng.h"

const char *const demo_tag_names[DEMO_N_TAGS] = {"piano", "organ", "guitar", "strings", "brass",
                                                 "reed",  "drums", "slow",   "medium",  "fast"};

/* GM programs per family. Strings leave out 45-47 (pizzicato, harp,
 * timpani: plucked or struck, not bowed); the rest follow the GM families. */
static const int k_family_programs[DEMO_N_FAMILIES][12] = {
    {0, 1, 2, 3, 4, 5, 6, 7, -1},           /* piano */
    {16, 17, 18, 19, 20, 21, 22, 23, -1},   /* organ */
    {24, 25, 26, 27, 28, 29, 30, 31, -1},   /* guitar */
    {40, 41, 42, 43, 44, 48, 49, 50, 51, -1}, /* strings */
    {56, 57, 58, 59, 60, 61, 62, 63, -1},   /* brass */
    {64, 65, 66, 67, 68, 69, 70, 71, -1},   /* reed */
};
static const double k_tempo_range[3][2] = {{60, 80}, {100, 120}, {150, 180}};
/* GM drum kits in bank 128 that FluidR3_GM has: standard, room, power,
 * electronic, TR-808, jazz, brush. */
static const int k_drum_kits[] = {0, 8, 16, 24, 25, 32, 40};
#define N_DRUM_KITS ((int)(sizeof k_drum_kits / sizeof k_drum_kits[0]))

/* The highest note a GM program plays in FluidR3_GM (probed: above it the
 * preset has no samples and is silent); 96 for the others. */
static int program_top(int program) {
  static const int k_top[][2] = {{22, 97}, {26, 97}, {28, 84}, {31, 86}, {41, 97}, {43, 58}, {57, 97}, {58, 73},
                                 {59, 97}, {61, 97}, {64, 97}, {65, 85}, {67, 73}, {68, 97}, {69, 86}, {70, 85}};
  for (size_t i = 0; i < sizeof k_top / sizeof k_top[0]; i++)
    if (k_top[i][0] == program) return k_top[i][1];
  return 96;
}

static const int k_scale[2][7] = {{0, 2, 4, 5, 7, 9, 11}, {0, 2, 3, 5, 7, 8, 10}};

/* Random streams: a clip's plan and its notes each have their own, so that
 * one can change without moving the other; the split has a third. */
#define STREAM_PLAN 0x44454d4f00000000ull  /* "DEMO" */
#define STREAM_NOTES 0x44454d4f40000000ull
#define STREAM_SPLIT 0x44454d4f80000000ull

typedef struct Draw {
  uint64_t seed, stream, index;
} Draw;

static double draw_u(Draw *d) { return at_rng_uniform(d->seed, d->stream, d->index++); }
/* Integer in [lo, hi]. */
static int draw_int(Draw *d, int lo, int hi) {
  int k = lo + (int)(draw_u(d) * (double)(hi - lo + 1));
  return k > hi ? hi : k;
}
static double draw_range(Draw *d, double lo, double hi) { return lo + (hi - lo) * draw_u(d); }

const char *demo_find_soundfont(void) {
  static const char *k_paths[] = {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                                  "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2"};
  for (size_t i = 0; i < sizeof k_paths / sizeof k_paths[0]; i++) {
    struct stat st;
    if (stat(k_paths[i], &st) == 0 && S_ISREG(st.st_mode)) return k_paths[i];
  }
  return NULL;
}

void demo_plan_clip(uint64_t seed, int index, DemoClip *c) {
  Draw d = {seed, STREAM_PLAN + (uint64_t)index, 0};
  memset(c, 0, sizeof *c);
  c->tempo_class = draw_int(&d, 0, 2);
  c->bpm = draw_range(&d, k_tempo_range[c->tempo_class][0], k_tempo_range[c->tempo_class][1]);
  c->key = draw_int(&d, 0, 11);
  c->minor = draw_u(&d) < 0.5;
  c->offset_beats = draw_range(&d, 0, 4);
  c->n_parts = draw_u(&d) < 0.5 ? 1 : 2;
  int first = draw_int(&d, 0, DEMO_N_FAMILIES - 1);
  int second = (first + draw_int(&d, 1, DEMO_N_FAMILIES - 1)) % DEMO_N_FAMILIES;
  int used_roles = 0;
  for (int p = 0; p < c->n_parts; p++) {
    DemoPart *part = &c->part[p];
    part->family = p == 0 ? first : second;
    int n_programs = 0;
    while (n_programs < 12 && k_family_programs[part->family][n_programs] >= 0) n_programs++;
    part->program = k_family_programs[part->family][draw_int(&d, 0, n_programs - 1)];
    /* Roles, registers and articulation are drawn the same way for every
     * family: none of them tells the family. Two parts take different roles. */
    int role;
    do role = draw_int(&d, 0, 2);
    while (used_roles & (1 << role));
    used_roles |= 1 << role;
    part->role = (DemoRole)role;
    part->centre = role == DEMO_ROLE_BASS ? draw_int(&d, 40, 55) : draw_int(&d, 52, 76);
    /* A part's notes stay below centre + 17; instruments whose samples stop
     * lower (a contrabass, a tuba) play an octave or two down. */
    while (part->centre + 16 > program_top(part->program)) part->centre -= 12;
    part->velocity = draw_int(&d, 70, 110);
    part->onset_p = draw_range(&d, 0.75, 1.0);
    part->gate = draw_range(&d, 0.55, 0.95);
    c->tags |= 1u << part->family;
  }
  c->drums = draw_u(&d) < 0.5;
  c->drum_kit = k_drum_kits[draw_int(&d, 0, N_DRUM_KITS - 1)];
  c->drum_pattern = draw_int(&d, 0, 1);
  c->drum_velocity = draw_int(&d, 75, 115);
  c->level_db = draw_range(&d, -23, -17);
  if (c->drums) c->tags |= 1u << DEMO_TAG_DRUMS;
  c->tags |= 1u << (DEMO_TAG_SLOW + c->tempo_class);
}

/* ---- note events ---- */

typedef struct Event {
  double t;   /* seconds from the clip's start (negative: before it) */
  int on;     /* 1 note-on, 0 note-off */
  int chan, key, vel;
  int order;  /* insertion order: ties keep it (note-offs first) */
} Event;

typedef struct Events {
  Event *e;
  int n, cap;
} Events;

static void add_event(Events *ev, double t, int on, int chan, int key, int vel) {
  if (ev->n == ev->cap) {
    ev->cap = ev->cap ? 2 * ev->cap : 256;
    ev->e = at_realloc(ev->e, (size_t)ev->cap * sizeof *ev->e, "demo note events");
  }
  if (key < 0) key = 0;
  if (key > 127) key = 127;
  if (vel < 1) vel = 1;
  if (vel > 127) vel = 127;
  ev->e[ev->n] = (Event){t, on, chan, key, vel, ev->n};
  ev->n++;
}

static int cmp_event(const void *a, const void *b) {
  const Event *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  if (x->on != y->on) return x->on - y->on; /* note-off first */
  return x->order - y->order;
}

/* A growable list of notes (the demo's generator appends to one). */
typedef struct Notes {
  DemoNote *v;
  int n, cap;
} Notes;

static void add_note(Notes *ns, double t0, double t1, int chan, int key, int vel) {
  if (ns->n == ns->cap) {
    ns->cap = ns->cap ? 2 * ns->cap : 128;
    ns->v = at_realloc(ns->v, (size_t)ns->cap * sizeof *ns->v, "demo notes");
  }
  ns->v[ns->n++] = (DemoNote){t0, t1, chan, key, vel};
}

/* MIDI note of scale degree `deg` (any integer) above the tonic at or below centre. */
static int degree_pitch(const DemoClip *c, int centre, int deg) {
  int base = centre - (((centre - c->key) % 12) + 12) % 12;
  int oct = deg >= 0 ? deg / 7 : -((-deg + 6) / 7);
  return base + 12 * oct + k_scale[c->minor][deg - 7 * oct];
}

static void clip_notes(uint64_t seed, int index, const DemoClip *c, double seconds, Notes *ns) {
  Draw d = {seed, STREAM_NOTES + (uint64_t)index, 0};
  const double beat = 60.0 / c->bpm;
  /* Beat b (b = 0, 1, ...) falls at (b - offset) beats from the clip's start;
   * beat 0 is a bar's downbeat, before the clip starts (a pre-roll, so that
   * notes already sound at time 0). */
  const int n_beats = (int)ceil(seconds / beat + c->offset_beats) + 1;
  const int n_bars = (n_beats + 3) / 4;
  int *chord_of_bar = at_malloc(sizeof(int) * (size_t)n_bars, "demo chords");
  int *onset = at_malloc(sizeof(int) * (size_t)(n_beats + 1), "demo onsets");
  const int progression[5] = {0, 3, 4, 5, 1}; /* I, IV, V, vi, ii */
  for (int bar = 0; bar < n_bars; bar++)
    chord_of_bar[bar] = bar == 0 ? progression[draw_int(&d, 0, 3)] : progression[draw_int(&d, 0, 4)];
#define BEAT_T(b) (((double)(b) - c->offset_beats) * beat)
#define CHORD(b) chord_of_bar[(b) / 4]

  for (int p = 0; p < c->n_parts; p++) {
    const DemoPart *part = &c->part[p];
    /* Onsets: beat 0 and every chord change always, other beats with
     * probability onset_p (else the previous note is held). */
    int n_on = 0;
    for (int b = 0; b < n_beats; b++) {
      int must = b == 0 || (part->role != DEMO_ROLE_MELODY && b % 4 == 0);
      if (must || draw_u(&d) < part->onset_p) onset[n_on++] = b;
    }
    onset[n_on] = n_beats + 1; /* the last note rings past the end */
    int deg = 2 * draw_int(&d, 0, 2); /* melody starts on a chord tone */
    for (int k = 0; k < n_on; k++) {
      const int b = onset[k];
      const double t0 = BEAT_T(b), t1 = t0 + part->gate * (BEAT_T(onset[k + 1]) - t0);
      const int accent = b % 4 == 0 ? 8 : 0;
      const int vel = part->velocity + accent + draw_int(&d, -10, 10);
      const int root = CHORD(b);
      switch (part->role) {
        case DEMO_ROLE_MELODY: {
          static const int k_steps[9] = {-3, -2, -1, -1, 0, 1, 1, 2, 3};
          deg += k_steps[draw_int(&d, 0, 8)];
          if (deg < -5) deg = -5 + (-5 - deg);
          if (deg > 9) deg = 9 - (deg - 9);
          add_note(ns, t0, t1, p, degree_pitch(c, part->centre, deg), vel);
          break;
        }
        case DEMO_ROLE_CHORDS: {
          const int inversion = draw_int(&d, 0, 2);
          for (int v = 0; v < 3; v++) {
            const int dv = root + 2 * v - (v >= 3 - inversion ? 7 : 0);
            add_note(ns, t0, t1, p, degree_pitch(c, part->centre, dv), vel - 6);
          }
          break;
        }
        case DEMO_ROLE_BASS: {
          const int dv = (k % 2 == 1 && draw_u(&d) < 0.5) ? root + 4 : root;
          add_note(ns, t0, t1, p, degree_pitch(c, part->centre, dv), vel);
          break;
        }
      }
    }
  }

  if (c->drums) {
    /* GM percussion keys: 36 kick, 38 snare, 42 closed hi-hat, 44 pedal
     * hi-hat, 51 ride, 49 crash. */
    static const int k_time_keepers[3] = {42, 44, 51};
    const int keeper = k_time_keepers[draw_int(&d, 0, 2)];
    for (int b = 0; b < n_beats; b++) {
      const double t = BEAT_T(b);
      const int in_bar = b % 4;
      const int v = c->drum_velocity;
      if (c->drum_pattern == 1 || in_bar % 2 == 0) add_note(ns, t, t + 0.1, 9, 36, v + draw_int(&d, -8, 8));
      if (in_bar % 2 == 1) add_note(ns, t, t + 0.1, 9, 38, v - 4 + draw_int(&d, -8, 8));
      add_note(ns, t, t + 0.1, 9, keeper, v - 20 + draw_int(&d, -8, 8));
      if (in_bar == 0 && b > 0 && draw_u(&d) < 0.25) add_note(ns, t, t + 0.1, 9, 49, v - 10);
    }
  }
#undef BEAT_T
#undef CHORD
  free(chord_of_bar);
  free(onset);
}

/* ---- FluidSynth ---- */

/* The SoundFont is loaded once, into a synthesizer that only holds it; each
 * clip is rendered by a fresh synthesizer that borrows it
 * (fluid_synth_add_sfont / fluid_synth_remove_sfont; about 0.3 ms). A reset
 * synthesizer is not enough: FluidSynth's voices keep state across
 * fluid_synth_system_reset, and a clip would then depend on the clips
 * rendered before it. */
struct DemoSynth {
  fluid_settings_t *settings;
  fluid_synth_t *holder;
  fluid_sfont_t *sfont;
  double rate;
  float *left, *right;
  long cap;
};

static int g_quiet_warnings; /* while a borrowed SoundFont is handed back */

static void demo_fluid_log(int level, const char *message, void *data) {
  (void)data;
  if (level > FLUID_ERR && g_quiet_warnings) return;
  fprintf(stderr, "fluidsynth: %s: %s\n", level <= FLUID_ERR ? "error" : "warning", message);
}

DemoSynth *demo_synth_create(const char *soundfont, double rate) {
  if (!soundfont) soundfont = demo_find_soundfont();
  if (!soundfont)
    at_fatal("demo-data: no General MIDI SoundFont found (looked for /usr/share/sounds/sf2/FluidR3_GM.sf2): "
             "install the Debian package fluid-soundfont-gm (apt-get install fluid-soundfont-gm) "
             "or pass --soundfont PATH");
  struct stat st;
  if (stat(soundfont, &st) != 0)
    at_fatal("demo-data: SoundFont '%s': %s (the Debian package fluid-soundfont-gm installs "
             "/usr/share/sounds/sf2/FluidR3_GM.sf2)",
             soundfont, strerror(errno));
  if (rate < 8000 || rate > 96000) at_fatal("demo-data: sample rate %g Hz is outside FluidSynth's 8000-96000", rate);
  fluid_set_log_function(FLUID_PANIC, demo_fluid_log, NULL);
  fluid_set_log_function(FLUID_ERR, demo_fluid_log, NULL);
  fluid_set_log_function(FLUID_WARN, demo_fluid_log, NULL);
  fluid_set_log_function(FLUID_INFO, NULL, NULL);
  fluid_set_log_function(FLUID_DBG, NULL, NULL);

  DemoSynth *s = at_calloc(1, sizeof *s, "demo synthesizer");
  s->rate = rate;
  s->settings = new_fluid_settings();
  if (!s->settings) at_fatal("demo-data: FluidSynth could not create its settings");
  fluid_settings_setnum(s->settings, "synth.sample-rate", rate);
  fluid_settings_setnum(s->settings, "synth.gain", 0.4);
  fluid_settings_setint(s->settings, "synth.reverb.active", 0);
  fluid_settings_setint(s->settings, "synth.chorus.active", 0);
  fluid_settings_setint(s->settings, "synth.polyphony", 256);
  fluid_settings_setint(s->settings, "synth.cpu-cores", 1);
  fluid_settings_setint(s->settings, "synth.lock-memory", 0);
  fluid_settings_setint(s->settings, "synth.midi-channels", 16);
  s->holder = new_fluid_synth(s->settings);
  if (!s->holder) at_fatal("demo-data: FluidSynth could not create a synthesizer at %g Hz", rate);
  int id = fluid_synth_sfload(s->holder, soundfont, 0);
  if (id == FLUID_FAILED)
    at_fatal("demo-data: FluidSynth could not load the SoundFont '%s' (not a SoundFont 2 file?); the Debian "
             "package fluid-soundfont-gm has a General MIDI one at /usr/share/sounds/sf2/FluidR3_GM.sf2",
             soundfont);
  s->sfont = fluid_synth_get_sfont_by_id(s->holder, id);
  /* Every program the demo can choose must exist in this SoundFont. */
  for (int f = 0; f < DEMO_N_FAMILIES; f++)
    for (int i = 0; i < 12 && k_family_programs[f][i] >= 0; i++)
      if (!fluid_sfont_get_preset(s->sfont, 0, k_family_programs[f][i]))
        at_fatal("demo-data: SoundFont '%s' has no preset for GM program %d (%s): a General MIDI SoundFont is "
                 "needed (Debian: fluid-soundfont-gm)",
                 soundfont, k_family_programs[f][i], demo_tag_names[f]);
  for (int i = 0; i < N_DRUM_KITS; i++)
    if (!fluid_sfont_get_preset(s->sfont, 128, k_drum_kits[i]) && !fluid_sfont_get_preset(s->sfont, 128, 0))
      at_fatal("demo-data: SoundFont '%s' has no drum kit (bank 128): a General MIDI SoundFont is needed "
               "(Debian: fluid-soundfont-gm)",
               soundfont);
  return s;
}

void demo_synth_free(DemoSynth *s) {
  if (!s) return;
  delete_fluid_synth(s->holder);
  delete_fluid_settings(s->settings);
  free(s->left);
  free(s->right);
  free(s);
}

static void synth_render(DemoSynth *s, fluid_synth_t *synth, long from, long to) {
  while (from < to) {
    /* FluidSynth takes an int count; clips are short, but stay safe. */
    long len = to - from > (1L << 20) ? (1L << 20) : to - from;
    if (fluid_synth_write_float(synth, (int)len, s->left, (int)from, 1, s->right, (int)from, 1) != FLUID_OK)
      at_fatal("demo-data: FluidSynth failed to render");
    from += len;
  }
}

void demo_render_notes(DemoSynth *s, const DemoNote *notes, int n_notes, const int *programs, long n, float *out) {
  Events ev = {0};
  for (int i = 0; i < n_notes; i++) {
    const DemoNote *x = &notes[i];
    if (x->chan < 0 || x->chan >= DEMO_CHANNELS) at_fatal("demo-data: note %d is on MIDI channel %d (0..15)", i, x->chan);
    add_event(&ev, x->t0, 1, x->chan, x->key, x->vel);
    add_event(&ev, x->t1, 0, x->chan, x->key, 0);
  }
  qsort(ev.e, (size_t)ev.n, sizeof *ev.e, cmp_event);

  /* Sample-accurate scheduling from the first event (in the pre-roll):
   * render up to each event's sample, send it, go on. (FluidSynth renders
   * in blocks of 64 samples and starts an event at its next block.) */
  const double t_first = ev.n ? (ev.e[0].t < 0 ? ev.e[0].t : 0) : 0;
  const long pre = (long)ceil(-t_first * s->rate);
  const long total = pre + n;
  if (total > s->cap) {
    free(s->left);
    free(s->right);
    s->left = at_malloc((size_t)total * sizeof(float), "demo render buffer");
    s->right = at_malloc((size_t)total * sizeof(float), "demo render buffer");
    s->cap = total;
  }

  fluid_synth_t *synth = new_fluid_synth(s->settings);
  if (!synth) at_fatal("demo-data: FluidSynth could not create a synthesizer at %g Hz", s->rate);
  const int sfont_id = fluid_synth_add_sfont(synth, s->sfont);
  if (sfont_id == FLUID_FAILED) at_fatal("demo-data: FluidSynth could not share the SoundFont");
  for (int ch = 0; ch < DEMO_CHANNELS; ch++) {
    if (programs[ch] < 0) continue;
    if (ch == DEMO_DRUM_CHANNEL) {
      if (fluid_synth_program_select(synth, ch, sfont_id, 128, programs[ch]) != FLUID_OK)
        fluid_synth_program_select(synth, ch, sfont_id, 128, 0);
      fluid_synth_cc(synth, ch, 7, 100);
      fluid_synth_cc(synth, ch, 10, 64);
    } else {
      fluid_synth_program_select(synth, ch, sfont_id, 0, programs[ch]);
      fluid_synth_cc(synth, ch, 7, 100);  /* volume */
      fluid_synth_cc(synth, ch, 10, 64);  /* pan: centre */
      fluid_synth_cc(synth, ch, 11, 127); /* expression */
    }
  }

  long pos = 0;
  for (int i = 0; i < ev.n; i++) {
    long at = pre + (long)llround(ev.e[i].t * s->rate);
    if (at < pos) at = pos;
    if (at >= total) break;
    synth_render(s, synth, pos, at);
    pos = at;
    const Event *e = &ev.e[i];
    if (e->on) fluid_synth_noteon(synth, e->chan, e->key, e->vel);
    else fluid_synth_noteoff(synth, e->chan, e->key);
  }
  synth_render(s, synth, pos, total);
  free(ev.e);
  g_quiet_warnings = 1; /* "no preset found" as the borrowed SoundFont leaves */
  fluid_synth_remove_sfont(synth, s->sfont);
  delete_fluid_synth(synth);
  g_quiet_warnings = 0;

  for (long i = 0; i < n; i++) out[i] = 0.5f * (s->left[pre + i] + s->right[pre + i]);
}

void demo_render_clip(DemoSynth *s, uint64_t seed, int index, const DemoClip *c, long n, float *out) {
  const double seconds = (double)n / s->rate;
  Notes ns = {0};
  clip_notes(seed, index, c, seconds, &ns);
  int programs[DEMO_CHANNELS];
  for (int ch = 0; ch < DEMO_CHANNELS; ch++) programs[ch] = -1;
  for (int p = 0; p < c->n_parts; p++) programs[p] = c->part[p].program;
  if (c->drums) programs[DEMO_DRUM_CHANNEL] = c->drum_kit;
  demo_render_notes(s, ns.v, ns.n, programs, n, out);
  free(ns.v);

  double sum2 = 0, peak = 0;
  for (long i = 0; i < n; i++) {
    const float x = out[i];
    sum2 += (double)x * x;
    if (fabs(x) > peak) peak = fabs(x);
  }
  const double rms = sqrt(sum2 / (double)(n > 0 ? n : 1));
  if (rms < 1e-7) at_fatal("demo-data: clip %d rendered silent (does the SoundFont have GM sounds?)", index);
  double gain = pow(10.0, c->level_db / 20.0) / rms;
  if (peak * gain > 0.99) gain = 0.99 / peak;
  for (long i = 0; i < n; i++) out[i] = (float)(out[i] * gain);
}

/* ---- the dataset ---- */

static FILE *open_out(const char *dir, const char *name, char *path, size_t size) {
  snprintf(path, size, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) at_fatal("demo-data: cannot write '%s': %s", path, strerror(errno));
  return f;
}

static void close_out(FILE *f, const char *path) {
  if (ferror(f) | fclose(f)) at_fatal("demo-data: writing '%s' failed", path);
}

static void tag_list(unsigned tags, char *buf, size_t size) {
  buf[0] = 0;
  for (int t = 0; t < DEMO_N_TAGS; t++)
    if (tags & (1u << t)) {
      size_t len = strlen(buf);
      snprintf(buf + len, size - len, "%s%s", len ? ";" : "", demo_tag_names[t]);
    }
}

static const char *k_role_names[3] = {"melody", "chords", "bass"};
static const char *k_key_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

static const char *const k_split_names[3] = {"train", "valid", "test"};

/* split[i] of each clip (0 train, 1 valid, 2 test): a seeded shuffle of the
 * clips, 70 / 15 / 15. */
static void draw_split(uint64_t seed, int n_clips, int *split) {
  int *order = at_malloc((size_t)n_clips * sizeof(int), "demo split");
  for (int i = 0; i < n_clips; i++) order[i] = i;
  Draw ds = {seed, STREAM_SPLIT, 0};
  for (int i = n_clips - 1; i > 0; i--) {
    int j = draw_int(&ds, 0, i);
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const int n_valid = (int)lround(0.15 * n_clips), n_test = (int)lround(0.15 * n_clips);
  const int n_train = n_clips - n_valid - n_test;
  for (int k = 0; k < n_clips; k++) split[order[k]] = k < n_train ? 0 : k < n_train + n_valid ? 1 : 2;
  free(order);
}

/* Plans and renders every clip into audio_dir/NNNN.wav; returns the seconds taken. */
static double render_clips(const DemoSpec *spec, DemoSynth *synth, const char *audio_dir, int digits, long n,
                           DemoClip *clips) {
  float *audio = at_malloc((size_t)n * sizeof(float), "demo clip");
  const double t0 = at_now_seconds();
  for (int i = 0; i < spec->clips; i++) {
    demo_plan_clip(spec->seed, i, &clips[i]);
    demo_render_clip(synth, spec->seed, i, &clips[i], n, audio);
    char path[4200];
    snprintf(path, sizeof path, "%s/%0*d.wav", audio_dir, digits, i);
    audio_write_wav(path, audio, n, spec->rate);
    if (!spec->quiet && ((i + 1) % 100 == 0 || i + 1 == spec->clips)) {
      printf("demo-data: rendered %d / %d clips\n", i + 1, spec->clips);
      fflush(stdout);
    }
  }
  free(audio);
  return at_now_seconds() - t0;
}

/* files.csv (path,split,tags), counting each split's clips and tags. */
static void write_files_csv(const char *out_dir, int n_clips, int digits, const DemoClip *clips, const int *split,
                            int split_n[3], int count[3][DEMO_N_TAGS]) {
  char path[4200], tags[256];
  FILE *f = open_out(out_dir, "files.csv", path, sizeof path);
  fprintf(f, "path,split,tags\n");
  for (int i = 0; i < n_clips; i++) {
    tag_list(clips[i].tags, tags, sizeof tags);
    fprintf(f, "audio/%0*d.wav,%s,%s\n", digits, i, k_split_names[split[i]], tags);
    split_n[split[i]]++;
    for (int t = 0; t < DEMO_N_TAGS; t++) count[split[i]][t] += (clips[i].tags >> t) & 1;
  }
  close_out(f, path);
}

/* clips.csv: each clip's tempo, key, programs, roles and drum kit. */
static void write_clips_csv(const char *out_dir, int n_clips, int digits, const DemoClip *clips, const int *split) {
  char path[4200], tags[256];
  FILE *f = open_out(out_dir, "clips.csv", path, sizeof path);
  fprintf(f, "path,split,tags,bpm,key,mode,offset_beats,program1,role1,centre1,program2,role2,centre2,drum_kit,"
             "drum_pattern,level_db\n");
  for (int i = 0; i < n_clips; i++) {
    const DemoClip *c = &clips[i];
    tag_list(c->tags, tags, sizeof tags);
    fprintf(f, "audio/%0*d.wav,%s,%s,%.2f,%s,%s,%.3f", digits, i, k_split_names[split[i]], tags, c->bpm,
            k_key_names[c->key], c->minor ? "minor" : "major", c->offset_beats);
    for (int p = 0; p < 2; p++) {
      if (p < c->n_parts)
        fprintf(f, ",%d,%s,%d", c->part[p].program, k_role_names[c->part[p].role], c->part[p].centre);
      else fprintf(f, ",,,");
    }
    if (c->drums) fprintf(f, ",%d,%d", c->drum_kit, c->drum_pattern);
    else fprintf(f, ",,");
    fprintf(f, ",%.2f\n", c->level_db);
  }
  close_out(f, path);
}

static void write_readme(const char *out_dir, const DemoSpec *spec, const char *soundfont, const int split_n[3],
                         int count[3][DEMO_N_TAGS]) {
  const int n_clips = spec->clips;
  char path[4200];
  FILE *f = open_out(out_dir, "README.txt", path, sizeof path);
  fprintf(f,
          "auratag demo dataset: %d clips of %g s, mono 16-bit WAV at %g Hz (audio/NNNN.wav)\n"
          "Rendered by `auratag demo-data` (seed %llu) with FluidSynth %s and the SoundFont\n"
          "%s. The same seed gives the same files, bit for bit.\n\n",
          n_clips, spec->seconds, spec->rate, (unsigned long long)spec->seed, fluid_version_str(), soundfont);
  fprintf(f,
          "Tags (files.csv: path,split,tags; tags separated by ';'):\n"
          "  instrument families, 1 or 2 per clip, by General MIDI program:\n"
          "    piano   programs 0-7    (pianos, electric pianos, harpsichord, clavinet)\n"
          "    organ   programs 16-23  (organs, accordion, harmonica)\n"
          "    guitar  programs 24-31  (acoustic, electric, overdriven, distorted guitars)\n"
          "    strings programs 40-44, 48-51 (violin .. contrabass, tremolo, ensembles, synth strings)\n"
          "    brass   programs 56-63  (trumpet, trombone, tuba, horn, sections, synth brass)\n"
          "    reed    programs 64-71  (saxophones, oboe, English horn, bassoon, clarinet)\n"
          "  drums     a GM drum kit on MIDI channel 10 (kick, snare, hi-hat or ride on the beat), in about half\n"
          "  tempo, exactly one of:\n"
          "    slow    60-80 BPM\n"
          "    medium  100-120 BPM\n"
          "    fast    150-180 BPM\n\n"
          "Music: 4/4, every note starts on a beat; each part plays a melody, block chords or a bass line\n"
          "over a random I-IV-V-vi-ii progression, in a random key and mode, register, velocity and\n"
          "position in the bar, drawn the same way for every family, so that pitch alone gives no tag away:\n"
          "instruments are told by timbre (spectral shape) and tempo by the spacing of onsets (time).\n"
          "Reverb and chorus are off; each clip is levelled to an RMS of -23..-17 dBFS.\n"
          "clips.csv has each clip's tempo, key, programs, roles and drum kit.\n\n");
  fprintf(f, "Split (a seeded shuffle of the clips, 70/15/15): train %d, valid %d, test %d.\n\n", split_n[0],
          split_n[1], split_n[2]);
  fprintf(f, "%-8s %6s %6s %6s\n", "tag", "train", "valid", "test");
  for (int t = 0; t < DEMO_N_TAGS; t++)
    fprintf(f, "%-8s %6d %6d %6d\n", demo_tag_names[t], count[0][t], count[1][t], count[2][t]);
  close_out(f, path);
}

void demo_write_dataset(const char *out_dir, const DemoSpec *spec) {
  const int n_clips = spec->clips;
  const long n = (long)llround(spec->seconds * spec->rate);
  if (n_clips < 1) at_fatal("demo-data: --clips must be at least 1");
  if (n < 64) at_fatal("demo-data: clips of %g s at %g Hz are too short", spec->seconds, spec->rate);
  const char *soundfont = spec->soundfont ? spec->soundfont : demo_find_soundfont();
  DemoSynth *synth = demo_synth_create(soundfont, spec->rate);

  at_make_dirs(out_dir);
  char audio_dir[4096];
  snprintf(audio_dir, sizeof audio_dir, "%s/audio", out_dir);
  at_make_dirs(audio_dir);

  int *split = at_malloc((size_t)n_clips * sizeof(int), "demo split");
  draw_split(spec->seed, n_clips, split);
  DemoClip *clips = at_malloc((size_t)n_clips * sizeof *clips, "demo clips");
  const int digits = n_clips > 10000 ? 6 : 4;
  const double elapsed = render_clips(spec, synth, audio_dir, digits, n, clips);
  demo_synth_free(synth);

  int count[3][DEMO_N_TAGS] = {{0}}, split_n[3] = {0};
  write_files_csv(out_dir, n_clips, digits, clips, split, split_n, count);
  write_clips_csv(out_dir, n_clips, digits, clips, split);
  write_readme(out_dir, spec, soundfont, split_n, count);

  if (!spec->quiet)
    printf("demo-data: %d clips of %g s at %g Hz in %.1f s (%.0fx real time); wrote %s/files.csv, clips.csv, "
           "README.txt\n",
           n_clips, spec->seconds, spec->rate, elapsed, elapsed > 0 ? n_clips * spec->seconds / elapsed : 0.0,
           out_dir);
  free(split);
  free(clips);
}
