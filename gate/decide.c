/*
 * decide.c - the gate's policy, pure: what to do now (gate_decide), the
 * restart backoff, the exit status of a waitpid status, and the names of
 * the reasons and actions. No I/O, no clock: every input is in the view.
 */
#include "gate/gate.h"

#include <string.h>
#include <sys/wait.h>

#include "gate/gate_int.h"

/* ------------------------------------------------------------------ names */

static const char *const reason_names[GATE_REASON_COUNT] = {
        [GATE_REASON_NONE] = "none",
        [GATE_REASON_FENCED] = "fenced",
        [GATE_REASON_LEASE_LOST] = "lease_lost",
        [GATE_REASON_SIDECAR_UNREACHABLE] = "sidecar_unreachable",
        [GATE_REASON_VERDICT_EXPIRED] = "verdict_expired",
        [GATE_REASON_DEADLINE] = "deadline",
        [GATE_REASON_TOKEN_CHANGED] = "token_changed",
        [GATE_REASON_SIGNAL] = "signal",
        [GATE_REASON_EXITED] = "exited",
};

const char *gate_reason_str(enum gate_reason reason)
{
	if ((unsigned)reason >= GATE_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

const char *gate_action_str(enum gate_action action)
{
	switch (action) {
	case GATE_WAIT: return "wait";
	case GATE_START: return "start";
	case GATE_STOP: return "stop";
	case GATE_KILL: return "kill";
	case GATE_EXIT: return "exit";
	}
	return "unknown";
}

/* -------------------------------------------------------------- decision */

/*
 * The deadline of the last answer, if it lets a child with this epoch/token
 * run at all (writable, lease held): sent + writable_for_ms, capped by the
 * TTL and the lease. false when it does not.
 */
static bool verdict_until(const struct gate_view *view, int64_t *until)
{
	const struct gate_fence *answer = &view->answer;

	if (!view->have_answer || !answer->writable)
		return false;
	if (view->singleton && !(answer->lease_found && answer->lease_held))
		return false;
	*until = view->answer_sent_ms + answer->writable_for_ms;
	if (answer->ttl_ms > 0)
		*until = gate_min64(*until, view->answer_sent_ms + answer->ttl_ms);
	if (view->singleton)
		*until = gate_min64(*until, view->answer_sent_ms + answer->lease_expires_in_ms);
	return true;
}

/* Is the child allowed now? Fills allowed, allowed_until, epoch, token, reason. */
static void decide_allowed(const struct gate_view *view, struct gate_decision *out)
{
	const struct gate_fence *answer = &view->answer;
	int64_t until;

	if (!view->have_answer) {
		out->reason = GATE_REASON_SIDECAR_UNREACHABLE;
		return;
	}
	if (!verdict_until(view, &until)) {
		out->reason = answer->writable ? GATE_REASON_LEASE_LOST : GATE_REASON_FENCED;
		return;
	}
	/* The grace is spent before the deadline: no later than until - grace. */
	if (view->now_ms >= until - view->grace_ms) {
		if (!view->sidecar_ok)
			out->reason = GATE_REASON_SIDECAR_UNREACHABLE;
		else if (view->now_ms >= until)
			out->reason = GATE_REASON_VERDICT_EXPIRED;
		else
			out->reason = GATE_REASON_DEADLINE;
		return;
	}
	out->allowed = true;
	out->allowed_until_ms = until;
	out->epoch = answer->epoch;
	out->token = view->singleton ? answer->lease_generation : answer->epoch;
}

int64_t gate_decide_child_deadline(const struct gate_view *view)
{
	uint64_t token = view->singleton ? view->answer.lease_generation : view->answer.epoch;
	int64_t until;

	if (verdict_until(view, &until) && view->answer.epoch == view->child_epoch &&
	    token == view->child_token)
		return until;
	return view->child_until_ms;
}

void gate_decide(const struct gate_view *view, struct gate_decision *out)
{
	int64_t kill_at;

	memset(out, 0, sizeof(*out));
	out->action = GATE_WAIT;
	out->wake_ms = INT64_MAX;
	decide_allowed(view, out);

	switch (view->child) {
	case GATE_CHILD_NONE:
		if (view->shutting_down || (view->once && view->ran)) {
			out->action = GATE_EXIT;
		} else if (out->allowed && view->now_ms >= view->restart_at_ms) {
			out->action = GATE_START;
		} else if (out->allowed) {
			out->wake_ms = gate_min64(view->restart_at_ms,
			                          out->allowed_until_ms - view->grace_ms);
		}
		break;
	case GATE_CHILD_RUNNING:
		out->kill_at_ms =
		        gate_min64(view->now_ms + view->grace_ms, gate_decide_child_deadline(view));
		if (view->shutting_down) {
			out->action = GATE_STOP;
			out->reason = GATE_REASON_SIGNAL;
		} else if (!out->allowed) {
			out->action = GATE_STOP;
		} else if (out->epoch != view->child_epoch || out->token != view->child_token) {
			out->action = GATE_STOP;
			out->reason = GATE_REASON_TOKEN_CHANGED;
		} else {
			out->kill_at_ms = 0;
			out->wake_ms = out->allowed_until_ms - view->grace_ms;
		}
		break;
	case GATE_CHILD_STOPPING:
		kill_at = gate_min64(view->kill_at_ms, view->child_until_ms);
		if (view->now_ms >= kill_at)
			out->action = GATE_KILL;
		else
			out->wake_ms = kill_at;
		break;
	case GATE_CHILD_KILLED: break;
	}
}

int64_t gate_backoff_next(int64_t prev_ms, int64_t ran_ms)
{
	if (ran_ms >= GATE_BACKOFF_RESET_MS || prev_ms < GATE_BACKOFF_MIN_MS)
		return GATE_BACKOFF_MIN_MS;
	if (prev_ms >= GATE_BACKOFF_MAX_MS / 2)
		return GATE_BACKOFF_MAX_MS;
	return prev_ms * 2;
}

int gate_exit_code(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 1;
}
