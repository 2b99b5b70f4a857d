/*
 * lease.c - the singleton lease (see lease.h): a row of warden_lease that at
 * most one task holds, claimed and renewed by a thread of its own on a
 * connection of its own (probes/pgconn.c: deadline-bounded, backoff).
 *
 * One attempt, every ttl/3 (and at once on start, and at once when this task
 * becomes writable), only while the fence says writable:
 *  1. once per connection: CREATE TABLE IF NOT EXISTS warden_lease. Refused
 *     for lack of privilege (42501): go on, an operator may have created it.
 *     Created by another task at the same moment (42P07, or 23505 on the
 *     catalog): go on. A reader (25006): not held. Else: not held, error.
 *  2. the claim, one statement judged on the database's clock:
 *       INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE the row has expired
 *       or is ours RETURNING generation, the milliseconds it has left.
 *     A row: held until (when our request was sent) + (time left). No row:
 *     another task holds it; its holder is read for the status. 25006: the
 *     database is a reader (a passive region's), never held.
 * The generation stays when we renew our unexpired row and rises on every
 * other claim: another holder's expired row, or ours after it expired.
 *
 * A kept connection that the server had closed is replaced within the same
 * attempt; every attempt ends by the probe's timeout, whatever the database
 * does. Held is computed when asked (lease_status): writable now, last claim
 * succeeded, its time not run out. The thread wakes every LEASE_POLL_MS to
 * ask the fence, so that it logs a loss (and claims after a fence is lifted)
 * at once.
 *
 * Secrets: the connection's errors are scrubbed of the passwords (pgconn);
 * names and holders are checked to be printable; nothing else is shown.
 */
#include "fencing/lease.h"
#include "fencing/lease_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "probes/pgconn.h"

#define LEASE_POLL_MS    100     /* the thread asks the fence at least this often */
#define LEASE_TTL_MIN_MS 300     /* ttl/3 must leave room for a round trip */
#define LEASE_TTL_MAX_MS 3600000 /* an hour: a singleton that long is a mistake */

const char lease_create_sql[] = "CREATE TABLE IF NOT EXISTS warden_lease ("
                                " name text PRIMARY KEY,"
                                " holder text NOT NULL,"
                                " generation bigint NOT NULL,"
                                " expires_at timestamptz NOT NULL)";

/* $1 name, $2 holder, $3 ttl in ms. */
const char lease_claim_sql[] =
        "INSERT INTO warden_lease AS l (name, holder, generation, expires_at)"
        " VALUES ($1, $2, 1, now() + $3::bigint * interval '1 millisecond')"
        " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder,"
        " generation = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at >= now()"
        " THEN l.generation ELSE l.generation + 1 END,"
        " expires_at = EXCLUDED.expires_at"
        " WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder"
        " RETURNING generation, (EXTRACT(EPOCH FROM (expires_at - now())) * 1000)::bigint";

/* $1 name. */
static const char lease_holder_sql[] = "SELECT holder FROM warden_lease WHERE name = $1";

/* $1 name, $2 holder, $3 generation. Only ever shortens our own row, at our generation. */
const char lease_release_sql[] = "UPDATE warden_lease SET expires_at = now()"
                                 " WHERE name = $1 AND holder = $2 AND generation = $3"
                                 " AND expires_at > now()";

struct lease {
	char name[LEASE_NAME_MAX + 1];
	char holder[LEASE_HOLDER_MAX + 1];
	char ttl_text[24]; /* ttl_ms as the claim's $3 */
	int64_t ttl_ms;
	int64_t timeout_ms; /* of the probe: bounds every attempt and the release */
	struct lease_fence_view view;

	/* The thread's own. */
	struct pgconn *pc;
	bool table_ready;   /* the table was ensured on this connection */
	bool reported_held; /* what the last transition log said */
	uint64_t reported_generation;
	enum lease_error reported_reason; /* what the last lease.error line said */

	pthread_mutex_t lock;
	pthread_cond_t wake; /* signalled on stop */
	bool stopping;
	bool started;
	pthread_t thread;
	struct lease_state state; /* under lock */
};

/* ---- pure helpers (unit-tested) ---------------------------------------- */

const char *lease_error_str(enum lease_error error)
{
	static const char *const names[LEASE_ERROR_COUNT] = {
	        [LEASE_ERROR_NONE] = "none",
	        [LEASE_ERROR_PERMISSION_DENIED] = "permission_denied",
	        [LEASE_ERROR_UNDEFINED_TABLE] = "undefined_table",
	        [LEASE_ERROR_READ_ONLY] = "read_only",
	        [LEASE_ERROR_AUTH] = "auth",
	        [LEASE_ERROR_CONNECTION] = "connection",
	        [LEASE_ERROR_TIMEOUT] = "timeout",
	        [LEASE_ERROR_SQL] = "sql_error",
	        [LEASE_ERROR_BAD_REPLY] = "bad_reply",
	};

	if ((unsigned)error >= LEASE_ERROR_COUNT)
		return "unknown";
	return names[error];
}

/*
 * The reason of a failed statement (result not PGCONN_OK) from its SQLSTATE
 * ("" if none) and outcome, or of a failed connect (result PGCONN_FAILED).
 */
enum lease_error lease_error_of(enum pgconn_result result, const char *sqlstate,
                                enum probe_outcome outcome)
{
	if (result == PGCONN_SERVER_ERROR) {
		if (strcmp(sqlstate, "42501") == 0)
			return LEASE_ERROR_PERMISSION_DENIED;
		if (strcmp(sqlstate, "42P01") == 0)
			return LEASE_ERROR_UNDEFINED_TABLE;
		if (strcmp(sqlstate, "25006") == 0)
			return LEASE_ERROR_READ_ONLY;
		if (strncmp(sqlstate, "28", 2) == 0)
			return LEASE_ERROR_AUTH;
		if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0)
			return LEASE_ERROR_CONNECTION;
		return LEASE_ERROR_SQL;
	}
	switch (outcome) {
	case PROBE_TIMEOUT: return LEASE_ERROR_TIMEOUT;
	case PROBE_AUTH: return LEASE_ERROR_AUTH;
	case PROBE_BAD_REPLY: return LEASE_ERROR_BAD_REPLY;
	case PROBE_SERVER_ERROR: return LEASE_ERROR_SQL;
	default: return LEASE_ERROR_CONNECTION;
	}
}

int lease_name_check(const char *name, struct wd_err *err)
{
	size_t len = name ? strlen(name) : 0;
	char quoted[WD_QUOTE_MAX];

	if (len == 0)
		return wd_err_set(err, -EINVAL, "lease name is empty");
	if (len > LEASE_NAME_MAX)
		return wd_err_set(err, -EINVAL, "lease name is over %d characters", LEASE_NAME_MAX);
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len) {
		wd_err_quote(name, quoted, sizeof(quoted));
		return wd_err_set(err, -EINVAL, "lease name '%s': want only [a-z0-9_-]", quoted);
	}
	return 0;
}

/* A holder (task id): 1..LEASE_HOLDER_MAX printable ASCII characters, no space. */
int lease_holder_check(const char *holder, struct wd_err *err)
{
	size_t len = holder ? strlen(holder) : 0;

	if (len == 0)
		return wd_err_set(err, -EINVAL, "lease holder is empty");
	if (len > LEASE_HOLDER_MAX)
		return wd_err_set(err, -EINVAL, "lease holder is over %d characters",
		                  LEASE_HOLDER_MAX);
	for (size_t i = 0; i < len; i++) {
		if (holder[i] <= ' ' || holder[i] > '~')
			return wd_err_set(err, -EINVAL,
			                  "lease holder: want printable ASCII without spaces");
	}
	return 0;
}

/*
 * Parse a claim's row: the generation (> 0) and the milliseconds left.
 * 0, or -EINVAL when either is not a number.
 */
int lease_parse_claim(const char *generation_text, const char *remaining_text, uint64_t *generation,
                      int64_t *remaining_ms)
{
	char *end;
	unsigned long long gen;
	long long remaining;

	if (generation_text == NULL || remaining_text == NULL || generation_text[0] == '\0' ||
	    generation_text[0] == '-' || remaining_text[0] == '\0')
		return -EINVAL;
	errno = 0;
	gen = strtoull(generation_text, &end, 10);
	if (errno != 0 || *end != '\0' || gen == 0)
		return -EINVAL;
	errno = 0;
	remaining = strtoll(remaining_text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*generation = (uint64_t)gen;
	*remaining_ms = (int64_t)remaining;
	return 0;
}

/*
 * The status at now_mono_ms of a lease `name` whose thread learned `state`,
 * for a task that the fence judges `verdict`: held only if writable now, the
 * last claim succeeded and its time has not run out.
 */
void lease_status_compute(const char *name, const struct lease_state *state,
                          const struct fence_verdict *verdict, int64_t now_mono_ms,
                          struct lease_status *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->generation = state->generation;
	snprintf(out->holder, sizeof(out->holder), "%s", state->holder);
	out->held = verdict->writable && state->claim_ok && !state->draining &&
	            now_mono_ms < state->held_until_mono_ms &&
	            now_mono_ms < verdict->writable_until_mono_ms;
	/* Never past writable_until: after it this task may not write, so it
	 * holds nothing (the safety contract), whatever the row says. */
	out->expires_in_ms = 0;
	if (out->held)
		out->expires_in_ms = (state->held_until_mono_ms < verdict->writable_until_mono_ms
		                              ? state->held_until_mono_ms
		                              : verdict->writable_until_mono_ms) -
		                     now_mono_ms;
	out->reason = state->reason;
	memcpy(out->errors, state->errors, sizeof(out->errors));
	if (state->draining)
		snprintf(out->error, sizeof(out->error),
		         "draining: not claiming, released when the agent exits");
	else if (!verdict->writable)
		snprintf(out->error, sizeof(out->error),
		         "not claiming: this task is not writable (%s)",
		         fence_state_str(verdict->state));
	else if (state->claim_ok && !out->held)
		snprintf(out->error, sizeof(out->error), "expired: not renewed in time");
	else
		snprintf(out->error, sizeof(out->error), "%s", state->error);
}

/* ---- state shared with lease_status ------------------------------------ */

/*
 * `lost`: the database said the row is not ours (another holder, a reader):
 * not held from now on. Otherwise (a timeout, a dropped connection) the row
 * stays ours until the held time of the last claim runs out, counted from
 * when that claim was sent; only then is the lease not held.
 */
void lease_record_failure(struct lease *lease, enum lease_error reason, const char *holder,
                          bool lost, const char *fmt, ...)
{
	char text[WD_ERR_MSG_MAX];

	WD_ERR_FORMAT_ARGS(text, sizeof(text), fmt);
	pthread_mutex_lock(&lease->lock);
	if (lost)
		lease->state.claim_ok = false;
	if (holder != NULL)
		snprintf(lease->state.holder, sizeof(lease->state.holder), "%s", holder);
	memcpy(lease->state.error, text, sizeof(text));
	lease->state.reason = reason;
	if (reason != LEASE_ERROR_NONE && (unsigned)reason < LEASE_ERROR_COUNT)
		lease->state.errors[reason]++;
	pthread_mutex_unlock(&lease->lock);
}

void lease_record_claim(struct lease *lease, uint64_t generation, int64_t held_until)
{
	pthread_mutex_lock(&lease->lock);
	lease->state.claim_ok = true;
	lease->state.generation = generation;
	lease->state.held_until_mono_ms = held_until;
	snprintf(lease->state.holder, sizeof(lease->state.holder), "%s", lease->holder);
	lease->state.error[0] = '\0';
	lease->state.reason = LEASE_ERROR_NONE;
	pthread_mutex_unlock(&lease->lock);
}

static void lease_copy_state(struct lease *lease, struct lease_state *out)
{
	pthread_mutex_lock(&lease->lock);
	*out = lease->state;
	pthread_mutex_unlock(&lease->lock);
}

/* ---- one attempt ------------------------------------------------------- */

enum lease_step {
	LEASE_STEP_DONE,   /* the database answered (claimed or not); recorded */
	LEASE_STEP_FAILED, /* error or timeout; recorded */
	LEASE_STEP_LOST,   /* the connection had been closed by the server */
};

/* Record a statement's failure `obs` as the attempt's error, after `what`. */
static enum lease_step lease_query_failed(struct lease *lease, enum pgconn_result result,
                                          const char *what, const struct probe_observation *obs)
{
	const char *sqlstate = pgconn_sqlstate(lease->pc);

	/* The table went away (an operator dropped it): create it again next time. */
	if (result == PGCONN_SERVER_ERROR && strcmp(sqlstate, "42P01") == 0)
		lease->table_ready = false;
	enum lease_error reason = lease_error_of(result, sqlstate, obs->outcome);

	if (reason == LEASE_ERROR_READ_ONLY)
		lease_record_failure(lease, reason, NULL, true, "the database is a reader: %s",
		                     obs->detail);
	else
		lease_record_failure(lease, reason, NULL, false, "%s: %s: %s", what,
		                     probe_outcome_str(obs->outcome), obs->detail);
	return result == PGCONN_LOST ? LEASE_STEP_LOST : LEASE_STEP_FAILED;
}

/* Make sure warden_lease exists, once per connection. */
static enum lease_step lease_ensure_table(struct lease *lease, int64_t deadline_mono_ms)
{
	struct probe_observation obs = {0};
	enum pgconn_result result;
	const char *sqlstate;
	PGresult *res;

	result = pgconn_query(lease->pc, lease_create_sql, 0, NULL, deadline_mono_ms, &obs, &res);
	PQclear(res);
	sqlstate = pgconn_sqlstate(lease->pc);
	/* No privilege: an operator may have created it. Created by a peer
	 * meanwhile: a duplicate in the catalog, or the table itself. */
	if (result == PGCONN_OK ||
	    (result == PGCONN_SERVER_ERROR &&
	     (strcmp(sqlstate, "42501") == 0 || strcmp(sqlstate, "42P07") == 0 ||
	      strcmp(sqlstate, "23505") == 0))) {
		lease->table_ready = true;
		return LEASE_STEP_DONE;
	}
	return lease_query_failed(lease, result, "creating warden_lease", &obs);
}

/* After a claim that returned no row: who holds it, for the status. */
static void lease_read_holder(struct lease *lease, int64_t deadline_mono_ms)
{
	const char *params[] = {lease->name};
	struct probe_observation obs = {0};
	char holder[LEASE_HOLDER_MAX + 1];
	PGresult *res;

	if (pgconn_query(lease->pc, lease_holder_sql, 1, params, deadline_mono_ms, &obs, &res) !=
	    PGCONN_OK) {
		lease_record_failure(lease, LEASE_ERROR_NONE, "", true,
		                     "held by another task (reading its holder: %s)", obs.detail);
		return;
	}
	if (PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0))
		wd_err_quote(PQgetvalue(res, 0, 0), holder, sizeof(holder));
	else
		holder[0] = '\0';
	PQclear(res);
	lease_record_failure(lease, LEASE_ERROR_NONE, holder, true, "held by another task%s%s",
	                     holder[0] ? ": " : "", holder);
}

/* Claim or renew on the open connection (ensuring the table first). */
static enum lease_step lease_claim(struct lease *lease, int64_t deadline_mono_ms)
{
	const char *params[] = {lease->name, lease->holder, lease->ttl_text};
	struct probe_observation obs = {0};
	enum pgconn_result result;
	enum lease_step step;
	uint64_t generation;
	int64_t sent, remaining;
	PGresult *res;

	if (!lease->table_ready &&
	    (step = lease_ensure_table(lease, deadline_mono_ms)) != LEASE_STEP_DONE)
		return step;
	sent = clock_mono_ms();
	result = pgconn_query(lease->pc, lease_claim_sql, 3, params, deadline_mono_ms, &obs, &res);
	if (result != PGCONN_OK)
		return lease_query_failed(lease, result, "claiming", &obs);
	if (PQntuples(res) == 0 && PQnfields(res) == 2) {
		PQclear(res);
		lease_read_holder(lease, deadline_mono_ms);
		return LEASE_STEP_DONE;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 2 ||
	    lease_parse_claim(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), &generation,
	                      &remaining) != 0) {
		PQclear(res);
		pgconn_close(lease->pc);
		lease_record_failure(lease, LEASE_ERROR_BAD_REPLY, NULL, true,
		                     "claiming: bad_reply: unexpected reply");
		return LEASE_STEP_FAILED;
	}
	PQclear(res);
	/* Exactly the ttl when the statement set expires_at itself; never more. */
	if (remaining > lease->ttl_ms)
		remaining = lease->ttl_ms;
	lease_record_claim(lease, generation, sent + remaining);
	return LEASE_STEP_DONE;
}

/*
 * One attempt, bounded by the probe's timeout: open the connection if need
 * be (with its backoff), claim; a kept connection that the server had
 * closed is replaced once, within the same deadline.
 */
static void lease_attempt(struct lease *lease)
{
	int64_t deadline = clock_mono_ms() + lease->timeout_ms;

	for (int round = 0; round < 2; round++) {
		struct probe_observation obs = {0};
		bool reused = pgconn_ready(lease->pc);

		if (!reused) {
			lease->table_ready = false;
			if (pgconn_open(lease->pc, deadline, NULL, NULL, &obs) != 0) {
				lease_record_failure(lease,
				                     lease_error_of(PGCONN_FAILED,
				                                    pgconn_sqlstate(lease->pc),
				                                    obs.outcome),
				                     NULL, false, "connecting: %s: %s",
				                     probe_outcome_str(obs.outcome), obs.detail);
				return;
			}
		}
		if (lease_claim(lease, deadline) != LEASE_STEP_LOST || !reused)
			return;
	}
}

/* ---- the thread -------------------------------------------------------- */

static bool lease_draining(struct lease *lease)
{
	bool draining;

	pthread_mutex_lock(&lease->lock);
	draining = lease->state.draining;
	pthread_mutex_unlock(&lease->lock);
	return draining;
}

/* Log a transition of the lease as lease_status sees it now. */
void lease_log_transition(struct lease *lease, int64_t now_mono_ms)
{
	struct fence_verdict verdict;
	struct lease_state state;
	struct lease_status status;
	struct log_line line;
	const char *event = NULL, *reason = "";
	enum log_level level = LOG_INFO;

	lease->view.decide(lease->view.arg, now_mono_ms, &verdict);
	lease_copy_state(lease, &state);
	lease_status_compute(lease->name, &state, &verdict, now_mono_ms, &status);
	if (status.held &&
	    (!lease->reported_held || status.generation != lease->reported_generation)) {
		event = "lease.acquired";
		reason = status.generation == lease->reported_generation ? "renewed after a loss"
		                                                         : "claimed";
	} else if (!status.held && lease->reported_held) {
		event = "lease.lost";
		reason = status.error;
		level = LOG_WARN;
	}
	if (event == NULL)
		return;
	lease->reported_held = status.held;
	if (status.held)
		lease->reported_generation = status.generation;
	log_begin(&line, level, event);
	log_str(&line, "name", lease->name);
	log_str(&line, "holder", status.holder);
	log_int(&line, "generation", (int64_t)status.generation);
	log_str(&line, "reason", reason);
	log_end(&line, "lease %s %s (generation %" PRIu64 "): %s", lease->name,
	        status.held ? "acquired" : "lost", status.generation, reason);
}

/*
 * Log a change of the error reason once: an error line when the lease cannot
 * be claimed for a reason other than another holder (a missing grant would
 * otherwise only show in the database's log), an info line when that ends.
 */
void lease_log_error(struct lease *lease)
{
	struct lease_state state;
	struct log_line line;

	lease_copy_state(lease, &state);
	if (state.reason == lease->reported_reason)
		return;
	if (state.reason != LEASE_ERROR_NONE) {
		log_begin(&line, LOG_ERROR, "lease.error");
		log_str(&line, "name", lease->name);
		log_str(&line, "reason", lease_error_str(state.reason));
		log_str(&line, "detail", state.error);
		log_end(&line, "lease %s cannot be claimed (%s): %s", lease->name,
		        lease_error_str(state.reason), state.error);
	} else {
		log_begin(&line, LOG_INFO, "lease.error_cleared");
		log_str(&line, "name", lease->name);
		log_str(&line, "was", lease_error_str(lease->reported_reason));
		log_end(&line, "lease %s: the database answers again (was %s)", lease->name,
		        lease_error_str(lease->reported_reason));
	}
	lease->reported_reason = state.reason;
}

/* Wait until deadline (monotonic ms) or stop; returns true when stopping. */
static bool lease_wait_until(struct lease *lease, int64_t deadline_ms)
{
	bool stopping;

	pthread_mutex_lock(&lease->lock);
	while (!lease->stopping && !clock_cond_wait_until(&lease->wake, &lease->lock, deadline_ms))
		;
	stopping = lease->stopping;
	pthread_mutex_unlock(&lease->lock);
	return stopping;
}

static void lease_release_generation(struct lease *lease, uint64_t generation, const char *why);

/*
 * Not writable (demoted, stale, forced): is the row still ours and has every
 * "held" that lease_status() reported run out? Then it is given up now: no
 * other caller can be told "held" from here on (claim_ok is cleared under
 * the same lock that lease_status() reports under). Returns true when the
 * caller should release the row in the database.
 */
bool lease_release_due(struct lease *lease, uint64_t *generation)
{
	bool due;
	int64_t now;

	pthread_mutex_lock(&lease->lock);
	now = clock_mono_ms();
	due = lease->state.claim_ok && !lease->state.draining &&
	      now < lease->state.held_until_mono_ms && now >= lease->state.promised_until_mono_ms;
	if (due) {
		*generation = lease->state.generation;
		lease->state.claim_ok = false;
	}
	pthread_mutex_unlock(&lease->lock);
	return due;
}

static void *lease_thread(void *arg)
{
	struct lease *lease = arg;
	int64_t next_attempt = 0, wake;
	bool was_writable = false;

	do {
		struct fence_verdict verdict;
		int64_t now = clock_mono_ms();

		wake = now + LEASE_POLL_MS;
		lease->view.decide(lease->view.arg, now, &verdict);
		if (verdict.writable && !lease_draining(lease)) {
			if (!was_writable || now >= next_attempt) {
				next_attempt = now + lease->ttl_ms / 3;
				lease_attempt(lease);
			}
			if (next_attempt < wake)
				wake = next_attempt;
			lease_log_error(lease);
		} else if (!verdict.writable) {
			uint64_t generation;

			if (lease_release_due(lease, &generation))
				lease_release_generation(lease, generation, "demoted");
		}
		was_writable = verdict.writable;
		lease_log_transition(lease, clock_mono_ms());
	} while (!lease_wait_until(lease, wake));
	return NULL;
}

/* ---- the handle -------------------------------------------------------- */

void lease_drain(struct lease *lease)
{
	pthread_mutex_lock(&lease->lock);
	lease->state.draining = true;
	pthread_cond_broadcast(&lease->wake);
	pthread_mutex_unlock(&lease->lock);
}

struct lease *lease_new(const char *name, const char *holder, int64_t ttl_ms,
                        const struct probe_config *db, const struct lease_fence_view *view,
                        struct wd_err *err)
{
	struct lease *lease;

	if (lease_name_check(name, err) != 0 || lease_holder_check(holder, err) != 0)
		return NULL;
	if (ttl_ms < LEASE_TTL_MIN_MS || ttl_ms > LEASE_TTL_MAX_MS) {
		wd_err_set(err, -EINVAL, "lease ttl %lldms: want %d..%d ms", (long long)ttl_ms,
		           LEASE_TTL_MIN_MS, LEASE_TTL_MAX_MS);
		return NULL;
	}
	if (db == NULL || db->kind != PROBE_KIND_POSTGRES || db->timeout_ms <= 0) {
		wd_err_set(err, -EINVAL, "the lease needs a postgres probe");
		return NULL;
	}
	if (view == NULL || view->decide == NULL) {
		wd_err_set(err, -EINVAL, "the lease needs a fence view");
		return NULL;
	}
	lease = calloc(1, sizeof(*lease));
	if (lease == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	lease->pc = pgconn_new(db, err);
	if (lease->pc == NULL) {
		wd_err_prefix(err, "lease %s: probe %s", name, db->name);
		free(lease);
		return NULL;
	}
	snprintf(lease->name, sizeof(lease->name), "%s", name);
	snprintf(lease->holder, sizeof(lease->holder), "%s", holder);
	snprintf(lease->ttl_text, sizeof(lease->ttl_text), "%lld", (long long)ttl_ms);
	lease->ttl_ms = ttl_ms;
	lease->timeout_ms = db->timeout_ms;
	lease->view = *view;
	pthread_mutex_init(&lease->lock, NULL);
	clock_cond_init(&lease->wake);
	return lease;
}

int lease_start(struct lease *lease)
{
	int rc;

	if (lease->started)
		return -EALREADY;
	rc = pthread_create(&lease->thread, NULL, lease_thread, lease);
	if (rc != 0)
		return -rc;
	lease->started = true;
	return 0;
}

void lease_status(struct lease *lease, int64_t now_mono_ms, struct lease_status *out)
{
	struct fence_verdict verdict;

	/* Decided and recorded under the lock, so that the thread's release
	 * check (lease_release_due) sees every promise made before it. */
	pthread_mutex_lock(&lease->lock);
	lease->view.decide(lease->view.arg, now_mono_ms, &verdict);
	lease_status_compute(lease->name, &lease->state, &verdict, now_mono_ms, out);
	if (out->held && now_mono_ms + out->expires_in_ms > lease->state.promised_until_mono_ms)
		lease->state.promised_until_mono_ms = now_mono_ms + out->expires_in_ms;
	pthread_mutex_unlock(&lease->lock);
}

/*
 * Give our row up (expires_at = now(), only at our generation), bounded by
 * the probe's timeout, and log it; `why`: "shutdown" or "demoted". Best
 * effort: a row not released expires on its own.
 */
static void lease_release_generation(struct lease *lease, uint64_t generation, const char *why)
{
	char generation_text[24];
	const char *params[] = {lease->name, lease->holder, generation_text};
	int64_t deadline = clock_mono_ms() + lease->timeout_ms;
	struct probe_observation obs = {0};
	struct log_line line;
	PGresult *res = NULL;
	bool failed = false, ours = true;

	snprintf(generation_text, sizeof(generation_text), "%" PRIu64, generation);
	if ((!pgconn_ready(lease->pc) && pgconn_open(lease->pc, deadline, NULL, NULL, &obs) != 0) ||
	    pgconn_query(lease->pc, lease_release_sql, 3, params, deadline, &obs, &res) !=
	            PGCONN_OK)
		failed = true;
	else if (strcmp(PQcmdTuples(res), "1") != 0)
		ours = false;
	PQclear(res);
	log_begin(&line, failed ? LOG_WARN : LOG_INFO, "lease.released");
	log_str(&line, "name", lease->name);
	log_str(&line, "holder", lease->holder);
	log_int(&line, "generation", (int64_t)generation);
	log_str(&line, "reason", failed ? obs.detail : why);
	if (failed)
		log_end(&line, "lease %s not released (%s), it expires on its own: %s", lease->name,
		        why, obs.detail);
	else
		log_end(&line, "lease %s released (%s, generation %" PRIu64 ")%s", lease->name, why,
		        generation, ours ? "" : ": the row was no longer ours");
}

/* On shutdown: give the row up if our last claim holds it still. */
static void lease_release(struct lease *lease, const char *why)
{
	struct lease_state state;

	lease_copy_state(lease, &state);
	if (!state.claim_ok || clock_mono_ms() >= state.held_until_mono_ms)
		return;
	lease_release_generation(lease, state.generation, why);
}

void lease_free(struct lease *lease)
{
	if (lease == NULL)
		return;
	if (lease->started) {
		pthread_mutex_lock(&lease->lock);
		lease->stopping = true;
		pthread_cond_broadcast(&lease->wake);
		pthread_mutex_unlock(&lease->lock);
		pthread_join(lease->thread, NULL);
		lease_release(lease, "shutdown");
	}
	pgconn_free(lease->pc);
	pthread_cond_destroy(&lease->wake);
	pthread_mutex_destroy(&lease->lock);
	free(lease);
}
