/*
 * test_flag_loop.c - the readers' schedule: +-20 % jitter after an ordinary
 * read, full-jitter back-off after throttling or 5xx that never reads faster
 * than the interval and is capped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fencing/flag_loop.h"

static const double randoms[] = {0.0, 0.25, 0.5, 0.75, 0.999999};

static void test_jitter_is_plus_minus_20_percent(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); i++) {
		int64_t delay = flag_loop_delay_ms(5000, 0, randoms[i]);

		assert_true(delay >= 4000);
		assert_true(delay < 6000);
	}
	assert_int_equal(flag_loop_delay_ms(5000, 0, 0.0), 4000);
	assert_int_equal(flag_loop_delay_ms(5000, 0, 0.5), 5000);
}

static void test_backoff_never_faster_than_the_interval(void **unused)
{
	(void)unused;
	for (unsigned failures = 1; failures < 40; failures++) {
		for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); i++) {
			int64_t delay = flag_loop_delay_ms(5000, failures, randoms[i]);

			assert_true(delay >= 5000);
			assert_true(delay <= 60000); /* the cap */
		}
	}
	/* The ceiling doubles: interval x 2^failures, up to the cap. */
	assert_int_equal(flag_loop_delay_ms(5000, 1, 0.999999), 9999);
	assert_int_equal(flag_loop_delay_ms(5000, 2, 0.999999), 19999);
	assert_int_equal(flag_loop_delay_ms(5000, 30, 0.999999), 59999);
}

static void test_cap_is_never_below_the_interval(void **unused)
{
	(void)unused;
	/* An interval longer than the 60 s cap is kept: never faster than it. */
	assert_int_equal(flag_loop_delay_ms(120000, 5, 0.0), 120000);
	assert_int_equal(flag_loop_delay_ms(120000, 5, 0.999999), 120000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jitter_is_plus_minus_20_percent),
	        cmocka_unit_test(test_backoff_never_faster_than_the_interval),
	        cmocka_unit_test(test_cap_is_never_below_the_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
