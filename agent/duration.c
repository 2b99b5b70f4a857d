/* STUB: replaced by the real duration parser. */
#include "agent/duration.h"

#include <errno.h>
#include <stdio.h>

int duration_parse(const char *text, int64_t *ms, struct wd_err *err)
{
	(void)text;
	*ms = 0;
	return wd_err_set(err, -ENOSYS, "not implemented");
}

void duration_format(int64_t ms, char *buf, size_t size)
{
	snprintf(buf, size, "%lldms", (long long)ms);
}
