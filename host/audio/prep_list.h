/* prep's file list: FILES.csv read into rows (path, split, tags, song, fold),
 * with each row's result filled in as prep runs. See prep.h for the format. */
#ifndef AT_PREP_LIST_H
#define AT_PREP_LIST_H

#include <stdint.h>

#include "data/cache.h"

enum { PREP_SPLIT_TRAIN, PREP_SPLIT_VALID, PREP_SPLIT_TEST, PREP_N_SPLITS };
extern const char *const prep_split_names[PREP_N_SPLITS]; /* "train", "valid", "test" */

typedef struct PrepRow {
  char *path; /* as written in the list */
  char *full; /* resolved against the list's folder */
  int line;
  int split;
  int *tags, n_tags; /* interned tag (or class) ids */
  int song; /* interned song id, or -1 */
  int fold;
  /* the file's result */
  int ok, resumed;
  char *reason;
  char *warning; /* what was odd but usable in its audio (Audio.warning), or NULL */
  char record[64]; /* work record file name ("" if the file cannot be stat'ed) */
  char stamp[64];
  int examples;
  long file_frames;
  double seconds;
  double st_count, st_mean, st_m2; /* count, mean, sum of squared deviations of its features */
} PrepRow;

typedef struct PrepList {
  const char *path;
  PrepRow *rows;
  int n;
  int has_split, has_song, has_fold;
  char **names; /* interned tag / class names */
  int n_names;
  int n_songs;
  uint64_t hash; /* FNV-1a of the list's bytes */
} PrepList;

/* Reads and checks the list; fatal with file:line on any error. */
void prep_list_load(const char *path, CacheLabelKind kind, PrepList *l);
void prep_list_free(PrepList *l);

/* Marks a row skipped, with the reason the report gives. */
void prep_row_skip(PrepRow *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
