/* The demo dataset: short clips rendered from generated MIDI patterns with
 * FluidSynth and a General MIDI SoundFont (Debian fluid-soundfont-gm).
 *
 * Each clip has one or two instrument families (GM program ranges: piano
 * 0-7, organ 16-23, guitar 24-31, strings 40-44 and 48-51, brass 56-63,
 * reed 64-71), drums (channel 10) present or absent, and a tempo class
 * (slow 60-80, medium 100-120, fast 150-180 BPM). Notes start on the beat
 * grid; key, mode, register, chord progression, velocities, voicing and the
 * position in the bar are random and independent of the tags, so that
 * pitch alone gives no tag away: instruments are told by timbre (a spectral
 * cue) and tempo by the spacing of onsets (a temporal cue) -- the split
 * Pons et al. (CBMI 2016) built their Frequency and Time filters on.
 *
 * Everything is a function of (seed, clip index): a clip's plan and notes
 * come from at_rng_uniform on streams of their own, and each clip is
 * rendered from a reset synthesizer with reverb and chorus off, so the same
 * seed gives bit-identical WAV files, and clip k is the same whatever the
 * number of clips. */
#ifndef AT_AUDIO_DEMO_RENDER_H
#define AT_AUDIO_DEMO_RENDER_H

#include <stdint.h>

/* Tags, in this order in files.csv and README.txt. */
enum {
  DEMO_TAG_PIANO,
  DEMO_TAG_ORGAN,
  DEMO_TAG_GUITAR,
  DEMO_TAG_STRINGS,
  DEMO_TAG_BRASS,
  DEMO_TAG_REED,
  DEMO_TAG_DRUMS,
  DEMO_TAG_SLOW,
  DEMO_TAG_MEDIUM,
  DEMO_TAG_FAST,
  DEMO_N_TAGS
};
#define DEMO_N_FAMILIES 6
extern const char *const demo_tag_names[DEMO_N_TAGS];

typedef enum { DEMO_ROLE_MELODY, DEMO_ROLE_CHORDS, DEMO_ROLE_BASS } DemoRole;

typedef struct DemoPart {
  int family;  /* DEMO_TAG_PIANO .. DEMO_TAG_REED */
  int program; /* GM program 0-127 */
  DemoRole role;
  int centre;  /* MIDI note the part's register is centred on */
  int velocity; /* base velocity */
  double onset_p; /* probability of a new note on a beat (else the note is held) */
  double gate;    /* fraction of the time to the next onset a note sounds */
} DemoPart;

typedef struct DemoClip {
  int tempo_class; /* 0 slow, 1 medium, 2 fast */
  double bpm;
  int key;   /* 0 = C .. 11 = B */
  int minor; /* natural minor, else major */
  double offset_beats; /* the clip starts this far into a 4/4 bar */
  int n_parts;
  DemoPart part[2];
  int drums;      /* 0/1 */
  int drum_kit;   /* GM drum kit program (bank 128) */
  int drum_pattern; /* 0: kick 1+3, snare 2+4; 1: kick every beat, snare 2+4 */
  int drum_velocity;
  double level_db; /* target RMS in dBFS */
  unsigned tags;   /* bit t set: tag t present */
} DemoClip;

typedef struct DemoSpec {
  int clips;         /* default 400 */
  double seconds;    /* clip length, default 4 */
  double rate;       /* sample rate, default 22050 */
  uint64_t seed;     /* default 1 */
  const char *soundfont; /* NULL: demo_find_soundfont() */
  int quiet;
} DemoSpec;

/* The default SoundFont path if one exists (FluidR3_GM or Debian's
 * default-GM alternative), else NULL. */
const char *demo_find_soundfont(void);

/* The plan of clip `index` (tags, tempo, instruments, ...). */
void demo_plan_clip(uint64_t seed, int index, DemoClip *c);

typedef struct DemoSynth DemoSynth;
/* A FluidSynth synthesizer with the SoundFont loaded: reverb and chorus off,
 * no audio driver. A missing or unreadable SoundFont is a fatal error that
 * names the Debian package. */
DemoSynth *demo_synth_create(const char *soundfont, double rate);
void demo_synth_free(DemoSynth *s);

/* Renders clip `index` (planned by demo_plan_clip) as n mono samples,
 * levelled to the clip's RMS target (peaks kept within [-1, 1]). */
void demo_render_clip(DemoSynth *s, uint64_t seed, int index, const DemoClip *c, long n, float *out);

/* ---- any list of notes (the demo clips and the analysis stimuli) ---- */

#define DEMO_CHANNELS 16
#define DEMO_DRUM_CHANNEL 9 /* GM channel 10: percussion, bank 128 */

/* One note: on at t0, off at t1 (seconds from the first output sample;
 * negative times fall in a pre-roll that is rendered and dropped). Keys and
 * velocities are clamped to 0..127 and 1..127. */
typedef struct DemoNote {
  double t0, t1;
  int chan; /* 0..15 */
  int key, vel;
} DemoNote;

/* Renders the notes through a fresh synthesizer sharing the loaded
 * SoundFont, as n mono samples (the mean of FluidSynth's left and right),
 * unlevelled. programs[DEMO_CHANNELS]: the GM program of each channel (bank
 * 0), -1 for a channel left alone; programs[DEMO_DRUM_CHANNEL] is a drum kit
 * of bank 128 (kit 0 when the SoundFont lacks it). Events at the same time:
 * note-offs first, then in list order (each note's on before its off). */
void demo_render_notes(DemoSynth *s, const DemoNote *notes, int n_notes, const int *programs, long n, float *out);

/* Writes OUT_DIR/audio/NNNN.wav, OUT_DIR/files.csv (path,split,tags; a
 * seeded 70/15/15 train/valid/test split by clip), OUT_DIR/clips.csv (each
 * clip's tempo, key, programs, ...) and OUT_DIR/README.txt. */
void demo_write_dataset(const char *out_dir, const DemoSpec *spec);

#endif
