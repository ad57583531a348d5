/* The CRC-32C against published check values, and the TensorBoard writer's
 * files (train/tensorboard.h) at the byte level: TFRecord framing, a resume
 * cutting a torn or damaged tail, and a write that fails (a file-size limit,
 * as a full disk) being one warning after which the writer stops.
 * tests/train/test_tensorboard.sh reads real runs with TensorBoard's reader. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/crc32c.h"
#include "test_util.h"
#include "train/tensorboard.h"

static char base[64], dir[128]; /* a temporary folder; the writer's folder in it */

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* The one events file in dir (the newest, when several: largest name). */
static void events_file(char *path, size_t size) {
  DIR *d = opendir(dir);
  char best[300] = "";
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, "tfevents") && strcmp(e->d_name, best) > 0) snprintf(best, sizeof best, "%s", e->d_name);
  if (d) closedir(d);
  snprintf(path, size, "%s/%s", dir, best);
}

/* Whole records and their checksums; returns the count, -1 at a bad one.
 * *bytes: the length of the whole records. */
static int count_records(const char *path, long *bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  unsigned char head[12], data[65536];
  int n = 0;
  *bytes = 0;
  while (fread(head, 1, 12, f) == 12) {
    const uint64_t len = le(head, 8);
    if ((uint32_t)le(head + 8, 4) != at_crc32c_masked(head, 8) || len + 4 > sizeof data) break;
    if (fread(data, 1, len + 4, f) != len + 4) break;
    if ((uint32_t)le(data + len, 4) != at_crc32c_masked(data, len)) {
      n = -1;
      break;
    }
    n++;
    *bytes += (long)len + 16;
  }
  fclose(f);
  return n;
}

static void resume_at(const void *step) {
  tb_close(tb_open(dir, *(const long *)step));
}

static void fill_disk(const void *arg) {
  (void)arg;
  TbWriter *w = tb_open(dir, -1);
  char path[1024];
  events_file(path, sizeof path);
  struct stat st;
  stat(path, &st);
  signal(SIGXFSZ, SIG_IGN); /* a write past the limit then fails with EFBIG */
  struct rlimit lim = {(rlim_t)st.st_size + 1000, (rlim_t)st.st_size + 1000};
  setrlimit(RLIMIT_FSIZE, &lim);
  for (int i = 1; i <= 200; i++) {
    tb_scalar(w, "step/loss", i, 1.0 / i);
    tb_flush(w);
  }
  tb_text(w, "config", 0, "after the failure");
  tb_close(w);
  printf("the run went on\n");
}

int main(void) {
  /* CRC-32C check values: "123456789" (the catalogue's check), RFC 3720's 32 zeros and 32 0xff */
  unsigned char zeros[32] = {0}, ones[32];
  memset(ones, 0xff, sizeof ones);
  CHECK(at_crc32c(0, "123456789", 9) == 0xe3069283u, "crc32c(123456789) = %08x", at_crc32c(0, "123456789", 9));
  CHECK(at_crc32c(0, zeros, 32) == 0x8a9136aau, "crc32c(32 zeros) = %08x", at_crc32c(0, zeros, 32));
  CHECK(at_crc32c(0, ones, 32) == 0x62a8ab43u, "crc32c(32 x ff) = %08x", at_crc32c(0, ones, 32));
  CHECK(at_crc32c(at_crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u, "crc32c continued");
  const uint32_t c = 0xe3069283u;
  CHECK(at_crc32c_mask(c) == (((c >> 15) | (c << 17)) + 0xa282ead8u), "mask");
  CHECK(at_crc32c_masked("123456789", 9) == at_crc32c_mask(c), "masked");

  snprintf(base, sizeof base, "/tmp/auratag_tb_XXXXXX");
  if (!mkdtemp(base)) return 1;
  snprintf(dir, sizeof dir, "%s/run", base);

  /* a run: the file_version record, then one record per value */
  TbWriter *w = tb_open(dir, -1);
  CHECK(w != NULL, "tb_open");
  tb_text(w, "config", 0, "    [model]");
  for (int i = 1; i <= 5; i++) tb_scalar(w, "step/loss", i, 1.0 / i);
  tb_scalar(w, "step/loss", 6, 0.0 / 0.0); /* NaN: left out */
  tb_close(w);
  char path[1024];
  events_file(path, sizeof path);
  long whole = 0;
  int n = count_records(path, &whole);
  CHECK(n == 7, "a fresh run: %d records, want 7 (version, text, 5 scalars)", n);

  /* a resume at step 3 from a file that a kill tore: cut after step 3 */
  FILE *f = fopen(path, "ab");
  fwrite("\x40\0\0\0\0\0\0\0abcd", 1, 12, f); /* half of a record */
  fclose(f);
  sleep(1); /* the next file's name (unix seconds) sorts after this one */
  w = tb_open(dir, 3);
  tb_scalar(w, "step/loss", 3, 99.0); /* already there at the resumed step: not again */
  tb_scalar(w, "step/lr", 3, 0.5); /* a new tag at that step: written */
  tb_scalar(w, "step/loss", 4, 0.25);
  tb_close(w);
  long cut = 0;
  n = count_records(path, &cut);
  struct stat st;
  stat(path, &st);
  CHECK(n == 5 && st.st_size == cut, "resumed at step 3: the old file keeps %d records (want 5), %ld of %ld bytes", n,
        cut, (long)st.st_size);
  char second[1024];
  events_file(second, sizeof second);
  n = count_records(second, &cut);
  CHECK(strcmp(second, path) != 0 && n == 3, "the resumed part: its own file with %d records (want 3)", n);

  /* a damaged record: cut there, with a warning */
  f = fopen(second, "r+b");
  fseek(f, cut - 6, SEEK_SET);
  fputc('X', f);
  fclose(f);
  char msg[4096];
  static const long later = 100;
  int status = run_in_child(resume_at, &later, msg, sizeof msg);
  n = count_records(second, &cut);
  stat(second, &st);
  CHECK(status == 0 && strstr(msg, "damaged record") && n == 2 && st.st_size == cut,
        "a damaged record: exit %d, %d records kept (want 2), %ld of %ld bytes: %s", status, n, cut, (long)st.st_size,
        msg);

  /* a write that fails: one warning, nothing more written, the caller goes on */
  snprintf(dir, sizeof dir, "%s/full", base);
  status = run_in_child(fill_disk, NULL, msg, sizeof msg);
  int warnings = 0;
  for (const char *p = msg; (p = strstr(p, "warning:")); p++) warnings++;
  CHECK(status == 0 && warnings == 1 && strstr(msg, "TensorBoard logging stops"),
        "a failed write: exit %d, %d warnings: %s", status, warnings, msg);
  events_file(path, sizeof path);
  n = count_records(path, &whole);
  stat(path, &st);
  CHECK(n > 1 && st.st_size <= whole + 1000 + 16, "after the failure: %d whole records, %ld bytes", n,
        (long)st.st_size);

  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", base);
  if (system(rm) != 0) printf("could not remove %s\n", base);
  if (failures == 0) printf("PASS crc32c check values; events files: framing, resume cuts, a failed write\n");
  return failures != 0;
}
