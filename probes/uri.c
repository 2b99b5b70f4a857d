/* STUB: replaced by the real URI parser. */
#include "probes/uri.h"

#include <errno.h>
#include <stdio.h>

int uri_parse(const char *text, struct wd_uri *out, struct wd_err *err)
{
	(void)text;
	(void)out;
	return wd_err_set(err, -ENOSYS, "not implemented");
}

void uri_redact(const char *text, char *out, size_t size)
{
	snprintf(out, size, "%s", text);
}
