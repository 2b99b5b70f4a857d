#include "fencing/fence.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fence {
	struct fence_config cfg;
	pthread_mutex_t lock; /* guards everything below */
	bool forced;
	bool any_read;
	uint64_t highest_epoch;
	int64_t passive_since_mono_ms; /* the first decide that said passive; 0: none since active
	                                */
	struct fence_reading reads[FENCE_SOURCES_MAX];
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

/* The epoch a reading stands for, among `count` sources (see the header's rules). */
static uint64_t reading_epoch(const struct fence_reading *read, size_t count)
{
	if (read->value.has_epoch || count > 1)
		return read->value.epoch;
	return read->version;
}

static uint64_t read_epoch(const struct fence *fence, const struct fence_reading *read)
{
	return reading_epoch(read, fence->cfg.source_count);
}

size_t fence_quorum_needed(size_t quorum, size_t sources)
{
	if (sources == 0)
		return 1;
	if (quorum == 0)
		return sources / 2 + 1;
	return quorum > sources ? sources : quorum;
}

int fence_quorum_parse(const char *text, size_t sources, size_t *needed, struct wd_err *err)
{
	char *end = NULL;
	unsigned long number;

	if (sources == 0)
		sources = 1;
	if (strcmp(text, "majority") == 0) {
		*needed = sources / 2 + 1;
		return 0;
	}
	if (strcmp(text, "all") == 0) {
		*needed = sources;
		return 0;
	}
	if (strcmp(text, "any") == 0) {
		*needed = 1;
		return 0;
	}
	errno = 0;
	number = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
	if (end == NULL || *end != '\0' || errno != 0 || number < 1 || number > sources)
		return wd_err_set(err, -EINVAL,
		                  "want majority, all, any or a number from 1 to %zu (the number "
		                  "of WARDEN_FLAG sources)",
		                  sources);
	*needed = (size_t)number;
	return 0;
}

bool fence_quorum_partition_safe(size_t needed, size_t sources)
{
	return 2 * needed > sources;
}

static const char *count_word(size_t n)
{
	static const char *const words[] = {"no",   "one", "two",   "three", "four",
	                                    "five", "six", "seven", "eight"};

	return n < sizeof(words) / sizeof(words[0]) ? words[n] : "many";
}

size_t fence_quorum_outages(size_t needed, size_t sources, char lines[][160], size_t max)
{
	size_t used = 0;
	size_t tolerated =
	        sources >= needed ? sources - needed : 0; /* outages that change nothing */

	if (max == 0)
		return 0;
	if (!fence_quorum_partition_safe(needed, sources))
		snprintf(lines[used++], 160,
		         "unsafe in a partition: %zu of %zu sources is not a majority, so a region "
		         "cut off with %s of them may stay writable after the flag moved on",
		         needed, sources, count_word(needed));
	else
		snprintf(
		        lines[used++], 160,
		        "safe in a partition: any two quorums of %zu of %zu sources share a source",
		        needed, sources);
	if (used < max && sources == 1)
		snprintf(lines[used++], 160, "an outage of the source fences every task");
	else if (used < max && tolerated == 0)
		snprintf(lines[used++], 160, "an outage of %s source fences every task",
		         sources == 2 ? "either" : "any one");
	else if (used < max)
		snprintf(lines[used++], 160,
		         "an outage of %s%s source%s changes nothing; of %s fences every task",
		         tolerated == 1 ? "any " : "up to ", count_word(tolerated),
		         tolerated == 1 ? "" : "s", count_word(tolerated + 1));
	return used;
}

/* Bit i of a mask, as 1-based list text: "1, 3". */
static void mask_list(uint32_t mask, size_t count, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < count && used < size; i++) {
		if (!(mask & (1u << i)))
			continue;
		used += (size_t)snprintf(out + used, size - used, "%s%zu", used ? ", " : "", i + 1);
	}
}

static void quorum_say(struct fence_quorum_verdict *out, enum fence_state state, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

static void quorum_say(struct fence_quorum_verdict *out, enum fence_state state, const char *fmt,
                       ...)
{
	va_list ap;

	out->state = state;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

void fence_quorum_decide(const struct fence_reading *readings, size_t count, size_t needed,
                         int64_t ttl_ms, int64_t now_mono_ms, bool ignore_ttl,
                         struct fence_quorum_verdict *out)
{
	int64_t expiry[FENCE_SOURCES_MAX];
	const struct fence_reading *winner = NULL;
	int64_t winner_until = 0;
	int64_t quorum_until;
	bool any_present = false;
	char missing[64];

	memset(out, 0, sizeof(*out));
	if (count > FENCE_SOURCES_MAX)
		count = FENCE_SOURCES_MAX;
	out->needed = needed;
	for (size_t i = 0; i < count; i++) {
		const struct fence_reading *read = &readings[i];

		any_present |= read->present;
		if (!read->present || (!ignore_ttl && now_mono_ms >= read->sent_mono_ms + ttl_ms))
			continue;
		out->counted |= 1u << i;
		expiry[out->valid++] = ignore_ttl ? INT64_MAX : read->sent_mono_ms + ttl_ms;
	}
	if (out->valid < needed) {
		mask_list(~out->counted & ((1u << count) - 1), count, missing, sizeof(missing));
		quorum_say(out, any_present ? FENCE_STALE : FENCE_UNKNOWN,
		           "no valid read from a quorum: %zu of %zu needed (a read counts for the "
		           "TTL after it was sent); missing source %s",
		           out->valid, needed, missing);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const struct fence_reading *read = &readings[i];

		if (!(out->counted & (1u << i)))
			continue;
		if (count > 1 && !read->value.has_epoch) {
			quorum_say(out, FENCE_CONFLICT,
			           "source %zu: value has no epoch (required with %zu sources)",
			           i + 1, count);
			return;
		}
		if (winner == NULL || reading_epoch(read, count) > reading_epoch(winner, count))
			winner = read;
	}
	out->epoch = reading_epoch(winner, count);
	snprintf(out->active_region, sizeof(out->active_region), "%s", winner->value.active_region);
	for (size_t i = 0; i < count; i++) {
		const struct fence_reading *read = &readings[i];
		int64_t until = ignore_ttl ? INT64_MAX : read->sent_mono_ms + ttl_ms;

		if (!(out->counted & (1u << i)) || reading_epoch(read, count) != out->epoch)
			continue;
		if (strcmp(read->value.active_region, winner->value.active_region) != 0) {
			quorum_say(out, FENCE_CONFLICT, "sources name %s and %s at epoch %llu",
			           winner->value.active_region, read->value.active_region,
			           (unsigned long long)out->epoch);
			return;
		}
		if (until > winner_until)
			winner_until = until;
	}
	/*
	 * How long the verdict holds: until fewer than `needed` reads are valid
	 * (the needed-th largest expiry), or until the last read at the winning
	 * epoch expires (then a lower epoch would win, which "epochs never go
	 * back" refuses) -- whichever comes first.
	 *
	 * Why that bounds a task of the old region (DESIGN.md "The safety
	 * contract"): the orchestrator confirms epoch E+1 on a set W of sources,
	 * |W| >= needed, each confirming read sent after its write was
	 * acknowledged; t is the moment the last of them was sent, so at t every
	 * source of W holds E+1. A task deciding "active at E" at some moment
	 * has `needed` valid reads, none showing E+1, so every one of them from
	 * a source in W was sent before t and expires by t + ttl. When
	 * needed + |W| > N (a majority, or all) the `needed` valid reads cannot
	 * all come from the N - |W| < needed sources outside W: at least one of
	 * the `needed` reads with the latest expiries is from W. So the
	 * needed-th largest expiry, and writable_until with it, is at most
	 * t + ttl: no task writes at E after t + ttl, however it is cut off.
	 * With `any` (needed 1) W may miss the one source a partitioned task
	 * reads: no bound (documented as unsafe in a partition).
	 */
	for (size_t i = 1; i < out->valid; i++) { /* sort descending: at most 8 entries */
		int64_t key = expiry[i];
		size_t j = i;

		for (; j > 0 && expiry[j - 1] < key; j--)
			expiry[j] = expiry[j - 1];
		expiry[j] = key;
	}
	quorum_until = expiry[needed - 1];
	out->until_mono_ms = quorum_until < winner_until ? quorum_until : winner_until;
	quorum_say(out, FENCE_ACTIVE, "a quorum of %zu of %zu names %s at epoch %llu", needed,
	           count, out->active_region, (unsigned long long)out->epoch);
}

void fence_record_read(struct fence *fence, size_t source, const struct flag_value *value,
                       uint64_t version, int64_t sent_mono_ms)
{
	struct fence_reading *read;
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
	struct fence_quorum_verdict quorum;
	size_t needed = fence_quorum_needed(fence->cfg.quorum, fence->cfg.source_count);
	size_t present = 0;

	fence_quorum_decide(fence->reads, fence->cfg.source_count, needed, fence->cfg.ttl_ms, now,
	                    ignore_ttl, &quorum);
	out->quorum_needed = needed;
	out->quorum_met = quorum.valid >= needed;
	out->counted = quorum.counted;
	if (fence->cfg.region[0] == '\0') {
		say(out, FENCE_UNKNOWN, "this task's region is not known yet");
		return;
	}
	for (size_t i = 0; i < fence->cfg.source_count; i++)
		present += fence->reads[i].present;
	/* Until enough sources have answered once, the task has not decided yet. */
	if (quorum.state == FENCE_UNKNOWN || (quorum.state == FENCE_STALE && present < needed)) {
		say(out, FENCE_UNKNOWN, "no quorum of valid reads yet: %s", quorum.reason);
		return;
	}
	/* A conflict at an epoch shows the epoch (and the first region named). */
	snprintf(out->active_region, sizeof(out->active_region), "%s", quorum.active_region);
	out->epoch = quorum.epoch;
	if (quorum.state != FENCE_ACTIVE) {
		say(out, quorum.state, "%s", quorum.reason);
		return;
	}
	if (out->epoch < fence->highest_epoch) {
		say(out, FENCE_STALE, "epoch %llu seen, but the newest valid read is epoch %llu",
		    (unsigned long long)fence->highest_epoch, (unsigned long long)out->epoch);
		return;
	}
	if (strcmp(quorum.active_region, fence->cfg.region) != 0) {
		say(out, FENCE_PASSIVE, "active region is %s", quorum.active_region);
		return;
	}
	if (db == FENCE_DB_NOT_WRITER) {
		say(out, FENCE_ACTIVE, "active, but the database is not a writer");
		return;
	}
	say(out, FENCE_ACTIVE, "this region is active");
	out->writable = true;
	out->writable_until_mono_ms = quorum.until_mono_ms;
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
