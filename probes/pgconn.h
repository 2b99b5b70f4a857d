/*
 * pgconn.h - one libpq connection to the database of a postgres probe, driven
 * only through libpq's asynchronous API against deadlines. Shared by the
 * postgres probe (probes/postgres.c) and the singleton lease
 * (fencing/lease.c), each of which keeps a connection of its own.
 *
 * What it guarantees (see pgconn.c for how):
 *  - nothing blocks past the deadline given: host names are resolved first
 *    with net_resolve() and handed to libpq as `hostaddr` (`host` stays as
 *    written, for TLS checks and .pgpass); GSSAPI encryption is off unless
 *    the URI asks for it; a timed-out query is never PQcancel()ed, the
 *    connection is simply closed;
 *  - reconnects back off: a failed open is retried at the next attempt, then
 *    after 1 s, doubling up to 10 s; an open inside the pause fails at once
 *    with the last failure's outcome and "(reconnect in Ns)";
 *  - failures are classified into enum probe_outcome (plus the SQLSTATE when
 *    the server sent one), with a one-line detail scrubbed of the probe
 *    password and of the URI's own password.
 *
 * One connection is used by one thread at a time (the caller's).
 */
#ifndef WARDEN_PROBES_PGCONN_H
#define WARDEN_PROBES_PGCONN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "lib/err.h"
#include "probes/probe.h"

#define PGCONN_PARAMS_MAX 8 /* parameters of one statement */

struct pgconn;

/*
 * Check a postgres probe's config without touching the network: the URI
 * form, at most 8 hosts, matching port lists, ports in 1..65535, host names
 * at most WD_HOST_MAX. 0, or -EINVAL with err naming what is wrong (never
 * quoting a password). The postgres probe's validate op.
 */
int pgconn_validate(const struct probe_config *cfg, struct wd_err *err);

/*
 * A closed connection to the target of cfg (validated as above; the URI, the
 * password and PGHOST/PGPORT/PGHOSTADDR are copied, the caller's cfg may go
 * away). No I/O. NULL with err. Free with pgconn_free().
 */
struct pgconn *pgconn_new(const struct probe_config *cfg, struct wd_err *err);

/* Close the connection and free, wiping the copies of the passwords. NULL is a no-op. */
void pgconn_free(struct pgconn *pc);

/*
 * Called by pgconn_open() on a fresh connection, before the open counts as
 * done (the probe learns the server's functions here). 0, or -1 with obs
 * filled: the open then fails and backs off.
 */
typedef int (*pgconn_setup_fn)(struct pgconn *pc, void *arg, int64_t deadline_mono_ms,
                               struct probe_observation *obs);

/*
 * Open the connection before deadline_mono_ms: unless inside the backoff
 * pause, resolve, connect (PQconnectStartParams + PQconnectPoll, each wait a
 * poll() against the deadline), then run setup (may be NULL). Returns 0 with
 * the connection open (failures reset), or -1 with obs filled and the
 * connection closed (a failure arms the backoff). Blocks at most until the
 * deadline. An open connection is closed first.
 */
int pgconn_open(struct pgconn *pc, int64_t deadline_mono_ms, pgconn_setup_fn setup, void *arg,
                struct probe_observation *obs);

/*
 * True if a connection is open and libpq has not seen it break; a broken one
 * is closed first (so the next pgconn_open() starts afresh).
 */
bool pgconn_ready(struct pgconn *pc);

/* Close the connection (a best-effort Terminate message); no-op when closed. */
void pgconn_close(struct pgconn *pc);

/* What a statement came to. */
enum pgconn_result {
	PGCONN_OK,           /* *out holds its result (rows or a command status) */
	PGCONN_SERVER_ERROR, /* the server refused it (SQLSTATE in pgconn_sqlstate()); still open */
	PGCONN_FAILED,       /* timeout, or a client-side failure: the connection is closed */
	PGCONN_LOST,         /* the connection turned out broken (server gone): closed */
};

/*
 * Run one statement (PQsendQueryParams: nparams text parameters, at most
 * PGCONN_PARAMS_MAX, NULL for SQL NULL; results in text) on the open
 * connection and collect its result before deadline_mono_ms. On PGCONN_OK,
 * *out is the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), which the caller
 * PQclear()s. Otherwise *out is NULL and obs is filled (outcome by SQLSTATE
 * or by libpq's message: auth, network, bad_reply, timeout, server_error...;
 * detail "SQLSTATE xxxxx: <message>" for a server error). Blocks at most
 * until the deadline.
 */
enum pgconn_result pgconn_query(struct pgconn *pc, const char *sql, int nparams,
                                const char *const *params, int64_t deadline_mono_ms,
                                struct probe_observation *obs, PGresult **out);

/* The SQLSTATE of the last pgconn_query() failure ("" if it had none). */
const char *pgconn_sqlstate(const struct pgconn *pc);

#endif
