/* Synthetic caches with learnable tags (see synth.h). */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/cache.h"

enum { P_NOISE = 1, P_PARAM, P_FRAME, P_LABEL };

#define SYNTH_P_TAG 0.3   /* multi-label: probability of each tag */
#define SYNTH_BLOCK 32    /* examples generated in parallel, then written */

int synth_period(int r) {
  static const int k_periods[] = {5, 6, 7, 8, 9, 11, 13, 17, 19};
  const int n = (int)(sizeof k_periods / sizeof k_periods[0]);
  if (r < n) return k_periods[r];
  int p = k_periods[n - 1], left = r - n + 1;
  while (left > 0) { /* the next primes */
    p++;
    int prime = 1;
    for (int d = 2; d * d <= p && prime; d++) prime = p % d != 0;
    if (prime) left--;
  }
  return p;
}

typedef struct TagPattern {
  int band, rhythm; /* band slot j / rhythm index r, -1 if none */
} TagPattern;

typedef struct Layout {
  int n_tags, multi, n_bands;
  TagPattern *tag;
} Layout;

static Layout make_layout(const SynthSpec *s) {
  Layout L = {0};
  L.multi = s->n_tags > 0;
  L.n_tags = L.multi ? s->n_tags : s->classes;
  L.tag = at_calloc((size_t)L.n_tags, sizeof(TagPattern), "synth patterns");
  for (int k = 0; k < L.n_tags; k++) {
    TagPattern *t = &L.tag[k];
    t->band = t->rhythm = -1;
    switch (s->patterns) {
      case SYNTH_MIXED:
        if (!L.multi) t->band = t->rhythm = k;
        else if (k % 2 == 0) t->band = k / 2;
        else t->rhythm = k / 2;
        break;
      case SYNTH_BANDS: t->band = k; break;
      case SYNTH_RHYTHMS: t->rhythm = k; break;
      case SYNTH_BOTH: t->band = t->rhythm = k; break;
    }
    if (t->band + 1 > L.n_bands) L.n_bands = t->band + 1;
  }
  return L;
}

static uint64_t stream_of(const SynthSpec *s, int purpose, long i) {
  return (s->stream << 48) ^ ((uint64_t)purpose << 40) ^ (uint64_t)i;
}

/* Labels of example i (shared by the chunks of a song). */
static void example_labels(const SynthSpec *s, const Layout *L, long i, uint8_t *active, int32_t *cls) {
  long group = s->examples_per_song > 0 ? i / s->examples_per_song : i;
  uint64_t st = stream_of(s, P_LABEL, group);
  if (L->multi) {
    for (int k = 0; k < L->n_tags; k++) active[k] = at_rng_uniform(s->seed, st, (uint64_t)k) < SYNTH_P_TAG;
    *cls = 0;
  } else {
    int c = (int)(at_rng_uniform(s->seed, st, 0) * (float)L->n_tags);
    if (c >= L->n_tags) c = L->n_tags - 1;
    memset(active, 0, (size_t)L->n_tags);
    active[c] = 1;
    *cls = c;
  }
}

/* Mean that the patterns add, over examples: subtracted to keep the values
 * near zero mean. */
static double pattern_mean(const SynthSpec *s, const Layout *L) {
  double p = L->multi ? SYNTH_P_TAG : 1.0 / L->n_tags, sum = 0;
  double spacing = (double)s->bins / (L->n_bands > 0 ? L->n_bands : 1), sigma = fmax(0.8, 0.35 * spacing);
  for (int k = 0; k < L->n_tags; k++) {
    if (L->tag[k].band >= 0) sum += p * 2.0 * fmin(1.0, sigma * 2.5066 / s->bins);
    if (L->tag[k].rhythm >= 0) sum += p * 3.5 * 1.5 / synth_period(L->tag[k].rhythm);
  }
  return sum;
}

static void make_example(const SynthSpec *s, const Layout *L, long i, const uint8_t *active, double shift, float *out) {
  const int B = s->bins, F = s->frames;
  const uint64_t seed = s->seed;
  /* noise floor: triangular noise scaled to unit variance, 4 values per Philox block */
  const uint64_t sn = stream_of(s, P_NOISE, i);
  const size_t total = (size_t)B * (size_t)F;
  const float scale = sqrtf(6.0f) / 65536.0f;
  for (size_t q = 0; q < total; q += 4) {
    Philox4x32 r = at_philox(seed, sn, q >> 2);
    for (size_t k = 0; k < 4 && q + k < total; k++) {
      uint32_t w = r.v[k];
      out[q + k] = (float)((int)(w & 0xffffu) + (int)(w >> 16) - 65535) * scale;
    }
  }
  /* spectral tilt and per-frame loudness */
  const uint64_t sp = stream_of(s, P_PARAM, i), sf = stream_of(s, P_FRAME, i);
  const float tilt = 2.0f * at_rng_uniform(seed, sp, 0) - 1.0f;
  float *loud = at_malloc(sizeof(float) * (size_t)F, "synth");
  for (int t = 0; t < F; t++) loud[t] = 0.3f * at_rng_normal(seed, sf, (uint64_t)t) - (float)shift;
  for (int b = 0; b < B; b++) {
    const float g = tilt * (0.5f - ((float)b + 0.5f) / (float)B);
    float *row = out + (size_t)b * F;
    for (int t = 0; t < F; t++) row[t] += g + loud[t];
  }
  free(loud);
  /* the patterns of the active tags */
  const double spacing = (double)B / (L->n_bands > 0 ? L->n_bands : 1), sigma = fmax(0.8, 0.35 * spacing);
  for (int k = 0; k < L->n_tags; k++) {
    if (!active[k]) continue;
    const TagPattern *tp = &L->tag[k];
    const uint64_t base = 8 + (uint64_t)k * 8;
    if (tp->band >= 0) {
      double centre = (tp->band + 0.5) * spacing + (at_rng_uniform(seed, sp, base) - 0.5) * 0.5 * spacing;
      float amp = 1.5f + at_rng_uniform(seed, sp, base + 1);
      for (int b = 0; b < B; b++) {
        double z = (b - centre) / sigma;
        if (fabs(z) > 4) continue;
        float e = amp * (float)exp(-0.5 * z * z);
        float *row = out + (size_t)b * F;
        for (int t = 0; t < F; t++) row[t] += e;
      }
    }
    if (tp->rhythm >= 0) {
      const int period = synth_period(tp->rhythm);
      const int phase = (int)(at_rng_uniform(seed, sp, base + 2) * period) % period;
      const float amp = 3.0f + at_rng_uniform(seed, sp, base + 3);
      for (int t = phase; t < F; t += period)
        for (int b = 0; b < B; b++) {
          out[(size_t)b * F + t] += amp;
          if (t + 1 < F) out[(size_t)b * F + t + 1] += 0.5f * amp;
        }
    }
  }
}

void synth_write(const char *path, const SynthSpec *spec) {
  SynthSpec s = *spec;
  if (s.feature_bytes == 0) s.feature_bytes = 2;
  if ((s.n_tags > 0) == (s.classes > 0))
    at_fatal("synth: give either a number of tags (multi-label) or of classes (single-label), not %s",
             s.n_tags > 0 ? "both" : "neither");
  if (s.n < 1 || s.bins < 1 || s.frames < 2)
    at_fatal("synth: cannot make %d examples of %d bins x %d frames", s.n, s.bins, s.frames);
  Layout L = make_layout(&s);
  const double shift = pattern_mean(&s, &L);

  char **names = at_calloc((size_t)L.n_tags, sizeof(char *), "tag names");
  for (int k = 0; k < L.n_tags; k++) {
    char buf[64];
    const TagPattern *tp = &L.tag[k];
    if (tp->band >= 0 && tp->rhythm >= 0) snprintf(buf, sizeof buf, "band%d_rhythm%d", tp->band, synth_period(tp->rhythm));
    else if (tp->band >= 0) snprintf(buf, sizeof buf, "band%d", tp->band);
    else snprintf(buf, sizeof buf, "rhythm%d", synth_period(tp->rhythm));
    names[k] = at_strdup(buf);
  }
  CacheSpec cs = {
      .n = s.n,
      .bins = s.bins,
      .frames = s.frames,
      .feature_bytes = s.feature_bytes,
      .kind = L.multi ? CACHE_MULTI_LABEL : CACHE_SINGLE_LABEL,
      .n_tags = L.n_tags,
      .tags = (const char *const *)names,
      .has_song = s.examples_per_song > 0,
      .has_fold = s.folds > 0,
      .chunked = s.chunked,
      .deflate = s.deflate,
  };
  snprintf(cs.front_end.representation, sizeof cs.front_end.representation, "synthetic");
  cs.front_end.n_bins = s.bins;
  CacheWriter *w = cache_writer_create(path, &cs);

  const size_t per = (size_t)s.bins * (size_t)s.frames;
  float *block = at_malloc(sizeof(float) * per * SYNTH_BLOCK, "synthetic examples");
  uint8_t *active = at_malloc((size_t)L.n_tags * SYNTH_BLOCK, "synthetic labels");
  int32_t cls[SYNTH_BLOCK];
  for (long i0 = 0; i0 < s.n; i0 += SYNTH_BLOCK) {
    const int m = (int)(s.n - i0 < SYNTH_BLOCK ? s.n - i0 : SYNTH_BLOCK);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < m; j++) {
      example_labels(&s, &L, i0 + j, active + (size_t)j * L.n_tags, &cls[j]);
      make_example(&s, &L, i0 + j, active + (size_t)j * L.n_tags, shift, block + per * (size_t)j);
    }
    for (int j = 0; j < m; j++) {
      const long i = i0 + j;
      char id[64];
      snprintf(id, sizeof id, "synth-%llu-%llu-%ld", (unsigned long long)s.seed, (unsigned long long)s.stream, i);
      const long song = s.examples_per_song > 0 ? i / s.examples_per_song : i;
      cache_writer_put(w, (int)i, block + per * (size_t)j, L.multi ? active + (size_t)j * L.n_tags : NULL, cls[j], id,
                       (int32_t)song, s.folds > 0 ? (int32_t)(song % s.folds) : 0);
    }
  }
  cache_writer_finish(w);
  free(block);
  free(active);
  for (int k = 0; k < L.n_tags; k++) free(names[k]);
  free(names);
  free(L.tag);
}
