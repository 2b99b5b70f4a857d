/*
 * test_hysteresis.c - rise/fall (probes/hysteresis.h) against its header:
 * PENDING until the first counted result, which sets UP or DOWN at once;
 * then `rise` successes in a row for DOWN -> UP and `fall` failures in a row
 * for UP -> DOWN; a failure inside start_period (counted = false) neither
 * moves the state nor breaks a streak of successes. Also: the return value
 * is true exactly on a change, and streaks stop growing at rise / fall.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "probes/hysteresis.h"

#define RISE 2
#define FALL 3

static bool feed(struct probe_hysteresis *h, bool ok)
{
	return hysteresis_update(h, ok, true, RISE, FALL);
}

static void test_health_strings(void **state)
{
	(void)state;
	assert_string_equal(probe_health_str(PROBE_HEALTH_PENDING), "pending");
	assert_string_equal(probe_health_str(PROBE_HEALTH_UP), "up");
	assert_string_equal(probe_health_str(PROBE_HEALTH_DOWN), "down");
}

static void test_first_success_is_up_at_once(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	assert_true(feed(&h, true));
	assert_int_equal(h.health, PROBE_HEALTH_UP);
	assert_int_equal(h.ok_streak, 1);
	assert_int_equal(h.fail_streak, 0);
}

static void test_first_failure_is_down_at_once(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	assert_true(feed(&h, false));
	assert_int_equal(h.health, PROBE_HEALTH_DOWN);
	assert_int_equal(h.fail_streak, 1);
}

static void test_fall(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	feed(&h, true);
	for (int i = 1; i < FALL; i++) {
		assert_false(feed(&h, false));
		assert_int_equal(h.health, PROBE_HEALTH_UP);
	}
	assert_true(feed(&h, false)); /* the fall-th failure in a row */
	assert_int_equal(h.health, PROBE_HEALTH_DOWN);
	assert_false(feed(&h, false)); /* no second transition */
	assert_int_equal(h.health, PROBE_HEALTH_DOWN);
}

static void test_fall_needs_failures_in_a_row(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	feed(&h, true);
	for (int round = 0; round < 10; round++) {
		for (int i = 1; i < FALL; i++)
			assert_false(feed(&h, false));
		assert_false(feed(&h, true)); /* a success breaks the streak */
		assert_int_equal(h.health, PROBE_HEALTH_UP);
		assert_int_equal(h.fail_streak, 0);
	}
}

static void test_rise(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	feed(&h, false);
	for (int i = 1; i < RISE; i++) {
		assert_false(feed(&h, true));
		assert_int_equal(h.health, PROBE_HEALTH_DOWN);
	}
	assert_true(feed(&h, true));
	assert_int_equal(h.health, PROBE_HEALTH_UP);
	assert_false(feed(&h, true));
}

static void test_rise_needs_successes_in_a_row(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	feed(&h, false);
	for (int round = 0; round < 10; round++) {
		for (int i = 1; i < RISE; i++)
			assert_false(feed(&h, true));
		assert_false(feed(&h, false));
		assert_int_equal(h.health, PROBE_HEALTH_DOWN);
		assert_int_equal(h.ok_streak, 0);
	}
}

static void test_rise_and_fall_of_one(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	assert_true(hysteresis_update(&h, true, true, 1, 1));
	assert_true(hysteresis_update(&h, false, true, 1, 1));
	assert_int_equal(h.health, PROBE_HEALTH_DOWN);
	assert_true(hysteresis_update(&h, true, true, 1, 1));
	assert_int_equal(h.health, PROBE_HEALTH_UP);
}

static void test_start_period_keeps_pending(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	for (int i = 0; i < 10; i++) {
		assert_false(hysteresis_update(&h, false, false, RISE, FALL));
		assert_int_equal(h.health, PROBE_HEALTH_PENDING);
		assert_int_equal(h.fail_streak, 0);
	}
	/* The first counted result still decides at once. */
	assert_true(hysteresis_update(&h, true, false, RISE, FALL));
	assert_int_equal(h.health, PROBE_HEALTH_UP);
}

static void test_start_period_does_not_break_success_streak(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	assert_true(hysteresis_update(&h, false, true, RISE, FALL)); /* DOWN */
	assert_false(hysteresis_update(&h, true, false, RISE, FALL));
	assert_int_equal(h.ok_streak, 1);
	assert_false(hysteresis_update(&h, false, false, RISE, FALL)); /* not counted */
	assert_int_equal(h.ok_streak, 1);
	assert_int_equal(h.health, PROBE_HEALTH_DOWN);
	assert_true(hysteresis_update(&h, true, false, RISE, FALL)); /* 2 in a row */
	assert_int_equal(h.health, PROBE_HEALTH_UP);
}

static void test_uncounted_failure_never_takes_down(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	feed(&h, true);
	for (int i = 0; i < 3 * FALL; i++)
		assert_false(hysteresis_update(&h, false, false, RISE, FALL));
	assert_int_equal(h.health, PROBE_HEALTH_UP);
	assert_int_equal(h.fail_streak, 0);
}

static void test_streaks_are_capped(void **state)
{
	struct probe_hysteresis h = {.health = PROBE_HEALTH_PENDING};

	(void)state;
	for (int i = 0; i < 1000; i++)
		feed(&h, true);
	assert_int_equal(h.ok_streak, RISE);
	assert_int_equal(h.fail_streak, 0);
	for (int i = 0; i < 1000; i++)
		feed(&h, false);
	assert_int_equal(h.fail_streak, FALL);
	assert_int_equal(h.ok_streak, 0);
	assert_int_equal(h.health, PROBE_HEALTH_DOWN);
	/* A capped streak does not shorten the way back. */
	assert_false(feed(&h, true));
	assert_true(feed(&h, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_health_strings),
	        cmocka_unit_test(test_first_success_is_up_at_once),
	        cmocka_unit_test(test_first_failure_is_down_at_once),
	        cmocka_unit_test(test_fall),
	        cmocka_unit_test(test_fall_needs_failures_in_a_row),
	        cmocka_unit_test(test_rise),
	        cmocka_unit_test(test_rise_needs_successes_in_a_row),
	        cmocka_unit_test(test_rise_and_fall_of_one),
	        cmocka_unit_test(test_start_period_keeps_pending),
	        cmocka_unit_test(test_start_period_does_not_break_success_streak),
	        cmocka_unit_test(test_uncounted_failure_never_takes_down),
	        cmocka_unit_test(test_streaks_are_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
