/* test_duration.c - durations: an integer and a unit, nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "lib/duration.h"

static void assert_parses(const char *text, int64_t want)
{
	struct wd_err err = {0};
	int64_t ms = -1;

	assert_int_equal(duration_parse(text, &ms, &err), 0);
	assert_int_equal(ms, want);
}

/* Fails, and the message contains `needle`. */
static void assert_rejects(const char *text, const char *needle)
{
	struct wd_err err = {0};
	int64_t ms = 42;

	assert_int_equal(duration_parse(text, &ms, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", text ? text : "(null)", err.msg, needle);
	assert_null(strchr(err.msg, '\n'));
}

static void test_good(void **unused)
{
	(void)unused;
	assert_parses("0ms", 0);
	assert_parses("0s", 0);
	assert_parses("250ms", 250);
	assert_parses("5s", 5000);
	assert_parses("2m", 120000);
	assert_parses("1h", 3600000);
	assert_parses("24h", DURATION_MAX_MS);
	assert_parses("1440m", DURATION_MAX_MS);
	assert_parses("86400000ms", DURATION_MAX_MS);
	assert_parses("007s", 7000);
}

static void test_bad(void **unused)
{
	(void)unused;
	assert_rejects(NULL, "empty");
	assert_rejects("", "empty");
	assert_rejects("nope", "bad duration 'nope' (want an integer and a unit");
	assert_rejects("s", "bad duration 's'");
	assert_rejects("5", "missing unit");
	assert_rejects("5d", "unknown unit 'd'");
	assert_rejects("5S", "unknown unit 'S'");
	assert_rejects("5sec", "unknown unit 'sec'");
	assert_rejects("5ms5", "unknown unit");
	assert_rejects("-5s", "no sign");
	assert_rejects("+5s", "no sign");
	assert_rejects("1.5s", "no fractions");
	assert_rejects("1,5s", "no fractions");
	assert_rejects(" 5s", "no spaces");
	assert_rejects("5s ", "no spaces");
	assert_rejects("5 s", "no spaces");
	assert_rejects("5s\n", "no spaces");
	assert_rejects("24h1ms", "unknown unit");
	assert_rejects("25h", "more than 24h");
	assert_rejects("86400001ms", "more than 24h");
	assert_rejects("9223372036854775807ms", "more than 24h");
	assert_rejects("99999999999999999999999999999h", "more than 24h");
}

static void test_error_quotes_cut_and_printable(void **unused)
{
	char long_text[300];
	struct wd_err err = {0};
	int64_t ms;

	(void)unused;
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_int_equal(duration_parse(long_text, &ms, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "xxx...'"));
	assert_true(strlen(err.msg) < sizeof(err.msg));

	assert_int_equal(duration_parse("5\x01q", &ms, &err), -EINVAL);
	for (const char *p = err.msg; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void test_format(void **unused)
{
	char buf[32];

	(void)unused;
	duration_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	duration_format(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	duration_format(5000, buf, sizeof(buf));
	assert_string_equal(buf, "5s");
	duration_format(120000, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
	duration_format(90000, buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	duration_format(3600000, buf, sizeof(buf));
	assert_string_equal(buf, "1h");
	duration_format(DURATION_MAX_MS, buf, sizeof(buf));
	assert_string_equal(buf, "24h");
	duration_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "-1ms");
	duration_format(5000, buf, 2);
	assert_string_equal(buf, "5");
}

static void test_round_trip(void **unused)
{
	static const int64_t values[] = {1,     999,     1000,    1001,    59999,          60000,
	                                 61000, 3599999, 3600000, 7200000, DURATION_MAX_MS};
	char buf[32];

	(void)unused;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int64_t ms;

		duration_format(values[i], buf, sizeof(buf));
		assert_int_equal(duration_parse(buf, &ms, NULL), 0);
		assert_int_equal(ms, values[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good),
	        cmocka_unit_test(test_bad),
	        cmocka_unit_test(test_error_quotes_cut_and_printable),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
