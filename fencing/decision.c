#include "fencing/decision.h"

#include <stdio.h>
#include <string.h>

#define DECISION_FRESH_SLACK_MS 1000

enum fence_db decision_db_role(const struct wd_config *cfg, struct wd_state *state,
                               int64_t now_mono_ms)
{
	enum fence_db db = FENCE_DB_NO_CHECK;

	for (size_t i = 0; i < cfg->probe_count; i++) {
		const struct probe_config *probe = &cfg->probes[i];
		struct probe_snapshot snap;

		if (probe->kind != PROBE_KIND_POSTGRES ||
		    probe->expect_role != EXPECT_ROLE_WRITER_WHEN_ACTIVE)
			continue;
		wd_state_read_one(state, i, &snap);
		if (!snap.has_result || snap.last.outcome != PROBE_OK ||
		    snap.last.role != DB_ROLE_WRITER ||
		    now_mono_ms - snap.last_mono_ms >
		            probe->interval_ms + probe->timeout_ms + DECISION_FRESH_SLACK_MS)
			return FENCE_DB_NOT_WRITER;
		db = FENCE_DB_WRITER;
	}
	return db;
}

void decision_verdict(const struct wd_config *cfg, struct wd_state *state, struct fence *fence,
                      int64_t now_mono_ms, struct fence_verdict *out)
{
	if (fence == NULL) {
		memset(out, 0, sizeof(*out));
		out->state = FENCE_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "no WARDEN_FLAG: health only");
		return;
	}
	fence_decide(fence, now_mono_ms, decision_db_role(cfg, state, now_mono_ms), out);
}
