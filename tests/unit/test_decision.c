/*
 * test_decision.c - the verdict as the agent computes it: the fence joined
 * with the role check of the postgres probes (writer-when-active), and the
 * split-brain alarm, over a real state and a real fence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "agent/config.h"
#include "fencing/decision.h"

struct fixture {
	struct wd_config *cfg;
	struct wd_state *state;
	struct fence *fence;
};

/* Two postgres probes (writer-when-active) and one tcp probe. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	static const char *const names[] = {"db", "db2", "edge"};

	f->cfg = calloc(1, sizeof(*f->cfg));
	f->cfg->probe_count = 3;
	for (size_t i = 0; i < 3; i++) {
		struct probe_config *p = &f->cfg->probes[i];

		snprintf(p->name, sizeof(p->name), "%s", names[i]);
		p->kind = i < 2 ? PROBE_KIND_POSTGRES : PROBE_KIND_TCP;
		p->expect_role = EXPECT_ROLE_WRITER_WHEN_ACTIVE;
		p->interval_ms = 1000;
		p->timeout_ms = 500;
	}
	f->state = wd_state_new(3);
	f->fence = fence_new(
	        &(struct fence_config){.region = "us-east-1", .ttl_ms = 30000, .source_count = 1});
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fence_free(f->fence);
	wd_state_free(f->state);
	free(f->cfg);
	free(f);
	return 0;
}

static void flag(struct fixture *f, const char *region)
{
	struct flag_value value;

	assert_int_equal(flag_value_parse(region, strlen(region), &value, NULL), 0);
	fence_record_read(f->fence, 0, &value, 1, clock_mono_ms());
}

/* Probe i last ran `age_ms` ago with `outcome` and `role`. */
static void probe(struct fixture *f, size_t i, enum probe_outcome outcome, enum db_role role,
                  int64_t age_ms)
{
	struct probe_snapshot snap;

	memset(&snap, 0, sizeof(snap));
	snap.has_result = true;
	snap.last.outcome = outcome;
	snap.last.role = role;
	snap.last_mono_ms = clock_mono_ms() - age_ms;
	wd_state_publish(f->state, i, &snap);
}

/* The role check's own config, from the fixture's probes. */
static struct decision_config decision_cfg(const struct fixture *f)
{
	return (struct decision_config){.probes = f->cfg->probes,
	                                .probe_count = f->cfg->probe_count};
}

static struct fence_verdict verdict(struct fixture *f)
{
	struct decision_config dcfg = decision_cfg(f);
	struct fence_verdict v;

	decision_verdict(&dcfg, f->state, f->fence, clock_mono_ms(), &v);
	return v;
}

static void test_active_needs_every_database_a_writer(void **state)
{
	struct fixture *f = *state;

	flag(f, "us-east-1");
	assert_false(verdict(f).writable); /* no probe result yet: not known to be a writer */
	probe(f, 0, PROBE_OK, DB_ROLE_WRITER, 0);
	probe(f, 1, PROBE_OK, DB_ROLE_WRITER, 0);
	assert_true(verdict(f).writable);
	probe(f, 1, PROBE_OK, DB_ROLE_READER, 0); /* mid-promotion */
	assert_int_equal(verdict(f).state, FENCE_ACTIVE);
	assert_false(verdict(f).writable);
	probe(f, 1, PROBE_TIMEOUT, DB_ROLE_UNKNOWN, 0);
	assert_false(verdict(f).writable);
	probe(f, 1, PROBE_OK, DB_ROLE_WRITER, 5000); /* stale: older than 1 s + 0.5 s + 1 s */
	assert_false(verdict(f).writable);
	probe(f, 1, PROBE_OK, DB_ROLE_WRITER, 100);
	assert_true(verdict(f).writable);
}

static void test_split_brain_when_any_database_is_a_writer(void **state)
{
	struct fixture *f = *state;
	struct fence_verdict v;

	flag(f, "us-west-2");
	probe(f, 0, PROBE_OK, DB_ROLE_READER, 0);
	probe(f, 1, PROBE_OK, DB_ROLE_READER, 0);
	v = verdict(f);
	assert_int_equal(v.state, FENCE_PASSIVE);
	assert_false(v.split_brain);
	probe(f, 1, PROBE_OK, DB_ROLE_WRITER, 0);
	v = verdict(f);
	assert_int_equal(v.state, FENCE_PASSIVE);
	assert_false(v.writable);
	assert_true(v.split_brain);
}

/* Probe i ran at mono time `at` with `role` (ok). */
static void probe_at(struct fixture *f, size_t i, enum db_role role, int64_t at)
{
	struct probe_snapshot snap;

	memset(&snap, 0, sizeof(snap));
	snap.has_result = true;
	snap.last.outcome = PROBE_OK;
	snap.last.role = role;
	snap.last_mono_ms = at;
	wd_state_publish(f->state, i, &snap);
}

/*
 * With a demotion window, a passive task whose (any) database is still a
 * writer is `demotion_pending` until the window has passed since it became
 * passive, and only then split brain. A fake clock drives it.
 */
static void test_demotion_pending_then_split_brain(void **state)
{
	struct fixture *f = *state;
	struct fence_verdict v;
	struct flag_value value;
	struct decision_config dcfg = decision_cfg(f);
	int64_t t0 = 1000000;

	fence_free(f->fence);
	f->fence = fence_new(&(struct fence_config){.region = "us-east-1",
	                                            .ttl_ms = 30000,
	                                            .source_count = 1,
	                                            .split_brain_after_ms = 60000});
	assert_int_equal(flag_value_parse("us-west-2", 9, &value, NULL), 0);
	fence_record_read(f->fence, 0, &value, 1, t0);
	probe_at(f, 0, DB_ROLE_READER, t0);
	probe_at(f, 1, DB_ROLE_WRITER, t0);
	decision_verdict(&dcfg, f->state, f->fence, t0, &v);
	assert_int_equal(v.state, FENCE_PASSIVE);
	assert_true(v.demotion_pending);
	assert_false(v.split_brain);

	fence_record_read(f->fence, 0, &value, 1, t0 + 59000);
	probe_at(f, 0, DB_ROLE_READER, t0 + 59999);
	probe_at(f, 1, DB_ROLE_WRITER, t0 + 59999);
	decision_verdict(&dcfg, f->state, f->fence, t0 + 59999, &v);
	assert_true(v.demotion_pending);
	assert_false(v.split_brain);
	decision_verdict(&dcfg, f->state, f->fence, t0 + 60000, &v);
	assert_false(v.demotion_pending);
	assert_true(v.split_brain);
	/* The database is demoted: the alarm clears. */
	probe_at(f, 1, DB_ROLE_READER, t0 + 60000);
	decision_verdict(&dcfg, f->state, f->fence, t0 + 60000, &v);
	assert_false(v.demotion_pending || v.split_brain);
}

static void test_no_role_check_without_postgres_probes(void **state)
{
	struct fixture *f = *state;

	f->cfg->probes[0].expect_role = EXPECT_ROLE_ANY;
	f->cfg->probes[1].expect_role = EXPECT_ROLE_READER;
	flag(f, "us-east-1");
	assert_true(verdict(f).writable);
}

static void test_no_flag_is_unknown(void **state)
{
	struct fixture *f = *state;
	struct fence_verdict v;

	decision_verdict(&(struct decision_config){f->cfg->probes, f->cfg->probe_count}, f->state,
	                 NULL, clock_mono_ms(), &v);
	assert_int_equal(v.state, FENCE_UNKNOWN);
	assert_false(v.writable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_active_needs_every_database_a_writer, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_split_brain_when_any_database_is_a_writer,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_role_check_without_postgres_probes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_no_flag_is_unknown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_demotion_pending_then_split_brain, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
