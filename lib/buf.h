/*
 * buf.h - a bounded, growable byte buffer (after curl's dynbuf).
 *
 * The buffer owns its memory; it never grows past `max` bytes of content,
 * and an append that would is refused whole with -E2BIG, so a caller can
 * never silently cut its input. The content is always NUL-terminated.
 */
#ifndef WARDEN_BUF_H
#define WARDEN_BUF_H

#include <stddef.h>

struct wd_buf {
	char *data; /* NULL until the first append; NUL-terminated after */
	size_t len;
	size_t cap;
	size_t max;
};

/* Start empty with a cap of `max` content bytes. Allocates nothing. */
void wd_buf_init(struct wd_buf *buf, size_t max);
/* Free the memory and return to empty (keeping max). */
void wd_buf_free(struct wd_buf *buf);
/* Drop the content, keep the memory. */
void wd_buf_reset(struct wd_buf *buf);
/* Append n bytes. 0, -E2BIG past max (nothing appended), -ENOMEM. */
int wd_buf_append(struct wd_buf *buf, const void *data, size_t n);
int wd_buf_puts(struct wd_buf *buf, const char *text);
int wd_buf_printf(struct wd_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `text` JSON-escaped inside double quotes. */
int wd_buf_json_str(struct wd_buf *buf, const char *text);
/* Give the content to the caller (who frees it with free()); buf becomes empty. */
char *wd_buf_take(struct wd_buf *buf);

#endif
