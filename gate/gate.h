/*
 * gate.h - `warden gate [--singleton NAME] [--grace 10s] [--sidecar URL]
 * [--poll 1s] [--once] -- CMD ARGS...`: run a worker or cron process only
 * while the sidecar says this task may write (and, with --singleton, while
 * the sidecar holds that lease).
 *
 * It polls the sidecar's GET /fence (see DESIGN.md for the JSON), starts CMD
 * when allowed, and has it DEAD by the deadline of the last good answer
 * (sent + writable_for_ms, capped by ttl_ms and the lease's expires_in_ms):
 * SIGTERM when fenced (or the lease is lost), and at the latest at
 * deadline - grace; SIGKILL grace after the SIGTERM, or at the deadline if
 * that comes first. A hung, partitioned or stopped sidecar therefore never
 * stretches the bound. It restarts CMD when allowed again (with backoff if
 * it keeps crashing; with --once never: it exits with CMD's status, or 75
 * when the fence stopped it), refuses at its first good answer a --grace
 * that leaves no room (grace >= ttl_ms - typical_fence_ms), and forwards
 * SIGTERM/SIGINT to the child, exiting with its status.
 *
 * This is the command's API: three pure pieces and one loop, one file of
 * gate/ each: gate_parse_args and gate_check_grace (args.c: the command
 * line), gate_fence_parse (fence_answer.c: one /fence answer), gate_decide
 * (decide.c: what to do now, from the last answer, the clock and the child's
 * state), and gate_run (supervisor.c), which polls, decides, acts and logs
 * one JSON line per start, stop and exit; it starts the child through
 * spawn.c. What the modules share beyond this is in gate_int.h, private.
 */
#ifndef WARDEN_GATE_GATE_H
#define WARDEN_GATE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/limits.h"

#define GATE_NAME_MAX 64

#define GATE_DEFAULT_SIDECAR    "http://127.0.0.1:8089"
#define GATE_DEFAULT_GRACE_MS   10000
#define GATE_DEFAULT_POLL_MS    1000
#define GATE_POLL_MIN_MS        50                 /* --poll below this is refused */
#define GATE_POLL_MAX_MS        60000              /* --poll above this is refused */
#define GATE_REQUEST_TIMEOUT_MS 1000               /* one /fence request: min(poll, this) */
#define GATE_FENCE_BODY_MAX     (16 * 1024)        /* a /fence body; more is a bad answer */
#define GATE_FENCE_STATE_MAX    16                 /* the "state" string of /fence */
#define GATE_FENCE_INT_MAX      9007199254740991LL /* 2^53 - 1, as FLAG_EPOCH_MAX */
#define GATE_BACKOFF_MIN_MS     1000               /* first restart delay after a crash */
#define GATE_BACKOFF_MAX_MS     30000              /* the delay doubles up to this */
#define GATE_BACKOFF_RESET_MS   60000              /* a child that ran this long resets it */
#define GATE_EXIT_TEMPFAIL      75                 /* --once: the fence stopped CMD (EX_TEMPFAIL) */
#define GATE_EXIT_REFUSED       2                  /* --grace leaves no room (as a usage error) */
#define GATE_EXIT_CANNOT_START  127                /* --once: CMD could not be started */

struct gate_options {
	char singleton[GATE_NAME_MAX + 1];    /* "" = no lease needed */
	int64_t grace_ms;                     /* --grace, default 10s */
	char sidecar_url[WD_LISTEN_MAX + 64]; /* --sidecar, default http://127.0.0.1:8089 */
	int64_t poll_ms;                      /* how often /fence is asked, default 1s */
	bool once;                            /* --once: run CMD to completion once */
	char **argv;                          /* CMD ARGS..., NULL-terminated, borrowed */
};

/*
 * Parses a listener address "host:port", "[v6]:port" or "port" into host and
 * port: 0 or -EINVAL with err. agent/ passes config_parse_listen, so that the
 * gate reads WARDEN_LISTEN with the agent's own rule.
 */
typedef int gate_parse_listen_fn(const char *text, char *host, size_t host_size, int *port,
                                 struct wd_err *err);

/*
 * Parse `warden gate` arguments (argv[0] is "gate"). Returns 0, or -EINVAL
 * with err naming the bad argument. parse_listen reads WARDEN_LISTEN for the
 * default --sidecar.
 *
 * Options: --singleton NAME (a lease name: [a-z0-9_-], at most GATE_NAME_MAX), --grace D
 * (0s..24h), --sidecar URL (http:// or https://, the base: "/fence" is
 * appended; trailing slashes and a trailing "/fence" are dropped), --poll D (GATE_POLL_MIN_MS..
 * GATE_POLL_MAX_MS), --once (no value); each also as --opt=VALUE (but --once),
 * each at most once. `--` is
 * required and must be followed by CMD. Without --sidecar the URL is
 * http://127.0.0.1:<port of WARDEN_LISTEN> (its host if it is not a wildcard),
 * or GATE_DEFAULT_SIDECAR when WARDEN_LISTEN is unset. out->argv borrows argv.
 */
int gate_parse_args(int argc, char **argv, gate_parse_listen_fn *parse_listen,
                    struct gate_options *out, struct wd_err *err);

/*
 * Run until the child is done for good or a signal stops us; returns the
 * exit status: the child's (128 + signal if a signal ended it) when SIGTERM
 * or SIGINT stopped the gate while a child ran, 0 if none ran then, 1 if the
 * gate could not set itself up, GATE_EXIT_REFUSED if the first good answer
 * shows that --grace leaves no room (one line on stderr; no child started).
 * With --once also: the child's status when it ended by itself,
 * GATE_EXIT_TEMPFAIL when the gate stopped it (fenced, lease lost, deadline,
 * sidecar unreachable, token changed), GATE_EXIT_CANNOT_START when it could
 * not be started. Blocks; logs JSON lines on stdout.
 */
int gate_run(const struct gate_options *opts);

/* One good /fence answer, as far as the gate cares. Plain data. */
struct gate_fence {
	bool writable;                        /* "writable" (required, boolean) */
	uint64_t epoch;                       /* "epoch" (required, 0..2^53-1) */
	int64_t writable_for_ms;              /* required if writable; 0 when not */
	int64_t ttl_ms;                       /* "ttl_ms"; 0 when absent */
	int64_t typical_fence_ms;             /* "typical_fence_ms"; 0 when absent */
	char state[GATE_FENCE_STATE_MAX + 1]; /* "state", "" when absent; for logs */
	bool lease_found;                     /* leases[singleton] is present */
	bool lease_held;                      /* ...and says "held": true */
	uint64_t lease_generation;            /* required when held */
	int64_t lease_expires_in_ms;          /* required when held; < 0 read as 0 */
};

/*
 * Parse the body of one /fence answer. `singleton` ("" or NULL = none) names
 * the lease to look up in "leases". Returns 0, or -EINVAL with err saying
 * what is wrong (bad JSON, a missing or mistyped field, an integer out of
 * range, a duplicate key). Unknown keys are ignored. Never allocates beyond
 * jansson's parse of `text`; does not need `text` NUL-terminated.
 */
int gate_fence_parse(const char *text, size_t len, const char *singleton, struct gate_fence *out,
                     struct wd_err *err);

/* Why the gate stops a child (gate.stop) or why one ended (gate.exit). */
enum gate_reason {
	GATE_REASON_NONE,
	GATE_REASON_FENCED,              /* "fenced": the sidecar says not writable */
	GATE_REASON_LEASE_LOST,          /* "lease_lost": the singleton lease is not held */
	GATE_REASON_SIDECAR_UNREACHABLE, /* "sidecar_unreachable": deadline passed, no answer */
	GATE_REASON_VERDICT_EXPIRED,     /* "verdict_expired": deadline passed, answers late */
	GATE_REASON_DEADLINE,            /* "deadline": within grace of the deadline, answers
	                                    come but no later deadline */
	GATE_REASON_TOKEN_CHANGED,       /* "token_changed": epoch or lease generation moved */
	GATE_REASON_SIGNAL,              /* "signal": the gate got SIGTERM or SIGINT */
	GATE_REASON_EXITED,              /* "exited": the child ended by itself */
	GATE_REASON_COUNT
};

const char *gate_reason_str(enum gate_reason reason);

enum gate_child {
	GATE_CHILD_NONE,     /* nothing runs */
	GATE_CHILD_RUNNING,  /* started, not asked to stop */
	GATE_CHILD_STOPPING, /* SIGTERM sent to its group, SIGKILL due at
	                        min(kill_at_ms, child_until_ms) */
	GATE_CHILD_KILLED,   /* SIGKILL sent, waiting to reap */
};

/* Everything gate_decide looks at. Times are monotonic milliseconds. */
struct gate_view {
	int64_t now_ms;
	int64_t grace_ms;         /* --grace */
	bool singleton;           /* --singleton given */
	bool once;                /* --once given */
	bool ran;                 /* a child was started (or failed to start) and is gone */
	bool have_answer;         /* a good answer came since start */
	struct gate_fence answer; /* the last good answer */
	int64_t answer_sent_ms;   /* when its request was sent */
	bool sidecar_ok;          /* the latest finished poll gave a good answer */
	bool shutting_down;       /* SIGTERM/SIGINT came */
	enum gate_child child;
	uint64_t child_epoch;   /* the WARDEN_EPOCH the child got */
	uint64_t child_token;   /* the WARDEN_FENCING_TOKEN it got */
	int64_t child_until_ms; /* RUNNING, STOPPING: the deadline of the last verdict
	                           that allowed it (it must be dead by then) */
	int64_t kill_at_ms;     /* STOPPING: SIGTERM time + grace */
	int64_t restart_at_ms;  /* no start before this (crash backoff) */
};

enum gate_action {
	GATE_WAIT,  /* nothing to do before wake_ms or new input */
	GATE_START, /* start the child with epoch/token */
	GATE_STOP,  /* SIGTERM its group for `reason` */
	GATE_KILL,  /* grace is over: SIGKILL its group */
	GATE_EXIT,  /* shutting down (or --once done) and nothing runs: exit */
};

const char *gate_action_str(enum gate_action action);

struct gate_decision {
	enum gate_action action;
	enum gate_reason reason;  /* why not allowed (NONE when allowed) */
	bool allowed;             /* the child may run now */
	int64_t allowed_until_ms; /* when allowed: the deadline of the verdict */
	int64_t kill_at_ms;       /* STOP: when SIGKILL is due, min(now + grace, the
	                             child's deadline) */
	uint64_t epoch;           /* START: WARDEN_EPOCH */
	uint64_t token;           /* START: WARDEN_FENCING_TOKEN */
	int64_t wake_ms;          /* the next instant the decision may change by itself,
	                             INT64_MAX if none */
};

/*
 * The gate's whole policy, pure: from view, what to do now. Allowed means a
 * good answer said writable (and, with a singleton, the lease held) and its
 * deadline - sent + writable_for_ms, capped by sent + ttl_ms and, with a
 * singleton, by sent + expires_in_ms - is more than grace_ms away: a child
 * must be dead by the deadline, so the grace is spent before it. A child
 * running with another epoch or token than allowed now is stopped
 * (token_changed). STOP comes with kill_at_ms = min(now + grace, the child's
 * deadline: allowed_until_ms if still allowed with its token, else
 * child_until_ms); a STOPPING child is killed at min(kill_at_ms,
 * child_until_ms). With --once, nothing running and a child already run:
 * EXIT. Never fails.
 */
void gate_decide(const struct gate_view *view, struct gate_decision *out);

/*
 * The restart delay after a child that ran `ran_ms` exited by itself, given
 * the previous delay (0 at first): GATE_BACKOFF_MIN_MS, doubling up to
 * GATE_BACKOFF_MAX_MS, back to the minimum after a run of at least
 * GATE_BACKOFF_RESET_MS.
 */
int64_t gate_backoff_next(int64_t prev_ms, int64_t ran_ms);

/*
 * Does grace leave room under the sidecar's numbers? Returns 0, or -EINVAL
 * with a one-line err naming --grace and the numbers when grace_ms >=
 * ttl_ms - typical_fence_ms (a fence that comes in typical time would leave
 * the child no grace before the deadline). An answer without ttl_ms cannot
 * be judged: 0. Without typical_fence_ms (an older sidecar) it counts as 0.
 */
int gate_check_grace(int64_t grace_ms, const struct gate_fence *answer, struct wd_err *err);

/* The exit status a shell would report for a waitpid status (128 + signal). */
int gate_exit_code(int wait_status);

#endif
