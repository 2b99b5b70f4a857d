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

#include <stddef.h>

#include "probes/probe.h"
#include "probes/state.h"
#include "fencing/fence.h"

/*
 * What the role check reads: the probes, in the state's order (the postgres
 * ones with expect=writer-when-active are checked). Plain data.
 */
struct decision_config {
	const struct probe_config *probes; /* probe_count probes, borrowed */
	size_t probe_count;
};

/*
 * The verdict at now_mono_ms. fence NULL (no WARDEN_FLAG): `unknown`, never
 * writable. The role check: an `active` task is writable only while every
 * postgres probe with expect=writer-when-active last saw, freshly (within
 * its interval + timeout + 1 s) and ok, a writer. When passive and ANY
 * such database is a writer: demotion_pending inside the fence's
 * split_brain_after window (counted from when the task became passive),
 * split_brain after it (fence_mark_writer). Cheap: no I/O, short locks. Thread-safe.
 */
void decision_verdict(const struct decision_config *cfg, struct wd_state *state,
                      struct fence *fence, int64_t now_mono_ms, struct fence_verdict *out);

#endif
