/* test_gate_decide.c - `warden gate`: its policy, the backoff, the names (gate/decide.c). */
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

#include "gate/gate.h"

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
	        cmocka_unit_test(test_decide_start_and_keep),
	        cmocka_unit_test(test_decide_stop_reasons),
	        cmocka_unit_test(test_decide_singleton),
	        cmocka_unit_test(test_decide_no_answer_and_backoff),
	        cmocka_unit_test(test_decide_stopping_and_shutdown),
	        cmocka_unit_test(test_decide_bound_table),
	        cmocka_unit_test(test_backoff),
	        cmocka_unit_test(test_names_and_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
