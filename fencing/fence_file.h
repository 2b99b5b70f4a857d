/*
 * fence_file.h - WARDEN_FENCE_FILE: the /fence JSON in a file, for apps that
 * prefer a file to an HTTP call. Replaced atomically (write a temporary file
 * in the same directory, fsync, rename), so a reader sees the old document
 * or the new one, never half of one. A reader must still compare
 * writable_until with its own clock: a file cannot take itself back.
 */
#ifndef WARDEN_FENCING_FENCE_FILE_H
#define WARDEN_FENCING_FENCE_FILE_H

#include <stddef.h>

#include "lib/err.h"

/* Replace path with data[len]. 0, or -errno with err naming the step that failed. */
int fence_file_write(const char *path, const char *data, size_t len, struct wd_err *err);

#endif
