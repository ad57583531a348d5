/* Front-end driver for tests/audio/librosa_check.py (and timing).
 *
 *   frontend_dump SIGNAL.f32 OUT.bin [SIGNAL.f32 OUT.bin ...] [key=value ...]
 *   frontend_dump --bench REPEATS SIGNAL.f32 [key=value ...]
 *
 * SIGNAL.f32: raw little-endian float32 mono samples. key=value pairs are
 * [frontend] keys (audio/frontend.h), read through frontend_spec_from_ini as
 * a dataset config's section would be (so bad specs fail the same way).
 * Several SIGNAL OUT pairs: each signal goes through the same spec with a
 * plan of its own (created, used, freed), as in a run of its own; the pairs
 * end at the first argument with a '='.
 *
 * OUT.bin: a sequence of records
 *   char name[16] (NUL-padded), int64 rows, int64 cols, float32 data[rows*cols]
 * named
 *   features  [frontend_rows, frames]        frontend_compute
 *   stft      [n_fft/2 + 1, 2 * frames]      frontend_stft (re, im interleaved)
 *   istft     [1, samples]                   frontend_istft of that stft
 *   mel       [bands, n_fft/2 + 1]           frontend_mel_matrix (mel, mfcc)
 *   info      [1, 4]                         frames, rows, n_fft, hop
 *
 * --bench: frontend_compute REPEATS times on one thread; prints the median
 * milliseconds per call. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/frontend.h"
#include "config/ini_file.h"
#include "core/error.h"

static float *read_signal(const char *path, long *n) {
  FILE *f = fopen(path, "rb");
  if (!f) at_fatal("cannot open '%s'", path);
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  *n = bytes / 4;
  float *x = at_malloc(sizeof(float) * (*n ? *n : 1), "signal");
  if ((long)fread(x, 4, (size_t)*n, f) != *n) at_fatal("cannot read '%s'", path);
  fclose(f);
  return x;
}

static void spec_from_args(int argc, char **argv, FrontEndSpec *spec, IniFile **ini_out) {
  size_t cap = 64;
  for (int i = 0; i < argc; i++) cap += strlen(argv[i]) + 2;
  char *text = at_malloc(cap, "spec");
  strcpy(text, "[frontend]\n");
  for (int i = 0; i < argc; i++) {
    if (!strchr(argv[i], '=')) at_fatal("expected key=value, got '%s'", argv[i]);
    strcat(text, argv[i]);
    strcat(text, "\n");
  }
  static const char *const singletons[] = {"frontend", NULL};
  IniFile *ini = ini_load_text(text, "command line", singletons);
  free(text);
  frontend_spec_from_ini(ini_section(ini, "frontend"), spec);
  for (int i = 0; i < ini->sections[0].n_entries; i++)
    if (!ini->sections[0].entries[i].used) at_fatal("unknown front-end key '%s'", ini->sections[0].entries[i].key);
  *ini_out = ini;
}

static void put(FILE *f, const char *name, int64_t rows, int64_t cols, const float *data) {
  char n[16] = {0};
  strncpy(n, name, 15);
  fwrite(n, 1, 16, f);
  fwrite(&rows, 8, 1, f);
  fwrite(&cols, 8, 1, f);
  if (rows > 0 && cols > 0) fwrite(data, 4, (size_t)(rows * cols), f);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One signal through the spec into OUT.bin, with a plan of its own. */
static void dump_one(const FrontEndSpec *spec_in, const char *signal_path, const char *out_path) {
  FrontEndSpec spec = *spec_in;
  long n;
  float *x = read_signal(signal_path, &n);
  FrontEndPlan *p = frontend_plan_create(&spec);
  const long frames = frontend_frames(&spec, n);
  const int rows = frontend_rows(&spec), n_freq = spec.n_fft / 2 + 1;
  FILE *f = fopen(out_path, "wb");
  if (!f) at_fatal("cannot create '%s'", out_path);

  float *feat = at_malloc(sizeof(float) * rows * (frames ? frames : 1), "features");
  frontend_compute(p, x, n, feat);
  put(f, "features", rows, frames, feat);
  float *stft = at_malloc(sizeof(float) * 2 * n_freq * (frames ? frames : 1), "stft");
  frontend_stft(p, x, n, stft);
  put(f, "stft", n_freq, 2 * frames, stft);
  float *y = at_malloc(sizeof(float) * (n ? n : 1), "istft");
  frontend_istft(p, stft, frames, y, n);
  put(f, "istft", 1, n, y);
  const float *mel = frontend_mel_matrix(p);
  if (mel) {
    int bands = spec.representation == REPR_MFCC ? spec.n_mels : spec.n_bins;
    put(f, "mel", bands, n_freq, mel);
  }
  float info[4] = {(float)frames, (float)rows, (float)spec.n_fft, (float)spec.hop};
  put(f, "info", 1, 4, info);
  if (fclose(f) != 0) at_fatal("cannot write '%s'", out_path);
  frontend_plan_free(p);
  free(feat);
  free(stft);
  free(y);
  free(x);
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "--bench")) {
    int reps = atoi(argv[2]);
    long n;
    float *x = read_signal(argv[3], &n);
    FrontEndSpec spec;
    IniFile *ini;
    spec_from_args(argc - 4, argv + 4, &spec, &ini);
    FrontEndPlan *p = frontend_plan_create(&spec);
    long frames = frontend_frames(&spec, n);
    float *feat = at_malloc(sizeof(float) * frontend_rows(&spec) * (frames ? frames : 1), "features");
    double *ms = at_malloc(sizeof(double) * (reps > 0 ? reps : 1), "times");
    frontend_compute(p, x, n, feat); /* warm up */
    for (int r = 0; r < reps; r++) {
      double t0 = now_ms();
      frontend_compute(p, x, n, feat);
      ms[r] = now_ms() - t0;
    }
    qsort(ms, (size_t)reps, sizeof(double), cmp_double);
    printf("%.4f ms per call (median of %d; min %.4f), %ld samples, %d x %ld features\n", ms[reps / 2], reps, ms[0], n,
           frontend_rows(&spec), frames);
    frontend_plan_free(p);
    ini_free(ini);
    free(feat);
    free(ms);
    free(x);
    return 0;
  }
  int first_kv = 1; /* SIGNAL OUT pairs up to the first key=value */
  while (first_kv < argc && !strchr(argv[first_kv], '=')) first_kv++;
  if (first_kv < 3 || (first_kv - 1) % 2) {
    fprintf(stderr, "usage: frontend_dump SIGNAL.f32 OUT.bin [SIGNAL.f32 OUT.bin ...] [key=value ...]\n"
                    "       frontend_dump --bench REPEATS SIGNAL.f32 [key=value ...]\n");
    return 2;
  }
  FrontEndSpec spec;
  IniFile *ini;
  spec_from_args(argc - first_kv, argv + first_kv, &spec, &ini);
  for (int i = 1; i < first_kv; i += 2) dump_one(&spec, argv[i], argv[i + 1]);
  ini_free(ini);
  return 0;
}
