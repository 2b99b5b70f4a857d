#include "fencing/fence.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fence_read {
	bool present;
	struct flag_value value;
	uint64_t version;
	int64_t sent_mono_ms;
};

struct fence {
	struct fence_config cfg;
	pthread_mutex_t lock; /* guards everything below */
	bool forced;
	bool any_read;
	uint64_t highest_epoch;
	int64_t passive_since_mono_ms; /* the first decide that said passive; 0: none since active
	                                */
	struct fence_read reads[FENCE_SOURCES_MAX];
};

const char *fence_state_str(enum fence_state state)
{
	static const char *const names[FENCE_STATE_COUNT] = {
	        [FENCE_UNKNOWN] = "unknown",   [FENCE_ACTIVE] = "active",
	        [FENCE_PASSIVE] = "passive",   [FENCE_STALE] = "stale",
	        [FENCE_CONFLICT] = "conflict", [FENCE_FORCED] = "forced",
	};

	if ((unsigned)state >= FENCE_STATE_COUNT)
		return "unknown";
	return names[state];
}

struct fence *fence_new(const struct fence_config *cfg)
{
	struct fence *fence = calloc(1, sizeof(*fence));

	if (fence == NULL)
		return NULL;
	fence->cfg = *cfg;
	if (fence->cfg.source_count > FENCE_SOURCES_MAX)
		fence->cfg.source_count = FENCE_SOURCES_MAX;
	pthread_mutex_init(&fence->lock, NULL);
	return fence;
}

void fence_free(struct fence *fence)
{
	if (fence == NULL)
		return;
	pthread_mutex_destroy(&fence->lock);
	free(fence);
}

/* The epoch a read stands for (see the header's rules). */
static uint64_t read_epoch(const struct fence *fence, const struct fence_read *read)
{
	if (read->value.has_epoch || fence->cfg.source_count > 1)
		return read->value.epoch;
	return read->version;
}

void fence_record_read(struct fence *fence, size_t source, const struct flag_value *value,
                       uint64_t version, int64_t sent_mono_ms)
{
	struct fence_read *read;
	uint64_t epoch;

	if (source >= fence->cfg.source_count)
		return;
	pthread_mutex_lock(&fence->lock);
	read = &fence->reads[source];
	if (!read->present || sent_mono_ms >= read->sent_mono_ms) {
		read->present = true;
		read->value = *value;
		read->version = version;
		read->sent_mono_ms = sent_mono_ms;
		/* Only epochs that can win raise the floor: a multi-source value
		 * without an epoch is a conflict, not epoch 0. */
		if (value->has_epoch || fence->cfg.source_count == 1) {
			epoch = read_epoch(fence, read);
			if (!fence->any_read || epoch > fence->highest_epoch)
				fence->highest_epoch = epoch;
			fence->any_read = true;
		}
	}
	pthread_mutex_unlock(&fence->lock);
}

void fence_set_region(struct fence *fence, const char *region)
{
	pthread_mutex_lock(&fence->lock);
	snprintf(fence->cfg.region, sizeof(fence->cfg.region), "%s", region);
	pthread_mutex_unlock(&fence->lock);
}

void fence_set_forced(struct fence *fence, bool forced)
{
	pthread_mutex_lock(&fence->lock);
	fence->forced = forced;
	pthread_mutex_unlock(&fence->lock);
}

uint64_t fence_highest_epoch(struct fence *fence)
{
	uint64_t epoch;

	pthread_mutex_lock(&fence->lock);
	epoch = fence->highest_epoch;
	pthread_mutex_unlock(&fence->lock);
	return epoch;
}

static void say(struct fence_verdict *out, enum fence_state state, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void say(struct fence_verdict *out, enum fence_state state, const char *fmt, ...)
{
	out->state = state;
	WD_ERR_FORMAT_ARGS(out->reason, sizeof(out->reason), fmt);
}

/*
 * Decide from the reads that count (valid ones, or with `ignore_ttl` every
 * present one). Fills state, region, epoch, writable and writable_until.
 */
static void decide_from(const struct fence *fence, int64_t now, bool ignore_ttl, enum fence_db db,
                        struct fence_verdict *out)
{
	const struct fence_read *winner = NULL;
	int64_t until = 0;

	if (fence->cfg.region[0] == '\0') {
		say(out, FENCE_UNKNOWN, "this task's region is not known yet");
		return;
	}

	for (size_t i = 0; i < fence->cfg.source_count; i++) {
		const struct fence_read *read = &fence->reads[i];

		if (!read->present ||
		    (!ignore_ttl && now >= read->sent_mono_ms + fence->cfg.ttl_ms))
			continue;
		if (fence->cfg.source_count > 1 && !read->value.has_epoch) {
			say(out, FENCE_CONFLICT,
			    "source %zu: value has no epoch (required with %zu sources)", i + 1,
			    fence->cfg.source_count);
			return;
		}
		if (winner == NULL || read_epoch(fence, read) > read_epoch(fence, winner))
			winner = read;
	}
	if (winner == NULL) {
		if (fence->any_read)
			say(out, FENCE_STALE, "no valid read for %lld ms (the TTL)",
			    (long long)fence->cfg.ttl_ms);
		else
			say(out, FENCE_UNKNOWN, "no valid read yet");
		return;
	}
	snprintf(out->active_region, sizeof(out->active_region), "%s", winner->value.active_region);
	out->epoch = read_epoch(fence, winner);
	for (size_t i = 0; i < fence->cfg.source_count; i++) {
		const struct fence_read *read = &fence->reads[i];

		if (!read->present ||
		    (!ignore_ttl && now >= read->sent_mono_ms + fence->cfg.ttl_ms))
			continue;
		if (read_epoch(fence, read) != out->epoch)
			continue;
		if (strcmp(read->value.active_region, winner->value.active_region) != 0) {
			say(out, FENCE_CONFLICT, "sources name %s and %s at epoch %llu",
			    winner->value.active_region, read->value.active_region,
			    (unsigned long long)out->epoch);
			return;
		}
		if (read->sent_mono_ms + fence->cfg.ttl_ms > until)
			until = read->sent_mono_ms + fence->cfg.ttl_ms;
	}
	if (out->epoch < fence->highest_epoch) {
		say(out, FENCE_STALE, "epoch %llu seen, but the newest valid read is epoch %llu",
		    (unsigned long long)fence->highest_epoch, (unsigned long long)out->epoch);
		return;
	}
	if (strcmp(winner->value.active_region, fence->cfg.region) != 0) {
		say(out, FENCE_PASSIVE, "active region is %s", winner->value.active_region);
		return;
	}
	if (db == FENCE_DB_NOT_WRITER) {
		say(out, FENCE_ACTIVE, "active, but the database is not a writer");
		return;
	}
	say(out, FENCE_ACTIVE, "this region is active");
	out->writable = true;
	out->writable_until_mono_ms = ignore_ttl ? INT64_MAX : until;
}

void fence_decide(struct fence *fence, int64_t now_mono_ms, enum fence_db db,
                  struct fence_verdict *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&fence->lock);
	decide_from(fence, now_mono_ms, false, db, out);
	if (out->state == FENCE_STALE && fence->cfg.on_stale_hold) {
		/* Unsafe by design (documented): the last verdict holds. */
		struct fence_verdict held;

		memset(&held, 0, sizeof(held));
		decide_from(fence, now_mono_ms, true, db, &held);
		out->writable = held.writable;
		out->writable_until_mono_ms = held.writable_until_mono_ms;
		snprintf(out->active_region, sizeof(out->active_region), "%s", held.active_region);
		out->epoch = held.epoch;
		snprintf(out->reason, sizeof(out->reason), "stale, holding the last verdict (%s)",
		         fence_state_str(held.state));
	}
	/* The demotion window opens at the first passive verdict and lasts
	 * through stale or conflicting spells; only `active` closes it. */
	if (out->state == FENCE_PASSIVE && fence->passive_since_mono_ms == 0)
		fence->passive_since_mono_ms = now_mono_ms > 0 ? now_mono_ms : 1;
	else if (out->state == FENCE_ACTIVE)
		fence->passive_since_mono_ms = 0;
	if (out->state == FENCE_PASSIVE) {
		out->passive_since_mono_ms = fence->passive_since_mono_ms;
		if (db == FENCE_DB_WRITER)
			fence_mark_writer(fence, now_mono_ms, out);
	}
	if (fence->forced) {
		out->writable = false;
		out->writable_until_mono_ms = 0;
		say(out, FENCE_FORCED, "fenced by an operator");
	}
	pthread_mutex_unlock(&fence->lock);
}

void fence_mark_writer(const struct fence *fence, int64_t now_mono_ms, struct fence_verdict *out)
{
	if (out->state != FENCE_PASSIVE)
		return;
	if (fence->cfg.split_brain_after_ms <= 0 ||
	    now_mono_ms - out->passive_since_mono_ms >= fence->cfg.split_brain_after_ms) {
		out->split_brain = true;
		out->demotion_pending = false;
	} else {
		out->demotion_pending = true;
	}
}

void fence_timing(int64_t interval_ms, int64_t timeout_ms, int64_t ttl_ms, bool on_stale_hold,
                  struct fence_timing *out)
{
	out->typical_ms = interval_ms * 6 / 5 + timeout_ms;
	out->unbounded = on_stale_hold;
	out->worst_case_ms = on_stale_hold ? -1 : ttl_ms;
}

int64_t fence_split_brain_after_default(int64_t ttl_ms)
{
	return ttl_ms + 2 * 60 * 1000;
}
