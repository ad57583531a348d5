/* `auratag train`: runs an experiment into its run folder
 * (<root>/<run>/: config.ini, log.jsonl, last.h5, best.h5, results.json). */
#ifndef AT_TRAINER_H
#define AT_TRAINER_H

#include "train/experiment.h"

/* resume_dir: NULL for a new run, else the run folder to continue.
 * Returns the exit status (0: finished or stopped on purpose). */
int train_run(Experiment *e, const char *resume_dir);

#endif
