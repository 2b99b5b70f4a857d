/*
 * postgres.c - the postgres probe: one persistent libpq connection per probe,
 * one round trip per run that answers "writer or reader, and how far behind".
 *
 * The connection (probes/pgconn.c) never blocks past the run's deadline:
 * names are resolved first and handed to libpq as `hostaddr`, GSSAPI
 * encryption is off unless asked for, a timed-out query is never cancelled
 * but the connection dropped; messages are scrubbed of the passwords.
 *
 * Reconnect with backoff. A failed connect is retried at the next run; after
 * that the pause doubles from 1 s up to 10 s, and a run inside the pause
 * reports the last failure's outcome with "(reconnect in Ns)". A connection
 * kept from an earlier run that turns out to be closed by the server (restart,
 * idle timeout) is replaced at once, within the same run and deadline.
 *
 * Role and lag, one round trip:
 *   SELECT pg_is_in_recovery(),
 *          CASE WHEN NOT pg_is_in_recovery() THEN NULL
 *               WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
 *               ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END
 * `now() - pg_last_xact_replay_timestamp()` alone grows without bound while the
 * primary is idle (no new commit to replay), so a caught-up replica of a quiet
 * primary would look ever more lagged; when everything received has been
 * replayed the lag is 0 by definition. Unknown lag (no commit replayed since
 * the standby started) is reported as no lag value, and max_lag is then not
 * judged. Inherent limit: a standby cut off from its primary reports 0 once it
 * has replayed all it received; it cannot know what it never got.
 *
 * Aurora. Once per connection, `to_regproc()` tells whether aurora_replica_status,
 * aurora_global_db_status, aurora_global_db_instance_status and
 * aurora_db_instance_identifier exist. If any of the first two does, the lag of
 * a reader (pg_is_in_recovery() is true on every Aurora reader, global
 * secondaries included) comes from Aurora instead, in milliseconds, as the
 * greater of:
 *  - replica_lag_in_msec of aurora_replica_status() for this instance
 *    (server_id = aurora_db_instance_identifier()): how far this reader is
 *    behind its cluster's writer;
 *  - rpo_lag_in_msec of aurora_global_db_status() for this instance's region
 *    (aws_region from aurora_global_db_instance_status() for this server_id),
 *    when >= 0 (-1 marks the primary cluster): on a global secondary, how long
 *    the newest committed transaction takes to reach this region, i.e. what a
 *    regional failover would lose. RPO lag is preferred to durability lag
 *    because it counts user commits, not storage LSN progress.
 * A part whose functions are missing (aurora_db_instance_identifier appeared in
 * Aurora PostgreSQL 13.7 / 12.11 / 11.16 / 10.21) is left out; none left means
 * unknown lag.
 *
 * Secrets: the password (cfg->password, or the URI's) is never formatted
 * (pgconn.c scrubs every libpq message of both).
 */
#include "probes/postgres.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/pgconn.h"
#include "probes/postgres_internal.h"

static const char pg_detect_query[] = "SELECT to_regproc('aurora_replica_status') IS NOT NULL,"
                                      " to_regproc('aurora_global_db_status') IS NOT NULL,"
                                      " to_regproc('aurora_global_db_instance_status') IS NOT NULL,"
                                      " to_regproc('aurora_db_instance_identifier') IS NOT NULL";

static const char pg_vanilla_query[] =
        "SELECT pg_is_in_recovery(),"
        " CASE WHEN NOT pg_is_in_recovery() THEN NULL"
        " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
        " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END";

struct pg_probe {
	struct probe_config cfg;  /* a copy: the caller's may go away */
	struct pgconn *pc;        /* the connection (closed between failures) */
	unsigned aurora;          /* PG_AURORA_* of this connection */
	char query[PG_QUERY_MAX]; /* the role query of this connection */
};

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/* A duration as people write it in config: "5s", "1500ms", "2m". */
void pg_format_ms(int64_t ms, char *buf, size_t size)
{
	if (ms > 0 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
}

/*
 * Build the role query for a connection with the Aurora functions `aurora`
 * into out[size]. Returns 0, or -ENOSPC if it does not fit.
 */
int pg_build_role_query(unsigned aurora, char *out, size_t size)
{
	static const char replica_part[] =
	        "(SELECT max(replica_lag_in_msec)::float8 FROM aurora_replica_status()"
	        " WHERE server_id = aurora_db_instance_identifier())";
	static const char global_part[] =
	        "(SELECT max(g.rpo_lag_in_msec)::float8 FROM aurora_global_db_status() g"
	        " JOIN aurora_global_db_instance_status() i ON i.aws_region = g.aws_region"
	        " WHERE i.server_id = aurora_db_instance_identifier()"
	        " AND g.rpo_lag_in_msec >= 0)";
	bool replica, global;
	int n;

	if ((aurora & (PG_AURORA_REPLICA_STATUS | PG_AURORA_GLOBAL_STATUS)) == 0) {
		n = snprintf(out, size, "%s", pg_vanilla_query);
		return n >= 0 && (size_t)n < size ? 0 : -ENOSPC;
	}
	replica = (aurora & PG_AURORA_REPLICA_STATUS) && (aurora & PG_AURORA_INSTANCE_ID);
	global = (aurora & PG_AURORA_GLOBAL_STATUS) && (aurora & PG_AURORA_GLOBAL_INSTANCE) &&
	         (aurora & PG_AURORA_INSTANCE_ID);
	if (replica && global)
		n = snprintf(out, size,
		             "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()"
		             " THEN GREATEST(%s, %s) / 1000.0 END",
		             replica_part, global_part);
	else if (replica || global)
		n = snprintf(out, size,
		             "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()"
		             " THEN %s / 1000.0 END",
		             replica ? replica_part : global_part);
	else
		n = snprintf(out, size, "SELECT pg_is_in_recovery(), NULL::float8");
	return n >= 0 && (size_t)n < size ? 0 : -ENOSPC;
}

/*
 * Judge what the server said against the probe's expectations and fill obs:
 * role, lag, and the outcome (ok, unexpected_role, lagging). Returns it.
 */
enum probe_outcome pg_judge(const struct probe_config *cfg, enum db_role role, bool has_lag,
                            double lag_seconds, struct probe_observation *obs)
{
	obs->role = role;
	obs->has_lag = role == DB_ROLE_READER && has_lag;
	obs->lag_seconds = obs->has_lag ? (lag_seconds > 0 ? lag_seconds : 0) : 0;

	switch (cfg->expect_role) {
	case EXPECT_ROLE_WRITER:
		if (role != DB_ROLE_WRITER)
			return probe_fail(obs, PROBE_UNEXPECTED_ROLE, "in recovery, want writer");
		break;
	case EXPECT_ROLE_READER:
		if (role != DB_ROLE_READER)
			return probe_fail(obs, PROBE_UNEXPECTED_ROLE,
			                  "not in recovery, want reader");
		break;
	case EXPECT_ROLE_WRITER_WHEN_ACTIVE:
		/* The probe accepts either role; the fence reads the role it saw and
		 * makes an active task writable only while it is a writer
		 * (fencing/decision.h). */
	case EXPECT_ROLE_ANY: break;
	}
	if (obs->has_lag && cfg->max_lag_ms >= 0 &&
	    obs->lag_seconds * 1000.0 > (double)cfg->max_lag_ms) {
		char limit[32];

		pg_format_ms(cfg->max_lag_ms, limit, sizeof(limit));
		return probe_fail(obs, PROBE_LAGGING, "lag %.1fs > max_lag %s", obs->lag_seconds,
		                  limit);
	}
	obs->outcome = PROBE_OK;
	obs->detail[0] = '\0';
	return PROBE_OK;
}

/* ---- the connection ---------------------------------------------------- */

/*
 * The setup of a fresh connection: learn which Aurora functions the server
 * has and build pg->query for it. Returns 0, or -1 with obs filled.
 */
static int pg_detect(struct pgconn *pc, void *arg, int64_t deadline_mono_ms,
                     struct probe_observation *obs)
{
	static const unsigned bits[] = {PG_AURORA_REPLICA_STATUS, PG_AURORA_GLOBAL_STATUS,
	                                PG_AURORA_GLOBAL_INSTANCE, PG_AURORA_INSTANCE_ID};
	struct pg_probe *pg = arg;
	PGresult *res;
	int rc = -1;

	if (pgconn_query(pc, pg_detect_query, 0, NULL, deadline_mono_ms, obs, &res) != PGCONN_OK)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 4) {
		probe_fail(obs, PROBE_BAD_REPLY, "unexpected reply to the Aurora check");
		goto out;
	}
	pg->aurora = 0;
	for (int i = 0; i < 4; i++)
		if (strcmp(PQgetvalue(res, 0, i), "t") == 0)
			pg->aurora |= bits[i];
	if (pg_build_role_query(pg->aurora, pg->query, sizeof(pg->query)) != 0) {
		probe_fail(obs, PROBE_INTERNAL, "role query over its cap");
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

enum pg_check_result {
	PG_CHECK_DONE,   /* the server answered; obs holds the verdict */
	PG_CHECK_FAILED, /* error or timeout; connection dropped */
	PG_CHECK_LOST,   /* the server had closed the connection; dropped */
};

/* Run the role query on the connection and judge the answer into obs. */
static enum pg_check_result pg_check(struct pg_probe *pg, int64_t deadline_mono_ms,
                                     struct probe_observation *obs)
{
	PGresult *res;
	const char *recovery;
	enum db_role role;
	bool has_lag = false;
	double lag = 0;
	enum pgconn_result result;

	result = pgconn_query(pg->pc, pg->query, 0, NULL, deadline_mono_ms, obs, &res);
	if (result != PGCONN_OK) {
		pgconn_close(pg->pc);
		return result == PGCONN_LOST ? PG_CHECK_LOST : PG_CHECK_FAILED;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 2)
		goto bad_reply;
	recovery = PQgetvalue(res, 0, 0);
	if (strcmp(recovery, "t") == 0)
		role = DB_ROLE_READER;
	else if (strcmp(recovery, "f") == 0)
		role = DB_ROLE_WRITER;
	else
		goto bad_reply;
	if (!PQgetisnull(res, 0, 1)) {
		const char *text = PQgetvalue(res, 0, 1);
		char *end;

		lag = strtod(text, &end);
		if (end == text || *end != '\0')
			goto bad_reply;
		has_lag = true;
	}
	PQclear(res);
	pg_judge(&pg->cfg, role, has_lag, lag, obs);
	return PG_CHECK_DONE;
bad_reply:
	PQclear(res);
	pgconn_close(pg->pc);
	probe_fail(obs, PROBE_BAD_REPLY, "unexpected reply to the role query");
	return PG_CHECK_FAILED;
}

/* ---- the probe operations ------------------------------------------------ */

static void *pg_create(const struct probe_config *cfg, struct wd_err *err)
{
	struct pg_probe *pg = calloc(1, sizeof(*pg));

	if (pg == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	pg->pc = pgconn_new(cfg, err);
	if (pg->pc == NULL) {
		free(pg);
		return NULL;
	}
	pg->cfg = *cfg;
	return pg;
}

static void pg_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct pg_probe *pg = ctx;
	bool reused = pgconn_ready(pg->pc);

	if (!reused && pgconn_open(pg->pc, deadline_mono_ms, pg_detect, pg, obs) != 0)
		return;
	if (pg_check(pg, deadline_mono_ms, obs) != PG_CHECK_LOST || !reused)
		return;
	/* A kept connection the server closed meanwhile (restart, idle timeout)
	 * says nothing about now: try a fresh one within the same deadline. */
	memset(obs, 0, sizeof(*obs));
	if (pgconn_open(pg->pc, deadline_mono_ms, pg_detect, pg, obs) == 0)
		(void)pg_check(pg, deadline_mono_ms, obs);
}

static void pg_destroy(void *ctx)
{
	struct pg_probe *pg = ctx;

	if (pg == NULL)
		return;
	pgconn_free(pg->pc);
	/* The copy of the password dies with the context. */
	explicit_bzero(pg, sizeof(*pg));
	free(pg);
}

const struct probe_ops probe_pg_ops = {
        .kind = PROBE_KIND_POSTGRES,
        .validate = pgconn_validate,
        .create = pg_create,
        .run = pg_run,
        .destroy = pg_destroy,
};
