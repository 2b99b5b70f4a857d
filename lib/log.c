#include "lib/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"

static enum log_level min_level = LOG_INFO;
static int out_fd = 1;

static const char *const level_names[] = {
        [LOG_DEBUG] = "debug",
        [LOG_INFO] = "info",
        [LOG_WARN] = "warn",
        [LOG_ERROR] = "error",
};

const char *log_level_str(enum log_level level)
{
	if ((unsigned)level > LOG_ERROR)
		return "unknown";
	return level_names[level];
}

int log_level_parse(const char *text, enum log_level *out)
{
	for (unsigned i = 0; i <= LOG_ERROR; i++) {
		if (strcmp(text, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_set_fd(int fd)
{
	out_fd = fd;
}

int log_json_escape(char *buf, size_t size, size_t *len, const char *value)
{
	static const char hex[] = "0123456789abcdef";
	size_t at = *len;

	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char esc[7];
		size_t n = 0;

		switch (*p) {
		case '"': memcpy(esc, "\\\"", n = 2); break;
		case '\\': memcpy(esc, "\\\\", n = 2); break;
		case '\n': memcpy(esc, "\\n", n = 2); break;
		case '\r': memcpy(esc, "\\r", n = 2); break;
		case '\t': memcpy(esc, "\\t", n = 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				n = 6;
			} else {
				esc[0] = (char)*p;
				n = 1;
			}
		}
		if (at + n >= size) {
			if (size > *len)
				buf[*len] = '\0';
			return -ENOSPC;
		}
		memcpy(buf + at, esc, n);
		at += n;
	}
	buf[at] = '\0';
	*len = at;
	return 0;
}

void log_begin(struct log_line *line, enum log_level level, const char *event)
{
	line->level = level;
	line->enabled = level >= min_level;
	line->truncated = false;
	line->event = event;
	line->len = 0;
	line->fields[0] = '\0';
}

/* Append `,"key":` + raw, or drop the field whole when it does not fit. */
static void add_field(struct log_line *line, const char *key, const char *raw, bool quote)
{
	size_t keep = line->len;
	char *buf = line->fields;
	size_t size = sizeof(line->fields) - 256; /* room for ts, level, event, msg */
	int rc = 0;

	if (!line->enabled)
		return;
	if (line->len + 4 >= size)
		goto cut;
	buf[line->len++] = ',';
	buf[line->len++] = '"';
	rc |= log_json_escape(buf, size, &line->len, key);
	if (rc == 0 && line->len + 3 < size) {
		buf[line->len++] = '"';
		buf[line->len++] = ':';
		if (quote)
			buf[line->len++] = '"';
		rc |= log_json_escape(buf, size, &line->len, raw);
		if (rc == 0 && quote) {
			if (line->len + 1 >= size)
				rc = -ENOSPC;
			else
				buf[line->len++] = '"';
		}
	} else {
		rc = -ENOSPC;
	}
	if (rc == 0) {
		buf[line->len] = '\0';
		return;
	}
cut:
	line->len = keep;
	buf[keep] = '\0';
	line->truncated = true;
}

void log_str(struct log_line *line, const char *key, const char *value)
{
	if (value == NULL)
		add_field(line, key, "null", false);
	else
		add_field(line, key, value, true);
}

void log_int(struct log_line *line, const char *key, int64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)value);
	add_field(line, key, num, false);
}

void log_double(struct log_line *line, const char *key, double value)
{
	char num[32];

	if (!isfinite(value))
		snprintf(num, sizeof(num), "null");
	else
		snprintf(num, sizeof(num), "%.6g", value);
	add_field(line, key, num, false);
}

void log_bool(struct log_line *line, const char *key, bool value)
{
	add_field(line, key, value ? "true" : "false", false);
}

static void emit(struct log_line *line, const char *fmt, va_list ap)
{
	char msg[512];
	char ts[32];
	char out[WD_LOG_LINE_MAX];
	size_t len = 0;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_format_rfc3339(clock_wall_ms(), ts, sizeof(ts));
	n = snprintf(out, sizeof(out), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
	             log_level_str(line->level));
	len = (size_t)n;
	if (log_json_escape(out, sizeof(out) - 256, &len, msg) < 0)
		line->truncated = true;
	n = snprintf(out + len, sizeof(out) - len, "\",\"event\":\"%s\"", line->event);
	len += (size_t)n;
	if (len + line->len + 32 < sizeof(out)) {
		memcpy(out + len, line->fields, line->len);
		len += line->len;
	} else {
		line->truncated = true;
	}
	if (line->truncated)
		len += (size_t)snprintf(out + len, sizeof(out) - len, ",\"truncated\":true");
	out[len++] = '}';
	out[len++] = '\n';
	/* One write: atomic on pipes up to PIPE_BUF, so lines never interleave. */
	while (write(out_fd, out, len) < 0 && errno == EINTR)
		;
}

void log_end(struct log_line *line, const char *fmt, ...)
{
	va_list ap;

	if (!line->enabled)
		return;
	va_start(ap, fmt);
	emit(line, fmt, ap);
	va_end(ap);
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	struct log_line line;
	va_list ap;

	log_begin(&line, level, event);
	if (!line.enabled)
		return;
	va_start(ap, fmt);
	emit(&line, fmt, ap);
	va_end(ap);
}

int log_write_line(const char *line, size_t len)
{
	ssize_t n;

	if (len == 0 || len > WD_LOG_LINE_MAX || line[len - 1] != '\n')
		return -EMSGSIZE;
	do {
		n = write(out_fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}
