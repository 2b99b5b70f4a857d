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
        {.name = "two sources agree: writable until the later expiry",
         .sources = 2,
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
        {.name = "two sources, one down: the other still decides",
         .sources = 2,
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
};

static void run_row(const struct row *row)
{
	struct fence_config cfg = {.region = "us-east-1",
	                           .ttl_ms = TTL,
	                           .on_stale_hold = row->hold,
	                           .source_count = row->sources};
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
