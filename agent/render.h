/*
 * render.h - the bodies the health listener serves, as pure functions of the
 * config and a copy of the snapshots, so that they are unit-tested directly.
 *
 * `details` says whether outputs, targets and error texts may be shown (see
 * DESIGN.md: ?verbose from loopback, or WARDEN_EXPOSE_DETAILS=always).
 * Nothing rendered ever holds a secret: targets come from the redacted
 * probe_config.target.
 */
#ifndef WARDEN_RENDER_H
#define WARDEN_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "agent/config.h"
#include "agent/health.h"
#include "probes/state.h"
#include "fencing/fencing.h"
#include "proxy/proxy.h"

/*
 * The application/health+json body of /readyz (only < 0: every probe) or of
 * /readyz/<probe> (only = that probe's index). Appends to out and sets
 * *status to the status rendered. Returns 0 or -E2BIG/-ENOMEM.
 */
int render_health(const struct wd_config *cfg, const struct probe_snapshot *snaps, int only,
                  bool draining, bool details, struct wd_buf *out, enum health_status *status);

/*
 * The /status JSON (probes, the fence and its flag sources, the timing
 * contract, config summary, build, uptime). fence may be NULL (no fencing
 * part). 0 or -errno.
 */
int render_status(const struct wd_config *cfg, const struct probe_snapshot *snaps, bool draining,
                  bool details, int64_t started_wall_ms, const struct fencing_report *fence,
                  struct wd_buf *out);

/* The /metrics body, Prometheus text format 0.0.4; fence may be NULL. 0 or -errno. */
int render_metrics(const struct wd_config *cfg, const struct probe_snapshot *snaps, bool draining,
                   const struct fencing_report *fence, struct wd_buf *out);

/*
 * The write-fencing proxy's metric families, appended to a /metrics body
 * (agent/ runs the proxy, so its stats are not in the fencing report).
 * 0 or -errno.
 */
int render_proxy_metrics(const struct proxy_stats *proxy, struct wd_buf *out);

/*
 * The safety contract (DESIGN.md) of cfg as one JSON object: worst_case
 * (a duration, or "unbounded" with WARDEN_ON_STALE=hold) and worst_case_ms
 * (null then), typical_fence(_ms), "effectors" (proxy when configured, gate
 * always, lease when WARDEN_SINGLETON is set; each with worst_case_ms and
 * how), split_brain_after(_ms) and the orchestrator's rule. Shown by
 * `warden config` and /status. Appends to out; 0 or -errno.
 */
int render_safety_contract(const struct wd_config *cfg, struct wd_buf *out);

/*
 * The /fence JSON (DESIGN.md): writable, state, region, active_region,
 * epoch, writable_until, writable_for_ms, ttl_ms, typical_fence_ms, reason,
 * since, forced, split_brain, demotion_pending, quorum (needed, met, the
 * 1-based indexes of the sources counted), leases. Also the fence file's content. 0 or -errno.
 */
int render_fence(const struct wd_config *cfg, const struct fencing_report *fence,
                 struct wd_buf *out);

#endif
