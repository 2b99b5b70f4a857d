/*
 * test_fence.c - the fence decision as a table: (reads, times, db role,
 * operator fence) -> (state, writable, writable_until, epoch). Covers every
 * row of DESIGN.md's states table, the epoch rules, conflicts, TTL expiry
 * exactly at the boundary, late answers, and a hung flag loop (reads stop:
 * the verdict expires by itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fencing/fence.h"

#define TTL 30000

/* One read to record before deciding. */
struct step {
	size_t source;
	const char *value; /* flag text, parsed with flag_value_parse */
	uint64_t version;
	int64_t sent;
};

struct row {
	const char *name;
	size_t sources;
	bool hold;
	struct step reads[4];
	size_t read_count;
	bool forced;
	enum fence_db db;
	int64_t now;
	/* expected */
	enum fence_state state;
	bool writable;
	int64_t until; /* checked when writable */
	uint64_t epoch;
	const char *active_region; /* NULL: not checked */
	bool split_brain;
	size_t quorum;          /* fence_config.quorum: 0 a majority, 1 `any` (the old rule) */
	const char *reason_has; /* NULL: not checked; else a part of the reason */
};

static const struct row rows[] = {
        {.name = "no read yet is unknown",
         .sources = 1,
         .read_count = 0,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000,
         .state = FENCE_UNKNOWN,
         .writable = false,
         .epoch = 0,
         .active_region = ""},
        {.name = "this region is active and writable",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 7, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 7,
         .active_region = "us-east-1"},
        {.name = "another region is passive",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-west-2", .version = 8, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_PASSIVE,
         .writable = false,
         .epoch = 8,
         .active_region = "us-west-2"},
        {.name = "valid one ms before the TTL ends",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + TTL - 1,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 1,
         .active_region = "us-east-1"},
        {.name = "stale exactly at the TTL boundary",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + TTL,
         .state = FENCE_STALE,
         .writable = false},
        {.name = "hung flag loop: last read long ago",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + 10 * TTL,
         .state = FENCE_STALE,
         .writable = false},
        {.name = "hold keeps the last verdict when stale (unsafe)",
         .sources = 1,
         .hold = true,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + TTL,
         .state = FENCE_STALE,
         .writable = true,
         .until = INT64_MAX,
         .epoch = 1,
         .active_region = "us-east-1"},
        {.name = "hold keeps passive passive",
         .sources = 1,
         .hold = true,
         .reads = {{.source = 0, .value = "us-west-2", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + TTL,
         .state = FENCE_STALE,
         .writable = false,
         .epoch = 1,
         .active_region = "us-west-2"},
        {.name = "active but the database is a reader",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NOT_WRITER,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = false,
         .epoch = 1,
         .active_region = "us-east-1"},
        {.name = "active with a writer database",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_WRITER,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 1,
         .active_region = "us-east-1"},
        {.name = "passive with a writer database is split brain",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-west-2", .version = 1, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_WRITER,
         .now = 2000,
         .state = FENCE_PASSIVE,
         .writable = false,
         .epoch = 1,
         .active_region = "us-west-2",
         .split_brain = true},
        {.name = "operator fence wins over active",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .forced = true,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_FORCED,
         .writable = false,
         .epoch = 1,
         .active_region = "us-east-1"},
        {.name = "operator fence on a stale task",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 1,
         .forced = true,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + TTL,
         .state = FENCE_FORCED,
         .writable = false},
        {.name = "JSON epoch beats the SSM version",
         .sources = 1,
         .reads = {{.source = 0,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":42}",
                    .version = 3,
                    .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 42,
         .active_region = "us-east-1"},
        {.name = "newer read replaces the older",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 1, .sent = 1000},
                   {.source = 0, .value = "us-west-2", .version = 2, .sent = 6000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 7000,
         .state = FENCE_PASSIVE,
         .writable = false,
         .epoch = 2,
         .active_region = "us-west-2"},
        {.name = "a late answer (sent earlier) never wins",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-west-2", .version = 2, .sent = 6000},
                   {.source = 0, .value = "us-east-1", .version = 1, .sent = 1000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 7000,
         .state = FENCE_PASSIVE,
         .writable = false,
         .epoch = 2,
         .active_region = "us-west-2"},
        {.name = "the epoch never goes back (parameter recreated)",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-west-2", .version = 5, .sent = 1000},
                   {.source = 0, .value = "us-east-1", .version = 1, .sent = 6000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 7000,
         .state = FENCE_STALE,
         .writable = false},
        {.name = "two sources: the highest epoch wins",
         .sources = 2,
         .reads = {{.source = 0,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":4}",
                    .version = 0,
                    .sent = 1000},
                   {.source = 1,
                    .value = "{\"active_region\":\"us-west-2\",\"epoch\":5}",
                    .version = 0,
                    .sent = 1000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_PASSIVE,
         .writable = false,
         .epoch = 5,
         .active_region = "us-west-2"},
        {.name = "two sources agree, any: writable until the later expiry",
         .sources = 2,
         .quorum = 1,
         .reads = {{.source = 0,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":5}",
                    .version = 0,
                    .sent = 1000},
                   {.source = 1,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":5}",
                    .version = 0,
                    .sent = 4000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 5000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 4000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "two sources, one down, any: the other still decides (today's rule)",
         .sources = 2,
         .quorum = 1,
         .reads = {{.source = 1,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":5}",
                    .version = 0,
                    .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "two regions at one epoch are a conflict",
         .sources = 2,
         .reads = {{.source = 0,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":5}",
                    .version = 0,
                    .sent = 1000},
                   {.source = 1,
                    .value = "{\"active_region\":\"us-west-2\",\"epoch\":5}",
                    .version = 0,
                    .sent = 1000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_CONFLICT,
         .writable = false},
        {.name = "multi-source value without an epoch is a conflict",
         .sources = 2,
         .quorum = 1,
         .reads = {{.source = 0, .value = "us-east-1", .version = 9, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_CONFLICT,
         .writable = false},
        {.name = "newer epoch expired, older one alone is not trusted",
         .sources = 2,
         .reads = {{.source = 0,
                    .value = "{\"active_region\":\"us-east-1\",\"epoch\":4}",
                    .version = 0,
                    .sent = 20000},
                   {.source = 1,
                    .value = "{\"active_region\":\"us-west-2\",\"epoch\":5}",
                    .version = 0,
                    .sent = 1000}},
         .read_count = 2,
         .db = FENCE_DB_NO_CHECK,
         .now = 1000 + TTL,
         .state = FENCE_STALE,
         .writable = false},
        {.name = "file with a plain value has epoch 0",
         .sources = 1,
         .reads = {{.source = 0, .value = "us-east-1\n", .version = 0, .sent = 1000}},
         .read_count = 1,
         .db = FENCE_DB_NO_CHECK,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 0,
         .active_region = "us-east-1"},
        /* Quorum (DESIGN.md "The flag"): rows written by name. */
        {.name = "two sources, majority: one expired is stale",
         .sources = 2,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 20000}},
         .read_count = 2,
         .now = 1000 + TTL,
         .state = FENCE_STALE,
         .reason_has = "missing source 1"},
        {.name = "two sources agree, majority: writable until the earlier expiry",
         .sources = 2,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 4000}},
         .read_count = 2,
         .now = 5000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "three sources, majority, one cut off: two still decide",
         .sources = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 4000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 100}},
         .read_count = 3,
         .now = 100 + TTL,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "three sources, majority, two cut off: stale naming them",
         .sources = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 4000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 25000}},
         .read_count = 3,
         .now = 4000 + TTL,
         .state = FENCE_STALE,
         .reason_has = "missing source 1, 2"},
        {.name = "three sources, majority: the newest epoch of the quorum wins",
         .sources = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-west-2\",\"epoch\":6}", 0, 1000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000}},
         .read_count = 3,
         .now = 2000,
         .state = FENCE_PASSIVE,
         .epoch = 6,
         .active_region = "us-west-2"},
        {.name = "three sources, majority: two regions at the top epoch conflict",
         .sources = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":6}", 0, 1000},
                   {1, "{\"active_region\":\"us-west-2\",\"epoch\":6}", 0, 1000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000}},
         .read_count = 3,
         .now = 2000,
         .state = FENCE_CONFLICT,
         .reason_has = "at epoch 6"},
        {.name = "three sources, any: one valid read decides (today's rule)",
         .sources = 3,
         .quorum = 1,
         .reads = {{2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000}},
         .read_count = 1,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "three sources, all: three valid reads decide",
         .sources = 3,
         .quorum = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000}},
         .read_count = 3,
         .now = 2000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "three sources, all: one expired is stale",
         .sources = 3,
         .quorum = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 5000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 5000}},
         .read_count = 3,
         .now = 1000 + TTL,
         .state = FENCE_STALE,
         .reason_has = "2 of 3 needed"},
        {.name = "four sources, quorum 2: writable until the second largest expiry",
         .sources = 4,
         .quorum = 2,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000},
                   {1, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 3000},
                   {2, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 2000}},
         .read_count = 3,
         .now = 4000,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 2000 + TTL,
         .epoch = 5,
         .active_region = "us-east-1"},
        {.name = "three sources, majority, a lower epoch read last: winner's expiry bounds",
         .sources = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":6}", 0, 1000},
                   {1, "{\"active_region\":\"us-west-2\",\"epoch\":5}", 0, 9000},
                   {2, "{\"active_region\":\"us-west-2\",\"epoch\":5}", 0, 8000}},
         .read_count = 3,
         .now = 9500,
         .state = FENCE_ACTIVE,
         .writable = true,
         .until = 1000 + TTL,
         .epoch = 6,
         .active_region = "us-east-1"},
        {.name = "not enough sources answered yet is unknown",
         .sources = 3,
         .reads = {{0, "{\"active_region\":\"us-east-1\",\"epoch\":5}", 0, 1000}},
         .read_count = 1,
         .now = 2000,
         .state = FENCE_UNKNOWN,
         .reason_has = "missing source 2, 3"},
};

static void run_row(const struct row *row)
{
	struct fence_config cfg = {.region = "us-east-1",
	                           .ttl_ms = TTL,
	                           .on_stale_hold = row->hold,
	                           .source_count = row->sources,
	                           .quorum = row->quorum};
	struct fence *fence = fence_new(&cfg);
	struct fence_verdict verdict;

	assert_non_null(fence);
	for (size_t i = 0; i < row->read_count; i++) {
		const struct step *step = &row->reads[i];
		struct flag_value value;
		struct wd_err err = {0};

		if (flag_value_parse(step->value, strlen(step->value), &value, &err) < 0)
			fail_msg("%s: bad test value: %s", row->name, err.msg);
		fence_record_read(fence, step->source, &value, step->version, step->sent);
	}
	fence_set_forced(fence, row->forced);
	fence_decide(fence, row->now, row->db, &verdict);
	if (verdict.state != row->state || verdict.writable != row->writable)
		fail_msg("%s: got %s writable=%d (%s), want %s writable=%d", row->name,
		         fence_state_str(verdict.state), verdict.writable, verdict.reason,
		         fence_state_str(row->state), row->writable);
	if (row->writable)
		assert_int_equal(verdict.writable_until_mono_ms, row->until);
	else
		assert_int_equal(verdict.writable_until_mono_ms, 0);
	if (row->active_region != NULL) {
		assert_string_equal(verdict.active_region, row->active_region);
		assert_int_equal(verdict.epoch, row->epoch);
	}
	assert_int_equal(verdict.split_brain, row->split_brain);
	assert_true(verdict.reason[0] != '\0');
	if (row->reason_has != NULL && strstr(verdict.reason, row->reason_has) == NULL)
		fail_msg("%s: reason '%s' lacks '%s'", row->name, verdict.reason, row->reason_has);
	fence_free(fence);
}

static void test_states_table(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		printf("  row: %s\n", rows[i].name);
		run_row(&rows[i]);
	}
}

static void test_unfence_never_makes_passive_writable(void **unused)
{
	struct fence_config cfg = {.region = "us-east-1", .ttl_ms = TTL, .source_count = 1};
	struct fence *fence = fence_new(&cfg);
	struct flag_value value;
	struct fence_verdict verdict;

	(void)unused;
	assert_int_equal(flag_value_parse("us-west-2", 9, &value, NULL), 0);
	fence_record_read(fence, 0, &value, 1, 0);
	fence_set_forced(fence, true);
	fence_set_forced(fence, false);
	fence_decide(fence, 10, FENCE_DB_NO_CHECK, &verdict);
	assert_int_equal(verdict.state, FENCE_PASSIVE);
	assert_false(verdict.writable);
	fence_free(fence);
}

static void test_writability_expires_without_any_call(void **unused)
{
	/* The verdict is a function of time: no timer has to run for it to end. */
	struct fence_config cfg = {.region = "us-east-1", .ttl_ms = TTL, .source_count = 1};
	struct fence *fence = fence_new(&cfg);
	struct flag_value value;
	struct fence_verdict verdict;

	(void)unused;
	assert_int_equal(flag_value_parse("us-east-1", 9, &value, NULL), 0);
	fence_record_read(fence, 0, &value, 1, 100);
	fence_decide(fence, 100, FENCE_DB_NO_CHECK, &verdict);
	assert_true(verdict.writable);
	fence_decide(fence, 100 + TTL, FENCE_DB_NO_CHECK, &verdict);
	assert_false(verdict.writable);
	assert_int_equal(verdict.state, FENCE_STALE);
	assert_int_equal(fence_highest_epoch(fence), 1);
	fence_free(fence);
}

static void test_unknown_until_the_region_is_known(void **unused)
{
	struct fence_config cfg = {.region = "", .ttl_ms = TTL, .source_count = 1};
	struct fence *fence = fence_new(&cfg);
	struct flag_value value;
	struct fence_verdict verdict;

	(void)unused;
	assert_int_equal(flag_value_parse("us-east-1", 9, &value, NULL), 0);
	fence_record_read(fence, 0, &value, 1, 100);
	fence_decide(fence, 200, FENCE_DB_NO_CHECK, &verdict);
	assert_int_equal(verdict.state, FENCE_UNKNOWN);
	assert_false(verdict.writable);
	fence_set_region(fence, "us-east-1");
	fence_decide(fence, 200, FENCE_DB_NO_CHECK, &verdict);
	assert_int_equal(verdict.state, FENCE_ACTIVE);
	assert_true(verdict.writable);
	fence_free(fence);
}

static void read_at(struct fence *fence, const char *region, uint64_t version, int64_t sent)
{
	struct flag_value value;

	assert_int_equal(flag_value_parse(region, strlen(region), &value, NULL), 0);
	fence_record_read(fence, 0, &value, version, sent);
}

/*
 * A passive task whose database is still a writer: `demotion_pending` for
 * split_brain_after from the moment it became passive, the alarm after it.
 * The window survives a stale spell; going active closes it.
 */
static void test_demotion_window(void **unused)
{
	struct fence_config cfg = {.region = "us-east-1",
	                           .ttl_ms = TTL,
	                           .source_count = 1,
	                           .split_brain_after_ms = 150000};
	struct fence *fence = fence_new(&cfg);
	struct fence_verdict v;

	(void)unused;
	read_at(fence, "us-west-2", 2, 1000);
	fence_decide(fence, 1000, FENCE_DB_WRITER, &v); /* passive from here */
	assert_int_equal(v.state, FENCE_PASSIVE);
	assert_true(v.demotion_pending);
	assert_false(v.split_brain);
	assert_int_equal(v.passive_since_mono_ms, 1000);

	read_at(fence, "us-west-2", 2, 140000);
	fence_decide(fence, 150999, FENCE_DB_WRITER, &v); /* 1 ms inside the window */
	assert_true(v.demotion_pending);
	assert_false(v.split_brain);
	fence_decide(fence, 151000, FENCE_DB_WRITER, &v);
	assert_false(v.demotion_pending);
	assert_true(v.split_brain);
	/* Demoted: neither. */
	fence_decide(fence, 151000, FENCE_DB_NOT_WRITER, &v);
	assert_false(v.demotion_pending);
	assert_false(v.split_brain);
	assert_int_equal(v.passive_since_mono_ms, 1000);

	/* Stale for a while, then passive again: the window still counts from 1000. */
	fence_decide(fence, 140000 + TTL, FENCE_DB_WRITER, &v);
	assert_int_equal(v.state, FENCE_STALE);
	assert_false(v.split_brain || v.demotion_pending);
	read_at(fence, "us-west-2", 2, 171000);
	fence_decide(fence, 172000, FENCE_DB_WRITER, &v);
	assert_true(v.split_brain);
	assert_int_equal(v.passive_since_mono_ms, 1000);

	/* Active again closes the window; the next passive spell opens a new one. */
	read_at(fence, "us-east-1", 3, 180000);
	fence_decide(fence, 180000, FENCE_DB_WRITER, &v);
	assert_int_equal(v.state, FENCE_ACTIVE);
	assert_false(v.split_brain || v.demotion_pending);
	assert_int_equal(v.passive_since_mono_ms, 0);
	read_at(fence, "us-west-2", 4, 190000);
	fence_decide(fence, 190500, FENCE_DB_WRITER, &v);
	assert_true(v.demotion_pending);
	assert_false(v.split_brain);
	assert_int_equal(v.passive_since_mono_ms, 190500);
	fence_free(fence);
}

/* split_brain_after 0: the alarm at once, as before the window existed. */
static void test_no_window_alarms_at_once(void **unused)
{
	struct fence_config cfg = {.region = "us-east-1", .ttl_ms = TTL, .source_count = 1};
	struct fence *fence = fence_new(&cfg);
	struct fence_verdict v;

	(void)unused;
	read_at(fence, "us-west-2", 2, 0);
	fence_decide(fence, 0, FENCE_DB_WRITER, &v);
	assert_true(v.split_brain);
	assert_false(v.demotion_pending);
	fence_free(fence);
}

static void test_timing(void **unused)
{
	struct fence_timing t;

	(void)unused;
	fence_timing(5000, 2000, 30000, false, &t);
	assert_int_equal(t.typical_ms, 8000);
	assert_int_equal(t.worst_case_ms, 30000);
	assert_false(t.unbounded);
	/* WARDEN_ON_STALE=hold: a task that cannot read the flag keeps writing. */
	fence_timing(5000, 2000, 30000, true, &t);
	assert_int_equal(t.typical_ms, 8000);
	assert_true(t.unbounded);
	assert_int_equal(t.worst_case_ms, -1);
	assert_int_equal(fence_split_brain_after_default(30000), 150000);
}

static void test_state_names(void **unused)
{
	(void)unused;
	assert_string_equal(fence_state_str(FENCE_UNKNOWN), "unknown");
	assert_string_equal(fence_state_str(FENCE_ACTIVE), "active");
	assert_string_equal(fence_state_str(FENCE_PASSIVE), "passive");
	assert_string_equal(fence_state_str(FENCE_STALE), "stale");
	assert_string_equal(fence_state_str(FENCE_CONFLICT), "conflict");
	assert_string_equal(fence_state_str(FENCE_FORCED), "forced");
	assert_string_equal(fence_state_str(FENCE_STATE_COUNT), "unknown");
}

/*
 * The safety contract under a partition, with a fake clock: three sources,
 * the orchestrator confirms epoch 6 (us-west-2) on sources 2 and 3 (a
 * quorum) at T_CONFIRM; this task of us-east-1 is cut off from both and
 * keeps reading only its own region's parameter (source 1), which still
 * names it at epoch 5. Under a quorum that intersects every other quorum it
 * is writable at no instant at or after T_CONFIRM + TTL, and no verdict's
 * writable_until passes it; under `any` it stays writable (unsafe, as
 * documented).
 */
#define T_CONFIRM 2500

static int64_t cut_off_last_writable(size_t quorum, int64_t *max_until)
{
	struct fence_config cfg = {
	        .region = "us-east-1", .ttl_ms = TTL, .source_count = 3, .quorum = quorum};
	struct fence *fence = fence_new(&cfg);
	struct flag_value old;
	struct wd_err err = {0};
	const char *text = "{\"active_region\":\"us-east-1\",\"epoch\":5}";
	int64_t last = -1;
	int64_t next_own_read = 6000;

	assert_non_null(fence);
	assert_int_equal(flag_value_parse(text, strlen(text), &old, &err), 0);
	for (size_t i = 0; i < 3; i++)
		fence_record_read(fence, i, &old, 0, 1000); /* before the flip: all agree */
	*max_until = 0;
	for (int64_t now = 1000; now < 4 * TTL; now += 50) {
		struct fence_verdict verdict;

		if (now >= next_own_read) { /* its own region's parameter, every 5 s */
			fence_record_read(fence, 0, &old, 0, now);
			next_own_read += 5000;
		}
		fence_decide(fence, now, FENCE_DB_NO_CHECK, &verdict);
		if (!verdict.writable)
			continue;
		last = now;
		if (verdict.writable_until_mono_ms > *max_until)
			*max_until = verdict.writable_until_mono_ms;
	}
	fence_free(fence);
	return last;
}

static void test_cut_off_region_fences_within_ttl(void **unused)
{
	static const size_t safe[] = {0 /* majority */, 2, 3 /* all */};
	int64_t max_until;

	(void)unused;
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
		int64_t last = cut_off_last_writable(safe[i], &max_until);

		printf("  quorum %zu: last writable at %lld, writable_until at most %lld\n",
		       safe[i], (long long)last, (long long)max_until);
		assert_true(last >= 1000);           /* it was writable before the flip */
		assert_true(last < T_CONFIRM + TTL); /* never at or after t + ttl */
		assert_true(max_until <= T_CONFIRM + TTL);
	}
	/* `any`: the own region's parameter alone keeps it writable: unsafe. */
	assert_true(cut_off_last_writable(1, &max_until) > T_CONFIRM + 2 * TTL);
}

static void test_quorum_parse(void **unused)
{
	static const struct {
		const char *text;
		size_t sources;
		int rc;
		size_t needed;
	} cases[] = {
	        {"majority", 1, 0, 1}, {"majority", 2, 0, 2},   {"majority", 3, 0, 2},
	        {"majority", 4, 0, 3}, {"all", 3, 0, 3},        {"any", 3, 0, 1},
	        {"2", 3, 0, 2},        {"3", 3, 0, 3},          {"4", 3, -EINVAL, 0},
	        {"0", 3, -EINVAL, 0},  {"-1", 3, -EINVAL, 0},   {"2x", 3, -EINVAL, 0},
	        {"", 3, -EINVAL, 0},   {"most", 3, -EINVAL, 0},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wd_err err = {0};
		size_t needed = 0;
		int rc = fence_quorum_parse(cases[i].text, cases[i].sources, &needed, &err);

		if (rc != cases[i].rc || (rc == 0 && needed != cases[i].needed))
			fail_msg("'%s' of %zu: rc %d needed %zu", cases[i].text, cases[i].sources,
			         rc, needed);
		if (rc < 0)
			assert_non_null(strstr(err.msg, "majority, all, any"));
	}
}

static void test_quorum_outages(void **unused)
{
	char lines[4][160];
	size_t n;

	(void)unused;
	n = fence_quorum_outages(2, 2, lines, 4);
	assert_int_equal(n, 2);
	assert_non_null(strstr(lines[0], "safe in a partition"));
	assert_string_equal(lines[1], "an outage of either source fences every task");
	n = fence_quorum_outages(2, 3, lines, 4);
	assert_string_equal(
	        lines[1], "an outage of any one source changes nothing; of two fences every task");
	n = fence_quorum_outages(1, 2, lines, 4);
	assert_non_null(strstr(lines[0], "unsafe in a partition"));
	assert_non_null(strstr(lines[1], "any one source changes nothing"));
	n = fence_quorum_outages(1, 1, lines, 4);
	assert_non_null(strstr(lines[0], "safe in a partition"));
	assert_string_equal(lines[1], "an outage of the source fences every task");
	(void)n;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_states_table),
	        cmocka_unit_test(test_unfence_never_makes_passive_writable),
	        cmocka_unit_test(test_writability_expires_without_any_call),
	        cmocka_unit_test(test_unknown_until_the_region_is_known),
	        cmocka_unit_test(test_state_names),
	        cmocka_unit_test(test_demotion_window),
	        cmocka_unit_test(test_no_window_alarms_at_once),
	        cmocka_unit_test(test_timing),
	        cmocka_unit_test(test_cut_off_region_fences_within_ttl),
	        cmocka_unit_test(test_quorum_parse),
	        cmocka_unit_test(test_quorum_outages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
