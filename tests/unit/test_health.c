/*
 * test_health.c - the readiness rule (agent/health.h) against its header:
 * a probe passes when UP; a probe not UP (pending or down) fails if critical,
 * else warns; the whole fails while draining or when a critical probe fails,
 * else warns when any probe warns, else passes; no probes pass; pass and warn
 * answer 200, fail 503.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/health.h"
#include "probes/state.h"

struct fixture {
	struct wd_config *cfg;
	struct probe_snapshot snaps[WD_PROBES_MAX];
};

static void add_probe(struct wd_config *cfg, const char *name, bool critical)
{
	struct probe_config *probe = &cfg->probes[cfg->probe_count++];

	snprintf(probe->name, sizeof(probe->name), "%s", name);
	probe->kind = PROBE_KIND_TCP;
	probe->critical = critical;
	probe->rise = 2;
	probe->fall = 3;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->cfg = calloc(1, sizeof(*fx->cfg));
	assert_non_null(fx->cfg);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	free(fx->cfg);
	free(fx);
	return 0;
}

static void test_status_strings_and_codes(void **state)
{
	(void)state;
	assert_string_equal(health_status_str(HEALTH_PASS), "pass");
	assert_string_equal(health_status_str(HEALTH_WARN), "warn");
	assert_string_equal(health_status_str(HEALTH_FAIL), "fail");
	assert_int_equal(health_http_code(HEALTH_PASS), 200);
	assert_int_equal(health_http_code(HEALTH_WARN), 200);
	assert_int_equal(health_http_code(HEALTH_FAIL), 503);
}

static void test_probe_status(void **state)
{
	struct fixture *fx = *state;
	struct probe_snapshot snap = {0};

	add_probe(fx->cfg, "critical", true);
	add_probe(fx->cfg, "optional", false);

	snap.health = PROBE_HEALTH_UP;
	assert_int_equal(health_probe_status(&fx->cfg->probes[0], &snap), HEALTH_PASS);
	assert_int_equal(health_probe_status(&fx->cfg->probes[1], &snap), HEALTH_PASS);
	snap.health = PROBE_HEALTH_DOWN;
	assert_int_equal(health_probe_status(&fx->cfg->probes[0], &snap), HEALTH_FAIL);
	assert_int_equal(health_probe_status(&fx->cfg->probes[1], &snap), HEALTH_WARN);
	snap.health = PROBE_HEALTH_PENDING;
	assert_int_equal(health_probe_status(&fx->cfg->probes[0], &snap), HEALTH_FAIL);
	assert_int_equal(health_probe_status(&fx->cfg->probes[1], &snap), HEALTH_WARN);
}

/* Up-ness is health after rise/fall, not the last outcome. */
static void test_probe_status_ignores_last_outcome(void **state)
{
	struct fixture *fx = *state;
	struct probe_snapshot snap = {0};

	add_probe(fx->cfg, "db", true);
	snap.health = PROBE_HEALTH_UP;
	snap.has_result = true;
	snap.last.outcome = PROBE_TIMEOUT; /* one failure, below fall */
	assert_int_equal(health_probe_status(&fx->cfg->probes[0], &snap), HEALTH_PASS);
	snap.health = PROBE_HEALTH_DOWN;
	snap.last.outcome = PROBE_OK; /* one success, below rise */
	assert_int_equal(health_probe_status(&fx->cfg->probes[0], &snap), HEALTH_FAIL);
}

/* /readyz/<probe>: the probe's own health, whatever its `critical` (issue 9, item 14). */
static void test_probe_own_status(void **state)
{
	struct probe_snapshot snap;

	(void)state;
	memset(&snap, 0, sizeof(snap));
	snap.health = PROBE_HEALTH_UP;
	assert_int_equal(health_probe_own_status(&snap), HEALTH_PASS);
	snap.health = PROBE_HEALTH_DOWN;
	assert_int_equal(health_probe_own_status(&snap), HEALTH_FAIL);
	snap.health = PROBE_HEALTH_PENDING;
	assert_int_equal(health_probe_own_status(&snap), HEALTH_FAIL);
}

static void test_no_probes(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_PASS);
	assert_int_equal(health_overall(fx->cfg, fx->snaps, true), HEALTH_FAIL);
}

static void test_overall(void **state)
{
	struct fixture *fx = *state;

	add_probe(fx->cfg, "db", true);
	add_probe(fx->cfg, "cache", false);
	add_probe(fx->cfg, "web", true);
	for (int i = 0; i < 3; i++)
		fx->snaps[i].health = PROBE_HEALTH_UP;
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_PASS);

	fx->snaps[1].health = PROBE_HEALTH_DOWN; /* non-critical down: warn */
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_WARN);

	fx->snaps[2].health = PROBE_HEALTH_DOWN; /* and a critical one: fail wins */
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_FAIL);

	fx->snaps[1].health = PROBE_HEALTH_UP; /* order does not matter */
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_FAIL);
	fx->snaps[2].health = PROBE_HEALTH_UP;
	fx->snaps[0].health = PROBE_HEALTH_DOWN;
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_FAIL);
}

/* The first round is not done while a critical probe is pending. */
static void test_pending(void **state)
{
	struct fixture *fx = *state;

	add_probe(fx->cfg, "db", true);
	add_probe(fx->cfg, "cache", false);
	fx->snaps[0].health = PROBE_HEALTH_UP;
	fx->snaps[1].health = PROBE_HEALTH_PENDING;
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_WARN);
	fx->snaps[0].health = PROBE_HEALTH_PENDING;
	assert_int_equal(health_overall(fx->cfg, fx->snaps, false), HEALTH_FAIL);
}

static void test_draining_fails_everything(void **state)
{
	struct fixture *fx = *state;

	add_probe(fx->cfg, "db", true);
	fx->snaps[0].health = PROBE_HEALTH_UP;
	assert_int_equal(health_overall(fx->cfg, fx->snaps, true), HEALTH_FAIL);
	add_probe(fx->cfg, "cache", false);
	fx->snaps[1].health = PROBE_HEALTH_DOWN;
	assert_int_equal(health_overall(fx->cfg, fx->snaps, true), HEALTH_FAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_status_strings_and_codes),
	        cmocka_unit_test(test_probe_own_status),
	        cmocka_unit_test_setup_teardown(test_probe_status, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_probe_status_ignores_last_outcome, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_no_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_overall, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_draining_fails_everything, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
