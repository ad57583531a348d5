/* The analysis stimuli of Choi, Fazekas & Sandler, "Explaining deep
 * convolutional neural networks on music classification" (arXiv 1607.02444;
 * keunwoochoi/Deconvolution main_trim.py; docs/papers.md
 * §3.4): short synthetic templates that vary one musical attribute at a time,
 * to see which attributes a trained network's layers separate.
 *
 * Harmonic templates: every key x instrument x chord set,
 *   keys         Bb2, Eb2, A3, G4 (MIDI 46, 39, 57, 67: the chords' root;
 *                Choi's comment: -2, -9, +9, +19 semitones from C3)
 *   instruments  Sine (a pure sine sum, no SoundFont), Piano (GM 0),
 *                Acoustic_guitar (GM 25, steel), Electric_guitar (GM 27,
 *                clean), Saxophone (GM 65, alto), Strings (GM 48, ensemble)
 *   chord sets   (semitones above the root; the clip is cut into equal slots,
 *                one chord struck at the start of each and held for 95 % of it)
 *     intervals  12 dyads {0, k}, k = 1 .. 12: minor second .. octave, in
 *                rising order, each 1/12 of the clip ("intervals": the
 *                two-note building blocks; a unison would be one pitch)
 *     M_m        major triad {0, 4, 7}, then minor triad {0, 3, 7} (halves)
 *     sus4_M7    suspended fourth {0, 5, 7}, then major seventh {0, 4, 7, 11}
 *     7_m        dominant seventh {0, 4, 7, 10}, then minor triad {0, 3, 7}
 *     dim_blank  diminished triad {0, 3, 6}, then silence
 *   Choi's names read "first chord _ second chord" ("blank": nothing), so the
 *   two-chord sets play their two chords in the clip's two halves, on the
 *   same root in root position: within a key and instrument, templates differ
 *   only in chord quality.
 * Drum templates (GM channel 10, standard kit), 2 bars of 4/4 filling the clip
 * (4 s: 120 BPM): kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on
 * every quarter (4beat), eighth (8beat) or sixteenth note (16beat) -- the
 * "N-beat" of pop drumming is the hi-hat's subdivision; each with and without
 * a fill: the last two beats become kick + snare, snare, high tom x 2,
 * hi-mid tom x 2, low tom, low floor tom in sixteenths (no hi-hat).
 *
 * Levelling: one gain per group -- a key x instrument for the harmonic
 * templates, all drum templates for the drums -- that brings the group's
 * reference template (M_m; 4beat without fill) to -20 dBFS RMS, lowered if a
 * peak of the group would pass 0.99; so chord sets keep their natural
 * relative loudness and keys and instruments are equally loud.
 *
 * No randomness: a given rate and length render the same files, bit for bit. */
#ifndef AT_AUDIO_STIMULI_H
#define AT_AUDIO_STIMULI_H

#include "audio/demo_render.h"

#define STIM_N_KEYS 4
#define STIM_N_INSTRUMENTS 6
#define STIM_N_CHORD_SETS 5
#define STIM_N_DRUM_PATTERNS 3
#define STIM_N_HARMONIC (STIM_N_KEYS * STIM_N_INSTRUMENTS * STIM_N_CHORD_SETS)
#define STIM_N_DRUMS (STIM_N_DRUM_PATTERNS * 2)
#define STIM_MAX_NOTES 512

extern const char *const stim_key_names[STIM_N_KEYS];
extern const int stim_key_midi[STIM_N_KEYS];
extern const char *const stim_instrument_names[STIM_N_INSTRUMENTS];
extern const int stim_instrument_programs[STIM_N_INSTRUMENTS]; /* -1: Sine */
extern const char *const stim_chord_set_names[STIM_N_CHORD_SETS];
extern const char *const stim_drum_pattern_names[STIM_N_DRUM_PATTERNS];

/* The notes (on channel 0) of chord set `chord_set` on key `key` laid out on
 * a clip of `seconds`; returns their number (<= STIM_MAX_NOTES). */
int stim_chord_notes(int key, int chord_set, double seconds, DemoNote *out);
/* The notes (on channel 10) of drum pattern `pattern`, with a fill or not. */
int stim_drum_notes(int pattern, int fill, double seconds, DemoNote *out);
/* The notes as a sum of pure sines (no SoundFont): each note a sine at its
 * equal-tempered frequency (A4 = 440 Hz), amplitude 0.1 x velocity / 127,
 * 5 ms raised-cosine attack, 20 ms release after its note-off. */
void stim_render_sine(const DemoNote *notes, int n_notes, double rate, long n, float *out);

typedef struct StimuliSpec {
  double seconds;        /* default 4 */
  double rate;           /* default 22050 */
  const char *soundfont; /* NULL: demo_find_soundfont() */
  int quiet;
} StimuliSpec;

/* Writes OUT_DIR/audio/ (KEY_INSTRUMENT_CHORDS.wav, drums_Nbeat[_fill].wav),
 * OUT_DIR/stimuli.csv (path,kind,key,instrument,chords,drums; paths relative
 * to the CSV) and OUT_DIR/README.txt. */
void stimuli_write(const char *out_dir, const StimuliSpec *spec);

#endif
