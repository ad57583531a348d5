/* Shared by the fuzz targets. */
#ifndef AT_FUZZ_UTIL_H
#define AT_FUZZ_UTIL_H

#include <fcntl.h>
#include <unistd.h>

/* A fatal error longjmps out of a reader with its files still open (in the
 * product the process ends there): close what an input opened. */
#define MAX_FD 4096
static inline void open_fds(unsigned char *open) {
  for (int fd = 0; fd < MAX_FD; fd++) open[fd] = fcntl(fd, F_GETFD) != -1;
}
static inline void close_new_fds(const unsigned char *before) {
  for (int fd = 0; fd < MAX_FD; fd++)
    if (!before[fd] && fcntl(fd, F_GETFD) != -1) close(fd);
}

#endif
