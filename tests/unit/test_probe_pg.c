/*
 * test_probe_pg.c - the postgres probe and its connection (probes/pgconn.c)
 * without a server: validate(), the classification of libpq messages and
 * SQLSTATEs, message tidying and scrubbing, backoff, the role query, the
 * role/lag verdict, and one run against a unix socket that does not exist.
 *
 * The pure helpers come from probes/pgconn_internal.h and
 * probes/postgres_internal.h; the rest through probe_pg_ops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "net/uri.h"
#include "probes/pgconn_internal.h"
#include "probes/postgres.h"
#include "probes/postgres_internal.h"

static void config_for(struct probe_config *cfg, const char *uri, const char *password)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "db");
	cfg->kind = PROBE_KIND_POSTGRES;
	snprintf(cfg->uri, sizeof(cfg->uri), "%s", uri);
	uri_redact(cfg->uri, cfg->target, sizeof(cfg->target));
	snprintf(cfg->password, sizeof(cfg->password), "%s", password ? password : "");
	cfg->interval_ms = 5000;
	cfg->timeout_ms = 2000;
	cfg->rise = 2;
	cfg->fall = 3;
	cfg->expect_role = EXPECT_ROLE_WRITER_WHEN_ACTIVE;
	cfg->max_lag_ms = -1;
}

static int validate_uri(const char *uri, struct wd_err *err)
{
	struct probe_config cfg;

	config_for(&cfg, uri, NULL);
	memset(err, 0, sizeof(*err));
	return probe_pg_ops.validate(&cfg, err);
}

static void test_validate_good(void **unused)
{
	static const char *const good[] = {
	        "postgres://probe@127.0.0.1:5432/postgres",
	        "postgresql://probe:pw@db.example.com/app?sslmode=verify-full&application_name=x",
	        "postgres://[::1]:5433/db",
	        "postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write",
	        "postgresql://h1,h2,h3/db",
	        "postgresql:///db?host=/var/run/postgresql",
	        "postgres://",
	};
	struct wd_err err;

	(void)unused;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (validate_uri(good[i], &err) != 0)
			fail_msg("%s: %s", good[i], err.msg);
	}
}

static void test_validate_bad(void **unused)
{
	struct wd_err err;
	char many[WD_URI_MAX];
	char long_host[400];

	(void)unused;
	assert_int_equal(validate_uri("redis://h:6379", &err), -EINVAL);
	assert_int_equal(validate_uri("postgres://h/db?bogus_option=1", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bogus_option"));
	assert_int_equal(validate_uri("postgres://h:99999999999/db", &err), -EINVAL);
	assert_int_equal(validate_uri("postgres://h/db?port=abc", &err), -EINVAL);
	assert_int_equal(validate_uri("postgres://h:0/db", &err), -EINVAL);
	assert_int_equal(validate_uri("postgres://h1:1,h2:70000/db", &err), -EINVAL);
	assert_int_equal(validate_uri("postgresql://h1:1,h2:2,h3:3/db?port=1,2", &err), -EINVAL);

	/* A bad escape in the password: the message must not show it. */
	assert_int_equal(validate_uri("postgres://probe:Secr%zzet@h/db", &err), -EINVAL);
	assert_null(strstr(err.msg, "Secr"));
	assert_null(strstr(err.msg, "zzet"));

	snprintf(many, sizeof(many), "postgres://a,b,c,d,e,f,g,h,i/db");
	assert_int_equal(validate_uri(many, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "at most 8"));

	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	snprintf(many, sizeof(many), "postgres://%s/db", long_host);
	assert_int_equal(validate_uri(many, &err), -EINVAL);
}

static void test_validate_hides_password_option(void **unused)
{
	struct probe_config cfg;
	struct wd_err err = {0};

	(void)unused;
	/* A bad escape in the password query parameter. */
	config_for(&cfg, "postgres://h/db?password=Hunter%zz2", "Hunter");
	assert_int_equal(probe_pg_ops.validate(&cfg, &err), -EINVAL);
	assert_null(strstr(err.msg, "Hunter"));
}

static void test_tidy_message(void **unused)
{
	char out[WD_ERR_MSG_MAX];

	(void)unused;
	pgconn_tidy_message(
	        "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
	        "\tIs the server running on that host and accepting TCP/IP connections?\n",
	        out, sizeof(out));
	assert_string_equal(out, "Connection refused");

	pgconn_tidy_message(
	        "connection to server at \"a\" (10.0.0.1), port 5432 failed: Connection "
	        "refused\n\tIs the server running?\nconnection to server at \"b\" (10.0.0.2), "
	        "port 5432 failed: FATAL:  password authentication failed for user \"u\"\n",
	        out, sizeof(out));
	assert_string_equal(out, "Connection refused; FATAL: password authentication failed for "
	                         "user \"u\"");

	pgconn_tidy_message("server closed the connection unexpectedly\n\tThis probably means...\n",
	                    out, sizeof(out));
	assert_string_equal(out, "server closed the connection unexpectedly");

	pgconn_tidy_message(NULL, out, sizeof(out));
	assert_string_equal(out, "");

	/* Cut to fit, never overflowing. */
	pgconn_tidy_message("0123456789 0123456789", out, 8);
	assert_string_equal(out, "0123456");
}

static void test_redact(void **unused)
{
	char text[WD_ERR_MSG_MAX];

	(void)unused;
	snprintf(text, sizeof(text), "pw s3cret and s3cret again");
	pgconn_redact_secret(text, sizeof(text), "s3cret");
	assert_string_equal(text, "pw *** and *** again");

	snprintf(text, sizeof(text), "ab");
	pgconn_redact_secret(text, sizeof(text), "");
	assert_string_equal(text, "ab");

	snprintf(text, sizeof(text), "x aVeryLongSecretValue y");
	pgconn_redact_secret(text, sizeof(text), "aVeryLongSecretValue");
	assert_string_equal(text, "x *** y");

	/* A secret shorter than "***" in a full buffer: cut, never overflowed. */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	text[sizeof(text) - 2] = 'q';
	pgconn_redact_secret(text, sizeof(text), "q");
	assert_int_equal(strlen(text), sizeof(text) - 1);
	assert_null(strchr(text, 'q'));
	snprintf(text, sizeof(text), "q q q");
	pgconn_redact_secret(text, sizeof(text), "q");
	assert_string_equal(text, "*** *** ***");
	snprintf(text, sizeof(text), "abc");
	pgconn_redact_secret(text, 4, "b");
	assert_string_equal(text, "a**");

	snprintf(text, sizeof(text), "token: \"p\" \"\" \"q\"");
	pgconn_redact_quoted(text, sizeof(text), "");
	assert_string_equal(text, "token: \"***\" \"\" \"***\"");
	memset(text, 'x', sizeof(text) - 1);
	memcpy(text + sizeof(text) - 4, "\"p\"", 4);
	pgconn_redact_quoted(text, sizeof(text), "");
	assert_int_equal(strlen(text), sizeof(text) - 1);
	assert_null(strchr(text, 'p'));

	snprintf(text, sizeof(text), "invalid URI query parameter: \"bogus\" or \"p%%zz\"");
	pgconn_redact_quoted(text, sizeof(text), "postgres://u:***@h/db?bogus=1");
	assert_string_equal(text, "invalid URI query parameter: \"bogus\" or \"***\"");
}

static void test_classify_message(void **unused)
{
	static const struct {
		const char *msg;
		enum probe_outcome outcome;
	} cases[] = {
	        {"Connection refused", PROBE_REFUSED},
	        {"connection to server on socket \"/x/.s.PGSQL.5432\" failed: No such file or "
	         "directory",
	         PROBE_REFUSED},
	        {"FATAL:  password authentication failed for user \"probe\"", PROBE_AUTH},
	        {"FATAL:  no pg_hba.conf entry for host \"1.2.3.4\", user \"u\", database \"d\", "
	         "SSL "
	         "off",
	         PROBE_AUTH},
	        {"fe_sendauth: no password supplied", PROBE_AUTH},
	        {"FATAL:  role \"nobody\" does not exist", PROBE_AUTH},
	        {"FATAL:  database \"nope\" does not exist", PROBE_SERVER_ERROR},
	        {"SSL error: certificate verify failed", PROBE_TLS},
	        {"server does not support SSL, but SSL was required", PROBE_TLS},
	        {"server certificate for \"x\" does not match host name \"y\"", PROBE_TLS},
	        {"server closed the connection unexpectedly", PROBE_NETWORK},
	        {"could not receive data from server: Connection reset by peer", PROBE_NETWORK},
	        {"No route to host", PROBE_NETWORK},
	        {"could not translate host name \"x\" to address: Name or service not known",
	         PROBE_DNS},
	        {"expected authentication request from server, but received H", PROBE_BAD_REPLY},
	        {"received invalid response to SSL negotiation: H", PROBE_TLS},
	        {"FATAL:  the database system is starting up", PROBE_SERVER_ERROR},
	        {"FATAL:  sorry, too many clients already", PROBE_SERVER_ERROR},
	        {"something new", PROBE_NETWORK},
	        {NULL, PROBE_NETWORK},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum probe_outcome got = pgconn_classify_message(cases[i].msg);

		if (got != cases[i].outcome)
			fail_msg("\"%s\": got %s, want %s", cases[i].msg ? cases[i].msg : "(null)",
			         probe_outcome_str(got), probe_outcome_str(cases[i].outcome));
	}
}

static void test_classify_sqlstate(void **unused)
{
	(void)unused;
	assert_int_equal(pgconn_classify_sqlstate("28P01"), PROBE_AUTH);
	assert_int_equal(pgconn_classify_sqlstate("28000"), PROBE_AUTH);
	assert_int_equal(pgconn_classify_sqlstate("08006"), PROBE_NETWORK);
	assert_int_equal(pgconn_classify_sqlstate("08P01"), PROBE_BAD_REPLY);
	assert_int_equal(pgconn_classify_sqlstate("57P01"), PROBE_SERVER_ERROR);
	assert_int_equal(pgconn_classify_sqlstate("25006"), PROBE_SERVER_ERROR);
	assert_int_equal(pgconn_classify_sqlstate("42883"), PROBE_SERVER_ERROR);
	assert_int_equal(pgconn_classify_sqlstate(""), PROBE_SERVER_ERROR);
	assert_int_equal(pgconn_classify_sqlstate(NULL), PROBE_SERVER_ERROR);
}

static void test_backoff(void **unused)
{
	(void)unused;
	assert_int_equal(pgconn_backoff_ms(0), 0);
	assert_int_equal(pgconn_backoff_ms(1), 0); /* retried at the next run */
	assert_int_equal(pgconn_backoff_ms(2), 1000);
	assert_int_equal(pgconn_backoff_ms(3), 2000);
	assert_int_equal(pgconn_backoff_ms(4), 4000);
	assert_int_equal(pgconn_backoff_ms(5), 8000);
	assert_int_equal(pgconn_backoff_ms(6), 10000);
	assert_int_equal(pgconn_backoff_ms(64), 10000);
	assert_int_equal(pgconn_backoff_ms(UINT32_MAX), 10000);
}

static void test_format_ms(void **unused)
{
	char buf[32];

	(void)unused;
	pg_format_ms(5000, buf, sizeof(buf));
	assert_string_equal(buf, "5s");
	pg_format_ms(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	pg_format_ms(120000, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
	pg_format_ms(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

static void test_role_query(void **unused)
{
	char q[PG_QUERY_MAX];
	const unsigned all = PG_AURORA_REPLICA_STATUS | PG_AURORA_GLOBAL_STATUS |
	                     PG_AURORA_GLOBAL_INSTANCE | PG_AURORA_INSTANCE_ID;

	(void)unused;
	assert_int_equal(pg_build_role_query(0, q, sizeof(q)), 0);
	assert_non_null(strstr(q, "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"));
	assert_non_null(strstr(q, "pg_last_xact_replay_timestamp()"));
	assert_null(strstr(q, "aurora"));

	/* The instance id alone (no Aurora status function) is not Aurora. */
	assert_int_equal(pg_build_role_query(PG_AURORA_INSTANCE_ID, q, sizeof(q)), 0);
	assert_null(strstr(q, "aurora"));

	assert_int_equal(pg_build_role_query(all, q, sizeof(q)), 0);
	assert_non_null(strstr(q, "GREATEST("));
	assert_non_null(strstr(q, "replica_lag_in_msec"));
	assert_non_null(strstr(q, "rpo_lag_in_msec >= 0"));
	assert_non_null(strstr(q, "server_id = aurora_db_instance_identifier()"));
	assert_null(strstr(q, "pg_last_xact_replay_timestamp"));

	assert_int_equal(
	        pg_build_role_query(PG_AURORA_REPLICA_STATUS | PG_AURORA_INSTANCE_ID, q, sizeof(q)),
	        0);
	assert_non_null(strstr(q, "replica_lag_in_msec"));
	assert_null(strstr(q, "rpo_lag"));
	assert_null(strstr(q, "GREATEST"));

	/* Aurora without aurora_db_instance_identifier: lag unknown. */
	assert_int_equal(pg_build_role_query(PG_AURORA_REPLICA_STATUS | PG_AURORA_GLOBAL_STATUS, q,
	                                     sizeof(q)),
	                 0);
	assert_string_equal(q, "SELECT pg_is_in_recovery(), NULL::float8");

	assert_int_equal(pg_build_role_query(all, q, 64), -ENOSPC);
}

static enum probe_outcome judge(enum probe_expect_role expect, int64_t max_lag_ms,
                                enum db_role role, bool has_lag, double lag,
                                struct probe_observation *obs)
{
	struct probe_config cfg;

	config_for(&cfg, "postgres://h/db", NULL);
	cfg.expect_role = expect;
	cfg.max_lag_ms = max_lag_ms;
	memset(obs, 0, sizeof(*obs));
	return pg_judge(&cfg, role, has_lag, lag, obs);
}

static void test_judge_roles(void **unused)
{
	struct probe_observation obs;

	(void)unused;
	assert_int_equal(judge(EXPECT_ROLE_WRITER, -1, DB_ROLE_WRITER, false, 0, &obs), PROBE_OK);
	assert_string_equal(obs.detail, "");
	assert_int_equal(obs.role, DB_ROLE_WRITER);

	assert_int_equal(judge(EXPECT_ROLE_WRITER, -1, DB_ROLE_READER, true, 0, &obs),
	                 PROBE_UNEXPECTED_ROLE);
	assert_string_equal(obs.detail, "in recovery, want writer");
	assert_int_equal(obs.role, DB_ROLE_READER);

	assert_int_equal(judge(EXPECT_ROLE_READER, -1, DB_ROLE_WRITER, false, 0, &obs),
	                 PROBE_UNEXPECTED_ROLE);
	assert_int_equal(obs.role, DB_ROLE_WRITER);
	assert_int_equal(judge(EXPECT_ROLE_READER, -1, DB_ROLE_READER, true, 0, &obs), PROBE_OK);

	for (int role = DB_ROLE_WRITER; role <= DB_ROLE_READER; role++) {
		assert_int_equal(judge(EXPECT_ROLE_ANY, -1, (enum db_role)role, false, 0, &obs),
		                 PROBE_OK);
		assert_int_equal(judge(EXPECT_ROLE_WRITER_WHEN_ACTIVE, -1, (enum db_role)role,
		                       false, 0, &obs),
		                 PROBE_OK);
	}
}

static void test_judge_lag(void **unused)
{
	struct probe_observation obs;

	(void)unused;
	assert_int_equal(judge(EXPECT_ROLE_ANY, 5000, DB_ROLE_READER, true, 12.34, &obs),
	                 PROBE_LAGGING);
	assert_string_equal(obs.detail, "lag 12.3s > max_lag 5s");
	assert_true(obs.has_lag);
	assert_true(obs.lag_seconds > 12.3 && obs.lag_seconds < 12.4);

	assert_int_equal(judge(EXPECT_ROLE_ANY, 1500, DB_ROLE_READER, true, 1.6, &obs),
	                 PROBE_LAGGING);
	assert_string_equal(obs.detail, "lag 1.6s > max_lag 1500ms");

	/* At the limit is fine; no limit is fine; unknown lag is not judged. */
	assert_int_equal(judge(EXPECT_ROLE_ANY, 5000, DB_ROLE_READER, true, 5.0, &obs), PROBE_OK);
	assert_int_equal(judge(EXPECT_ROLE_ANY, -1, DB_ROLE_READER, true, 1e6, &obs), PROBE_OK);
	assert_int_equal(judge(EXPECT_ROLE_ANY, 0, DB_ROLE_READER, false, 0, &obs), PROBE_OK);
	assert_false(obs.has_lag);

	/* A writer has no lag; a negative lag (clock skew) reads as 0. */
	assert_int_equal(judge(EXPECT_ROLE_ANY, 0, DB_ROLE_WRITER, true, 99, &obs), PROBE_OK);
	assert_false(obs.has_lag);
	assert_int_equal(judge(EXPECT_ROLE_ANY, 0, DB_ROLE_READER, true, -3, &obs), PROBE_OK);
	assert_true(obs.has_lag);
	assert_true(obs.lag_seconds == 0);

	/* The role verdict comes first. */
	assert_int_equal(judge(EXPECT_ROLE_WRITER, 1000, DB_ROLE_READER, true, 50, &obs),
	                 PROBE_UNEXPECTED_ROLE);
}

static void test_lists(void **unused)
{
	char items[PGCONN_HOSTS_MAX][WD_HOST_MAX + 1];
	char list[64] = "";
	size_t len = 0;

	(void)unused;
	assert_int_equal(pgconn_split_list("a,,/tmp", items, PGCONN_HOSTS_MAX), 3);
	assert_string_equal(items[0], "a");
	assert_string_equal(items[1], "");
	assert_string_equal(items[2], "/tmp");
	assert_int_equal(pgconn_split_list("", items, PGCONN_HOSTS_MAX), 1);
	assert_int_equal(pgconn_split_list("a,b,c", items, 2), -ENOSPC);

	assert_int_equal(pgconn_list_add(list, sizeof(list), &len, 0, ""), 0);
	assert_int_equal(pgconn_list_add(list, sizeof(list), &len, 1, "10.0.0.1"), 0);
	assert_int_equal(pgconn_list_add(list, sizeof(list), &len, 2, "::1"), 0);
	assert_string_equal(list, ",10.0.0.1,::1");
	assert_int_equal(pgconn_list_add(list, 16, &len, 3, "10.0.0.2"), -ENOSPC);

	assert_true(pgconn_host_is_socket(""));
	assert_true(pgconn_host_is_socket("/var/run/postgresql"));
	assert_true(pgconn_host_is_socket("@abstract"));
	assert_false(pgconn_host_is_socket("db.example.com"));
	assert_int_equal(pgconn_list_count(""), 1);
	assert_int_equal(pgconn_list_count("a,b"), 2);
}

/* A run with no server behind a unix socket: refused, then the backoff. */
static void test_run_no_server(void **unused)
{
	struct probe_config cfg;
	struct wd_err err = {0};
	struct probe_observation obs;
	void *ctx;

	(void)unused;
	config_for(&cfg, "postgresql:///db?host=/nonexistent-warden-dir&user=u", "pw-in-config");
	ctx = probe_pg_ops.create(&cfg, &err);
	assert_non_null(ctx);
	for (int i = 0; i < 3; i++) {
		memset(&obs, 0, sizeof(obs));
		probe_pg_ops.run(ctx, clock_mono_ms() + 1000, &obs);
		assert_int_equal(obs.outcome, PROBE_REFUSED);
		assert_int_equal(obs.role, DB_ROLE_UNKNOWN);
		assert_null(strstr(obs.detail, "pw-in-config"));
	}
	/* Failure 1 is retried at once, failure 2 starts a 1 s pause. */
	assert_non_null(strstr(obs.detail, "(reconnect in 1s)"));
	probe_pg_ops.destroy(ctx);
	probe_pg_ops.destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_validate_good),
	        cmocka_unit_test(test_validate_bad),
	        cmocka_unit_test(test_validate_hides_password_option),
	        cmocka_unit_test(test_tidy_message),
	        cmocka_unit_test(test_redact),
	        cmocka_unit_test(test_classify_message),
	        cmocka_unit_test(test_classify_sqlstate),
	        cmocka_unit_test(test_backoff),
	        cmocka_unit_test(test_format_ms),
	        cmocka_unit_test(test_role_query),
	        cmocka_unit_test(test_judge_roles),
	        cmocka_unit_test(test_judge_lag),
	        cmocka_unit_test(test_lists),
	        cmocka_unit_test(test_run_no_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
