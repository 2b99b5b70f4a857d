/* test_gate_args.c - `warden gate`: its arguments and the --grace check (gate/args.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "gate/gate.h"

/* ------------------------------------------------------------ arguments */

static int parse(int argc, char **argv, struct gate_options *opts, struct wd_err *err)
{
	memset(err, 0, sizeof(*err));
	return gate_parse_args(argc, argv, config_parse_listen, opts, err);
}

static void test_args_defaults(void **unused)
{
	char *argv[] = {"gate", "--", "worker", "--queue", "q1", NULL};
	struct gate_options opts;
	struct wd_err err;

	(void)unused;
	unsetenv("WARDEN_LISTEN");
	assert_int_equal(parse(5, argv, &opts, &err), 0);
	assert_string_equal(opts.singleton, "");
	assert_int_equal(opts.grace_ms, 10000);
	assert_int_equal(opts.poll_ms, 1000);
	assert_false(opts.once);
	assert_string_equal(opts.sidecar_url, "http://127.0.0.1:8089");
	assert_ptr_equal(opts.argv, &argv[2]);
	assert_string_equal(opts.argv[1], "--queue"); /* CMD's own options are its own */
	assert_null(opts.argv[3]);
}

static void test_args_all_forms(void **unused)
{
	char *argv[] = {"gate",         "--singleton",
	                "cron",         "--grace=5s",
	                "--sidecar",    "http://127.0.0.1:9000/",
	                "--poll=250ms", "--",
	                "cron",         NULL};
	char *argv2[] = {"gate", "--singleton=billing-v2_2",        "--grace", "0s", "--poll",
	                 "2s",   "--sidecar=https://sidecar.local", "--once",  "--", "run",
	                 NULL};
	struct gate_options opts;
	struct wd_err err;

	(void)unused;
	assert_int_equal(parse(9, argv, &opts, &err), 0);
	assert_string_equal(opts.singleton, "cron");
	assert_int_equal(opts.grace_ms, 5000);
	assert_int_equal(opts.poll_ms, 250);
	assert_string_equal(opts.sidecar_url, "http://127.0.0.1:9000"); /* trailing '/' dropped */
	assert_string_equal(opts.argv[0], "cron");
	assert_false(opts.once);

	assert_int_equal(parse(10, argv2, &opts, &err), 0);
	assert_true(opts.once);
	assert_string_equal(opts.argv[0], "run");
	assert_string_equal(opts.singleton, "billing-v2_2");
	assert_int_equal(opts.grace_ms, 0);
	assert_int_equal(opts.poll_ms, 2000);
	assert_string_equal(opts.sidecar_url, "https://sidecar.local");
}

static void test_args_listen_default(void **unused)
{
	char *argv[] = {"gate", "--", "x", NULL};
	struct gate_options opts;
	struct wd_err err;

	(void)unused;
	setenv("WARDEN_LISTEN", "0.0.0.0:9100", 1);
	assert_int_equal(parse(3, argv, &opts, &err), 0);
	assert_string_equal(opts.sidecar_url, "http://127.0.0.1:9100");
	setenv("WARDEN_LISTEN", "9200", 1);
	assert_int_equal(parse(3, argv, &opts, &err), 0);
	assert_string_equal(opts.sidecar_url, "http://127.0.0.1:9200");
	setenv("WARDEN_LISTEN", "[::]:9300", 1);
	assert_int_equal(parse(3, argv, &opts, &err), 0);
	assert_string_equal(opts.sidecar_url, "http://[::1]:9300");
	setenv("WARDEN_LISTEN", "10.1.2.3:9400", 1);
	assert_int_equal(parse(3, argv, &opts, &err), 0);
	assert_string_equal(opts.sidecar_url, "http://10.1.2.3:9400");
	setenv("WARDEN_LISTEN", "nonsense", 1);
	assert_int_equal(parse(3, argv, &opts, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "WARDEN_LISTEN"));
	/* --sidecar wins, and a bad WARDEN_LISTEN does not matter then. */
	{
		char *with[] = {"gate", "--sidecar", "http://h:1", "--", "x", NULL};

		assert_int_equal(parse(5, with, &opts, &err), 0);
		assert_string_equal(opts.sidecar_url, "http://h:1");
	}
	unsetenv("WARDEN_LISTEN");
}

struct bad_case {
	char *argv[8];
	const char *named; /* what the message must name */
};

static void test_args_rejected(void **unused)
{
	static struct bad_case cases[] = {
	        {{"gate", "worker"}, "--"},
	        {{"gate", "--grace", "5s", "worker"}, "--"},
	        {{"gate", "--grace", "5s"}, "missing '--'"},
	        {{"gate"}, "missing '--'"},
	        {{"gate", "--"}, "CMD"},
	        {{"gate", "--", ""}, "CMD"},
	        {{"gate", "--grace", "--", "x"}, "--grace needs a value"},
	        {{"gate", "--grace"}, "--grace needs a value"},
	        {{"gate", "--grace=", "--", "x"}, "--grace"},
	        {{"gate", "--grace", "5", "--", "x"}, "--grace"},
	        {{"gate", "--grace", "-1s", "--", "x"}, "--grace"},
	        {{"gate", "--grace", "25h", "--", "x"}, "--grace"},
	        {{"gate", "--poll", "10ms", "--", "x"}, "--poll"},
	        {{"gate", "--poll", "2m", "--", "x"}, "--poll"},
	        {{"gate", "--sidecar", "127.0.0.1:8089", "--", "x"}, "--sidecar"},
	        {{"gate", "--sidecar", "http://", "--", "x"}, "--sidecar"},
	        {{"gate", "--sidecar", "http://a b", "--", "x"}, "--sidecar"},
	        {{"gate", "--sidecar", "http://a/?q", "--", "x"}, "--sidecar"},
	        {{"gate", "--singleton", "", "--", "x"}, "--singleton"},
	        {{"gate", "--singleton", "a/b", "--", "x"}, "--singleton"},
	        {{"gate", "--singleton", "Cron", "--", "x"}, "--singleton"},
	        {{"gate", "--singleton",
	          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "--", "x"},
	         "--singleton"},
	        {{"gate", "--singleton", "a", "--singleton", "b", "--", "x"}, "twice"},
	        {{"gate", "--frob", "--", "x"}, "--frob"},
	        {{"gate", "--gracefully=1s", "--", "x"}, "--gracefully"},
	        {{"gate", "-g", "1s", "--", "x"}, "-g"},
	        {{"gate", "--once=yes", "--", "x"}, "--once takes no value"},
	        {{"gate", "--once", "--once", "--", "x"}, "twice"},
	        {{"gate", "--once"}, "missing '--'"},
	};
	struct gate_options opts;
	struct wd_err err;

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int argc = 0;

		while (cases[i].argv[argc] != NULL)
			argc++;
		if (parse(argc, cases[i].argv, &opts, &err) != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (strstr(err.msg, cases[i].named) == NULL)
			fail_msg("case %zu: '%s' does not name '%s'", i, err.msg, cases[i].named);
	}
}

/* ------------------------------------------------------------ --grace */

struct grace_case {
	int64_t grace_ms;
	int64_t ttl_ms;
	int64_t typical_ms;
	bool ok;
	const char *named; /* refused: the message names these */
	const char *numbers;
};

static void test_check_grace_table(void **unused)
{
	static const struct grace_case cases[] = {
	        {.grace_ms = 10000, .ttl_ms = 30000, .typical_ms = 8000, .ok = true},
	        {.grace_ms = 21999, .ttl_ms = 30000, .typical_ms = 8000, .ok = true},
	        {.grace_ms = 22000,
	         .ttl_ms = 30000,
	         .typical_ms = 8000,
	         .named = "--grace 22s",
	         .numbers = "ttl 30s - typical fence time 8s = 22s"},
	        {.grace_ms = 25000,
	         .ttl_ms = 30000,
	         .typical_ms = 8000,
	         .named = "--grace 25s",
	         .numbers = "22s"},
	        {.grace_ms = 0, .ttl_ms = 30000, .typical_ms = 8000, .ok = true},
	        {.grace_ms = 1000, .ttl_ms = 3000, .typical_ms = 740, .ok = true},
	        {.grace_ms = 2500,
	         .ttl_ms = 3000,
	         .typical_ms = 740,
	         .named = "--grace 2500ms",
	         .numbers = "= 2260ms"},
	        {.grace_ms = 0,
	         .ttl_ms = 3000,
	         .typical_ms = 3000,
	         .named = "--grace 0s",
	         .numbers = "= 0s"},
	        {.grace_ms = 3600000, .ttl_ms = 0, .typical_ms = 0, .ok = true}, /* no ttl_ms */
	        {.grace_ms = 29999, .ttl_ms = 30000, .typical_ms = 0, .ok = true},
	        {.grace_ms = 30000,
	         .ttl_ms = 30000,
	         .typical_ms = 0,
	         .named = "--grace 30s",
	         .numbers = "30s"},
	};
	struct gate_fence answer;
	struct wd_err err;

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct grace_case *c = &cases[i];
		int rc;

		memset(&answer, 0, sizeof(answer));
		memset(&err, 0, sizeof(err));
		answer.ttl_ms = c->ttl_ms;
		answer.typical_fence_ms = c->typical_ms;
		rc = gate_check_grace(c->grace_ms, &answer, &err);
		if (c->ok) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, err.msg);
			continue;
		}
		if (rc != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (strstr(err.msg, c->named) == NULL || strstr(err.msg, c->numbers) == NULL)
			fail_msg("case %zu: '%s' lacks '%s' or '%s'", i, err.msg, c->named,
			         c->numbers);
		assert_null(strchr(err.msg, '\n'));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_args_defaults),       cmocka_unit_test(test_args_all_forms),
	        cmocka_unit_test(test_args_listen_default), cmocka_unit_test(test_args_rejected),
	        cmocka_unit_test(test_check_grace_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
