#include "agent/health.h"

const char *health_status_str(enum health_status status)
{
	switch (status) {
	case HEALTH_PASS: return "pass";
	case HEALTH_WARN: return "warn";
	case HEALTH_FAIL: return "fail";
	}
	return "fail";
}

enum health_status health_probe_status(const struct probe_config *cfg,
                                       const struct probe_snapshot *snap)
{
	if (snap->health == PROBE_HEALTH_UP)
		return HEALTH_PASS;
	return cfg->critical ? HEALTH_FAIL : HEALTH_WARN;
}

enum health_status health_probe_own_status(const struct probe_snapshot *snap)
{
	return snap->health == PROBE_HEALTH_UP ? HEALTH_PASS : HEALTH_FAIL;
}

enum health_status health_overall(const struct wd_config *cfg, const struct probe_snapshot *snaps,
                                  bool draining)
{
	return health_overall_of(cfg->probes, cfg->probe_count, snaps, draining);
}

enum health_status health_overall_of(const struct probe_config *probes, size_t count,
                                     const struct probe_snapshot *snaps, bool draining)
{
	enum health_status worst = HEALTH_PASS;

	if (draining)
		return HEALTH_FAIL;
	for (size_t i = 0; i < count; i++) {
		enum health_status status = health_probe_status(&probes[i], &snaps[i]);

		if (status > worst)
			worst = status;
	}
	return worst;
}

int health_http_code(enum health_status status)
{
	return status == HEALTH_FAIL ? 503 : 200;
}
