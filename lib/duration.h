/*
 * duration.h - durations as people write them: an integer and a unit
 * ("250ms", "5s", "2m", "1h"). No fractions, no bare numbers, no spaces.
 */
#ifndef WARDEN_DURATION_H
#define WARDEN_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* The largest duration accepted: 24h. */
#define DURATION_MAX_MS (24LL * 3600 * 1000)

/*
 * Parse text into milliseconds. Returns 0, or -EINVAL with err saying what is
 * wrong (quoting the text, cut to fit) for: empty, no unit, unknown unit,
 * a sign, a fraction, overflow or more than DURATION_MAX_MS.
 */
int duration_parse(const char *text, int64_t *ms, struct wd_err *err);

/* Format ms in the largest unit that divides it exactly ("2m", "1500ms"). */
void duration_format(int64_t ms, char *buf, size_t size);

#endif
