/*
 * test_flag_loop.c - the readers' schedule: +-20 % jitter after an ordinary
 * read, full-jitter back-off after throttling or 5xx that never reads faster
 * than the interval and never slower than max(interval, ttl / 2) (DESIGN.md
 * "Knobs": readable again within half a TTL of the store's recovery).
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
		int64_t delay = flag_loop_delay_ms(5000, 30000, 0, randoms[i]);

		assert_true(delay >= 4000);
		assert_true(delay < 6000);
	}
	assert_int_equal(flag_loop_delay_ms(5000, 30000, 0, 0.0), 4000);
	assert_int_equal(flag_loop_delay_ms(5000, 30000, 0, 0.5), 5000);
}

static void test_backoff_never_faster_than_the_interval(void **unused)
{
	(void)unused;
	for (unsigned failures = 1; failures < 40; failures++) {
		for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); i++) {
			int64_t delay = flag_loop_delay_ms(5000, 30000, failures, randoms[i]);

			assert_true(delay >= 5000);
			assert_true(delay <= 15000); /* the cap: ttl / 2 */
		}
	}
	/* The ceiling doubles: interval x 2^failures, up to the cap. */
	assert_int_equal(flag_loop_delay_ms(5000, 30000, 1, 0.999999), 9999);
	assert_int_equal(flag_loop_delay_ms(5000, 30000, 2, 0.999999), 14999);
	assert_int_equal(flag_loop_delay_ms(5000, 30000, 30, 0.999999), 14999);
	assert_int_equal(flag_loop_delay_ms(5000, 120000, 3, 0.999999), 39999);
	assert_int_equal(flag_loop_delay_ms(5000, 120000, 30, 0.999999), 59999);
}

/* Whatever the knobs: interval <= delay <= max(interval, ttl / 2). */
static void test_backoff_cap_is_half_the_ttl(void **unused)
{
	static const int64_t intervals[] = {100, 1000, 5000, 9000, 15000, 20000, 3600000};
	static const int64_t ttls[] = {1000, 9000, 30000, 60000, 3600000};

	(void)unused;
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		for (size_t t = 0; t < sizeof(ttls) / sizeof(ttls[0]); t++) {
			int64_t cap = intervals[i] > ttls[t] / 2 ? intervals[i] : ttls[t] / 2;

			for (unsigned failures = 1; failures < 70; failures++) {
				for (size_t r = 0; r < sizeof(randoms) / sizeof(randoms[0]); r++) {
					int64_t delay = flag_loop_delay_ms(intervals[i], ttls[t],
					                                   failures, randoms[r]);

					if (delay < intervals[i] || delay > cap)
						fail_msg("interval %lld ttl %lld failures %u: "
						         "delay %lld outside [%lld, %lld]",
						         (long long)intervals[i],
						         (long long)ttls[t], failures,
						         (long long)delay, (long long)intervals[i],
						         (long long)cap);
				}
			}
		}
	}
	/* The default knobs: a store that recovered is read again within 15 s. */
	assert_int_equal(flag_loop_delay_ms(5000, 30000, 64, 0.999999), 14999);
}

static void test_cap_is_never_below_the_interval(void **unused)
{
	(void)unused;
	/* An interval longer than ttl / 2 is kept: never faster than it. */
	assert_int_equal(flag_loop_delay_ms(120000, 30000, 5, 0.0), 120000);
	assert_int_equal(flag_loop_delay_ms(120000, 30000, 5, 0.999999), 120000);
}

/* Every result has one label, the AWS outcomes' own where they are one. */
static void test_read_result_labels(void **state)
{
	(void)state;
	assert_string_equal(flag_read_result_str(FLAG_READ_OK), "ok");
	assert_string_equal(flag_read_result_str(FLAG_READ_NOT_FOUND), "not_found");
	assert_string_equal(flag_read_result_str((enum flag_read_result)AWS_THROTTLED),
	                    "throttled");
	assert_string_equal(flag_read_result_str(FLAG_READ_BAD_VALUE), "bad_value");
	assert_string_equal(flag_read_result_str(FLAG_READ_IO_ERROR), "io_error");
	assert_string_equal(flag_read_result_str(FLAG_READ_REGION_UNKNOWN), "region_unknown");
	assert_string_equal(flag_read_result_str(FLAG_READ_RESULT_COUNT), "unknown");
	for (int r = 0; r < FLAG_READ_RESULT_COUNT; r++)
		assert_string_not_equal(flag_read_result_str((enum flag_read_result)r), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jitter_is_plus_minus_20_percent),
	        cmocka_unit_test(test_backoff_never_faster_than_the_interval),
	        cmocka_unit_test(test_cap_is_never_below_the_interval),
	        cmocka_unit_test(test_read_result_labels),
	        cmocka_unit_test(test_backoff_cap_is_half_the_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
