#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool wd_err_vformat(char *out, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(out, size, fmt, ap);

	if (n < 0 || (size_t)n < size || size < 4)
		return false;
	memcpy(out + size - 4, "...", 4);
	return true;
}

bool wd_err_format(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	bool cut;

	va_start(ap, fmt);
	cut = wd_err_vformat(out, size, fmt, ap);
	va_end(ap);
	return cut;
}

int wd_err_set(struct wd_err *err, int code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	err->code = code;
	WD_ERR_FORMAT_ARGS(err->msg, sizeof(err->msg), fmt);
	return code;
}

void wd_err_prefix(struct wd_err *err, const char *fmt, ...)
{
	char prefix[WD_ERR_MSG_MAX];
	char old[WD_ERR_MSG_MAX];

	if (err == NULL)
		return;
	WD_ERR_FORMAT_ARGS(prefix, sizeof(prefix), fmt);
	memcpy(old, err->msg, sizeof(old));
	wd_err_format(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
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
