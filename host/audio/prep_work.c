/* prep's work records (see prep_work.h). */
#include "audio/prep_work.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"

#define RECORD_MAGIC "AURATAG-PREP 1\n"

uint64_t prep_checksum_floats(const float *x, size_t n) {
  return at_fnv1a_words((const uint32_t *)(const void *)x, n, AT_FNV1A_BASIS) ^ (uint64_t)n;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* Removes files in the work folder: partial ones (".tmp") or all. */
static void clean_work(const char *work, int everything) {
  DIR *d = opendir(work);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 300];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (!everything && !ends_with(e->d_name, ".tmp")) continue;
    snprintf(path, sizeof path, "%s/%s", work, e->d_name);
    remove(path);
  }
  closedir(d);
}

void prep_work_open(PrepWork *w, const char *out) {
  at_make_dirs(out);
  snprintf(w->dir, sizeof w->dir, "%s/.prep", out);
  at_make_dirs(w->dir);
  char lock_path[PATH_MAX + 16];
  snprintf(lock_path, sizeof lock_path, "%s/lock", w->dir);
  w->lock_fd = open(lock_path, O_RDWR | O_CREAT, 0666);
  if (w->lock_fd < 0) at_fatal("cannot create '%s': %s", lock_path, strerror(errno));
  if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
    at_fatal("another `auratag prep` is writing to '%s' (it holds %s); wait for it or choose another --out", out,
             lock_path);
  clean_work(w->dir, 0); /* partial records of an interrupted run */
}

void prep_work_close(PrepWork *w, int keep) {
  if (!keep) clean_work(w->dir, 1); /* the lock file too: nobody else can hold it while we do */
  close(w->lock_fd);
  if (!keep) rmdir(w->dir);
}

static void record_path(const PrepWork *w, const PrepRow *r, char *out, size_t size) {
  snprintf(out, size, "%s/%s", w->dir, r->record);
}

void prep_work_name_record(const PrepWork *w, PrepRow *r) {
  struct stat st;
  r->record[0] = '\0';
  if (stat(r->full, &st) != 0 || !S_ISREG(st.st_mode)) return;
  snprintf(r->stamp, sizeof r->stamp, "%lld %lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
           (long)st.st_mtim.tv_nsec);
  /* two differently seeded hashes: 128 bits, so that names never collide in practice */
  uint64_t h1 = AT_FNV1A_BASIS, h2 = 0x84222325cbf29ce4ULL;
  const char *parts[3] = {r->full, r->stamp, w->signature};
  for (int i = 0; i < 3; i++) {
    h1 = at_fnv1a(parts[i], strlen(parts[i]) + 1, h1);
    h2 = at_fnv1a(parts[i], strlen(parts[i]) + 1, h2 * 31 + 7);
  }
  snprintf(r->record, sizeof r->record, "%016" PRIx64 "%016" PRIx64 ".rec", h1, h2);
}

static int header_text(const PrepWork *w, const PrepRow *r, const PrepRecordHeader *h, char *out, size_t size) {
  return snprintf(out, size,
                  RECORD_MAGIC
                  "path %s\nstamp %s\nsignature %s\nexamples %d\nrows %d\nframes %d\nfile_frames %ld\n"
                  "seconds %.17g\nstats %.17g %.17g %.17g\nchecksum %016" PRIx64 "\nend\n",
                  r->full, r->stamp, w->signature, h->examples, h->rows, h->frames, h->file_frames, h->seconds,
                  h->st_count, h->st_mean, h->st_m2, h->checksum);
}

static size_t header_capacity(const PrepWork *w, const PrepRow *r) {
  return strlen(r->full) + strlen(w->signature) + 1024;
}

void prep_work_write(const PrepWork *w, const PrepRow *r, const PrepRecordHeader *h, const float *data) {
  char path[PATH_MAX + 80], tmp[PATH_MAX + 96];
  record_path(w, r, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  size_t cap = header_capacity(w, r);
  char *head = at_malloc(cap, "record header");
  int hn = header_text(w, r, h, head, cap);
  FILE *fp = fopen(tmp, "wb");
  if (!fp) at_fatal("cannot create the work record '%s': %s", tmp, strerror(errno));
  size_t n = (size_t)h->examples * (size_t)h->rows * (size_t)h->frames;
  int ok = fwrite(head, 1, (size_t)hn, fp) == (size_t)hn && (n == 0 || fwrite(data, sizeof(float), n, fp) == n);
  ok = (fclose(fp) == 0) && ok;
  free(head);
  if (!ok) {
    remove(tmp);
    at_fatal("cannot write the work record '%s' (is the disk full?)", tmp);
  }
  if (rename(tmp, path) != 0) at_fatal("cannot move '%s' into place: %s", tmp, strerror(errno));
}

/* Parses the numbers of a header read into `head` (cut after "end"), then
 * compares the whole text with what we would write for r, and the file size
 * with what the numbers say. */
static int header_matches(const PrepWork *w, const PrepRow *r, const char *head, size_t file_size,
                          PrepRecordHeader *h) {
  const char *e = strstr(head, "\nexamples ");
  if (!e || sscanf(e,
                   "\nexamples %d\nrows %d\nframes %d\nfile_frames %ld\nseconds %lg\nstats %lg %lg %lg\n"
                   "checksum %" SCNx64,
                   &h->examples, &h->rows, &h->frames, &h->file_frames, &h->seconds, &h->st_count, &h->st_mean,
                   &h->st_m2, &h->checksum) != 9)
    return 0;
  size_t cap = header_capacity(w, r);
  char *expect = at_malloc(cap, "record header");
  int n = header_text(w, r, h, expect, cap);
  size_t data = (size_t)h->examples * (size_t)h->rows * (size_t)h->frames * sizeof(float);
  int same = n > 0 && (size_t)n == h->data_offset && !strncmp(expect, head, (size_t)n - 4) &&
             file_size == h->data_offset + data && h->examples >= 0 &&
             (h->examples == 0 || (h->rows == w->rows && h->frames == w->frames));
  free(expect);
  return same;
}

int prep_work_read_header(const PrepWork *w, const PrepRow *r, PrepRecordHeader *h) {
  char path[PATH_MAX + 80];
  record_path(w, r, path, sizeof path);
  FILE *fp = fopen(path, "rb");
  if (!fp) return -1;
  size_t cap = header_capacity(w, r);
  char *head = at_malloc(cap + 1, "record header");
  size_t got = fread(head, 1, cap, fp);
  head[got] = '\0';
  struct stat st;
  int have_size = fstat(fileno(fp), &st) == 0;
  fclose(fp);
  memset(h, 0, sizeof *h);
  char *end = strstr(head, "\nend\n");
  int rc = -1;
  if (end && have_size) {
    end[1] = '\0';
    h->data_offset = (size_t)(end - head) + 5;
    if (header_matches(w, r, head, (size_t)st.st_size, h)) rc = 0;
  }
  free(head);
  return rc;
}

float *prep_work_read_data(const PrepWork *w, const PrepRow *r, const PrepRecordHeader *h) {
  char path[PATH_MAX + 80];
  record_path(w, r, path, sizeof path);
  size_t n = (size_t)h->examples * (size_t)h->rows * (size_t)h->frames;
  float *x = at_malloc(sizeof(float) * (n ? n : 1), "work record");
  FILE *fp = fopen(path, "rb");
  int ok = fp && fseek(fp, (long)h->data_offset, SEEK_SET) == 0 && fread(x, sizeof(float), n, fp) == n;
  if (fp) fclose(fp);
  if (!ok || prep_checksum_floats(x, n) != h->checksum) {
    remove(path);
    at_fatal(
        "the work record '%s' of '%s' is damaged (a crash while it was written?); it has been removed: run "
        "the same prep again to recompute it",
        path, r->path);
  }
  return x;
}
