/* STUB: replaced by the real lease. */
#include "fencing/lease.h"

#include <errno.h>
#include <string.h>

struct lease *lease_new(const char *name, const char *holder, int64_t ttl_ms,
                        const struct probe_config *db, const struct lease_fence_view *view,
                        struct wd_err *err)
{
	(void)name;
	(void)holder;
	(void)ttl_ms;
	(void)db;
	(void)view;
	wd_err_set(err, -ENOSYS, "singleton lease not implemented yet");
	return NULL;
}

int lease_start(struct lease *lease)
{
	(void)lease;
	return -ENOSYS;
}

void lease_status(struct lease *lease, int64_t now_mono_ms, struct lease_status *out)
{
	(void)lease;
	(void)now_mono_ms;
	memset(out, 0, sizeof(*out));
}

void lease_free(struct lease *lease)
{
	(void)lease;
}
