/* STUB: replaced by the real renderers. */
#include "agent/render.h"

int render_health(const struct wd_config *cfg, const struct probe_snapshot *snaps, int only,
		  bool draining, bool details, struct wd_buf *out, enum health_status *status)
{
	(void)only;
	(void)details;
	*status = health_overall(cfg, snaps, draining);
	return wd_buf_printf(out, "{\"status\":\"%s\"}", health_status_str(*status));
}

int render_status(const struct wd_config *cfg, const struct probe_snapshot *snaps, bool draining,
		  bool details, int64_t started_wall_ms, struct wd_buf *out)
{
	(void)cfg;
	(void)snaps;
	(void)draining;
	(void)details;
	(void)started_wall_ms;
	return wd_buf_puts(out, "{}");
}

int render_metrics(const struct wd_config *cfg, const struct probe_snapshot *snaps, bool draining,
		   struct wd_buf *out)
{
	(void)cfg;
	(void)snaps;
	(void)draining;
	return wd_buf_puts(out, "");
}
