/* STUB: replaced by the real redis probe. */
#include "probes/redis.h"

#include <errno.h>
#include <stddef.h>

static int redis_validate(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	(void)err;
	return 0;
}

static void *redis_create(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	wd_err_set(err, -ENOSYS, "redis probe not implemented yet");
	return NULL;
}

static void redis_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	(void)ctx;
	(void)deadline_mono_ms;
	probe_fail(obs, PROBE_INTERNAL, "not implemented");
}

static void redis_destroy(void *ctx)
{
	(void)ctx;
}

const struct probe_ops probe_redis_ops = {
	.kind = PROBE_KIND_REDIS,
	.validate = redis_validate,
	.create = redis_create,
	.run = redis_run,
	.destroy = redis_destroy,
};
