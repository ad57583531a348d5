/* Audio that decodes to less than its header announces: the length rule
 * (a small shortfall is a warning, more is "truncated"), and a WAV file whose
 * data chunk was cut short (read as the shorter file it is, with a warning
 * that gives the announced and the present size). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio_io.h"
#include "test_util.h"

static void length_rule(void) {
  char warning[256], why[256];
  warning[0] = why[0] = '\0';
  CHECK(audio_check_length(44100, 44100, 44100, warning, sizeof warning, why, sizeof why) == 0 && !warning[0],
        "the announced length, decoded whole: no warning (got '%s')", warning);
  CHECK(audio_check_length(0, 1000, 44100, warning, sizeof warning, why, sizeof why) == 0 && !warning[0],
        "an unknown length: nothing to check (got '%s')", warning);
  /* a few thousand samples short of 3 minutes, as libsndfile decodes some Ogg Vorbis files */
  CHECK(audio_check_length(7938000, 7934928, 44100, warning, sizeof warning, why, sizeof why) == 0,
        "a 3072-sample shortfall is accepted: %s", why);
  CHECK(strstr(warning, "3072 samples (0.070 s) shorter than its header announces (7938000)") != NULL,
        "the shortfall is a warning with the figures: '%s'", warning);
  warning[0] = '\0';
  CHECK(audio_check_length(10000, 1808, 8000, warning, sizeof warning, why, sizeof why) == 0,
        "8192 samples short counts as small for a short file: %s", why);
  CHECK(audio_check_length(100000, 50000, 8000, warning, sizeof warning, why, sizeof why) == -1 &&
            strstr(why, "truncated: only 50000 of the 100000 samples its header announces") != NULL,
        "half the announced samples is a truncation: '%s'", why);
}

static void wav_cut_short(void) {
  char path[] = "/tmp/auratag-test-audio-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  if (fd < 0) return;
  close(fd);
  enum { RATE = 8000, N = 16000 };
  static float signal[N];
  for (int i = 0; i < N; i++) signal[i] = (float)((i % 40) - 20) / 40.0f;
  audio_write_wav(path, signal, N, RATE);
  Audio a;
  char why[256];
  CHECK(audio_load(path, RATE, &a, why, sizeof why) == 0 && a.n == N && !a.warning[0],
        "a whole WAV: %ld samples, warning '%s' (%s)", a.n, a.warning, why);
  audio_free(&a);
  CHECK(truncate(path, 44 + N) == 0, "cut the data chunk in half"); /* 16-bit: half the samples */
  CHECK(audio_load(path, RATE, &a, why, sizeof why) == 0 && a.n == N / 2, "a WAV cut short still loads: %ld samples (%s)",
        a.n, why);
  CHECK(strstr(a.warning, "cut short: its header announces 32000 bytes of audio but the file holds 16000") != NULL,
        "a WAV cut short is a warning with the sizes: '%s'", a.warning);
  audio_free(&a);
  unlink(path);
}

int main(void) {
  length_rule();
  wav_cut_short();
  if (failures) return 1;
  printf("audio length checks passed\n");
  return 0;
}
