/* prep's work folder, DIR/.prep: one record per finished file, named by a
 * hash of everything its features depend on (path, size, mtime, feature
 * parameters) and written atomically, so that an interrupted prep resumes
 * where it stopped. A record is a text header ("AURATAG-PREP 1" ... "end")
 * followed by the file's examples as raw float32. */
#ifndef AT_PREP_WORK_H
#define AT_PREP_WORK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/prep_list.h"

typedef struct PrepWork {
  char dir[PATH_MAX];
  char signature[1024]; /* every parameter that shapes the features */
  int rows, frames; /* per example */
  int lock_fd;
} PrepWork;

typedef struct PrepRecordHeader {
  int examples, rows, frames;
  long file_frames;
  double seconds, st_count, st_mean, st_m2;
  uint64_t checksum;
  size_t data_offset;
} PrepRecordHeader;

/* Creates OUT/.prep, takes its lock (fatal if another prep holds it) and
 * removes the partial records of an interrupted run. */
void prep_work_open(PrepWork *w, const char *out);
/* Releases the lock; removes the folder and its records unless keep. */
void prep_work_close(PrepWork *w, int keep);

/* Names r's record from its file's size and mtime (r->record = "" if the
 * file cannot be stat'ed: then it gets no record). */
void prep_work_name_record(const PrepWork *w, PrepRow *r);
void prep_work_write(const PrepWork *w, const PrepRow *r, const PrepRecordHeader *h, const float *data);
/* 0 if r's record exists and is complete, of the same file and parameters. */
int prep_work_read_header(const PrepWork *w, const PrepRow *r, PrepRecordHeader *h);
/* The data of a valid record; fatal (after removing it) if damaged. */
float *prep_work_read_data(const PrepWork *w, const PrepRow *r, const PrepRecordHeader *h);

/* The checksum a record keeps of its data. */
uint64_t prep_checksum_floats(const float *x, size_t n);

#endif
