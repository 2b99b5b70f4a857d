/*
 * decision.h - this task's verdict now: the fence, joined with the database
 * role check from the postgres probes (DESIGN.md, "Role check").
 *
 * Every reader of writability - the HTTP handlers (/fence, /activez), the
 * write-fencing proxy and the fence watcher - asks here, so they all apply
 * one rule.
 */
#ifndef WARDEN_FENCING_DECISION_H
#define WARDEN_FENCING_DECISION_H

#include <stdint.h>

#include "agent/config.h"
#include "agent/state.h"
#include "fencing/fence.h"

/*
 * The role check: FENCE_DB_NO_CHECK when no postgres probe has
 * expect=writer-when-active; else FENCE_DB_WRITER only while every such probe's
 * last run is fresh (within its interval + timeout + 1 s), ok, and saw a
 * writer. Reads the probes' snapshots (a short lock each).
 */
enum fence_db decision_db_role(const struct wd_config *cfg, struct wd_state *state,
                               int64_t now_mono_ms);

/*
 * The verdict at now_mono_ms. fence NULL (no WARDEN_FLAG): `unknown`, never
 * writable. Cheap: no I/O, short locks. Thread-safe.
 */
void decision_verdict(const struct wd_config *cfg, struct wd_state *state, struct fence *fence,
                      int64_t now_mono_ms, struct fence_verdict *out);

#endif
