/* libFuzzer target: the report's reading of a run folder and its drawing of
 * one run's section. The input is results.json, a NUL byte, then log.jsonl
 * (without a NUL: results.json alone); any JSON there -- wrong types, nulls,
 * huge or negative numbers, cut lines -- must give a page or one clear
 * error, never a crash, a hang (the chart's ticks) or undefined behaviour.
 * Fatal errors longjmp back here through at_set_fatal_hook. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "fuzz/fuzz_util.h"
#include "report/report_sections.h"
#include "report/run_folder.h"

static jmp_buf g_back;
static void back_to_fuzzer(void) { longjmp(g_back, 1); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_part(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(p, 1, n, f) != n) abort();
  fclose(f);
}

static char g_dir[64];

static void remove_run_folder(void) {
  static const char *const names[] = {"results.json", "log.jsonl", "config.ini"};
  char path[512];
  for (int i = 0; i < 3; i++) snprintf(path, sizeof path, "%s/%s", g_dir, names[i]), unlink(path);
  rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *dir = g_dir;
  if (!g_dir[0]) { /* one run folder per fuzzing process, rewritten by each input */
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_report.XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    atexit(remove_run_folder);
  }
  at_set_fatal_hook(back_to_fuzzer);
  const uint8_t *nul = memchr(data, 0, size);
  size_t results = nul ? (size_t)(nul - data) : size;
  write_part(dir, "results.json", data, results);
  write_part(dir, "log.jsonl", nul ? nul + 1 : data, nul ? size - results - 1 : 0);
  write_part(dir, "config.ini", (const uint8_t *)"[model]\n", 8);
  static unsigned char before[MAX_FD];
  open_fds(before);
  static RunFolder run; /* static: a longjmp must not leave it indeterminate */
  memset(&run, 0, sizeof run);
  if (setjmp(g_back) == 0) {
    run_folder_read(dir, &run);
    char *page = NULL;
    size_t page_size = 0;
    FILE *out = open_memstream(&page, &page_size);
    report_run_section(out, &run, 1);
    fclose(out);
    free(page);
    run_folder_free(&run);
  }
  close_new_fds(before);
  return 0;
}
