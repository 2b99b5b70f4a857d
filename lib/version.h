/*
 * version.h - what `warden version` prints and warden_build_info reports.
 */
#ifndef WARDEN_VERSION_H
#define WARDEN_VERSION_H

#include <stdio.h>

/* warden's own version ("0.1.0"). */
const char *version_str(void);

/* Print version, build type and the linked libraries' versions to out. */
void version_print(FILE *out);

#endif
