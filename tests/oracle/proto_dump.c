/* Test tool (never part of the product): runs proto_episode_loss (host/train/
 * prototypical.c) on the episodes in a binary file and writes the loss, the
 * accuracy and the gradient, for tests/oracle/torch_proto.py to compare with
 * PyTorch's autograd.
 *
 * Input: a sequence of episodes, little-endian, until end of file:
 *   int32 ways, shots, queries, dim;
 *   float32 emb[ways * (shots + queries) * dim]   (rows class-major, as
 *                                                  train/prototypical.h says)
 * Output, text, per episode:
 *   episode WAYS SHOTS QUERIES DIM
 *   loss L accuracy A        (%.17g)
 *   grad g_0 g_1 ...         (%.9g: every float exactly)
 * It also checks that the loss without a gradient or accuracy wanted is the
 * same double (exit status 2 if not).
 *
 * usage: proto_dump IN.bin [OUT.txt]     (stdout without OUT) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/prototypical.h"

/* 0 at a clean end of file, 1 when the value was read */
static int read_i32(FILE *f, int32_t *v, int first) {
  size_t got = fread(v, 1, sizeof *v, f);
  if (got == 0 && first && feof(f)) return 0;
  if (got != sizeof *v) at_fatal("proto_dump: truncated input reading an episode header");
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) at_fatal("usage: proto_dump IN.bin [OUT.txt]");
  FILE *in = fopen(argv[1], "rb");
  if (!in) at_fatal("proto_dump: cannot open %s", argv[1]);
  FILE *out = argc == 3 ? fopen(argv[2], "w") : stdout;
  if (!out) at_fatal("proto_dump: cannot write %s", argv[2]);
  for (int episode = 0;; episode++) {
    int32_t h[4];
    if (!read_i32(in, &h[0], 1)) break;
    for (int k = 1; k < 4; k++) read_i32(in, &h[k], 0);
    const int ways = h[0], shots = h[1], queries = h[2], dim = h[3];
    if (ways < 2 || shots < 1 || queries < 1 || dim < 1 || ways > 4096 || shots + queries > 4096 || dim > 65536)
      at_fatal("proto_dump: episode %d: bad shape ways %d shots %d queries %d dim %d", episode, ways, shots, queries,
               dim);
    const size_t count = (size_t)ways * (size_t)(shots + queries) * (size_t)dim;
    float *emb = at_malloc(sizeof(float) * count, "embeddings");
    float *grad = at_malloc(sizeof(float) * count, "gradient");
    if (fread(emb, sizeof(float), count, in) != count)
      at_fatal("proto_dump: episode %d: truncated embeddings", episode);
    double accuracy = -1;
    const double loss = proto_episode_loss(emb, ways, shots, queries, dim, grad, &accuracy);
    const double plain = proto_episode_loss(emb, ways, shots, queries, dim, NULL, NULL);
    if (memcmp(&loss, &plain, sizeof loss) != 0) {
      fprintf(stderr, "proto_dump: episode %d: loss %.17g with the gradient, %.17g without\n", episode, loss, plain);
      return 2;
    }
    fprintf(out, "episode %d %d %d %d\nloss %.17g accuracy %.17g\ngrad", ways, shots, queries, dim, loss, accuracy);
    for (size_t i = 0; i < count; i++) fprintf(out, " %.9g", grad[i]);
    fputc('\n', out);
    free(emb);
    free(grad);
  }
  fclose(in);
  if (out != stdout && fclose(out) != 0) at_fatal("proto_dump: cannot write %s", argv[2]);
  return 0;
}
