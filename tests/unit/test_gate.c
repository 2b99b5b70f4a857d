/* test_gate.c - `warden gate`: its arguments, /fence answers, and its policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

/* ------------------------------------------------------------ /fence JSON */

static int fence(const char *text, const char *singleton, struct gate_fence *out)
{
	struct wd_err err = {0};
	int rc = gate_fence_parse(text, strlen(text), singleton, out, &err);

	if (rc < 0)
		assert_true(err.msg[0] != '\0');
	return rc;
}

static void test_fence_full_answer(void **unused)
{
	static const char *full =
	        "{\"writable\": true, \"state\": \"active\", \"region\": \"us-east-1\","
	        " \"active_region\": \"us-east-1\", \"epoch\": 42,"
	        " \"writable_until\": \"2026-11-26T05:30:00.000Z\", \"writable_for_ms\": 23000,"
	        " \"ttl_ms\": 30000, \"typical_fence_ms\": 8000,"
	        " \"reason\": \"this region is active\","
	        " \"since\": \"2026-11-26T05:00:00.000Z\", \"leases\": {\"cron\": {\"held\": true,"
	        " \"generation\": 7, \"holder\": \"task-1\", \"expires_in_ms\": 9000}}}";
	struct gate_fence f;

	(void)unused;
	assert_int_equal(fence(full, "cron", &f), 0);
	assert_true(f.writable);
	assert_int_equal(f.epoch, 42);
	assert_int_equal(f.writable_for_ms, 23000);
	assert_int_equal(f.ttl_ms, 30000);
	assert_int_equal(f.typical_fence_ms, 8000);
	assert_string_equal(f.state, "active");
	assert_true(f.lease_found);
	assert_true(f.lease_held);
	assert_int_equal(f.lease_generation, 7);
	assert_int_equal(f.lease_expires_in_ms, 9000);

	/* Without --singleton the leases are not looked at. */
	assert_int_equal(fence(full, NULL, &f), 0);
	assert_false(f.lease_found);
	/* Another lease name: not found, so not held. */
	assert_int_equal(fence(full, "billing", &f), 0);
	assert_false(f.lease_found);
	assert_false(f.lease_held);
}

static void test_fence_not_writable(void **unused)
{
	struct gate_fence f;

	(void)unused;
	assert_int_equal(fence("{\"writable\":false,\"state\":\"passive\",\"epoch\":3,"
	                       "\"writable_until\":null,\"writable_for_ms\":0,\"leases\":{}}",
	                       "cron", &f),
	                 0);
	assert_false(f.writable);
	assert_int_equal(f.epoch, 3);
	assert_false(f.lease_found);
	/* Not writable: writable_for_ms may be absent, and is 0 whatever it says. */
	assert_int_equal(fence("{\"writable\":false,\"epoch\":0}", NULL, &f), 0);
	assert_int_equal(
	        fence("{\"writable\":false,\"epoch\":0,\"writable_for_ms\":500}", NULL, &f), 0);
	assert_int_equal(f.writable_for_ms, 0);
	/* A lease not held needs no generation. */
	assert_int_equal(fence("{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	                       "\"leases\":{\"cron\":{\"held\":false}}}",
	                       "cron", &f),
	                 0);
	assert_true(f.lease_found);
	assert_false(f.lease_held);
	/* Negative expires_in_ms means already expired. */
	assert_int_equal(fence("{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	                       "\"leases\":{\"cron\":{\"held\":true,\"generation\":1,"
	                       "\"expires_in_ms\":-20}}}",
	                       "cron", &f),
	                 0);
	assert_int_equal(f.lease_expires_in_ms, 0);
}

static void test_fence_hostile(void **unused)
{
	static const char *const bad[] = {
	        "",
	        "null",
	        "[]",
	        "\"writable\"",
	        "{}",
	        "{\"writable\":true}",
	        "{\"writable\":\"true\",\"epoch\":1,\"writable_for_ms\":5}",
	        "{\"writable\":1,\"epoch\":1,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":1}",                          /* no writable_for_ms */
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":null}", /* ...null is absent */
	        "{\"writable\":true,\"epoch\":-1,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":1.5,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":\"1\",\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":9007199254740992,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":99999999999999999999999,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":-5}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5.0}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"ttl_ms\":0}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"ttl_ms\":\"30s\"}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"typical_fence_ms\":-1}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"typical_fence_ms\":\"8s\"}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"state\":7}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"state\":\"activeactiveactiveactive\"}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"state\":\"a\\u0000b\"}",
	        "{\"writable\":true,\"writable\":false,\"epoch\":1,\"writable_for_ms\":5}",
	        "{\"writable\":false,\"epoch\":1,\"writable_for_ms\":5,\"leases\":[]}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"leases\":{\"cron\":true}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"leases\":{\"cron\":{}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true,\"generation\":1}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true,\"generation\":-1,\"expires_in_ms\":5}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":\"yes\",\"generation\":1,\"expires_in_ms\":5}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true},\"cron\":{\"held\":false}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5} trailing",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5}{}",
	};
	struct gate_fence f;

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0x5a, sizeof(f));
		if (fence(bad[i], "cron", &f) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		/* A refused answer leaves nothing that looks writable. */
		assert_false(f.writable);
		assert_false(f.lease_held);
	}
}

static void test_fence_bounds(void **unused)
{
	size_t size = GATE_FENCE_BODY_MAX + 64;
	char *big = malloc(size);
	char *deep = malloc(8192);
	struct gate_fence f;
	struct wd_err err;
	size_t len;

	(void)unused;
	assert_non_null(big);
	assert_non_null(deep);
	/* Past the cap: refused, even though it is valid JSON. */
	len = (size_t)snprintf(big, size,
	                       "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	                       "\"reason\":\"");
	memset(big + len, 'x', size - len - 3);
	memcpy(big + size - 3, "\"}", 3);
	assert_int_equal(gate_fence_parse(big, strlen(big), NULL, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer"));
	/* Not NUL-terminated input: only len bytes are read. */
	memcpy(big, "{\"writable\":false,\"epoch\":2}XXXX", 32);
	assert_int_equal(gate_fence_parse(big, 28, NULL, &f, &err), 0);
	assert_int_equal(f.epoch, 2);
	/* Deep nesting in an ignored key: refused or accepted, never a crash. */
	len = 0;
	len += (size_t)snprintf(deep, 8192, "{\"writable\":false,\"epoch\":2,\"x\":");
	for (int i = 0; i < 3000; i++)
		deep[len++] = '[';
	for (int i = 0; i < 3000; i++)
		deep[len++] = ']';
	deep[len++] = '}';
	(void)gate_fence_parse(deep, len, NULL, &f, &err);
	/* Largest values. */
	assert_int_equal(fence("{\"writable\":true,\"epoch\":9007199254740991,"
	                       "\"writable_for_ms\":9007199254740991,\"ttl_ms\":9007199254740991}",
	                       NULL, &f),
	                 0);
	assert_int_equal(f.epoch, 9007199254740991ULL);
	free(big);
	free(deep);
}

/* -------------------------------------------------------------- decision */

#define T0 1000000 /* "now" at the answer: an arbitrary monotonic instant */

/* A good writable answer sent at T0, valid for 20 s, TTL 30 s, epoch 42. */
static struct gate_view writable_view(void)
{
	struct gate_view v;

	memset(&v, 0, sizeof(v));
	v.now_ms = T0 + 100;
	v.have_answer = true;
	v.sidecar_ok = true;
	v.answer.writable = true;
	v.answer.epoch = 42;
	v.answer.writable_for_ms = 20000;
	v.answer.ttl_ms = 30000;
	v.answer_sent_ms = T0;
	return v;
}

static void test_decide_start_and_keep(void **unused)
{
	struct gate_view v = writable_view();
	struct gate_decision d;

	(void)unused;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_START);
	assert_true(d.allowed);
	assert_int_equal(d.allowed_until_ms, T0 + 20000);
	assert_int_equal(d.epoch, 42);
	assert_int_equal(d.token, 42);

	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = 42;
	v.child_token = 42;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);
	assert_int_equal(d.wake_ms, T0 + 20000); /* wake up when the verdict runs out */

	/* The sidecar stops answering, but the verdict still holds: keep running. */
	v.sidecar_ok = false;
	v.now_ms = T0 + 19999;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);
}

static void test_decide_stop_reasons(void **unused)
{
	struct gate_view v = writable_view();
	struct gate_decision d;

	(void)unused;
	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = 42;
	v.child_token = 42;

	v.answer.writable = false;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_FENCED);
	assert_false(d.allowed);

	/* Deadline passed while the sidecar answers: the verdict expired. */
	v = writable_view();
	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = v.child_token = 42;
	v.now_ms = T0 + 20000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_VERDICT_EXPIRED);
	/* ...while it does not: unreachable. */
	v.sidecar_ok = false;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_SIDECAR_UNREACHABLE);

	/* writable_for_ms beyond the TTL: the TTL caps it. */
	v = writable_view();
	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = v.child_token = 42;
	v.sidecar_ok = false;
	v.answer.writable_for_ms = 3600000;
	v.now_ms = T0 + 29999;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);
	v.now_ms = T0 + 30000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_SIDECAR_UNREACHABLE);
	/* No TTL reported: writable_for_ms alone. */
	v.answer.ttl_ms = 0;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);

	/* The epoch moved under a running child: restart it with the new token. */
	v = writable_view();
	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = v.child_token = 41;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_TOKEN_CHANGED);
	assert_true(d.allowed);

	/* Zero writable_for_ms: never allowed. */
	v = writable_view();
	v.answer.writable_for_ms = 0;
	v.now_ms = T0;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);
	assert_false(d.allowed);
}

static void test_decide_singleton(void **unused)
{
	struct gate_view v = writable_view();
	struct gate_decision d;

	(void)unused;
	v.singleton = true;
	gate_decide(&v, &d); /* writable, but no such lease */
	assert_int_equal(d.action, GATE_WAIT);
	assert_int_equal(d.reason, GATE_REASON_LEASE_LOST);

	v.answer.lease_found = true;
	gate_decide(&v, &d); /* found, not held */
	assert_int_equal(d.action, GATE_WAIT);
	assert_int_equal(d.reason, GATE_REASON_LEASE_LOST);

	v.answer.lease_held = true;
	v.answer.lease_generation = 7;
	v.answer.lease_expires_in_ms = 9000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_START);
	assert_int_equal(d.epoch, 42);
	assert_int_equal(d.token, 7);                    /* the fencing token is the generation */
	assert_int_equal(d.allowed_until_ms, T0 + 9000); /* the lease ends first */

	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = 42;
	v.child_token = 7;
	v.now_ms = T0 + 9000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_VERDICT_EXPIRED);

	v.now_ms = T0 + 100;
	v.answer.lease_held = false;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_LEASE_LOST);

	/* Taken over meanwhile: a new generation restarts the child. */
	v.answer.lease_held = true;
	v.answer.lease_generation = 8;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_TOKEN_CHANGED);
}

static void test_decide_no_answer_and_backoff(void **unused)
{
	struct gate_view v;
	struct gate_decision d;

	(void)unused;
	memset(&v, 0, sizeof(v));
	v.now_ms = T0;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);
	assert_false(d.allowed);
	assert_int_equal(d.wake_ms, INT64_MAX);

	v = writable_view();
	v.restart_at_ms = T0 + 4000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);
	assert_int_equal(d.wake_ms, T0 + 4000);
	v.now_ms = T0 + 4000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_START);
}

static void test_decide_stopping_and_shutdown(void **unused)
{
	struct gate_view v = writable_view();
	struct gate_decision d;

	(void)unused;
	v.child = GATE_CHILD_STOPPING;
	v.kill_at_ms = T0 + 5000;
	v.child_until_ms = T0 + 20000;
	gate_decide(&v, &d); /* allowed again, but the old one has not gone yet */
	assert_int_equal(d.action, GATE_WAIT);
	assert_int_equal(d.wake_ms, T0 + 5000);
	v.now_ms = T0 + 5000;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_KILL);
	v.child = GATE_CHILD_KILLED;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_WAIT);

	v = writable_view();
	v.shutting_down = true;
	gate_decide(&v, &d); /* allowed, but stopping: never start */
	assert_int_equal(d.action, GATE_EXIT);
	v.child = GATE_CHILD_RUNNING;
	v.child_epoch = v.child_token = 42;
	gate_decide(&v, &d);
	assert_int_equal(d.action, GATE_STOP);
	assert_int_equal(d.reason, GATE_REASON_SIGNAL);
}

/*
 * The bound: a child is dead by the deadline of the last verdict that allowed
 * it. With grace G = 5 s and a verdict sent at T0 valid for 20 s (deadline
 * D = T0 + 20 s), SIGTERM comes no later than D - G and SIGKILL no later
 * than D, whatever the sidecar does meanwhile.
 */
#define G 5000
#define D (T0 + 20000)
/* The last good answer: when its request was sent, and whether the latest poll was good. */
#define SEEN(sent, ok) .have_answer = true, .answer_sent_ms = (sent), .sidecar_ok = (ok)
#define WRITABLE(for_ms)                                                                           \
	.answer = {.writable = true, .epoch = 42, .writable_for_ms = (for_ms), .ttl_ms = 30000}
#define WRITABLE_EPOCH(epoch_, for_ms)                                                             \
	.answer = {                                                                                \
	        .writable = true, .epoch = (epoch_), .writable_for_ms = (for_ms), .ttl_ms = 30000}
#define LEASED(expires)                                                                            \
	.answer = {.writable = true,                                                               \
	           .epoch = 42,                                                                    \
	           .writable_for_ms = 20000,                                                       \
	           .ttl_ms = 30000,                                                                \
	           .lease_found = true,                                                            \
	           .lease_held = true,                                                             \
	           .lease_generation = 7,                                                          \
	           .lease_expires_in_ms = (expires)}
#define FENCED .answer = {.writable = false, .epoch = 43, .ttl_ms = 30000}
#define RUNNING_42                                                                                 \
	.child = GATE_CHILD_RUNNING, .child_epoch = 42, .child_token = 42, .child_until_ms = D

struct decide_case {
	const char *name;
	struct gate_view view;
	enum gate_action action;
	enum gate_reason reason;
	bool allowed;
	int64_t kill_at_ms; /* STOP: checked */
	int64_t wake_ms;    /* WAIT: checked unless 0 */
};

static void test_decide_bound_table(void **unused)
{
	static const struct decide_case cases[] = {
	        {.name = "running, before deadline - grace: keep, wake at deadline - grace",
	         .view = {.now_ms = D - G - 1,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  WRITABLE(20000),
	                  RUNNING_42},
	         .action = GATE_WAIT,
	         .allowed = true,
	         .wake_ms = D - G},
	        {.name = "running, at deadline - grace, sidecar answers: stop for the deadline",
	         .view = {.now_ms = D - G,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  WRITABLE(20000),
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_DEADLINE,
	         .kill_at_ms = D},
	        {.name = "running, at deadline - grace, sidecar hung/partitioned/stopped",
	         .view = {.now_ms = D - G,
	                  .grace_ms = G,
	                  SEEN(T0, false),
	                  WRITABLE(20000),
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_SIDECAR_UNREACHABLE,
	         .kill_at_ms = D},
	        {.name = "running, the gate woke late (2 s left): SIGKILL still at the deadline",
	         .view = {.now_ms = D - 2000,
	                  .grace_ms = G,
	                  SEEN(T0, false),
	                  WRITABLE(20000),
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_SIDECAR_UNREACHABLE,
	         .kill_at_ms = D},
	        {.name = "running, at the deadline itself: kill now",
	         .view = {.now_ms = D, .grace_ms = G, SEEN(T0, true), WRITABLE(20000), RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_VERDICT_EXPIRED,
	         .kill_at_ms = D},
	        {.name = "running, past the deadline (gate was stopped): kill at once",
	         .view = {.now_ms = D + 700,
	                  .grace_ms = G,
	                  SEEN(T0, false),
	                  WRITABLE(20000),
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_SIDECAR_UNREACHABLE,
	         .kill_at_ms = D},
	        {.name = "running, fenced early: SIGKILL grace after SIGTERM",
	         .view = {.now_ms = T0 + 100, .grace_ms = G, SEEN(T0, true), FENCED, RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_FENCED,
	         .kill_at_ms = T0 + 100 + G},
	        {.name = "running, fenced late (3 s before its deadline): SIGKILL at the deadline",
	         .view = {.now_ms = D - 3000, .grace_ms = G, SEEN(T0, true), FENCED, RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_FENCED,
	         .kill_at_ms = D},
	        {.name = "running, a fresher verdict moved the deadline: keep, wake later",
	         .view = {.now_ms = D - G,
	                  .grace_ms = G,
	                  SEEN(T0 + 1000, true),
	                  WRITABLE(20000),
	                  RUNNING_42},
	         .action = GATE_WAIT,
	         .allowed = true,
	         .wake_ms = D + 1000 - G},
	        {.name = "running, a fresher but shorter verdict: its deadline counts",
	         .view = {.now_ms = T0 + 1000,
	                  .grace_ms = G,
	                  SEEN(T0 + 500, true),
	                  WRITABLE(5500),
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_DEADLINE,
	         .kill_at_ms = T0 + 6000},
	        {.name = "running, epoch moved: SIGKILL by the old child's own deadline",
	         .view = {.now_ms = D - 1000,
	                  .grace_ms = G,
	                  SEEN(D - 1000, true),
	                  WRITABLE_EPOCH(43, 20000),
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_TOKEN_CHANGED,
	         .allowed = true,
	         .kill_at_ms = D},
	        {.name = "running, lease lost: SIGKILL within grace and by the deadline",
	         .view = {.now_ms = T0 + 100,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  WRITABLE(20000),
	                  .singleton = true,
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_LEASE_LOST,
	         .kill_at_ms = T0 + 100 + G},
	        {.name = "running, SIGTERM to the gate: grace, capped by the deadline",
	         .view = {.now_ms = D - 1000,
	                  .grace_ms = G,
	                  SEEN(T0, false),
	                  WRITABLE(20000),
	                  .shutting_down = true,
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_SIGNAL,
	         .kill_at_ms = D},
	        {.name = "running, SIGTERM to the gate early: the whole grace",
	         .view = {.now_ms = T0 + 100,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  WRITABLE(20000),
	                  .shutting_down = true,
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_SIGNAL,
	         .allowed = true,
	         .kill_at_ms = T0 + 100 + G},
	        {.name = "stopping: SIGKILL at stop + grace when that comes first",
	         .view = {.now_ms = T0 + 200,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  FENCED,
	                  .child = GATE_CHILD_STOPPING,
	                  .child_until_ms = D,
	                  .kill_at_ms = T0 + 100 + G},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_FENCED,
	         .wake_ms = T0 + 100 + G},
	        {.name = "stopping: SIGKILL at the deadline when that comes first",
	         .view = {.now_ms = D - 2000,
	                  .grace_ms = G,
	                  SEEN(T0, false),
	                  WRITABLE(20000),
	                  .child = GATE_CHILD_STOPPING,
	                  .child_until_ms = D,
	                  .kill_at_ms = D + 3000},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_SIDECAR_UNREACHABLE,
	         .wake_ms = D},
	        {.name = "stopping, at the deadline: kill",
	         .view = {.now_ms = D,
	                  .grace_ms = G,
	                  SEEN(T0, false),
	                  WRITABLE(20000),
	                  .child = GATE_CHILD_STOPPING,
	                  .child_until_ms = D,
	                  .kill_at_ms = D + 3000},
	         .action = GATE_KILL,
	         .reason = GATE_REASON_SIDECAR_UNREACHABLE},
	        {.name = "nothing runs, deadline - grace not reached: start",
	         .view = {.now_ms = D - G - 1, .grace_ms = G, SEEN(T0, true), WRITABLE(20000)},
	         .action = GATE_START,
	         .allowed = true},
	        {.name = "nothing runs, within grace of the deadline: do not start",
	         .view = {.now_ms = D - G, .grace_ms = G, SEEN(T0, true), WRITABLE(20000)},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_DEADLINE,
	         .wake_ms = INT64_MAX},
	        {.name = "nothing runs, verdict shorter than the grace: never start",
	         .view = {.now_ms = T0 + 1, .grace_ms = G, SEEN(T0, true), WRITABLE(G)},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_DEADLINE,
	         .wake_ms = INT64_MAX},
	        {.name = "nothing runs, the lease ends within grace: do not start",
	         .view = {.now_ms = T0 + 4000,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  LEASED(9000),
	                  .singleton = true},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_DEADLINE,
	         .wake_ms = INT64_MAX},
	        {.name = "nothing runs, the lease ends after the grace: start",
	         .view = {.now_ms = T0 + 3999,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  LEASED(9000),
	                  .singleton = true},
	         .action = GATE_START,
	         .allowed = true},
	        {.name = "grace 0: the deadline alone",
	         .view = {.now_ms = D - 1, SEEN(T0, true), WRITABLE(20000), RUNNING_42},
	         .action = GATE_WAIT,
	         .allowed = true,
	         .wake_ms = D},
	        {.name = "--once, the run is over: exit even though allowed",
	         .view = {.now_ms = T0 + 100,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  WRITABLE(20000),
	                  .once = true,
	                  .ran = true},
	         .action = GATE_EXIT,
	         .allowed = true},
	        {.name = "--once, fenced before it could start: keep waiting",
	         .view = {.now_ms = T0 + 100, .grace_ms = G, SEEN(T0, true), FENCED, .once = true},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_FENCED,
	         .wake_ms = INT64_MAX},
	        {.name = "--once, no answer yet: keep waiting",
	         .view = {.now_ms = T0, .grace_ms = G, .once = true},
	         .action = GATE_WAIT,
	         .reason = GATE_REASON_SIDECAR_UNREACHABLE,
	         .wake_ms = INT64_MAX},
	        {.name = "--once, allowed, not yet run: start",
	         .view = {.now_ms = T0 + 100,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  WRITABLE(20000),
	                  .once = true},
	         .action = GATE_START,
	         .allowed = true},
	        {.name = "--once, running: stopped by the fence like any child",
	         .view = {.now_ms = T0 + 100,
	                  .grace_ms = G,
	                  SEEN(T0, true),
	                  FENCED,
	                  .once = true,
	                  RUNNING_42},
	         .action = GATE_STOP,
	         .reason = GATE_REASON_FENCED,
	         .kill_at_ms = T0 + 100 + G},
	};
	struct gate_decision d;

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decide_case *c = &cases[i];

		gate_decide(&c->view, &d);
		if (d.action != c->action)
			fail_msg("%s: action %s, want %s", c->name, gate_action_str(d.action),
			         gate_action_str(c->action));
		if (d.reason != c->reason)
			fail_msg("%s: reason %s, want %s", c->name, gate_reason_str(d.reason),
			         gate_reason_str(c->reason));
		if (d.allowed != c->allowed)
			fail_msg("%s: allowed %d", c->name, d.allowed);
		if (c->action == GATE_STOP && d.kill_at_ms != c->kill_at_ms)
			fail_msg("%s: kill_at T0%+lld, want T0%+lld", c->name,
			         (long long)(d.kill_at_ms - T0), (long long)(c->kill_at_ms - T0));
		if (c->action == GATE_WAIT && c->wake_ms != 0 && d.wake_ms != c->wake_ms)
			fail_msg("%s: wake T0%+lld, want T0%+lld", c->name,
			         (long long)(d.wake_ms - T0), (long long)(c->wake_ms - T0));
		/* Whatever the case: a SIGKILL is never planned after the child's deadline. */
		if (d.action == GATE_STOP && c->view.child_until_ms != 0)
			assert_true(d.kill_at_ms <= c->view.child_until_ms ||
			            d.kill_at_ms <= d.allowed_until_ms);
	}
}

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

static void test_backoff(void **unused)
{
	int64_t delay = 0;
	static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};

	(void)unused;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		delay = gate_backoff_next(delay, 10);
		assert_int_equal(delay, want[i]);
	}
	assert_int_equal(gate_backoff_next(30000, 59999), 30000);
	assert_int_equal(gate_backoff_next(30000, 60000), 1000); /* ran a minute: reset */
	assert_int_equal(gate_backoff_next(0, 120000), 1000);
}

static void test_names_and_exit_codes(void **unused)
{
	(void)unused;
	assert_string_equal(gate_reason_str(GATE_REASON_FENCED), "fenced");
	assert_string_equal(gate_reason_str(GATE_REASON_LEASE_LOST), "lease_lost");
	assert_string_equal(gate_reason_str(GATE_REASON_SIDECAR_UNREACHABLE),
	                    "sidecar_unreachable");
	assert_string_equal(gate_reason_str(GATE_REASON_VERDICT_EXPIRED), "verdict_expired");
	assert_string_equal(gate_reason_str(GATE_REASON_DEADLINE), "deadline");
	assert_string_equal(gate_reason_str(GATE_REASON_SIGNAL), "signal");
	assert_string_equal(gate_reason_str(GATE_REASON_EXITED), "exited");
	assert_string_equal(gate_reason_str(GATE_REASON_COUNT), "unknown");
	for (int r = 0; r < GATE_REASON_COUNT; r++)
		assert_non_null(gate_reason_str((enum gate_reason)r));
	assert_string_equal(gate_action_str(GATE_KILL), "kill");

	assert_int_equal(gate_exit_code(0), 0);
	assert_int_equal(gate_exit_code(7 << 8), 7);
	assert_int_equal(gate_exit_code(SIGTERM), 128 + SIGTERM);
	assert_int_equal(gate_exit_code(SIGKILL), 128 + SIGKILL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_args_defaults),
	        cmocka_unit_test(test_args_all_forms),
	        cmocka_unit_test(test_args_listen_default),
	        cmocka_unit_test(test_args_rejected),
	        cmocka_unit_test(test_fence_full_answer),
	        cmocka_unit_test(test_fence_not_writable),
	        cmocka_unit_test(test_fence_hostile),
	        cmocka_unit_test(test_fence_bounds),
	        cmocka_unit_test(test_decide_start_and_keep),
	        cmocka_unit_test(test_decide_stop_reasons),
	        cmocka_unit_test(test_decide_singleton),
	        cmocka_unit_test(test_decide_no_answer_and_backoff),
	        cmocka_unit_test(test_decide_stopping_and_shutdown),
	        cmocka_unit_test(test_decide_bound_table),
	        cmocka_unit_test(test_check_grace_table),
	        cmocka_unit_test(test_backoff),
	        cmocka_unit_test(test_names_and_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
