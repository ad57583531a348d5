/* Audio in and out through libsndfile (WAV, AIFF, FLAC, OGG/Vorbis, Opus,
 * MP3 via mpg123) and soxr (SOXR_HQ: 20-bit precision, 95 % pass band,
 * linear phase) -- see audio_io.h. Nothing here is fatal for a bad input
 * file: the reason goes back to the caller. */
#include "audio/audio_io.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

/* Frames read per sf_readf_float call. */
#define AUDIO_BLOCK 65536

static int fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_size, const char *fmt, ...) {
  if (why && why_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    /* one line: reasons end up in reports and on screen */
    for (char *c = why; *c; c++)
      if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
    size_t n = strlen(why);
    while (n && (why[n - 1] == ' ' || why[n - 1] == '.')) why[--n] = '\0';
  }
  return -1;
}

/* libsndfile's messages end in a period and some are terse; keep them but
 * say what they mean for the common cases. */
static const char *open_reason(int err, const char *msg) {
  switch (err) {
    case SF_ERR_UNRECOGNISED_FORMAT: return "not a supported audio format (libsndfile: format not recognised)";
    case SF_ERR_UNSUPPORTED_ENCODING: return "unsupported encoding inside a known container";
    case SF_ERR_MALFORMED_FILE: return "malformed file (libsndfile: parse error)";
    default: break;
  }
  /* libsndfile's internal codes; a file we could stat is there, so this one
   * means its contents (e.g. random bytes behind a .mp3 name) */
  if (strstr(msg, "does not exist") || strstr(msg, "not a regular file"))
    return "not a supported audio format, or a corrupt file (libsndfile cannot parse it)";
  return msg;
}

static int resample(const float *in, long n, double in_rate, double out_rate, float **out, long *out_n, char *why,
                    size_t why_size) {
  /* The length a resampler of infinite precision gives: round(n * out / in). */
  double exact = (double)n * out_rate / in_rate;
  long want = (long)floor(exact + 0.5);
  if (want < 1) return fail(why, why_size, "too short to resample: %ld samples at %g Hz", n, in_rate);
  size_t cap = (size_t)want + 64;
  float *buf = malloc(cap * sizeof(float));
  if (!buf) return fail(why, why_size, "out of memory resampling %ld samples", n);
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* our parallelism is over files */
  size_t done = 0;
  soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, in, (size_t)n, NULL, buf, cap, &done, &io, &q, &rt);
  if (err) {
    free(buf);
    return fail(why, why_size, "resampling %g Hz -> %g Hz failed: %s", in_rate, out_rate, err);
  }
  /* soxr flushes its filter tail; pin the length so that it never depends on
   * the resampler's rounding (the rest of a short tail is zeros). */
  if ((long)done < want) memset(buf + done, 0, sizeof(float) * (size_t)(want - (long)done));
  *out = buf;
  *out_n = want;
  return 0;
}

/* The checks that give clearer reasons than libsndfile's own (missing, a
 * folder, empty), then the target rate. 0, or -1 with why filled. */
static int check_file(const char *path, double target_rate, char *why, size_t why_size) {
  struct stat st;
  if (stat(path, &st) != 0) return fail(why, why_size, "cannot open: %s", strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail(why, why_size, "is a folder, not an audio file");
  if (st.st_size == 0) return fail(why, why_size, "empty file (0 bytes)");
  if (!(target_rate > 0)) return fail(why, why_size, "invalid target sample rate %g", target_rate);
  return 0;
}

/* Opens path with libsndfile; NULL with why filled on failure. */
static SNDFILE *open_sound(const char *path, SF_INFO *info, char *why, size_t why_size) {
  memset(info, 0, sizeof *info);
  /* A failed sf_open leaves its reason in libsndfile's one global error slot:
   * open under a lock so that parallel decoders (prep) report their own. */
  static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&open_lock);
  SNDFILE *f = sf_open(path, SFM_READ, info);
  char reason[256] = "";
  if (!f) snprintf(reason, sizeof reason, "%s", open_reason(sf_error(NULL), sf_strerror(NULL)));
  pthread_mutex_unlock(&open_lock);
  if (!f) {
    fail(why, why_size, "%s", reason);
    return NULL;
  }
  if (info->channels < 1 || info->samplerate < 1) {
    sf_close(f);
    fail(why, why_size, "invalid header: %d channels at %d Hz", info->channels, info->samplerate);
    return NULL;
  }
  return f;
}

/* libsndfile reports an unknown length (a pipe, some containers) as SF_COUNT_MAX. */
static int length_known(const SF_INFO *info) { return info->frames > 0 && info->frames < SF_COUNT_MAX; }

/* Every frame of f, channels averaged, into *mono (*n samples). 0, or -1
 * (out of memory) with why filled and nothing allocated. */
static int decode_mono(SNDFILE *f, const SF_INFO *info, float **mono_out, long *n_out, char *why, size_t why_size) {
  const int ch = info->channels;
  /* frames is exact for PCM/FLAC/Vorbis and an estimate for MPEG streams */
  size_t cap = info->frames > 0 && info->frames < ((sf_count_t)1 << 34) ? (size_t)info->frames + 1 : AUDIO_BLOCK;
  float *mono = malloc(sizeof(float) * cap);
  float *block = ch > 1 ? malloc(sizeof(float) * (size_t)AUDIO_BLOCK * (size_t)ch) : NULL;
  if (!mono || (ch > 1 && !block)) {
    free(block);
    free(mono);
    char length[32] = "an unknown number of";
    if (length_known(info)) snprintf(length, sizeof length, "%lld", (long long)info->frames);
    return fail(why, why_size, "out of memory decoding %s frames x %d channels", length, ch);
  }
  long n = 0;
  for (;;) {
    /* mono: read straight into place, growing only when full (exact frame
     * counts never grow); several channels: a block at a time */
    size_t need = ch == 1 ? (size_t)n + 1 : (size_t)n + AUDIO_BLOCK;
    if (need > cap) {
      size_t ncap = cap * 2 > need ? cap * 2 : need;
      float *grown = realloc(mono, sizeof(float) * ncap);
      if (!grown) {
        free(block);
        free(mono);
        return fail(why, why_size, "out of memory after decoding %ld samples", n);
      }
      mono = grown;
      cap = ncap;
    }
    sf_count_t got;
    if (ch == 1) {
      /* straight into place, as much as fits */
      got = sf_readf_float(f, mono + n, (sf_count_t)(cap - (size_t)n));
    } else {
      got = sf_readf_float(f, block, AUDIO_BLOCK);
      const float inv = 1.0f / (float)ch;
      for (sf_count_t i = 0; i < got; i++) {
        const float *frame = block + (size_t)i * (size_t)ch;
        double acc = 0; /* fixed order: channel 0, 1, ... */
        for (int c = 0; c < ch; c++) acc += frame[c];
        mono[n + i] = (float)acc * inv;
      }
    }
    if (got <= 0) break;
    n += (long)got;
  }
  free(block);
  *mono_out = mono;
  *n_out = n;
  return 0;
}

/* The first sample that is NaN or Inf (float files), or n. The first pass
 * tests the exponent bits (all set), an integer test that vectorises. */
static long first_non_finite(const float *x, long n) {
  const uint32_t *bits = (const uint32_t *)(const void *)x;
  uint32_t bad = 0;
  for (long i = 0; i < n; i++) bad |= (uint32_t)((bits[i] & 0x7f800000u) == 0x7f800000u);
  if (!bad) return n;
  long at = 0;
  while (at < n && isfinite(x[at])) at++;
  return at;
}

int audio_check_length(long long announced, long decoded, double rate, char *warning, size_t warning_size, char *why,
                       size_t why_size) {
  if (announced <= 0 || decoded >= announced) return 0;
  const long long missing = announced - decoded;
  /* 1 %, and at least 8192 samples: libsndfile's Vorbis decoder stops a few
   * thousand samples before the last granule position of some valid files */
  const long long tolerance = announced / 100 > 8192 ? announced / 100 : 8192;
  if (missing > tolerance)
    return fail(why, why_size, "truncated: only %ld of the %lld samples its header announces could be decoded (%.3f of %.3f s)",
                decoded, announced, (double)decoded / rate, (double)announced / rate);
  snprintf(warning, warning_size, "%lld samples (%.3f s) shorter than its header announces (%lld); using the %ld decoded",
           missing, (double)missing / rate, announced, decoded);
  return 0;
}

/* libsndfile reads a WAV or AIFF file whose data chunk was cut short as the
 * shorter file it is, noting "data : 64000 (should be 32000)" in its log:
 * the announced and the actual size of the audio data, in bytes. */
static int chunk_cut_short(SNDFILE *f, long long *announced, long long *present) {
  char log[8192];
  sf_command(f, SFC_GET_LOG_INFO, log, sizeof log);
  for (const char *line = log; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, "data", 4) != 0 && strncmp(line, "SSND", 4) != 0) continue;
    if (sscanf(line + 4, " : %lld (should be %lld)", announced, present) == 2 && *present < *announced) return 1;
  }
  return 0;
}

/* The decoded stream's problems: non-finite samples, a decoding error, no
 * samples, fewer samples than the header announced. 0 if none; what is odd
 * but usable goes into warning. */
static int check_decoded(SNDFILE *f, const SF_INFO *info, const float *mono, long n, char *warning, size_t warning_size,
                         char *why, size_t why_size) {
  const long at = first_non_finite(mono, n);
  if (at < n)
    return fail(why, why_size, "sample %ld (%.3f s) is not a finite number", at, (double)at / info->samplerate);
  if (sf_error(f))
    return fail(why, why_size, "decoding failed after %ld samples (%.3f s): %s", n, (double)n / info->samplerate,
                sf_strerror(f));
  if (n == 0) return fail(why, why_size, "contains no audio samples");
  const double rate = info->samplerate;
  long long announced_bytes, present_bytes;
  if (chunk_cut_short(f, &announced_bytes, &present_bytes))
    snprintf(warning, warning_size,
             "cut short: its header announces %lld bytes of audio but the file holds %lld; using the %.3f s it holds",
             announced_bytes, present_bytes, (double)n / rate);
  /* MPEG streams only estimate their length (bit rate x size without a
   * Xing header), so they are not held to it. */
  if ((info->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG || !length_known(info)) return 0;
  return audio_check_length(info->frames, n, rate, warning, warning_size, why, why_size);
}

int audio_load(const char *path, double target_rate, Audio *out, char *why, size_t why_size) {
  memset(out, 0, sizeof *out);
  if (why && why_size) why[0] = '\0';
  if (check_file(path, target_rate, why, why_size) != 0) return -1;
  SF_INFO info;
  SNDFILE *f = open_sound(path, &info, why, why_size);
  if (!f) return -1;
  float *mono = NULL;
  long n = 0;
  int rc = decode_mono(f, &info, &mono, &n, why, why_size);
  if (rc == 0) rc = check_decoded(f, &info, mono, n, out->warning, sizeof out->warning, why, why_size);
  sf_close(f);
  if (rc) {
    free(mono);
    return rc;
  }
  const double rate = (double)info.samplerate;
  if (rate == target_rate) {
    out->samples = mono;
    out->n = n;
    out->rate = rate;
    return 0;
  }
  float *res = NULL;
  long res_n = 0;
  rc = resample(mono, n, rate, target_rate, &res, &res_n, why, why_size);
  free(mono);
  if (rc) return rc;
  out->samples = res;
  out->n = res_n;
  out->rate = target_rate;
  return 0;
}

void audio_print_warning(const Audio *a, const char *path) {
  if (a->warning[0]) fprintf(stderr, "auratag: warning: %s: %s\n", path, a->warning);
}

void audio_free(Audio *a) {
  if (!a) return;
  free(a->samples);
  memset(a, 0, sizeof *a);
}

void audio_write_wav(const char *path, const float *samples, long n, double rate) {
  if (!(rate >= 1 && rate <= 1e6)) at_fatal("cannot write '%s': sample rate %g Hz", path, rate);
  SF_INFO info;
  memset(&info, 0, sizeof info);
  info.samplerate = (int)lround(rate);
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  if (!f) at_fatal("cannot create '%s': %s", path, sf_strerror(NULL));
  sf_command(f, SFC_SET_CLIPPING, NULL, SF_TRUE);
  float block[4096];
  for (long i = 0; i < n;) {
    long k = n - i < 4096 ? n - i : 4096;
    for (long j = 0; j < k; j++) {
      float v = samples[i + j];
      block[j] = !(v == v) ? 0.0f : v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
    if (sf_writef_float(f, block, k) != k) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s", sf_strerror(f));
      sf_close(f);
      at_fatal("cannot write '%s' (is the disk full?): %s", path, msg);
    }
    i += k;
  }
  if (sf_close(f) != 0) at_fatal("cannot finish writing '%s' (is the disk full?)", path);
}
