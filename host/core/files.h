/* Files written whole: to a temporary name, flushed to disk, renamed into
 * place, so that a crash or a full disk never leaves a half-written file. */
#ifndef AT_FILES_H
#define AT_FILES_H

void at_write_text_file(const char *path, const char *text);
/* mkdir -p; fatal on failure. */
void at_make_dirs(const char *path);

#endif
