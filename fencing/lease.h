/*
 * lease.h - the singleton lease (WARDEN_SINGLETON): a row in the database of
 * a postgres probe that at most one task holds at a time, so that exactly
 * one cron runs across both regions.
 *
 *   CREATE TABLE IF NOT EXISTS warden_lease (
 *       name       text PRIMARY KEY,
 *       holder     text NOT NULL,
 *       generation bigint NOT NULL,
 *       expires_at timestamptz NOT NULL);
 *
 * Claimed and renewed by one conditional statement that judges expiry on the
 * DATABASE's clock (never ours): the row is taken when it has expired or is
 * already ours. The generation rises on every takeover (another holder, or
 * ours again after it expired) and is the fencing token of the cron's
 * writes. Renewed every ttl/3, and only while this task is writable: the
 * moment it is not, it stops claiming and reports the lease as not held; a
 * reader database refuses the write (25006), so a passive region can never
 * take it. Released (expires_at = now(), only our row at our generation) on
 * shutdown, and on demotion as soon as every "held" it reported has run out
 * (at the latest the last writable_until: the gate has the cron dead by
 * then), so that the new active region's cron need not wait for the row's
 * expiry. Any error other than another holder is loud (enum lease_error).
 *
 * Held, as reported, means: this task is writable now, not draining, no
 * attempt since the last successful claim has seen the row belong to anyone
 * else (another holder, a reader), and that claim's remaining time (measured
 * on the database's clock, counted from when OUR request was sent) has not
 * run out. A renewal that merely timed out does not drop the lease early:
 * the row is still ours until then, whatever happened to the renewal.
 */
#ifndef WARDEN_FENCING_LEASE_H
#define WARDEN_FENCING_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/limits.h"
#include "fencing/fence.h"
#include "probes/probe.h"

#define LEASE_NAME_MAX   64
#define LEASE_HOLDER_MAX 128

/*
 * Why the last attempt could not claim the lease, other than another task
 * holding it (which is no error): mapped from the SQLSTATE or the
 * connection's outcome. Shown in /fence, counted in
 * warden_lease_errors_total{name,reason}, logged once per change.
 */
enum lease_error {
	LEASE_ERROR_NONE,              /* claimed, or held by another task */
	LEASE_ERROR_PERMISSION_DENIED, /* "permission_denied": 42501, no grant on warden_lease */
	LEASE_ERROR_UNDEFINED_TABLE,   /* "undefined_table": 42P01, no table, cannot create it */
	LEASE_ERROR_READ_ONLY,         /* "read_only": 25006, the database is a reader */
	LEASE_ERROR_AUTH,              /* "auth": the login was refused */
	LEASE_ERROR_CONNECTION,        /* "connection": cannot connect, or the connection broke */
	LEASE_ERROR_TIMEOUT,           /* "timeout": no answer within the probe's timeout */
	LEASE_ERROR_SQL,               /* "sql_error": any other server error */
	LEASE_ERROR_BAD_REPLY,         /* "bad_reply": an answer the lease cannot read */
	LEASE_ERROR_COUNT
};

/* The reason's name (as above); "unknown" out of range. Never NULL. */
const char *lease_error_str(enum lease_error error);

/* What /fence shows of a lease. Plain data. */
struct lease_status {
	char name[LEASE_NAME_MAX + 1];
	bool held;
	uint64_t generation;               /* of our last successful claim; 0: never */
	char holder[LEASE_HOLDER_MAX + 1]; /* the holder the database last named ("" unknown) */
	int64_t expires_in_ms;      /* when held: time left, never past writable_until; else 0 */
	enum lease_error reason;    /* of the last attempt (LEASE_ERROR_NONE: no error) */
	char error[WD_ERR_MSG_MAX]; /* why it is not held, in words; "" */
	uint64_t errors[LEASE_ERROR_COUNT]; /* failed attempts by reason, since start */
};

/*
 * How the lease asks whether this task may write (the fence, with the role
 * check). decide is called from the lease's thread and from every caller of
 * lease_status, so it must be thread-safe and cheap (fence_decide is).
 */
struct lease_fence_view {
	void *arg;
	void (*decide)(void *arg, int64_t now_mono_ms, struct fence_verdict *out);
};

struct lease;

/*
 * Check a lease name: 1..LEASE_NAME_MAX characters of [a-z0-9_-]. 0, or
 * -EINVAL with err saying why (the name quoted, cut). Pure; for config
 * validation too.
 */
int lease_name_check(const char *name, struct wd_err *err);

/*
 * A lease `name` (1..LEASE_NAME_MAX of [a-z0-9_-]) held as `holder` (the task
 * id), with `ttl_ms`, on the database of probe `db` (a postgres probe: its
 * URI, password and timeout are used for a connection of the lease's own).
 * No I/O. NULL with err.
 */
struct lease *lease_new(const char *name, const char *holder, int64_t ttl_ms,
                        const struct probe_config *db, const struct lease_fence_view *view,
                        struct wd_err *err);
/* Start the renewal thread. 0 or -errno. */
int lease_start(struct lease *lease);
/*
 * Copy the status now (held is re-checked against the clock and the fence).
 * Held is reported only while writable and expires_in_ms never reaches past
 * the verdict's writable_until; the lease remembers the latest instant it
 * reported held, and gives the row up (on demotion) only after it. Any
 * thread.
 */
void lease_status(struct lease *lease, int64_t now_mono_ms, struct lease_status *out);
/*
 * The agent is stopping (SIGTERM): claim no more and report the lease as not
 * held from now on, so that the gate stops the cron; the row itself is
 * released only by lease_free(), at the end of the drain, so that no other
 * task starts its cron while ours may still be stopping. Any thread.
 */
void lease_drain(struct lease *lease);

/*
 * Stop the thread, release the lease if held (bounded by the probe timeout),
 * close the connection, free. NULL is a no-op. Blocks up to twice the probe
 * timeout: an attempt in flight ends first, then the release. "Held" here is
 * the row's view: our last claim succeeded and has not run out, even if this
 * task is no longer writable (giving the row up early is always safe for the
 * lease; see the gate for the cron itself).
 */
void lease_free(struct lease *lease);

#endif
