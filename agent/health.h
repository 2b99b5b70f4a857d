/*
 * health.h - the readiness rule, as pure functions over snapshots.
 *
 * A probe passes when it is UP. A probe that is not UP (pending or down)
 * fails if critical, else warns. The whole is `fail` while draining or when
 * any critical probe fails, else `warn` when any probe warns, else `pass`.
 * `pass` and `warn` answer 200; `fail` answers 503. No probes at all: pass.
 *
 * /readyz/<probe> is that probe's own health, whatever its `critical`: pass
 * while it is UP, fail while it is down or pending (DESIGN.md, HTTP endpoints).
 */
#ifndef WARDEN_HEALTH_H
#define WARDEN_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/config.h"
#include "probes/state.h"

enum health_status { HEALTH_PASS, HEALTH_WARN, HEALTH_FAIL };

/* "pass", "warn", "fail". */
const char *health_status_str(enum health_status status);

enum health_status health_probe_status(const struct probe_config *cfg,
                                       const struct probe_snapshot *snap);
/* A probe on its own (/readyz/<probe>): pass when UP, else fail; `critical` plays no part. */
enum health_status health_probe_own_status(const struct probe_snapshot *snap);
enum health_status health_overall(const struct wd_config *cfg, const struct probe_snapshot *snaps,
                                  bool draining);
/* The same rule over count probes (for modules that take no wd_config). */
enum health_status health_overall_of(const struct probe_config *probes, size_t count,
                                     const struct probe_snapshot *snaps, bool draining);
/* 200 for pass and warn, 503 for fail. */
int health_http_code(enum health_status status);

#endif
