/* TensorBoard's event files, written without TensorFlow: a run's scalars and
 * texts in checkpoints/<run>/tb/, so that `tensorboard --logdir checkpoints`
 * shows every run side by side (docs/tensorboard.md).
 *
 * An events file is a sequence of TFRecords -- uint64 little-endian length,
 * uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of
 * the data -- each holding one Event message (proto/tensorboard_event.proto);
 * the first holds file_version = "brain.Event:2". The file is named
 * events.out.tfevents.<unix seconds>.<hostname>.<pid>.auratag.
 *
 * TensorBoard is a view: log.jsonl and the checkpoints are the record of a
 * run. A failure here (a folder that cannot be made, a full disk) is one
 * warning on stderr, after which the writer drops everything; training goes
 * on. Every function accepts NULL (logging off, or not rank 0). */
#ifndef AT_TENSORBOARD_H
#define AT_TENSORBOARD_H

typedef struct TbWriter TbWriter;

/* Starts a new events file in `dir` (made if missing; its parent must
 * exist). resume_step < 0: a fresh run, whose folder's old events files
 * are removed. resume_step >= 0: a resumed run; the folder's events files
 * keep their records up to that step (later ones, and a record torn by a
 * kill, are cut off, as log.jsonl keeps its steps up to the checkpoint's),
 * and a tag written again at resume_step that a kept record already holds
 * there is not written twice. NULL (after a warning) when it cannot. */
TbWriter *tb_open(const char *dir, long resume_step);

/* A scalar (float32, as TensorBoard stores it); a NaN or infinite value is
 * left out, as log.jsonl writes it null. */
void tb_scalar(TbWriter *w, const char *tag, long step, double value);

/* A text for TensorBoard's text plugin (rendered as Markdown). */
void tb_text(TbWriter *w, const char *tag, long step, const char *markdown);

/* Hands what was written to the file system (a live TensorBoard sees it). */
void tb_flush(TbWriter *w);

/* Flushes, closes and frees. */
void tb_close(TbWriter *w);

#endif
