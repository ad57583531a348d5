/* Test fixtures for `auratag prep` / `tag`: writes tones (and noise) as WAV,
 * FLAC, OGG/Vorbis or MP3 through libsndfile, independently of auratag's own
 * decoding path.
 *
 *   make_audio OUT.{wav,flac,ogg,mp3} [--rate 44100] [--seconds 2]
 *              [--tone START:END:FREQ[:AMP]] ... [--noise AMP] [--seed N]
 *              [--stereo | --antiphase] [--float]
 *
 * Without --tone: one 440 Hz sine at amplitude 0.5 over the whole file.
 * --stereo writes the signal on both channels, --antiphase writes L = x and
 * R = -x (their mean is silence). --float writes 32-bit float WAV. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TONES 64

typedef struct Tone {
  double start, end, freq, amp;
} Tone;

static void die(const char *msg, const char *arg) {
  fprintf(stderr, "make_audio: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
  exit(2);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: make_audio OUT.{wav,flac,ogg,mp3} [--rate R] [--seconds S] [--tone S:E:F[:A]] ...", NULL);
  const char *out = argv[1];
  double rate = 44100, seconds = 2, noise = 0;
  unsigned long long seed = 1;
  int channels = 1, antiphase = 0, as_float = 0;
  Tone tones[MAX_TONES];
  int n_tones = 0;
  for (int i = 2; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--rate") && v) rate = atof(argv[++i]);
    else if (!strcmp(argv[i], "--seconds") && v) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--noise") && v) noise = atof(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && v) seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--stereo")) channels = 2;
    else if (!strcmp(argv[i], "--antiphase")) channels = 2, antiphase = 1;
    else if (!strcmp(argv[i], "--float")) as_float = 1;
    else if (!strcmp(argv[i], "--tone") && v) {
      if (n_tones == MAX_TONES) die("too many tones", NULL);
      Tone *t = &tones[n_tones++];
      t->amp = 0.5;
      if (sscanf(argv[++i], "%lf:%lf:%lf:%lf", &t->start, &t->end, &t->freq, &t->amp) < 3) die("bad --tone", argv[i]);
    } else die("unknown option", argv[i]);
  }
  if (n_tones == 0) tones[n_tones++] = (Tone){0, seconds, 440, 0.5};
  SF_INFO info;
  memset(&info, 0, sizeof info);
  info.samplerate = (int)rate;
  info.channels = channels;
  if (ends_with(out, ".wav")) info.format = SF_FORMAT_WAV | (as_float ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16);
  else if (ends_with(out, ".flac")) info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  else if (ends_with(out, ".ogg")) info.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  else if (ends_with(out, ".mp3")) info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
  else die("unknown extension (wav, flac, ogg, mp3):", out);
  if (!sf_format_check(&info)) die("libsndfile cannot write this format / rate:", out);
  SNDFILE *f = sf_open(out, SFM_WRITE, &info);
  if (!f) die(sf_strerror(NULL), out);
  if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_OGG || (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG) {
    double q = 0.9; /* best quality: the tests look at pitch */
    sf_command(f, SFC_SET_VBR_ENCODING_QUALITY, &q, sizeof q);
  }
  const long n = (long)llround(seconds * rate);
  float *buf = malloc(sizeof(float) * 4096 * (size_t)channels);
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (long i0 = 0; i0 < n; i0 += 4096) {
    long k = n - i0 < 4096 ? n - i0 : 4096;
    for (long j = 0; j < k; j++) {
      const long i = i0 + j;
      const double t = (double)i / rate;
      double x = 0;
      for (int q = 0; q < n_tones; q++)
        if (t >= tones[q].start && t < tones[q].end) x += tones[q].amp * sin(2 * M_PI * tones[q].freq * t);
      if (noise > 0) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27; /* xorshift64* */
        double u = (double)((s * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
        x += noise * (2 * u - 1);
      }
      if (channels == 1) buf[j] = (float)x;
      else {
        buf[2 * j] = (float)x;
        buf[2 * j + 1] = (float)(antiphase ? -x : x);
      }
    }
    if (sf_writef_float(f, buf, k) != k) die(sf_strerror(f), out);
  }
  free(buf);
  if (sf_close(f) != 0) die("cannot finish", out);
  return 0;
}
