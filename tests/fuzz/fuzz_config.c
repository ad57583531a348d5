/* libFuzzer target: the config reader (INI with includes and `set =`,
 * strict keys, shape inference) must turn any text into either a model or
 * one clear error -- never a crash, a hang or undefined behaviour.
 * Fatal errors longjmp back here through at_set_fatal_hook. */
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "train/experiment.h"
#include "fuzz/fuzz_util.h"

static jmp_buf g_back;
static void back_to_fuzzer(void) { longjmp(g_back, 1); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  at_set_fatal_hook(back_to_fuzzer);
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  static unsigned char before[MAX_FD];
  open_fds(before);
  /* includes would read arbitrary files: keep the fuzzer inside its input */
  if (!strstr(text, "include")) {
    if (setjmp(g_back) == 0) {
      Model *m = model_from_text(text, "fuzz-input.ini");
      model_free(m);
    }
    if (setjmp(g_back) == 0) {
      Experiment *e = experiment_from_text(text, "fuzz-input.ini");
      experiment_free(e);
    }
  }
  close_new_fds(before);
  free(text);
  return 0;
}
