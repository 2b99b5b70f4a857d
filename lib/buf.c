#include "lib/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

void wd_buf_init(struct wd_buf *buf, size_t max)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->max = max;
}

void wd_buf_free(struct wd_buf *buf)
{
	free(buf->data);
	wd_buf_init(buf, buf->max);
}

void wd_buf_reset(struct wd_buf *buf)
{
	buf->len = 0;
	if (buf->data)
		buf->data[0] = '\0';
}

static int reserve(struct wd_buf *buf, size_t n)
{
	size_t need;
	size_t cap;
	char *data;

	if (n > buf->max || buf->len > buf->max - n)
		return -E2BIG;
	need = buf->len + n + 1;
	if (need <= buf->cap)
		return 0;
	cap = buf->cap ? buf->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > buf->max + 1)
		cap = buf->max + 1;
	data = realloc(buf->data, cap);
	if (data == NULL)
		return -ENOMEM;
	buf->data = data;
	buf->cap = cap;
	return 0;
}

int wd_buf_append(struct wd_buf *buf, const void *data, size_t n)
{
	int rc = reserve(buf, n);

	if (rc < 0)
		return rc;
	if (n > 0)
		memcpy(buf->data + buf->len, data, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return 0;
}

int wd_buf_puts(struct wd_buf *buf, const char *text)
{
	return wd_buf_append(buf, text, strlen(text));
}

int wd_buf_printf(struct wd_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;
	int rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = reserve(buf, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
	return 0;
}

/* Bytes that log_json_escape writes for text. */
static size_t json_escaped_len(const char *text)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' || *p == '\t')
			n += 2;
		else if (*p < 0x20 || *p == 0x7f)
			n += 6;
		else
			n += 1;
	}
	return n;
}

int wd_buf_json_str(struct wd_buf *buf, const char *text)
{
	size_t need = json_escaped_len(text) + 2;
	size_t len;
	int rc = reserve(buf, need);

	if (rc < 0)
		return rc;
	buf->data[buf->len++] = '"';
	len = buf->len;
	/* Cannot fail: exactly the room it needs was reserved. */
	log_json_escape(buf->data, buf->cap, &len, text);
	buf->len = len;
	buf->data[buf->len++] = '"';
	buf->data[buf->len] = '\0';
	return 0;
}

char *wd_buf_take(struct wd_buf *buf)
{
	char *data = buf->data;

	if (data == NULL)
		data = calloc(1, 1);
	wd_buf_init(buf, buf->max);
	return data;
}
