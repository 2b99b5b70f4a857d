#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void mark_cut(char *buf, size_t size, int wanted)
{
	if (wanted >= 0 && (size_t)wanted >= size && size >= 4)
		memcpy(buf + size - 4, "...", 4);
}

int wd_err_set(struct wd_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	mark_cut(err->msg, sizeof(err->msg), n);
	return code;
}

void wd_err_prefix(struct wd_err *err, const char *fmt, ...)
{
	char prefix[WD_ERR_MSG_MAX];
	char old[WD_ERR_MSG_MAX];
	va_list ap;
	int n;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	n = snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	mark_cut(err->msg, sizeof(err->msg), n);
}

void wd_err_quote_n(const char *text, size_t len, char *buf, size_t size)
{
	size_t i;

	if (size == 0)
		return;
	for (i = 0; i < len && text[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
	if (i < len && text[i] != '\0' && size >= 4)
		memcpy(buf + size - 4, "...", 4);
}

void wd_err_quote(const char *text, char *buf, size_t size)
{
	wd_err_quote_n(text, strlen(text), buf, size);
}
