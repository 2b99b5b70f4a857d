/*
 * test_lease.c - the singleton lease without a database: name and holder
 * checks, the parse of a claim's row, the status computed from (writable,
 * last claim, held until, now), the statements' text, lease_new's
 * validation, and a running lease against a unix socket with no server
 * behind it (fenced, then writable).
 *
 * The helpers come from fencing/lease_internal.h; the monotonic clock is a
 * link seam, so a test can move it forward instead of sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "net/uri.h"
#include "fencing/lease.h"
#include "fencing/lease_internal.h"

/* WRAP: clock_mono_ms */
int64_t __real_clock_mono_ms(void);
int64_t __wrap_clock_mono_ms(void);

/* How far the test has moved the clock forward (set only with no thread running). */
static int64_t clock_ahead_ms;

int64_t __wrap_clock_mono_ms(void)
{
	return __real_clock_mono_ms() + clock_ahead_ms;
}

static void db_config(struct probe_config *cfg, const char *uri, const char *password)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "db");
	cfg->kind = PROBE_KIND_POSTGRES;
	snprintf(cfg->uri, sizeof(cfg->uri), "%s", uri);
	uri_redact(cfg->uri, cfg->target, sizeof(cfg->target));
	snprintf(cfg->password, sizeof(cfg->password), "%s", password ? password : "");
	cfg->interval_ms = 5000;
	cfg->timeout_ms = 200;
	cfg->rise = 2;
	cfg->fall = 3;
	cfg->expect_role = EXPECT_ROLE_WRITER_WHEN_ACTIVE;
	cfg->max_lag_ms = -1;
}

/* A fence view whose answer the test sets; counts the calls. */
struct test_view {
	pthread_mutex_t lock;
	bool writable;
	int calls;
};

static void test_decide(void *arg, int64_t now_mono_ms, struct fence_verdict *out)
{
	struct test_view *view = arg;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&view->lock);
	view->calls++;
	out->writable = view->writable;
	pthread_mutex_unlock(&view->lock);
	out->state = out->writable ? FENCE_ACTIVE : FENCE_PASSIVE;
	out->writable_until_mono_ms = out->writable ? now_mono_ms + 1000 : 0;
}

static void set_writable(struct test_view *view, bool writable)
{
	pthread_mutex_lock(&view->lock);
	view->writable = writable;
	pthread_mutex_unlock(&view->lock);
}

static void test_name_check(void **unused)
{
	char name[LEASE_NAME_MAX + 2];
	struct wd_err err = {0};

	(void)unused;
	assert_int_equal(lease_name_check("cron", &err), 0);
	assert_int_equal(lease_name_check("nightly_report-2", &err), 0);
	assert_int_equal(lease_name_check("", &err), -EINVAL);
	assert_int_equal(lease_name_check(NULL, &err), -EINVAL);
	assert_int_equal(lease_name_check("Cron", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "[a-z0-9_-]"));
	assert_int_equal(lease_name_check("a b", &err), -EINVAL);
	assert_int_equal(lease_name_check("a'b", &err), -EINVAL);
	assert_int_equal(lease_name_check("caf\xc3\xa9", &err), -EINVAL);
	assert_null(strchr(err.msg, '\xc3')); /* quoted printable only */

	memset(name, 'x', LEASE_NAME_MAX);
	name[LEASE_NAME_MAX] = '\0';
	assert_int_equal(lease_name_check(name, &err), 0);
	name[LEASE_NAME_MAX] = 'x';
	name[LEASE_NAME_MAX + 1] = '\0';
	assert_int_equal(lease_name_check(name, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "over 64"));
	assert_int_equal(lease_name_check(name, NULL), -EINVAL);
}

static void test_holder_check(void **unused)
{
	char holder[LEASE_HOLDER_MAX + 2];
	struct wd_err err = {0};

	(void)unused;
	assert_int_equal(lease_holder_check("3f2a9c1e8b7d4f60a1b2c3d4e5f60718", &err), 0);
	assert_int_equal(lease_holder_check("arn:aws:ecs:us-east-1:1:task/c/abc", &err), 0);
	assert_int_equal(lease_holder_check("", &err), -EINVAL);
	assert_int_equal(lease_holder_check("a b", &err), -EINVAL);
	assert_int_equal(lease_holder_check("a\nb", &err), -EINVAL);
	assert_int_equal(lease_holder_check("a\x7f", &err), -EINVAL);
	memset(holder, 'h', LEASE_HOLDER_MAX);
	holder[LEASE_HOLDER_MAX] = '\0';
	assert_int_equal(lease_holder_check(holder, &err), 0);
	holder[LEASE_HOLDER_MAX] = 'h';
	holder[LEASE_HOLDER_MAX + 1] = '\0';
	assert_int_equal(lease_holder_check(holder, &err), -EINVAL);
}

static void test_parse_claim(void **unused)
{
	uint64_t gen = 0;
	int64_t remaining = 0;

	(void)unused;
	assert_int_equal(lease_parse_claim("7", "2999", &gen, &remaining), 0);
	assert_int_equal(gen, 7);
	assert_int_equal(remaining, 2999);
	assert_int_equal(lease_parse_claim("9223372036854775807", "-5", &gen, &remaining), 0);
	assert_int_equal(gen, INT64_MAX);
	assert_int_equal(remaining, -5);

	assert_int_equal(lease_parse_claim("0", "1", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim("-1", "1", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim("", "1", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim("1", "", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim("1x", "1", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim("1", "1.5", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim("1", "99999999999999999999", &gen, &remaining), -EINVAL);
	assert_int_equal(lease_parse_claim(NULL, "1", &gen, &remaining), -EINVAL);
}

static void compute(bool writable, bool claim_ok, int64_t held_until, int64_t now,
                    struct lease_status *out)
{
	struct lease_state state = {
	        .claim_ok = claim_ok, .held_until_mono_ms = held_until, .generation = 7};
	struct fence_verdict verdict = {.writable = writable,
	                                .state = writable ? FENCE_ACTIVE : FENCE_PASSIVE,
	                                .writable_until_mono_ms = writable ? INT64_MAX : 0};

	snprintf(state.holder, sizeof(state.holder), "task-a");
	snprintf(state.error, sizeof(state.error), "%s", claim_ok ? "" : "held by another task");
	lease_status_compute("cron", &state, &verdict, now, out);
}

static void test_status_compute(void **unused)
{
	struct lease_status st;

	(void)unused;
	compute(true, true, 10000, 1000, &st);
	assert_string_equal(st.name, "cron");
	assert_true(st.held);
	assert_int_equal(st.generation, 7);
	assert_string_equal(st.holder, "task-a");
	assert_int_equal(st.expires_in_ms, 9000);
	assert_string_equal(st.error, "");

	/* The instant it runs out, it is not held. */
	compute(true, true, 10000, 10000, &st);
	assert_false(st.held);
	assert_int_equal(st.expires_in_ms, 0);
	assert_string_equal(st.error, "expired: not renewed in time");
	assert_int_equal(st.generation, 7);

	/* Not writable: not held at once, whatever the claim. */
	compute(false, true, 10000, 1000, &st);
	assert_false(st.held);
	assert_int_equal(st.expires_in_ms, 0);
	assert_string_equal(st.error, "not claiming: this task is not writable (passive)");

	/* The last claim failed: not held, even with time left from an earlier one. */
	compute(true, false, 10000, 1000, &st);
	assert_false(st.held);
	assert_string_equal(st.error, "held by another task");
}

static void test_statements(void **unused)
{
	(void)unused;
	/* The table exactly as lease.h documents it. */
	assert_string_equal(lease_create_sql, "CREATE TABLE IF NOT EXISTS warden_lease ("
	                                      " name text PRIMARY KEY,"
	                                      " holder text NOT NULL,"
	                                      " generation bigint NOT NULL,"
	                                      " expires_at timestamptz NOT NULL)");
	/* Taken only when expired or ours, judged by the database's now(). */
	assert_non_null(strstr(lease_claim_sql,
	                       "WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder"));
	assert_non_null(strstr(lease_claim_sql, "CASE WHEN l.holder = EXCLUDED.holder AND "
	                                        "l.expires_at >= now() THEN l.generation ELSE "
	                                        "l.generation + 1 END"));
	assert_non_null(
	        strstr(lease_release_sql, "WHERE name = $1 AND holder = $2 AND generation = $3"));
}

static void test_new_validates(void **unused)
{
	struct test_view tv = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct lease_fence_view view = {.arg = &tv, .decide = test_decide};
	struct probe_config db;
	struct wd_err err = {0};
	struct lease *lease;

	(void)unused;
	db_config(&db, "postgresql:///db?host=/nonexistent-warden-dir&user=u", NULL);
	assert_null(lease_new("Bad", "task", 15000, &db, &view, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_null(lease_new("cron", "", 15000, &db, &view, &err));
	assert_null(lease_new("cron", "task", 100, &db, &view, &err));
	assert_non_null(strstr(err.msg, "ttl"));
	assert_null(lease_new("cron", "task", 15000, NULL, &view, &err));
	assert_null(lease_new("cron", "task", 15000, &db, NULL, &err));
	db.kind = PROBE_KIND_REDIS;
	assert_null(lease_new("cron", "task", 15000, &db, &view, &err));
	db_config(&db, "redis://h", NULL);
	assert_null(lease_new("cron", "task", 15000, &db, &view, &err));

	db_config(&db, "postgresql:///db?host=/nonexistent-warden-dir&user=u", NULL);
	lease = lease_new("cron", "task", 15000, &db, &view, &err);
	assert_non_null(lease);
	assert_int_equal(tv.calls, 0); /* no I/O, no question before start */
	lease_free(lease);
	lease_free(NULL);
}

/* Read what the log wrote to fd since offset *at. */
static void read_log(int fd, off_t *at, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, *at);

	buf[n > 0 ? n : 0] = '\0';
	*at += n > 0 ? n : 0;
}

/* One transition line per change: acquired, lost, renewed after a loss. */
static void test_log_transitions(void **unused)
{
	struct test_view tv = {.lock = PTHREAD_MUTEX_INITIALIZER, .writable = true};
	struct lease_fence_view view = {.arg = &tv, .decide = test_decide};
	struct probe_config db;
	struct wd_err err = {0};
	struct lease *lease;
	char path[] = "/tmp/test_lease_log_XXXXXX";
	char text[4096];
	int fd = mkstemp(path);
	off_t at = 0;

	(void)unused;
	assert_true(fd >= 0);
	unlink(path);
	log_set_fd(fd);
	db_config(&db, "postgresql:///db?host=/nonexistent-warden-dir&user=u", NULL);
	lease = lease_new("cron", "task-a", 3000, &db, &view, &err);
	assert_non_null(lease);

	lease_log_transition(lease, 1000); /* never claimed: nothing */
	read_log(fd, &at, text, sizeof(text));
	assert_string_equal(text, "");

	lease_record_claim(lease, 4, 5000);
	lease_log_transition(lease, 1000);
	lease_log_transition(lease, 1100); /* still held: nothing more */
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.acquired\""));
	assert_non_null(strstr(text, "\"name\":\"cron\",\"holder\":\"task-a\","
	                             "\"generation\":4,\"reason\":\"claimed\""));
	assert_null(strchr(strchr(text, '\n') + 1, '\n'));

	set_writable(&tv, false);
	lease_log_transition(lease, 1200);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.lost\""));
	assert_non_null(strstr(text, "\"reason\":\"not claiming: this task is not writable"));

	set_writable(&tv, true);
	lease_log_transition(lease, 1300);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.acquired\""));
	assert_non_null(strstr(text, "\"reason\":\"renewed after a loss\""));

	lease_log_transition(lease, 5000); /* ran out */
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.lost\""));
	assert_non_null(strstr(text, "expired"));

	lease_record_failure(lease, LEASE_ERROR_NONE, "task-b", true,
	                     "held by another task: task-b");
	lease_record_claim(lease, 6, 9000);
	lease_log_transition(lease, 6000);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"generation\":6,\"reason\":\"claimed\""));

	/* A renewal that merely timed out keeps the row ours until its time runs out. */
	lease_record_failure(lease, LEASE_ERROR_TIMEOUT, NULL, false,
	                     "claiming: timeout: no answer");
	lease_log_transition(lease, 6100);
	read_log(fd, &at, text, sizeof(text));
	assert_string_equal(text, "");
	lease_log_transition(lease, 9000);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.lost\""));

	/* Draining: not held from the moment the agent starts stopping. */
	lease_record_claim(lease, 6, 20000);
	lease_log_transition(lease, 10000);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.acquired\""));
	lease_drain(lease);
	lease_log_transition(lease, 10100);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.lost\""));
	assert_non_null(strstr(text, "draining"));

	lease_free(lease); /* never started: no release, no line */
	read_log(fd, &at, text, sizeof(text));
	assert_string_equal(text, "");
	log_set_fd(1);
	close(fd);
}

/* Wait up to 3 s for the status error to contain `text`. */
static void wait_error(struct lease *lease, const char *text, struct lease_status *st)
{
	for (int i = 0; i < 300; i++) {
		lease_status(lease, clock_mono_ms(), st);
		if (strstr(st->error, text) != NULL)
			return;
		usleep(10000);
	}
	fail_msg("no error with \"%s\"; last: \"%s\"", text, st->error);
}

/* A running lease with no server: never held, the error says why, no secret. */
static void test_run_no_server(void **unused)
{
	struct test_view tv = {.lock = PTHREAD_MUTEX_INITIALIZER, .writable = false};
	struct lease_fence_view view = {.arg = &tv, .decide = test_decide};
	struct probe_config db;
	struct wd_err err = {0};
	struct lease_status st;
	struct lease *lease;

	(void)unused;
	signal(SIGPIPE, SIG_IGN);
	db_config(&db, "postgresql:///db?host=/nonexistent-warden-dir&user=u&password=UriPw9",
	          "CfgPw7");
	lease = lease_new("cron", "task-a", 900, &db, &view, &err);
	assert_non_null(lease);
	assert_int_equal(lease_start(lease), 0);
	assert_int_equal(lease_start(lease), -EALREADY);

	wait_error(lease, "not writable", &st);
	assert_false(st.held);
	assert_string_equal(st.name, "cron");

	set_writable(&tv, true);
	wait_error(lease, "connecting: refused", &st);
	assert_false(st.held);
	assert_int_equal(st.generation, 0);
	assert_int_equal(st.expires_in_ms, 0);
	assert_null(strstr(st.error, "CfgPw7"));
	assert_null(strstr(st.error, "UriPw9"));

	/* Retried every ttl/3 (300 ms), then inside the backoff pause. */
	wait_error(lease, "reconnect in", &st);
	assert_false(st.held);
	lease_free(lease);
}

/*
 * Held is never reported past the verdict's writable_until, whatever time
 * the row has left: after it this task holds nothing (the safety contract).
 */
static void test_status_never_past_writable_until(void **unused)
{
	struct lease_state state = {.claim_ok = true, .held_until_mono_ms = 15000, .generation = 3};
	struct fence_verdict verdict = {
	        .writable = true, .state = FENCE_ACTIVE, .writable_until_mono_ms = 4000};
	struct lease_status st;

	(void)unused;
	lease_status_compute("cron", &state, &verdict, 1000, &st);
	assert_true(st.held);
	assert_int_equal(st.expires_in_ms, 3000); /* to writable_until, not the row's 14000 */
	lease_status_compute("cron", &state, &verdict, 4000, &st);
	assert_false(st.held);
	assert_int_equal(st.expires_in_ms, 0);
	/* The row runs out first: its own time. */
	verdict.writable_until_mono_ms = 30000;
	lease_status_compute("cron", &state, &verdict, 1000, &st);
	assert_int_equal(st.expires_in_ms, 14000);
}

/* Every failure has one reason, from the SQLSTATE or the connection's outcome. */
static void test_error_reasons(void **unused)
{
	(void)unused;
	assert_int_equal(lease_error_of(PGCONN_SERVER_ERROR, "42501", PROBE_SERVER_ERROR),
	                 LEASE_ERROR_PERMISSION_DENIED);
	assert_int_equal(lease_error_of(PGCONN_SERVER_ERROR, "42P01", PROBE_SERVER_ERROR),
	                 LEASE_ERROR_UNDEFINED_TABLE);
	assert_int_equal(lease_error_of(PGCONN_SERVER_ERROR, "25006", PROBE_SERVER_ERROR),
	                 LEASE_ERROR_READ_ONLY);
	assert_int_equal(lease_error_of(PGCONN_SERVER_ERROR, "28P01", PROBE_AUTH),
	                 LEASE_ERROR_AUTH);
	assert_int_equal(lease_error_of(PGCONN_SERVER_ERROR, "57P01", PROBE_SERVER_ERROR),
	                 LEASE_ERROR_CONNECTION);
	assert_int_equal(lease_error_of(PGCONN_SERVER_ERROR, "22012", PROBE_SERVER_ERROR),
	                 LEASE_ERROR_SQL);
	assert_int_equal(lease_error_of(PGCONN_FAILED, "", PROBE_TIMEOUT), LEASE_ERROR_TIMEOUT);
	assert_int_equal(lease_error_of(PGCONN_FAILED, "", PROBE_REFUSED), LEASE_ERROR_CONNECTION);
	assert_int_equal(lease_error_of(PGCONN_LOST, "", PROBE_NETWORK), LEASE_ERROR_CONNECTION);
	assert_int_equal(lease_error_of(PGCONN_FAILED, "", PROBE_AUTH), LEASE_ERROR_AUTH);
	assert_string_equal(lease_error_str(LEASE_ERROR_PERMISSION_DENIED), "permission_denied");
	assert_string_equal(lease_error_str(LEASE_ERROR_UNDEFINED_TABLE), "undefined_table");
	assert_string_equal(lease_error_str(LEASE_ERROR_READ_ONLY), "read_only");
	assert_string_equal(lease_error_str(LEASE_ERROR_SQL), "sql_error");
	assert_string_equal(lease_error_str(LEASE_ERROR_COUNT), "unknown");
}

/* One error line per change of reason, counted per attempt; cleared once. */
static void test_error_logged_once_per_reason(void **unused)
{
	struct test_view tv = {.lock = PTHREAD_MUTEX_INITIALIZER, .writable = true};
	struct lease_fence_view view = {.arg = &tv, .decide = test_decide};
	struct probe_config db;
	struct wd_err err = {0};
	struct lease_status st;
	struct lease *lease;
	char path[] = "/tmp/test_lease_err_XXXXXX";
	char text[4096];
	int fd = mkstemp(path);
	off_t at = 0;

	(void)unused;
	assert_true(fd >= 0);
	unlink(path);
	log_set_fd(fd);
	db_config(&db, "postgresql:///db?host=/nonexistent-warden-dir&user=u", NULL);
	lease = lease_new("cron", "task-a", 3000, &db, &view, &err);
	assert_non_null(lease);

	for (int i = 0; i < 3; i++) {
		lease_record_failure(lease, LEASE_ERROR_PERMISSION_DENIED, NULL, false,
		                     "claiming: server_error: permission denied for table "
		                     "warden_lease");
		lease_log_error(lease);
	}
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"level\":\"error\""));
	assert_non_null(strstr(text, "\"event\":\"lease.error\""));
	assert_non_null(strstr(text, "\"reason\":\"permission_denied\""));
	assert_null(strchr(strchr(text, '\n') + 1, '\n')); /* one line for three attempts */
	lease_status(lease, 100, &st);
	assert_int_equal(st.reason, LEASE_ERROR_PERMISSION_DENIED);
	assert_int_equal(st.errors[LEASE_ERROR_PERMISSION_DENIED], 3);

	lease_record_failure(lease, LEASE_ERROR_UNDEFINED_TABLE, NULL, false, "claiming: x");
	lease_log_error(lease);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"reason\":\"undefined_table\""));

	/* Held by another task is no error: cleared, once. */
	lease_record_failure(lease, LEASE_ERROR_NONE, "task-b", true, "held by another task");
	lease_log_error(lease);
	lease_log_error(lease);
	read_log(fd, &at, text, sizeof(text));
	assert_non_null(strstr(text, "\"event\":\"lease.error_cleared\""));
	assert_null(strchr(strchr(text, '\n') + 1, '\n'));
	lease_status(lease, 100, &st);
	assert_int_equal(st.reason, LEASE_ERROR_NONE);
	assert_int_equal(st.errors[LEASE_ERROR_UNDEFINED_TABLE], 1);

	lease_free(lease);
	log_set_fd(1);
	close(fd);
}

/*
 * On demotion the row is given up only once every "held" reported has run
 * out: a gate told "held for 1000 ms" at t=0 may run its cron until then.
 */
static void test_release_waits_for_what_was_reported(void **unused)
{
	struct test_view tv = {.lock = PTHREAD_MUTEX_INITIALIZER, .writable = true};
	struct lease_fence_view view = {.arg = &tv, .decide = test_decide};
	struct probe_config db;
	struct wd_err err = {0};
	struct lease_status st;
	struct lease *lease;
	uint64_t generation = 0;
	int64_t now = clock_mono_ms();

	(void)unused;
	db_config(&db, "postgresql:///db?host=/nonexistent-warden-dir&user=u", NULL);
	lease = lease_new("cron", "task-a", 15000, &db, &view, &err);
	assert_non_null(lease);
	lease_record_claim(lease, 5, now + 15000);
	lease_status(lease, now, &st); /* test_decide: writable until now + 1000 */
	assert_true(st.held);
	assert_int_equal(st.expires_in_ms, 1000);
	set_writable(&tv, false);
	assert_false(lease_release_due(lease, &generation)); /* promised until now + 1000 */
	lease_status(lease, now + 500, &st);
	assert_false(st.held);

	/* Once the promise has run out: due, and never reported held again. */
	clock_ahead_ms = 1000;
	assert_true(lease_release_due(lease, &generation));
	assert_int_equal(generation, 5);
	assert_false(lease_release_due(lease, &generation)); /* once */
	set_writable(&tv, true);
	lease_status(lease, clock_mono_ms(), &st);
	assert_false(st.held);
	lease_free(lease);
	clock_ahead_ms = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_check),
	        cmocka_unit_test(test_holder_check),
	        cmocka_unit_test(test_parse_claim),
	        cmocka_unit_test(test_status_compute),
	        cmocka_unit_test(test_statements),
	        cmocka_unit_test(test_new_validates),
	        cmocka_unit_test(test_log_transitions),
	        cmocka_unit_test(test_run_no_server),
	        cmocka_unit_test(test_status_never_past_writable_until),
	        cmocka_unit_test(test_error_reasons),
	        cmocka_unit_test(test_error_logged_once_per_reason),
	        cmocka_unit_test(test_release_waits_for_what_was_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
