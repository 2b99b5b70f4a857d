/* STUB: replaced by the real tcp probe. */
#include "probes/tcp.h"

#include <errno.h>
#include <stddef.h>

static int tcp_validate(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	(void)err;
	return 0;
}

static void *tcp_create(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	wd_err_set(err, -ENOSYS, "tcp probe not implemented yet");
	return NULL;
}

static void tcp_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	(void)ctx;
	(void)deadline_mono_ms;
	probe_fail(obs, PROBE_INTERNAL, "not implemented");
}

static void tcp_destroy(void *ctx)
{
	(void)ctx;
}

const struct probe_ops probe_tcp_ops = {
	.kind = PROBE_KIND_TCP,
	.validate = tcp_validate,
	.create = tcp_create,
	.run = tcp_run,
	.destroy = tcp_destroy,
};
