/* STUB: replaced by the real http probe. */
#include "probes/http.h"

#include <errno.h>
#include <stddef.h>

static int http_validate(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	(void)err;
	return 0;
}

static void *http_create(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	wd_err_set(err, -ENOSYS, "http probe not implemented yet");
	return NULL;
}

static void http_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	(void)ctx;
	(void)deadline_mono_ms;
	probe_fail(obs, PROBE_INTERNAL, "not implemented");
}

static void http_destroy(void *ctx)
{
	(void)ctx;
}

const struct probe_ops probe_http_ops = {
	.kind = PROBE_KIND_HTTP,
	.validate = http_validate,
	.create = http_create,
	.run = http_run,
	.destroy = http_destroy,
};
