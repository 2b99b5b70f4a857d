#include "fencing/decision.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DECISION_FRESH_SLACK_MS 1000

/* Is probe i's last run fresh, ok, and a writer? */
static bool saw_writer(const struct probe_config *probe, const struct probe_snapshot *snap,
                       int64_t now_mono_ms)
{
	return snap->has_result && snap->last.outcome == PROBE_OK &&
	       snap->last.role == DB_ROLE_WRITER &&
	       now_mono_ms - snap->last_mono_ms <=
	               probe->interval_ms + probe->timeout_ms + DECISION_FRESH_SLACK_MS;
}

/* The role check, and whether any checked database is a writer (for the alarm). */
static enum fence_db db_role(const struct decision_config *cfg, struct wd_state *state,
                             int64_t now_mono_ms, bool *any_writer)
{
	enum fence_db db = FENCE_DB_NO_CHECK;

	*any_writer = false;
	for (size_t i = 0; i < cfg->probe_count; i++) {
		const struct probe_config *probe = &cfg->probes[i];
		struct probe_snapshot snap;

		if (probe->kind != PROBE_KIND_POSTGRES ||
		    probe->expect_role != EXPECT_ROLE_WRITER_WHEN_ACTIVE)
			continue;
		wd_state_read_one(state, i, &snap);
		if (saw_writer(probe, &snap, now_mono_ms)) {
			*any_writer = true;
			if (db == FENCE_DB_NO_CHECK)
				db = FENCE_DB_WRITER;
		} else {
			db = FENCE_DB_NOT_WRITER;
		}
	}
	return db;
}

void decision_verdict(const struct decision_config *cfg, struct wd_state *state,
                      struct fence *fence, int64_t now_mono_ms, struct fence_verdict *out)
{
	if (fence == NULL) {
		memset(out, 0, sizeof(*out));
		out->state = FENCE_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "no WARDEN_FLAG: health only");
		return;
	}
	bool any_writer;

	fence_decide(fence, now_mono_ms, db_role(cfg, state, now_mono_ms, &any_writer), out);
	/* Passive, and ANY of its databases a writer: a demotion still pending,
	 * or, after the window, split brain. */
	if (any_writer)
		fence_mark_writer(fence, now_mono_ms, out);
}
