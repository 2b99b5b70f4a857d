/* test_flag_source.c - WARDEN_FLAG source lists: forms, options and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fencing/flag_source.h"

static struct flag_source sources[FENCE_SOURCES_MAX];

static void test_forms(void **unused)
{
	struct wd_err err = {0};

	(void)unused;
	assert_int_equal(flag_source_parse_list("ssm:/platform/prod/active-region", sources, &err),
	                 1);
	assert_int_equal(sources[0].kind, FLAG_SOURCE_SSM);
	assert_string_equal(sources[0].name, "/platform/prod/active-region");
	assert_string_equal(sources[0].region, "");
	assert_string_equal(sources[0].endpoint, "");

	assert_int_equal(
	        flag_source_parse_list("ssm:/flag?region=us-west-2&endpoint=http://127.0.0.1:4566, "
	                               "file:/run/warden/active-region",
	                               sources, &err),
	        2);
	assert_string_equal(sources[0].region, "us-west-2");
	assert_string_equal(sources[0].endpoint, "http://127.0.0.1:4566");
	assert_int_equal(sources[1].kind, FLAG_SOURCE_FILE);
	assert_string_equal(sources[1].path, "/run/warden/active-region");
	assert_string_equal(sources[1].text, "file:/run/warden/active-region");

	assert_int_equal(flag_source_parse_list("ssm:arn:aws:ssm:us-east-1:123456789012:parameter/"
	                                        "flag",
	                                        sources, &err),
	                 1);
}

static void test_errors_name_the_problem(void **unused)
{
	static const struct {
		const char *text;
		const char *says;
	} bad[] = {
	        {"", "source 1 is empty"},
	        {"ssm:/a,,file:/b", "source 2 is empty"},
	        {"ssm:/a,", "source 2 is empty"},
	        {"s3://bucket/flag", "unknown source"},
	        {"file:relative/path", "absolute path"},
	        {"ssm:", "no parameter name"},
	        {"ssm:/a b", "bad character"},
	        {"ssm:/a?region=US", "region"},
	        {"ssm:/a?region=garbage", "ssm: region"},
	        {"ssm:/a?region=us-east", "ssm: region"},
	        {"ssm:/a?region", "an option without a value"},
	        {"ssm:/a?zone=x", "unknown option"},
	        {"ssm:/a?region=us-east-1&region=us-west-2", "given twice"},
	        {"ssm:/a?endpoint=ftp://x", "http:// or https://"},
	        {"file:/a,file:/a", "repeats source 1"},
	        {"file:/1,file:/2,file:/3,file:/4,file:/5,file:/6,file:/7,file:/8,file:/9",
	         "more than 8"},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wd_err err = {0};

		if (flag_source_parse_list(bad[i].text, sources, &err) >= 0)
			fail_msg("accepted '%s'", bad[i].text);
		if (strstr(err.msg, bad[i].says) == NULL)
			fail_msg("'%s': error '%s' does not say '%s'", bad[i].text, err.msg,
			         bad[i].says);
	}
}

/* No error and no display text ever holds an endpoint's user info. */
static void test_never_echoes_user_info(void **unused)
{
	static const char *const bad[] = {
	        "ssm:/p?endpoint=http://user:S3cr3t@127.0.0.1:4566",
	        "ssm:/p?endpoint=https://S3cr3t@vpce.example.com",
	        "ssm:/p?region=us-east-1&endpoint=http://u:S3cr3t@h:1&bogus=1",
	        "https://u:S3cr3t@ssm.us-east-1.amazonaws.com/p",
	        "ssm:/p?http://u:S3cr3t@h",
	        "S3cr3t:v@lue",
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wd_err err = {0};

		if (flag_source_parse_list(bad[i], sources, &err) >= 0)
			fail_msg("accepted '%s'", bad[i]);
		if (strstr(err.msg, "S3cr3t") != NULL)
			fail_msg("'%s': error '%s' echoes the secret", bad[i], err.msg);
	}
}

/* An endpoint takes no user or password: refused at load, as the reader would. */
static void test_endpoint_user_info_refused(void **unused)
{
	struct wd_err err = {0};

	(void)unused;
	assert_true(flag_source_parse_list("ssm:/p?endpoint=http://user:pw@127.0.0.1:4566", sources,
	                                   &err) < 0);
	assert_string_equal(err.msg, "source 1: ssm: endpoint: an endpoint URL takes no user or "
	                             "password");
}

/* The display text is computed once, here: what every printer shows. */
static void test_display_text(void **unused)
{
	struct wd_err err = {0};

	(void)unused;
	assert_int_equal(flag_source_parse_list("ssm:/a?endpoint=http://127.0.0.1:4566&region=eu-"
	                                        "central-2,file:/run/x",
	                                        sources, &err),
	                 2);
	assert_string_equal(sources[0].text,
	                    "ssm:/a?endpoint=http://127.0.0.1:4566&region=eu-central-2");
	assert_string_equal(sources[1].text, "file:/run/x");
}

static void test_overlong(void **unused)
{
	char *text = malloc(FLAG_LIST_MAX + 16);
	struct wd_err err = {0};

	(void)unused;
	memcpy(text, "ssm:/", 5);
	memset(text + 5, 'a', FLAG_LIST_MAX + 5);
	text[FLAG_LIST_MAX + 10] = '\0';
	assert_true(flag_source_parse_list(text, sources, &err) < 0);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_forms),
	        cmocka_unit_test(test_errors_name_the_problem),
	        cmocka_unit_test(test_overlong),
	        cmocka_unit_test(test_never_echoes_user_info),
	        cmocka_unit_test(test_endpoint_user_info_refused),
	        cmocka_unit_test(test_display_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
