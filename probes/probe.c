#include "probes/probe.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "probes/http.h"
#include "probes/postgres.h"
#include "probes/redis.h"
#include "probes/tcp.h"

const char *probe_kind_str(enum probe_kind kind)
{
	static const char *const names[PROBE_KIND_COUNT] = {
	        [PROBE_KIND_POSTGRES] = "postgres",
	        [PROBE_KIND_REDIS] = "redis",
	        [PROBE_KIND_HTTP] = "http",
	        [PROBE_KIND_TCP] = "tcp",
	};

	if ((unsigned)kind >= PROBE_KIND_COUNT)
		return "unknown";
	return names[kind];
}

const char *probe_expect_role_str(enum probe_expect_role role)
{
	switch (role) {
	case EXPECT_ROLE_WRITER_WHEN_ACTIVE: return "writer-when-active";
	case EXPECT_ROLE_WRITER: return "writer";
	case EXPECT_ROLE_READER: return "reader";
	case EXPECT_ROLE_ANY: return "any";
	}
	return "unknown";
}

const char *db_role_str(enum db_role role)
{
	switch (role) {
	case DB_ROLE_WRITER: return "writer";
	case DB_ROLE_READER: return "reader";
	case DB_ROLE_UNKNOWN: break;
	}
	return "unknown";
}

ssize_t probe_config_index(const struct probe_config *probes, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(probes[i].name, name) == 0)
			return (ssize_t)i;
	}
	return -1;
}

const struct probe_ops *probe_ops_for(enum probe_kind kind)
{
	switch (kind) {
	case PROBE_KIND_POSTGRES: return &probe_pg_ops;
	case PROBE_KIND_REDIS: return &probe_redis_ops;
	case PROBE_KIND_HTTP: return &probe_http_ops;
	case PROBE_KIND_TCP: return &probe_tcp_ops;
	case PROBE_KIND_COUNT: break;
	}
	return NULL;
}

enum probe_outcome probe_fail(struct probe_observation *obs, enum probe_outcome outcome,
                              const char *fmt, ...)
{
	obs->outcome = outcome;
	WD_ERR_FORMAT_ARGS(obs->detail, sizeof(obs->detail), fmt);
	return outcome;
}

enum probe_outcome probe_fail_net(struct probe_observation *obs, const struct net_status *status)
{
	return probe_fail(obs, probe_outcome_from_net(status->outcome), "%s", status->detail);
}
