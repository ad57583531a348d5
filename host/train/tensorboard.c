/* TensorBoard's event files (see tensorboard.h): TFRecord framing around
 * Event messages packed by protobuf-c from proto/tensorboard_event.proto. */
#include "train/tensorboard.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tensorboard_event.pb-c.h>

#include "core/crc32c.h"
#include "core/error.h"
#include "core/little_endian.h"

#define MAX_RECORD (256u << 20) /* a longer length field is a damaged record */

struct TbWriter {
  FILE *fp; /* NULL once writing failed */
  char path[4608];
  long resume_step;
  char **kept; /* tags that the kept records already hold at resume_step */
  size_t n_kept;
};

static void stop(TbWriter *w, const char *why) {
  fprintf(stderr,
          "auratag: warning: cannot write the TensorBoard events file '%s': %s; TensorBoard logging stops for this "
          "run (training goes on: log.jsonl and the checkpoints are unaffected)\n",
          w->path, why);
  fclose(w->fp);
  w->fp = NULL;
}

static double wall_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One TFRecord: length, its masked CRC, the Event, the Event's masked CRC. */
static void write_event(TbWriter *w, Tensorboard__Event *ev) {
  if (!w->fp) return;
  ev->wall_time = wall_time();
  const size_t n = tensorboard__event__get_packed_size(ev);
  uint8_t *rec = at_malloc(n + 16, "TensorBoard record");
  at_put_le64(rec, n);
  at_put_le32(rec + 8, at_crc32c_masked(rec, 8));
  tensorboard__event__pack(ev, rec + 12);
  at_put_le32(rec + 12 + n, at_crc32c_masked(rec + 12, n));
  if (fwrite(rec, 1, n + 16, w->fp) != n + 16) stop(w, strerror(errno));
  free(rec);
}

static void write_value(TbWriter *w, long step, Tensorboard__Summary__Value *v) {
  Tensorboard__Summary summary = TENSORBOARD__SUMMARY__INIT;
  summary.n_value = 1;
  summary.value = &v;
  Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
  ev.step = step;
  ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
  ev.summary = &summary;
  write_event(w, &ev);
}

/* Whether a kept record holds `tag` at `step` (a resumed run's first step). */
static int kept(const TbWriter *w, const char *tag, long step) {
  if (step != w->resume_step) return 0;
  for (size_t i = 0; i < w->n_kept; i++)
    if (!strcmp(w->kept[i], tag)) return 1;
  return 0;
}

void tb_scalar(TbWriter *w, const char *tag, long step, double value) {
  if (!w || !w->fp || !isfinite((float)value) || kept(w, tag, step)) return;
  Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
  v.tag = (char *)tag;
  v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
  v.simple_value = (float)value;
  write_value(w, step, &v);
}

/* TensorBoard's text plugin: metadata naming the plugin, and a scalar
 * DT_STRING tensor (a shape without dimensions) holding the text. */
void tb_text(TbWriter *w, const char *tag, long step, const char *markdown) {
  if (!w || !w->fp || kept(w, tag, step)) return;
  Tensorboard__SummaryMetadata__PluginData plugin = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
  plugin.plugin_name = "text";
  Tensorboard__SummaryMetadata metadata = TENSORBOARD__SUMMARY_METADATA__INIT;
  metadata.plugin_data = &plugin;
  Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
  ProtobufCBinaryData text = {strlen(markdown), (uint8_t *)markdown};
  Tensorboard__TensorProto tensor = TENSORBOARD__TENSOR_PROTO__INIT;
  tensor.dtype = TENSORBOARD__DATA_TYPE__DT_STRING;
  tensor.tensor_shape = &shape;
  tensor.n_string_val = 1;
  tensor.string_val = &text;
  Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
  v.tag = (char *)tag;
  v.metadata = &metadata;
  v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
  v.tensor = &tensor;
  write_value(w, step, &v);
}

void tb_flush(TbWriter *w) {
  if (w && w->fp && fflush(w->fp) != 0) stop(w, strerror(errno));
}

void tb_close(TbWriter *w) {
  if (!w) return;
  tb_flush(w);
  if (w->fp && fclose(w->fp) != 0)
    fprintf(stderr, "auratag: warning: closing the TensorBoard events file '%s': %s\n", w->path, strerror(errno));
  for (size_t i = 0; i < w->n_kept; i++) free(w->kept[i]);
  free(w->kept);
  free(w);
}

/* ---- resuming: an events file keeps its records up to the checkpoint's step ---- */

/* Reads one record at the file position into *data (grown as needed).
 * 1: read, 0: clean end of file, -1: torn (the file ends inside it), -2:
 * damaged (a checksum or an Event that does not decode). */
static int read_record(FILE *fp, uint8_t **data, size_t *cap, size_t *n) {
  uint8_t head[12];
  const size_t got = fread(head, 1, sizeof head, fp);
  if (got == 0) return 0;
  if (got < sizeof head) return -1;
  const uint64_t len = at_get_le64(head);
  if (at_get_le32(head + 8) != at_crc32c_masked(head, 8) || len > MAX_RECORD) return -2;
  if (len + 4 > *cap) {
    *cap = (size_t)len + 4;
    *data = at_realloc(*data, *cap, "TensorBoard record");
  }
  if (fread(*data, 1, (size_t)len + 4, fp) != len + 4) return -1;
  if (at_get_le32(*data + len) != at_crc32c_masked(*data, (size_t)len)) return -2;
  *n = (size_t)len;
  return 1;
}

/* Cuts `path` after its last record at or before w->resume_step (steps only
 * grow through a file), and notes the tags held at resume_step. */
static void keep_until_resume_step(TbWriter *w, const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "auratag: warning: cannot read the TensorBoard events file '%s': %s\n", path, strerror(errno));
    return;
  }
  uint8_t *data = NULL;
  size_t cap = 0, n = 0;
  long offset = 0, cut = -1;
  int r;
  while ((r = read_record(fp, &data, &cap, &n)) == 1) {
    Tensorboard__Event *ev = tensorboard__event__unpack(NULL, n, data);
    if (!ev) {
      r = -2;
      break;
    }
    const int later = ev->step > w->resume_step;
    if (!later && ev->step == w->resume_step && ev->what_case == TENSORBOARD__EVENT__WHAT_SUMMARY)
      for (size_t i = 0; i < ev->summary->n_value; i++) {
        w->kept = at_realloc(w->kept, sizeof(char *) * (w->n_kept + 1), "TensorBoard tags");
        w->kept[w->n_kept++] = at_strdup(ev->summary->value[i]->tag);
      }
    tensorboard__event__free_unpacked(ev, NULL);
    if (later) break;
    offset += (long)n + 16;
  }
  if (r != 0) cut = offset; /* a later step, or a torn or damaged record */
  if (r == -2)
    fprintf(stderr, "auratag: warning: the TensorBoard events file '%s' has a damaged record at byte %ld: cut there\n",
            path, offset);
  free(data);
  fclose(fp);
  if (cut >= 0 && truncate(path, cut) != 0)
    fprintf(stderr, "auratag: warning: cannot cut the TensorBoard events file '%s' at the resumed step: %s\n", path,
            strerror(errno));
}

/* Every events file of `dir`: removed (a fresh run) or cut at resume_step. */
static void tidy_old_files(TbWriter *w, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    if (!strstr(ent->d_name, "tfevents")) continue;
    char path[4608];
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    if (w->resume_step >= 0) keep_until_resume_step(w, path);
    else if (remove(path) != 0)
      fprintf(stderr, "auratag: warning: cannot remove the old TensorBoard events file '%s': %s\n", path,
              strerror(errno));
  }
  closedir(d);
}

TbWriter *tb_open(const char *dir, long resume_step) {
  TbWriter *w = at_calloc(1, sizeof *w, "TensorBoard writer");
  w->resume_step = resume_step;
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
  for (char *c = host; *c; c++)
    if (*c == '/') *c = '_';
  snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.%s.%ld.auratag", dir, (long long)time(NULL), host,
           (long)getpid());
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr,
            "auratag: warning: cannot make the TensorBoard folder '%s': %s; no TensorBoard events for this "
            "run (training goes on)\n",
            dir, strerror(errno));
    free(w);
    return NULL;
  }
  tidy_old_files(w, dir);
  w->fp = fopen(w->path, "wbx");
  if (!w->fp) {
    fprintf(stderr,
            "auratag: warning: cannot create the TensorBoard events file '%s': %s; no TensorBoard events "
            "for this run (training goes on)\n",
            w->path, strerror(errno));
    tb_close(w);
    return NULL;
  }
  Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
  ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
  ev.file_version = "brain.Event:2";
  write_event(w, &ev);
  tb_flush(w);
  return w;
}
