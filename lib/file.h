/*
 * file.h - the one small-file reader: a secret's file, the config file, a
 * flag file, a token file.
 */
#ifndef WARDEN_FILE_H
#define WARDEN_FILE_H

#include <stddef.h>

#include "lib/err.h"

/*
 * Read the regular file at path into buf[size], NUL-terminated; *len is its
 * length without the NUL. The file may hold at most size - 1 bytes. Never
 * blocks on a FIFO or a device (opened non-blocking, then refused) and never
 * becomes a controlling terminal. name says the file in err ("'/etc/x'",
 * "the file"; never the file's contents). Returns 0; -errno with err
 * "cannot open|stat|read <name>: <reason>" (-ENOENT: no such file); -EINVAL
 * with err "<name> is not a regular file"; -EFBIG with err "<name> is larger
 * than <size - 1> bytes". On an error buf is wiped (it may hold a secret).
 * Blocks only on the read of a regular file (a dead network volume).
 */
int file_read_small(const char *path, const char *name, char *buf, size_t size, size_t *len,
                    struct wd_err *err);

#endif
