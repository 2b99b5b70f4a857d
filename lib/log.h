/*
 * log.h - warden's one logging family: JSON lines on stdout.
 *
 * Every line is one JSON object: {"ts", "level", "msg", "event", fields...}.
 * A line is built in a caller-owned struct log_line on the stack, then written
 * with a single write(2) of at most WD_LOG_LINE_MAX (= PIPE_BUF) bytes, so
 * lines from different threads never interleave. A field that would overflow
 * the line is dropped and the line gets "truncated":true.
 *
 * Secrets never reach this module: callers pass redacted targets and error
 * texts that hold no credential.
 *
 * The minimum level is the one piece of process-wide state besides the signal
 * flag: it is set once at start-up, before any thread runs.
 */
#ifndef WARDEN_LOG_H
#define WARDEN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

const char *log_level_str(enum log_level level);
/* Parse "debug" | "info" | "warn" | "error". Returns 0 or -EINVAL. */
int log_level_parse(const char *text, enum log_level *out);
/* Set the minimum level written (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Redirect output to fd (default 1). For tests; call before threads start. */
void log_set_fd(int fd);

struct log_line {
	enum log_level level;
	bool enabled;
	bool truncated;
	const char *event;
	size_t len;
	char fields[WD_LOG_LINE_MAX];
};

/* Start a line of `level` for `event` (a static string like "probe.transition"). */
void log_begin(struct log_line *line, enum log_level level, const char *event);
/* Add a field; strings are JSON-escaped; a NULL string is written as null. */
void log_str(struct log_line *line, const char *key, const char *value);
void log_int(struct log_line *line, const char *key, int64_t value);
void log_double(struct log_line *line, const char *key, double value);
void log_bool(struct log_line *line, const char *key, bool value);
/* Format the human message and write the line. */
void log_end(struct log_line *line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line with no fields but the event. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Write one line that the caller rendered whole (an EMF document: JSON,
 * ending in '\n', at most WD_LOG_LINE_MAX bytes) to the log output with a
 * single write(2), whatever the level, so that it never interleaves with
 * other lines. Returns 0, -EMSGSIZE (nothing written) for a line too long
 * or not ending in '\n', or -errno of the write.
 */
int log_write_line(const char *line, size_t len);

/*
 * Append `value` JSON-escaped (without quotes) to buf[*len..size), NUL-kept.
 * Returns 0, or -ENOSPC (buf unchanged) when it does not fit. Shared with the
 * renderers so that there is one JSON string escaper.
 */
int log_json_escape(char *buf, size_t size, size_t *len, const char *value);

#endif
