/* STUB: replaced by the real proxy. */
#include "fencing/proxy.h"

#include <errno.h>
#include <string.h>

void proxy_config_defaults(struct proxy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

const char *proxy_result_str(enum proxy_result result)
{
	(void)result;
	return "unknown";
}

struct proxy *proxy_new(const struct proxy_config *cfg, const struct proxy_fence_view *view,
                        struct wd_err *err)
{
	(void)cfg;
	(void)view;
	wd_err_set(err, -ENOSYS, "proxy not implemented yet");
	return NULL;
}

void proxy_get_stats(struct proxy *proxy, struct proxy_stats *out)
{
	(void)proxy;
	memset(out, 0, sizeof(*out));
}

void proxy_free(struct proxy *proxy)
{
	(void)proxy;
}
