/* test_spec.c - probe definitions: `<uri>#<options>`, one option at a time, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probes/spec.h"

static struct probe_config *spec_ok(const char *spec)
{
	struct probe_config *cfg = calloc(1, sizeof(*cfg));
	struct wd_err err = {0};

	assert_non_null(cfg);
	if (probe_spec_parse(cfg, "p", spec, &err) != 0)
		fail_msg("'%s' rejected: %s", spec, err.msg);
	if (probe_config_validate(cfg, &err) != 0)
		fail_msg("'%s' invalid: %s", spec, err.msg);
	return cfg;
}

/* probe_spec_parse fails with `needle` in the message, and never `secret`. */
static void spec_bad(const char *spec, const char *needle, const char *secret)
{
	struct probe_config *cfg = calloc(1, sizeof(*cfg));
	struct wd_err err = {0};

	assert_non_null(cfg);
	assert_int_equal(probe_spec_parse(cfg, "p", spec, &err), -EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", spec ? spec : "(null)", err.msg, needle);
	if (secret != NULL && strstr(err.msg, secret) != NULL)
		fail_msg("'%s': message '%s' leaks '%s'", spec, err.msg, secret);
	assert_null(strchr(err.msg, '\n'));
	free(cfg);
}

/* Parses, but probe_config_validate fails with exactly `want`. */
static void spec_invalid(const char *spec, const char *want)
{
	struct probe_config *cfg = calloc(1, sizeof(*cfg));
	struct wd_err err = {0};

	assert_non_null(cfg);
	if (probe_spec_parse(cfg, "p", spec, &err) != 0)
		fail_msg("'%s' rejected: %s", spec, err.msg);
	assert_int_equal(probe_config_validate(cfg, &err), -EINVAL);
	assert_string_equal(err.msg, want);
	free(cfg);
}

static void test_names(void **unused)
{
	struct wd_err err = {0};

	(void)unused;
	assert_int_equal(probe_name_check("db", &err), 0);
	assert_int_equal(probe_name_check("a_b_9", &err), 0);
	assert_int_equal(probe_name_check("abcdefghijklmnopqrstuvwxyz012345", &err), 0);
	assert_int_equal(probe_name_check("abcdefghijklmnopqrstuvwxyz0123456", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer than 32"));
	assert_int_equal(probe_name_check("", &err), -EINVAL);
	assert_int_equal(probe_name_check(NULL, &err), -EINVAL);
	assert_int_equal(probe_name_check("DB", &err), -EINVAL);
	assert_int_equal(probe_name_check("d-b", &err), -EINVAL);
	assert_string_equal(err.msg, "bad probe name 'd-b' (want a-z, 0-9 and _ only)");
	assert_int_equal(probe_name_check("d\nb", &err), -EINVAL);
	assert_null(strchr(err.msg, '\n'));
}

static void test_defaults_per_kind(void **unused)
{
	struct probe_config *cfg;

	(void)unused;
	cfg = spec_ok("tcp://h:5432");
	assert_int_equal(cfg->kind, PROBE_KIND_TCP);
	assert_string_equal(cfg->name, "p");
	assert_string_equal(cfg->uri, "tcp://h:5432");
	assert_string_equal(cfg->target, "tcp://h:5432");
	assert_string_equal(cfg->parsed.host, "h");
	assert_int_equal(cfg->parsed.port, 5432);
	assert_true(cfg->critical);
	assert_int_equal(cfg->interval_ms, 5000);
	assert_int_equal(cfg->timeout_ms, 2000);
	assert_int_equal(cfg->start_period_ms, 0);
	assert_int_equal(cfg->rise, 2);
	assert_int_equal(cfg->fall, 3);
	assert_int_equal(cfg->expect_role, EXPECT_ROLE_WRITER_WHEN_ACTIVE);
	assert_int_equal(cfg->expect_status_min, 200);
	assert_int_equal(cfg->expect_status_max, 399);
	assert_int_equal(cfg->max_lag_ms, -1);
	assert_string_equal(cfg->password, "");
	free(cfg);

	cfg = spec_ok("postgres://h/db");
	assert_int_equal(cfg->kind, PROBE_KIND_POSTGRES);
	assert_string_equal(cfg->parsed.host, ""); /* libpq parses its own */
	free(cfg);
	cfg = spec_ok("postgresql://h/db");
	assert_int_equal(cfg->kind, PROBE_KIND_POSTGRES);
	free(cfg);
	cfg = spec_ok("redis://h:6379");
	assert_int_equal(cfg->kind, PROBE_KIND_REDIS);
	free(cfg);
	cfg = spec_ok("RedisS://h:6379");
	assert_int_equal(cfg->kind, PROBE_KIND_REDIS);
	assert_string_equal(cfg->parsed.scheme, "rediss");
	free(cfg);
	cfg = spec_ok("http://h/livez");
	assert_int_equal(cfg->kind, PROBE_KIND_HTTP);
	free(cfg);
	cfg = spec_ok("https://h/livez#");
	assert_int_equal(cfg->kind, PROBE_KIND_HTTP);
	assert_string_equal(cfg->uri, "https://h/livez");
	free(cfg);
}

static void test_all_options_postgres(void **unused)
{
	struct probe_config *cfg;

	(void)unused;
	cfg = spec_ok("postgres://app:s3cret@h1:5432,h2:5433/db?sslmode=require&password=x"
	              "#interval=10s&timeout=1500ms&rise=1&fall=100&critical=false"
	              "&start_period=2m&expect=reader&max_lag=30s");
	assert_string_equal(cfg->uri,
	                    "postgres://app:s3cret@h1:5432,h2:5433/db?sslmode=require&password=x");
	assert_string_equal(cfg->target,
	                    "postgres://app:***@h1:5432,h2:5433/db?sslmode=require&password=***");
	assert_null(strstr(cfg->target, "s3cret"));
	assert_int_equal(cfg->interval_ms, 10000);
	assert_int_equal(cfg->timeout_ms, 1500);
	assert_int_equal(cfg->rise, 1);
	assert_int_equal(cfg->fall, 100);
	assert_false(cfg->critical);
	assert_int_equal(cfg->start_period_ms, 120000);
	assert_int_equal(cfg->expect_role, EXPECT_ROLE_READER);
	assert_int_equal(cfg->max_lag_ms, 30000);
	free(cfg);

	cfg = spec_ok("postgres://h/db#expect=writer");
	assert_int_equal(cfg->expect_role, EXPECT_ROLE_WRITER);
	free(cfg);
	cfg = spec_ok("postgres://h/db#expect=any&critical=true");
	assert_int_equal(cfg->expect_role, EXPECT_ROLE_ANY);
	assert_true(cfg->critical);
	free(cfg);
	cfg = spec_ok("postgres://h/db#expect=writer-when-active&max_lag=0s");
	assert_int_equal(cfg->expect_role, EXPECT_ROLE_WRITER_WHEN_ACTIVE);
	assert_int_equal(cfg->max_lag_ms, 0);
	free(cfg);
}

static void test_http_expect(void **unused)
{
	struct probe_config *cfg;

	(void)unused;
	cfg = spec_ok("http://h/#expect=200");
	assert_int_equal(cfg->expect_status_min, 200);
	assert_int_equal(cfg->expect_status_max, 200);
	free(cfg);
	cfg = spec_ok("http://h/#expect=200-299");
	assert_int_equal(cfg->expect_status_min, 200);
	assert_int_equal(cfg->expect_status_max, 299);
	free(cfg);
	cfg = spec_ok("http://h/#expect=100-599");
	free(cfg);
	cfg = spec_ok("http://h/#expect=404-404");
	free(cfg);
	spec_bad("http://h/#expect=99", "option expect: bad status range '99'", NULL);
	spec_bad("http://h/#expect=600", "bad status range", NULL);
	spec_bad("http://h/#expect=099", "bad status range", NULL);
	spec_bad("http://h/#expect=2xx", "bad status range", NULL);
	spec_bad("http://h/#expect=200-", "bad status range", NULL);
	spec_bad("http://h/#expect=-299", "bad status range", NULL);
	spec_bad("http://h/#expect=200-2999", "bad status range", NULL);
	spec_bad("http://h/#expect=200-600", "bad status range", NULL);
	spec_bad("http://h/#expect=200,300", "bad status range", NULL);
	spec_bad("http://h/#expect=writer", "bad status range", NULL);
	spec_bad("http://h/#expect=300-200", "300 is more than 200", NULL);
	spec_bad("postgres://h/db#expect=200", "option expect: bad role '200'", NULL);
	spec_bad("postgres://h/db#expect=Writer", "bad role", NULL);
}

static void test_options_that_do_not_apply(void **unused)
{
	(void)unused;
	spec_bad("tcp://h:1#expect=200", "option expect does not apply to tcp probes", NULL);
	spec_bad("redis://h:1#expect=writer", "option expect does not apply to redis probes", NULL);
	spec_bad("http://h/#max_lag=5s", "option max_lag does not apply to http probes", NULL);
	spec_bad("redis://h:1#max_lag=5s", "option max_lag does not apply to redis probes", NULL);
	spec_bad("tcp://h:1#max_lag=5s", "only to postgres", NULL);
}

static void test_bad_options(void **unused)
{
	(void)unused;
	spec_bad("tcp://h:1#interval=nope",
	         "option interval: bad duration 'nope' (want an integer and a unit: 250ms, 5s, 2m)",
	         NULL);
	spec_bad("tcp://h:1#timeout=1.5s", "option timeout: bad duration '1.5s': no fractions",
	         NULL);
	spec_bad("tcp://h:1#start_period=-1s", "option start_period: bad duration", NULL);
	/* Fragment text is numbered, never quoted: it may be the tail of a password. */
	spec_bad("tcp://h:1#intervall=5s", "option 1: unknown option (did you mean interval?)",
	         NULL);
	spec_bad("tcp://h:1#interval=5s&interval=6s", "option interval given twice", NULL);
	spec_bad("tcp://h:1#interval=", "option interval: empty value", NULL);
	spec_bad("tcp://h:1#interval", "option 1: want key=value", NULL);
	spec_bad("tcp://h:1#interval=5s&", "empty option", NULL);
	spec_bad("tcp://h:1#&interval=5s", "empty option", NULL);
	spec_bad("tcp://h:1#interval=5s&&rise=2", "empty option", NULL);
	spec_bad("tcp://h:1#=5s", "option 1: unknown option", NULL);
	spec_bad("tcp://h:1#rise=0", "option rise: want an integer from 1 to 100, got '0'", NULL);
	spec_bad("tcp://h:1#rise=101", "option rise: want an integer from 1 to 100", NULL);
	spec_bad("tcp://h:1#fall=-1", "option fall: want an integer", NULL);
	spec_bad("tcp://h:1#fall=2x", "option fall: want an integer", NULL);
	spec_bad("tcp://h:1#fall=99999999999999999999999", "option fall: want an integer", NULL);
	spec_bad("tcp://h:1#critical=yes", "option critical: want true or false", NULL);
	spec_bad("tcp://h:1#critical=TRUE", "option critical: want true or false", NULL);
	spec_bad("postgres://h/db#max_lag=forever", "option max_lag: bad duration", NULL);
	spec_bad("tcp://h:1#interval=5s#timeout=1s", "option interval: bad duration", NULL);
}

static void test_bad_uris(void **unused)
{
	char long_spec[WD_URI_MAX + WD_FRAGMENT_MAX + 64];

	(void)unused;
	spec_bad("ftp://h/x", "unknown probe kind 'ftp'", NULL);
	spec_bad("FTP://h/x", "unknown probe kind 'FTP'", NULL);
	spec_bad("averyveryveryverylongscheme://h", "unknown probe kind", NULL);
	spec_bad("h:1", "not a probe URI", NULL);
	spec_bad("S3cr3t://h", "not a probe URI", "S3cr3t");
	spec_bad("S3cr3t:v@lue", "not a probe URI", "S3cr3t");
	spec_bad("", "empty probe definition", NULL);
	spec_bad(NULL, "empty probe definition", NULL);
	spec_bad("#interval=5s", "empty URI", NULL);
	spec_bad("//h:1", "no scheme", NULL);
	spec_bad("tcp://h:99999", "bad URI: port out of range", NULL);
	spec_bad("tcp://h :1", "bad URI", NULL);
	spec_bad("redis://u:hunter2/x@h:6379", "bad URI", "hunter2");
	spec_bad("redis://u:hun#ter2@h:6379", "percent-encoded as %23", "ter2");
	spec_bad("postgres:host=h", "want postgres://", NULL);
	spec_bad("POSTGRES://h/db", "lowercase", NULL);
	spec_bad("postgres://u:hunter2@[::1/db", "bad URI", "hunter2");
	spec_bad("postgres://u:hun%zzter2@h/db", "invalid percent-encoded token", "hun");
	spec_bad("postgres://u:hunter2@h/db?nosuch=1", "invalid URI query parameter: \"nosuch\"",
	         "hunter2");
	spec_bad("postgres://u:hunter2@h/db?a%00=1", "bad URI", "hunter2");
	spec_bad("postgres://h/db x", "space", NULL);
	spec_bad("postgres://h/d\xc3\xa9", "non-ASCII", NULL);

	memset(long_spec, 'a', sizeof(long_spec));
	memcpy(long_spec, "tcp://", 6);
	long_spec[WD_URI_MAX + 1] = '\0';
	spec_bad(long_spec, "URI longer than 2048", NULL);
	memcpy(long_spec, "tcp://h:1#interval=5s&", 22);
	long_spec[22 + WD_FRAGMENT_MAX] = '\0';
	spec_bad(long_spec, "options longer than 1024", NULL);
}

static void test_bad_name(void **unused)
{
	struct probe_config cfg;
	struct wd_err err = {0};

	(void)unused;
	assert_int_equal(probe_spec_parse(&cfg, "Bad", "tcp://h:1", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bad probe name"));
}

static void test_validate(void **unused)
{
	struct probe_config *cfg;

	(void)unused;
	spec_invalid("tcp://h:1#timeout=5s", "timeout 5s must be less than interval 5s");
	spec_invalid("tcp://h:1#interval=1s&timeout=2s",
	             "timeout 2s must be less than interval 1s");
	spec_invalid("tcp://h:1#interval=5ms&timeout=1ms",
	             "timeout 1ms is too short (at least 10ms)");
	spec_invalid("tcp://h:1#interval=61m", "interval 61m is too long (at most 1h)");
	cfg = spec_ok("tcp://h:1#interval=1h&timeout=10ms");
	free(cfg);
	cfg = spec_ok("tcp://h:1#interval=11ms&timeout=10ms");
	free(cfg);
}

static void test_validate_direct_fill(void **unused)
{
	struct probe_config cfg;
	struct wd_err err = {0};

	(void)unused;
	probe_config_defaults(&cfg, "x");
	assert_int_equal(probe_config_validate(&cfg, &err), -EINVAL);
	assert_string_equal(err.msg, "no URI");

	assert_int_equal(probe_config_set_uri(&cfg, "tcp://h:1", &err), 0);
	assert_int_equal(probe_config_validate(&cfg, &err), 0);
	cfg.max_lag_ms = 5000;
	assert_int_equal(probe_config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "max_lag does not apply to tcp"));
	cfg.max_lag_ms = -1;
	cfg.expect_status_max = 299;
	assert_int_equal(probe_config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "only to http"));
	cfg.expect_status_max = 399;
	cfg.expect_role = EXPECT_ROLE_READER;
	assert_int_equal(probe_config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "expect=reader does not apply to tcp"));
	cfg.expect_role = EXPECT_ROLE_WRITER_WHEN_ACTIVE;
	cfg.rise = 0;
	assert_int_equal(probe_config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "rise 0"));
}

static void test_set_option_one_by_one(void **unused)
{
	struct probe_config cfg;
	struct wd_err err = {0};

	(void)unused;
	probe_config_defaults(&cfg, "web");
	/* Kind-specific options need the kind first. */
	assert_int_equal(probe_config_set_option(&cfg, "expect", "200", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "set the URI first"));
	assert_int_equal(probe_config_set_option(&cfg, "interval", "10s", &err), 0);
	assert_int_equal(probe_config_set_uri(&cfg, "http://h/x#y", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'#'"));
	assert_int_equal(probe_config_set_uri(&cfg, "http://h/x", &err), 0);
	assert_int_equal(probe_config_set_option(&cfg, "expect", "204", &err), 0);
	assert_int_equal(cfg.expect_status_min, 204);
	assert_int_equal(cfg.interval_ms, 10000);
	assert_int_equal(probe_config_set_option(&cfg, "nope", "1", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown option 'nope'"));
	assert_int_equal(probe_config_set_option(&cfg, "rise", NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "option rise: empty value");
}

static void test_option_forms_and_text(void **unused)
{
	struct probe_config *cfg;
	struct probe_config *copy;
	struct wd_err err = {0};
	char text[64];
	size_t count = 0;

	(void)unused;
	assert_int_equal(probe_option_form("critical"), PROBE_OPTION_BOOL);
	assert_int_equal(probe_option_form("rise"), PROBE_OPTION_INTEGER);
	assert_int_equal(probe_option_form("fall"), PROBE_OPTION_INTEGER);
	assert_int_equal(probe_option_form("interval"), PROBE_OPTION_STRING);
	assert_int_equal(probe_option_form("expect"), PROBE_OPTION_STRING);
	assert_int_equal(probe_option_form("uri"), PROBE_OPTION_UNKNOWN);
	while (probe_option_name(count) != NULL)
		count++;
	assert_int_equal(count, 8);

	/* Every option's text form reads back to the same value. */
	cfg = spec_ok("postgres://h/db#interval=90s&timeout=1500ms&rise=4&fall=7&critical=false"
	              "&start_period=1m&expect=any&max_lag=2m");
	copy = calloc(1, sizeof(*copy));
	assert_non_null(copy);
	probe_config_defaults(copy, "p");
	assert_int_equal(probe_config_set_uri(copy, cfg->uri, &err), 0);
	for (size_t i = 0; i < count; i++) {
		const char *key = probe_option_name(i);

		assert_int_equal(probe_config_option_text(cfg, key, text, sizeof(text)), 0);
		assert_int_equal(probe_config_set_option(copy, key, text, &err), 0);
	}
	assert_int_equal(memcmp(cfg, copy, sizeof(*cfg)), 0);
	assert_int_equal(probe_config_option_text(cfg, "interval", text, sizeof(text)), 0);
	assert_string_equal(text, "90s");
	assert_int_equal(probe_config_option_text(cfg, "critical", text, sizeof(text)), 0);
	assert_string_equal(text, "false");
	free(cfg);
	free(copy);

	cfg = spec_ok("http://h/#expect=200-204");
	assert_int_equal(probe_config_option_text(cfg, "expect", text, sizeof(text)), 0);
	assert_string_equal(text, "200-204");
	assert_int_equal(probe_config_option_text(cfg, "max_lag", text, sizeof(text)), -ENOENT);
	assert_int_equal(probe_config_option_text(cfg, "bogus", text, sizeof(text)), -ENOENT);
	free(cfg);
	cfg = spec_ok("postgres://h/db");
	assert_int_equal(probe_config_option_text(cfg, "max_lag", text, sizeof(text)), -ENOENT);
	assert_int_equal(probe_config_option_text(cfg, "expect", text, sizeof(text)), 0);
	assert_string_equal(text, "writer-when-active");
	free(cfg);
	cfg = spec_ok("tcp://h:1");
	assert_int_equal(probe_config_option_text(cfg, "expect", text, sizeof(text)), -ENOENT);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_defaults_per_kind),
	        cmocka_unit_test(test_all_options_postgres),
	        cmocka_unit_test(test_http_expect),
	        cmocka_unit_test(test_options_that_do_not_apply),
	        cmocka_unit_test(test_bad_options),
	        cmocka_unit_test(test_bad_uris),
	        cmocka_unit_test(test_bad_name),
	        cmocka_unit_test(test_validate),
	        cmocka_unit_test(test_validate_direct_fill),
	        cmocka_unit_test(test_set_option_one_by_one),
	        cmocka_unit_test(test_option_forms_and_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
