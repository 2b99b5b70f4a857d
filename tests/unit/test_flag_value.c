/* test_flag_value.c - the active-region flag's two forms, and hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fencing/flag_value.h"

static int parse(const char *text, struct flag_value *value)
{
	struct wd_err err = {0};
	int rc = flag_value_parse(text, strlen(text), value, &err);

	if (rc < 0)
		assert_true(err.msg[0] != '\0');
	return rc;
}

static void test_plain_region(void **unused)
{
	struct flag_value value;

	(void)unused;
	assert_int_equal(parse("us-east-1", &value), 0);
	assert_string_equal(value.active_region, "us-east-1");
	assert_false(value.has_epoch);
	assert_int_equal(parse("  eu-central-2\n", &value), 0);
	assert_string_equal(value.active_region, "eu-central-2");
	assert_int_equal(parse("us-gov-west-1", &value), 0);
	assert_int_equal(parse("ap-southeast-4", &value), 0);
	assert_int_equal(parse("cn-northwest-1", &value), 0);
	assert_int_equal(parse("us-isob-east-1", &value), 0);
}

/* The one validator, used by every region everywhere. */
static void test_region_check(void **unused)
{
	static const char *const good[] = {"us-east-1",  "us-gov-west-1", "eu-central-2",
	                                   "me-south-1", "il-central-1",  "ap-northeast-10"};
	static const char *const bad[] = {"garbage",   "us-east",    "US-EAST-1",   "us-east-1 ",
	                                  "us_east_1", "1us-east-1", "us-east-01a", "-us-east-1",
	                                  "",          "us-",        "aa-b-"};
	struct wd_err err;

	(void)unused;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (flag_region_check(good[i], &err) != 0)
			fail_msg("refused %s: %s", good[i], err.msg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (flag_region_check(bad[i], &err) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err.msg[0] != '\0');
	}
}

static void test_json(void **unused)
{
	struct flag_value value;

	(void)unused;
	assert_int_equal(parse("{\"active_region\":\"us-west-2\",\"epoch\":42}", &value), 0);
	assert_string_equal(value.active_region, "us-west-2");
	assert_true(value.has_epoch);
	assert_int_equal(value.epoch, 42);
	assert_int_equal(parse("{\"active_region\":\"us-west-2\"}\n", &value), 0);
	assert_false(value.has_epoch);
	/* Other keys are the orchestrator's notes: allowed, ignored. */
	assert_int_equal(
	        parse("{\"active_region\":\"us-west-2\",\"epoch\":0,\"by\":\"drill\"}", &value), 0);
	assert_int_equal(
	        parse("{\"active_region\":\"us-west-2\",\"epoch\":9007199254740991}", &value), 0);
}

static void test_rejected(void **unused)
{
	static const char *const bad[] = {
	        "",
	        "   \n",
	        "US-EAST-1",
	        "us-east-1;rm",
	        "us east 1",
	        "-us-east-1",
	        "us-east-1-",
	        "1us-east",
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 33 characters */
	        "{}",
	        "[\"us-east-1\"]",
	        "{\"active_region\":42}",
	        "{\"active_region\":\"\"}",
	        "{\"active_region\":\"us-east-1\",\"epoch\":-1}",
	        "{\"active_region\":\"us-east-1\",\"epoch\":1.5}",
	        "{\"active_region\":\"us-east-1\",\"epoch\":\"7\"}",
	        "{\"active_region\":\"us-east-1\",\"epoch\":9007199254740992}",
	        "{\"active_region\":\"us-east-1\",\"active_region\":\"us-west-2\"}",
	        "{\"active_region\":\"us-east-1\"",
	        "{\"active_region\":\"us\\u0000east\"}",
	        /* Lowercase words are not regions (DESIGN.md: ^[a-z]{2}(-[a-z]+)+-[0-9]+$). */
	        "garbage",
	        "us-east",
	        "useast-1",
	        "u-east-1",
	        "usa-east-1",
	        "us-east-1a",
	        "us--east-1",
	        "us-1",
	        "us-east1",
	        "us-east-1-",
	        "us-east-x1",
	        "{\"active_region\":\"garbage\",\"epoch\":3}",
	        "{\"active_region\":\"us-east\"}",
	};
	struct flag_value value;

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &value) == 0)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_nul_and_size(void **unused)
{
	struct flag_value value;
	char *big;

	(void)unused;
	assert_true(flag_value_parse("us-east-1\0x", 11, &value, NULL) < 0);
	big = malloc(FLAG_VALUE_MAX + 1);
	memset(big, ' ', FLAG_VALUE_MAX + 1);
	memcpy(big, "us-east-1", 9);
	assert_true(flag_value_parse(big, FLAG_VALUE_MAX + 1, &value, NULL) < 0);
	assert_int_equal(flag_value_parse(big, FLAG_VALUE_MAX, &value, NULL), 0);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_region), cmocka_unit_test(test_region_check),
	        cmocka_unit_test(test_json),         cmocka_unit_test(test_rejected),
	        cmocka_unit_test(test_nul_and_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
