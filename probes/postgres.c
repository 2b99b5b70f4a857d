/* STUB: replaced by the real postgres probe. */
#include "probes/postgres.h"

#include <errno.h>
#include <stddef.h>

static int pg_validate(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	(void)err;
	return 0;
}

static void *pg_create(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	wd_err_set(err, -ENOSYS, "postgres probe not implemented yet");
	return NULL;
}

static void pg_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	(void)ctx;
	(void)deadline_mono_ms;
	probe_fail(obs, PROBE_INTERNAL, "not implemented");
}

static void pg_destroy(void *ctx)
{
	(void)ctx;
}

const struct probe_ops probe_pg_ops = {
	.kind = PROBE_KIND_POSTGRES,
	.validate = pg_validate,
	.create = pg_create,
	.run = pg_run,
	.destroy = pg_destroy,
};
