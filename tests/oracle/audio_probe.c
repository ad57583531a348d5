/* Decodes files through auratag's audio_load (audio/audio_io.h) and prints
 * what the prep tests check about them:
 *
 *   audio_probe RATE FILE...
 *   -> FILE ok n=SAMPLES rate=RATE rms=RMS hz=FREQ
 *   -> FILE failed: REASON
 *
 * hz: the frequency of a pure tone from its rising zero crossings (linear
 * interpolation, middle 80 % of the signal), 0 if there are fewer than two. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "audio/audio_io.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: audio_probe RATE FILE...\n");
    return 2;
  }
  const double rate = atof(argv[1]);
  int failures = 0;
  for (int f = 2; f < argc; f++) {
    Audio a;
    char why[512];
    if (audio_load(argv[f], rate, &a, why, sizeof why) != 0) {
      printf("%s failed: %s\n", argv[f], why);
      failures++;
      continue;
    }
    double sq = 0;
    for (long i = 0; i < a.n; i++) sq += (double)a.samples[i] * a.samples[i];
    long lo = a.n / 10, hi = a.n - a.n / 10;
    double first = -1, last = -1;
    long crossings = 0;
    for (long i = lo + 1; i < hi; i++) {
      if (a.samples[i - 1] < 0 && a.samples[i] >= 0) {
        double t = (double)(i - 1) + a.samples[i - 1] / (a.samples[i - 1] - a.samples[i]);
        if (first < 0) first = t;
        last = t;
        crossings++;
      }
    }
    double hz = crossings >= 2 ? (double)(crossings - 1) * a.rate / (last - first) : 0;
    printf("%s ok n=%ld rate=%g rms=%.9g hz=%.4f\n", argv[f], a.n, a.rate, sqrt(sq / (double)a.n), hz);
    audio_free(&a);
  }
  return failures ? 1 : 0;
}
