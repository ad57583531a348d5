/* Benchmark (never part of the product): loader throughput on an FCN-4-shaped
 * float16 cache (96 bins x 1366 frames, 50 tags) held in the page cache.
 *
 * The cache is written once (synth_write) to $AURATAG_BUILD/bench/ and kept;
 * it is read through once to warm the page cache, then training-mode epochs
 * (shuffled, whole 1366-frame examples as FCN-4 trains, float16 -> float32
 * into the batch ring) are timed with the consumer doing nothing else.
 *
 * usage: bench_loader [--cache PATH] [--examples N] [--threads T] [--batch B]
 *                     [--epochs E] [--prefetch P] [--crop F]
 * Prints per-epoch rates, then one machine-readable line per thread count:
 *   RESULT impl=auratag bench=loader model=loader_fcn4_f16 batch=B threads=T
 *          ms_per_step=<ms per batch> samples_per_s=... gb_per_s=... */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "data/cache.h"
#include "data/loader.h"
#include "data/synth.h"

#define TARGET_PER_S 4000.0 /* what one H100 consumes training FCN-4 */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usable(const char *path, int n) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  Cache *c = cache_open(path);
  int ok = c->n == n && c->bins == 96 && c->frames == 1366 && c->feature_bytes == 2;
  cache_close(c);
  return ok;
}

static double warm_page_cache(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) at_fatal("cannot open '%s': %s", path, strerror(errno));
  size_t cap = 1 << 20;
  char *buf = malloc(cap);
  double total = 0;
  ssize_t got;
  while ((got = read(fd, buf, cap)) > 0) total += (double)got;
  free(buf);
  close(fd);
  return total;
}

/* Times `epochs` epochs; returns the best epoch's examples per second. */
static double run(Cache *c, int threads, int batch, int prefetch, int crop, int epochs, double *median_rate) {
  LoaderConfig lc = {.batch = batch, .crop_frames = crop, .train = 1, .threads = threads, .prefetch = prefetch, .seed = 1};
  Loader *l = loader_create(c, &lc);
  double best = 0, rates[64];
  if (epochs > 64) epochs = 64;
  const double bytes_per_example = (double)c->bins * (crop ? crop : c->frames) * c->feature_bytes;
  for (int e = 0; e < epochs; e++) {
    loader_seek(l, e, 0);
    double t0 = now_s(), check = 0;
    long rows = 0;
    const Batch *b;
    while ((b = loader_next(l))) {
      rows += b->n;
      check += b->x[0];
    }
    double dt = now_s() - t0, rate = (double)rows / dt;
    rates[e] = rate;
    if (rate > best) best = rate;
    printf("  threads %d epoch %d: %ld examples in %.3f s = %.0f examples/s, %.2f GB/s of float16 read (%.2f GB/s float32 "
           "written)%s\n",
           threads, e, rows, dt, rate, rate * bytes_per_example / 1e9, 2 * rate * bytes_per_example / 1e9,
           check == 12345.678 ? " " : "");
  }
  for (int i = 0; i < epochs; i++) /* median by insertion sort */
    for (int j = i; j > 0 && rates[j] < rates[j - 1]; j--) {
      double t = rates[j];
      rates[j] = rates[j - 1];
      rates[j - 1] = t;
    }
  *median_rate = epochs % 2 ? rates[epochs / 2] : 0.5 * (rates[epochs / 2 - 1] + rates[epochs / 2]);
  loader_free(l);
  return best;
}

int main(int argc, char **argv) {
  const char *build = getenv("AURATAG_BUILD");
  char path[4096] = "";
  int n = 2000, threads = 2, batch = 32, epochs = 5, prefetch = 4, crop = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) at_fatal("bench_loader: %s needs a value", argv[i]);
    if (!strcmp(argv[i], "--cache")) snprintf(path, sizeof path, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--examples")) n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--prefetch")) prefetch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--crop")) crop = atoi(argv[++i]);
    else at_fatal("usage: bench_loader [--cache PATH] [--examples N] [--threads T] [--batch B] [--epochs E] "
                  "[--prefetch P] [--crop F]");
  }
  if (!path[0]) {
    char dir[4000];
    snprintf(dir, sizeof dir, "%s/bench", build && *build ? build : "build");
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/loader_fcn4_f16_%d.h5", dir, n);
  }
  if (!usable(path, n)) {
    printf("writing the benchmark cache %s: %d synthetic examples of 96 x 1366 float16 (%.2f GB)...\n", path, n,
           n * 96.0 * 1366 * 2 / 1e9);
    fflush(stdout);
    double t0 = now_s();
    SynthSpec s = {.n = n, .bins = 96, .frames = 1366, .n_tags = 50, .seed = 1, .feature_bytes = 2};
    synth_write(path, &s);
    printf("  written in %.1f s\n", now_s() - t0);
  }
  double t0 = now_s();
  double bytes = warm_page_cache(path);
  printf("page cache: read %s (%.2f GB) in %.2f s\n", path, bytes / 1e9, now_s() - t0);

  Cache *c = cache_open(path);
  const double bytes_per_example = (double)c->bins * (crop ? crop : c->frames) * c->feature_bytes;
  printf("loader: training mode, batch %d, prefetch %d, crop %d frames, %d examples of %d x %d float16 (%.0f KB), %ld "
         "batches per epoch\n",
         batch, prefetch, crop ? crop : c->frames, c->n, c->bins, c->frames, bytes_per_example / 1024,
         (long)((c->n + batch - 1) / batch));
  int counts[2] = {1, threads};
  for (int k = threads == 1 ? 1 : 0; k < 2; k++) {
    double med, best = run(c, counts[k], batch, prefetch, crop, epochs, &med);
    printf("threads %d: median %.0f examples/s (best %.0f), %.2f GB/s float16%s\n", counts[k], med, best,
           med * bytes_per_example / 1e9,
           counts[k] == threads ? (med >= TARGET_PER_S ? "  [target 4000/s: met]" : "  [target 4000/s: NOT met]") : "");
    /* the configured thread count is the headline row; 1 thread is for reference */
    printf("RESULT impl=%s bench=loader model=loader_fcn4_f16 batch=%d threads=%d steps=%d ms_per_step=%.3f "
           "samples_per_s=%.1f gb_per_s=%.3f best_samples_per_s=%.1f\n",
           counts[k] == threads ? "auratag" : "auratag-1thread", batch, counts[k], epochs, 1e3 * batch / med, med,
           med * bytes_per_example / 1e9, best);
  }
  cache_close(c);
  return 0;
}
