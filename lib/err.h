/*
 * err.h - the caller-owned error detail that fallible calls fill.
 *
 * A function that can fail returns 0 / -errno (or an outcome enum) and, when
 * given a non-NULL struct wd_err, writes a short human message into it. The
 * message names the bad input and never holds a secret.
 */
#ifndef WARDEN_ERR_H
#define WARDEN_ERR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/limits.h"

struct wd_err {
	int code;                 /* -errno, or a module's own enum value */
	char msg[WD_ERR_MSG_MAX]; /* NUL-terminated, possibly cut with "..." */
};

/*
 * Format into out[size] (size >= 4), cut to fit; a cut text ends in "...".
 * Returns true when it was cut. The one formatter under every error and
 * outcome setter (wd_err_set, net_fail, probe_fail, the AWS, fence, lease
 * and flag-read setters), so each marks a cut the same way.
 */
bool wd_err_format(char *out, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
bool wd_err_vformat(char *out, size_t size, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

/*
 * In a printf-like function whose last named parameter is fmt: format its
 * arguments into out[size] with wd_err_vformat. So that every outcome setter
 * is "set the outcome, WD_ERR_FORMAT_ARGS, return" and none forgets the cut.
 */
#define WD_ERR_FORMAT_ARGS(out, size, fmt)                                                         \
	do {                                                                                       \
		va_list wd_err_ap_;                                                                \
		va_start(wd_err_ap_, fmt);                                                         \
		wd_err_vformat(out, size, fmt, wd_err_ap_);                                        \
		va_end(wd_err_ap_);                                                                \
	} while (0)

/*
 * Set err->code and format err->msg (cut to fit, ending in "..." when cut).
 * err may be NULL, in which case nothing happens. Returns code, so that a
 * caller can write `return wd_err_set(err, -EINVAL, "...")`.
 */
int wd_err_set(struct wd_err *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Copy text (or its first len bytes, stopping at a NUL) into buf[size] for
 * quoting in an error message: every byte that is not printable ASCII
 * becomes '?', and a cut (text longer than size - 1 bytes) ends in "...".
 * Keeps every error on one printable line: the one printable-text sanitizer.
 * Never quote a secret with it. buf holds at least 4 bytes.
 */
void wd_err_quote(const char *text, char *buf, size_t size);
void wd_err_quote_n(const char *text, size_t len, char *buf, size_t size);

/* Prefix err->msg with "<prefix>: " (cut to fit). err may be NULL. */
void wd_err_prefix(struct wd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
