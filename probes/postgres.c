/*
 * postgres.c - the postgres probe: one persistent libpq connection per probe,
 * one round trip per run that answers "writer or reader, and how far behind".
 *
 * Never blocking past the deadline. libpq is driven only through its
 * asynchronous API: PQconnectStartParams + PQconnectPoll, then PQsendQuery +
 * PQflush/PQconsumeInput/PQisBusy, every wait a poll() on PQsocket() against
 * the run's deadline. Three things in libpq would still block, and are kept
 * out of its way:
 *  - DNS. PQconnectStart resolves host names with a blocking getaddrinfo(), so
 *    every host of the URI is resolved here first with net_resolve()
 *    (deadline-bounded) and handed to libpq as `hostaddr`, while `host` stays
 *    as written for TLS certificate checks (SNI, verify-full) and .pgpass.
 *    Multi-host URIs are supported: each host is resolved and repeated once per
 *    address (host=a,a,b hostaddr=10.0.0.1,10.0.0.2,10.0.0.3, ports repeated
 *    alike), so libpq tries the same addresses in the same order it would have.
 *    Names are resolved again at every reconnect (an Aurora cluster endpoint
 *    is a CNAME that moves on failover). Unix-socket hosts ('/' or '@') and a
 *    `hostaddr` the user gave (URI or PGHOSTADDR) are passed through.
 *    Limitation: hosts that come from a pg_service.conf `service` entry are
 *    not seen here, and libpq resolves them itself (blocking).
 *  - GSSAPI. Its negotiation can wait on a KDC; `gssencmode=disable` is set
 *    unless the URI asks for it explicitly.
 *  - PQcancel on a timed-out query is a blocking connect + write: never used.
 *    A timeout or any error simply PQfinish()es the connection (in
 *    non-blocking mode, its Terminate message is a best-effort write).
 * Not avoided: without a user in the URI (or PGUSER), libpq asks getpwuid()
 * for one, an NSS lookup; give the user explicitly.
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
 * Secrets: the password (cfg->password, or the URI's) is never formatted;
 * every libpq message is scrubbed of both before it becomes a detail, and
 * validate() hides any quoted URI fragment that is not in the redacted target.
 */
#include "probes/postgres.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "agent/clock.h"
#include "probes/net.h"

#define PG_HOSTS_MAX        8  /* hosts in one multi-host URI (validate rejects more) */
#define PG_ADDRS_MAX        16 /* addresses handed to libpq, all hosts together */
#define PG_LIST_MAX         (PG_ADDRS_MAX * (WD_HOST_MAX + 2)) /* one comma-separated list */
#define PG_QUERY_MAX        1024                               /* the role query text */
#define PG_BACKOFF_FIRST_MS 1000
#define PG_BACKOFF_MAX_MS   10000

/* Which Aurora functions the server has (bits of pg_probe.aurora). */
enum {
	PG_AURORA_REPLICA_STATUS = 1 << 0,  /* aurora_replica_status() */
	PG_AURORA_GLOBAL_STATUS = 1 << 1,   /* aurora_global_db_status() */
	PG_AURORA_GLOBAL_INSTANCE = 1 << 2, /* aurora_global_db_instance_status() */
	PG_AURORA_INSTANCE_ID = 1 << 3,     /* aurora_db_instance_identifier() */
};

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
	struct probe_config cfg;              /* a copy: the caller's may go away */
	char uri_password[WD_SECRET_MAX + 1]; /* the URI's own, only to scrub messages */
	char hosts[WD_URI_MAX + 1];           /* host list (URI, else PGHOST); "" = default */
	char ports[WD_URI_MAX + 1];           /* port list (URI, else PGPORT); "" = default */
	bool user_hostaddr;                   /* hostaddr given: libpq resolves nothing */

	PGconn *conn;             /* NULL when not connected */
	unsigned aurora;          /* PG_AURORA_* of this connection */
	char query[PG_QUERY_MAX]; /* the role query of this connection */

	unsigned connect_failures; /* consecutive failed connects */
	int64_t retry_at_ms;       /* no connect before this (monotonic) */
	enum probe_outcome last_outcome;
	char last_detail[WD_ERR_MSG_MAX];

	/* Connect parameters, rebuilt at each connect (kept here, off the stack). */
	char host_items[PG_HOSTS_MAX][WD_HOST_MAX + 1];
	char port_items[PG_HOSTS_MAX][WD_HOST_MAX + 1];
	char host_list[PG_LIST_MAX];
	char addr_list[PG_LIST_MAX];
	char port_list[PG_LIST_MAX];
};

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/* Copy src into dst[size], cut to fit. */
static void pg_copy(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return;
	snprintf(dst, size, "%s", src ? src : "");
}

/*
 * Make a libpq message fit for a one-line detail: hint lines (libpq indents
 * them with a tab) are dropped, the other lines (one per host tried) are
 * joined with "; ", each without its "connection to server ... failed: "
 * (the probe's target is shown elsewhere), and whitespace runs become one
 * space.
 */
static void pg_tidy_message(const char *in, char *out, size_t size)
{
	static const char prefix[] = "connection to server";
	size_t n = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (in == NULL)
		return;
	while (*in != '\0' && n + 1 < size) {
		size_t line_len = strcspn(in, "\n");
		const char *line = in;
		const char *end = in + line_len;
		bool space = false;

		in = *end == '\n' ? end + 1 : end;
		if (*line == '\t')
			continue; /* a hint: "Is the server running on that host..." */
		if (strncmp(line, prefix, sizeof(prefix) - 1) == 0) {
			const char *failed = strstr(line, " failed: ");

			if (failed != NULL && failed < end)
				line = failed + strlen(" failed: ");
		}
		while (line < end && isspace((unsigned char)*line))
			line++;
		if (line == end)
			continue;
		if (n > 0 && n + 3 < size) {
			out[n++] = ';';
			out[n++] = ' ';
		}
		for (; line < end && n + 1 < size; line++) {
			if (isspace((unsigned char)*line)) {
				space = true;
				continue;
			}
			if (space && n + 2 < size)
				out[n++] = ' ';
			space = false;
			out[n++] = *line;
		}
	}
	out[n] = '\0';
}

/*
 * Replace the len characters at text + at by "***" in text[size] (at most
 * WD_ERR_MSG_MAX), cutting the tail to fit. Returns the offset just after
 * the "***" (or size - 1 when even that was cut).
 */
static size_t pg_replace_range(char *text, size_t size, size_t at, size_t len)
{
	char tmp[WD_ERR_MSG_MAX];
	size_t cap = size < sizeof(tmp) ? size : sizeof(tmp);
	size_t next = at + 3;

	snprintf(tmp, cap, "%.*s***%s", (int)at, text, text + at + len);
	memcpy(text, tmp, strlen(tmp) + 1);
	return next < cap - 1 ? next : cap - 1;
}

/* Replace every occurrence of secret in text[size] by "***" (cut to fit). */
static void pg_redact_secret(char *text, size_t size, const char *secret)
{
	size_t secret_len = secret ? strlen(secret) : 0;
	size_t from = 0;
	char *hit;

	if (secret_len == 0 || size == 0)
		return;
	while ((hit = strstr(text + from, secret)) != NULL)
		from = pg_replace_range(text, size, (size_t)(hit - text), secret_len);
}

/*
 * Replace every double-quoted token of text[size] that does not appear in
 * `shown` (the redacted target) by "***": libpq's URI parse errors quote raw
 * pieces of the URI, and a piece of the userinfo may be the password.
 */
static void pg_redact_quoted(char *text, size_t size, const char *shown)
{
	size_t from = 0;
	char *open;

	if (size == 0)
		return;
	while ((open = strchr(text + from, '"')) != NULL) {
		char *close = strchr(open + 1, '"');
		size_t at = (size_t)(open + 1 - text);
		size_t len;
		char token[WD_ERR_MSG_MAX];

		if (close == NULL)
			break;
		len = (size_t)(close - open - 1);
		from = at + len + 1; /* after the closing quote */
		if (len == 0)
			continue;
		pg_copy(token, len + 1 < sizeof(token) ? len + 1 : sizeof(token), open + 1);
		if (len < sizeof(token) && strstr(shown, token) != NULL)
			continue;
		from = pg_replace_range(text, size, at, len);
		if (text[from] == '"')
			from++;
	}
}

/* True if haystack contains needle, ignoring ASCII case. */
static bool pg_contains(const char *haystack, const char *needle)
{
	return strcasestr(haystack, needle) != NULL;
}

/*
 * The outcome of a connection-level libpq error text (connect failures, and
 * errors without a SQLSTATE while a query runs). Credentials first (the
 * server's pg_hba message mentions "SSL off"), then TLS, then transport.
 */
static enum probe_outcome pg_classify_message(const char *msg)
{
	static const char *const auth[] = {
	        "password authentication failed",
	        "authentication failed", /* ident, peer, PAM, LDAP, cert, RADIUS */
	        "no pg_hba.conf entry",
	        "no password supplied",
	        "password is required",
	        "SCRAM",
	        "does not exist", /* role "x" does not exist (28000); dbname is below */
	        "permission denied for database",
	        "not permitted to log in",
	};
	static const char *const tls[] = {
	        "SSL", "certificate", "TLS", "sslmode", "sslrootcert", "sslcert",
	};
	static const char *const network[] = {
	        "server closed the connection",
	        "Connection reset",
	        "Broken pipe",
	        "No route to host",
	        "Network is unreachable",
	        "Host is unreachable",
	        "could not receive data",
	        "could not send data",
	        "EOF detected",
	        "Connection timed out",
	        "lost synchronization",
	        "no connection to the server",
	};
	static const char *const refused[] = {
	        "Connection refused",
	        "No such file or directory", /* unix socket without a server */
	};
	size_t i;

	if (msg == NULL)
		return PROBE_NETWORK;
	/* A missing database is the server's answer, not a credential problem. */
	if (pg_contains(msg, "database \"") && pg_contains(msg, "does not exist"))
		return PROBE_SERVER_ERROR;
	for (i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		if (pg_contains(msg, auth[i]))
			return PROBE_AUTH;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (pg_contains(msg, refused[i]))
			return PROBE_REFUSED;
	if (pg_contains(msg, "could not translate host name"))
		return PROBE_DNS;
	for (i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
		if (strstr(msg, tls[i]) != NULL)
			return PROBE_TLS;
	for (i = 0; i < sizeof(network) / sizeof(network[0]); i++)
		if (pg_contains(msg, network[i]))
			return PROBE_NETWORK;
	if (pg_contains(msg, "expected authentication request") ||
	    pg_contains(msg, "invalid response") || pg_contains(msg, "unexpected message") ||
	    pg_contains(msg, "protocol"))
		return PROBE_BAD_REPLY;
	if (pg_contains(msg, "FATAL") || pg_contains(msg, "ERROR"))
		return PROBE_SERVER_ERROR;
	return PROBE_NETWORK;
}

/*
 * The outcome of a server error by SQLSTATE: class 28 (invalid authorization)
 * is auth, class 08 (connection exception) network, 08P01 (protocol
 * violation) bad_reply, anything else server_error.
 */
static enum probe_outcome pg_classify_sqlstate(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return PROBE_SERVER_ERROR;
	if (strncmp(sqlstate, "28", 2) == 0)
		return PROBE_AUTH;
	if (strcmp(sqlstate, "08P01") == 0)
		return PROBE_BAD_REPLY;
	if (strncmp(sqlstate, "08", 2) == 0)
		return PROBE_NETWORK;
	return PROBE_SERVER_ERROR;
}

/* The pause before connect attempt n+1 after n consecutive failures. */
static int64_t pg_backoff_ms(unsigned failures)
{
	int64_t pause = PG_BACKOFF_FIRST_MS;

	if (failures <= 1)
		return 0; /* the first failure is retried at the next run */
	for (unsigned i = 2; i < failures && pause < PG_BACKOFF_MAX_MS; i++)
		pause *= 2;
	return pause < PG_BACKOFF_MAX_MS ? pause : PG_BACKOFF_MAX_MS;
}

/* A duration as people write it in config: "5s", "1500ms", "2m". */
static void pg_format_ms(int64_t ms, char *buf, size_t size)
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
static int pg_build_role_query(unsigned aurora, char *out, size_t size)
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
static enum probe_outcome pg_judge(const struct probe_config *cfg, enum db_role role, bool has_lag,
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
		/* Acts as ANY until the fencing module lands and tells us the region's
		 * state; then an active task will want a writer here. */
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

/*
 * Split the comma-separated list `list` into at most max items of at most
 * item_size - 1 characters each. Returns the count (an empty list is one empty
 * item, as libpq counts), or -ENOSPC / -ENAMETOOLONG.
 */
static int pg_split_list(const char *list, char (*items)[WD_HOST_MAX + 1], int max)
{
	int count = 0;
	const char *start = list;

	for (;;) {
		const char *end = strchr(start, ',');
		size_t len = end ? (size_t)(end - start) : strlen(start);

		if (count >= max)
			return -ENOSPC;
		if (len > WD_HOST_MAX)
			return -ENAMETOOLONG;
		memcpy(items[count], start, len);
		items[count][len] = '\0';
		count++;
		if (end == NULL)
			return count;
		start = end + 1;
	}
}

/* True for a host libpq takes as a unix socket directory (or the default). */
static bool pg_host_is_socket(const char *host)
{
	return host[0] == '\0' || host[0] == '/' || host[0] == '@';
}

/* ---- libpq plumbing ------------------------------------------------------ */

/* libpq prints notices (and FATALs that arrive while idle) on stderr: drop them. */
static void pg_notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * Fill obs with outcome and the libpq message msg, tidied and scrubbed of the
 * probe's passwords, after `what: `. Returns outcome.
 */
static enum probe_outcome pg_fail_msg(const struct pg_probe *pg, struct probe_observation *obs,
                                      enum probe_outcome outcome, const char *what, const char *msg)
{
	char text[WD_ERR_MSG_MAX];

	pg_tidy_message(msg, text, sizeof(text));
	pg_redact_secret(text, sizeof(text), pg->cfg.password);
	pg_redact_secret(text, sizeof(text), pg->uri_password);
	if (text[0] == '\0')
		pg_copy(text, sizeof(text), "no detail from libpq");
	if (what != NULL)
		return probe_fail(obs, outcome, "%s: %s", what, text);
	return probe_fail(obs, outcome, "%s", text);
}

static void pg_drop(struct pg_probe *pg)
{
	if (pg->conn != NULL) {
		PQfinish(pg->conn);
		pg->conn = NULL;
	}
}

/*
 * Wait until fd is ready for events or the deadline. Returns 1 when ready
 * (errors and hang-ups count as ready: libpq reads them), 0 at the deadline,
 * -errno if poll() fails.
 */
static int pg_wait(int fd, short events, int64_t deadline_mono_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int left = clock_ms_until(deadline_mono_ms);
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left);
		if (rc > 0)
			return 1;
		if (rc == 0)
			continue; /* re-check the clock: poll may round down */
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Append item as entry number `index` (0-based) of the comma-separated
 * list[size] of length *len: a comma goes before every entry but the first,
 * empty entries included. 0 or -ENOSPC.
 */
static int pg_list_add(char *list, size_t size, size_t *len, int index, const char *item)
{
	size_t item_len = strlen(item);
	size_t comma = index > 0 ? 1 : 0;

	if (*len + comma + item_len + 1 > size)
		return -ENOSPC;
	if (comma)
		list[(*len)++] = ',';
	memcpy(list + *len, item, item_len + 1);
	*len += item_len;
	return 0;
}

/*
 * Build pg->host_list/addr_list/port_list for this connect: each TCP host
 * resolved with net_resolve (bounded by the deadline) and repeated once per
 * address, socket hosts kept with an empty hostaddr. Returns the number of
 * entries, 0 when libpq needs no help (sockets only, or a hostaddr given), or
 * -1 with obs filled (dns: no host resolved; timeout; internal).
 */
static int pg_resolve_hosts(struct pg_probe *pg, int64_t deadline_mono_ms,
                            struct probe_observation *obs)
{
	struct net_addr addrs[NET_ADDRS_MAX];
	struct probe_observation failure = {.outcome = PROBE_DNS};
	size_t hlen = 0, alen = 0, plen = 0;
	int nhosts, nports, entries = 0;
	bool any_tcp = false;

	if (pg->user_hostaddr)
		return 0;
	nhosts = pg_split_list(pg->hosts, pg->host_items, PG_HOSTS_MAX);
	nports = pg_split_list(pg->ports, pg->port_items, PG_HOSTS_MAX);
	if (nhosts < 0 || nports < 0 || (nports > 1 && nports != nhosts)) {
		probe_fail(obs, PROBE_INTERNAL, "host or port list not as validated");
		return -1;
	}
	pg->host_list[0] = pg->addr_list[0] = pg->port_list[0] = '\0';
	for (int i = 0; i < nhosts; i++) {
		const char *host = pg->host_items[i];
		const char *port = pg->port_items[nports > 1 ? i : 0];
		int count = 0;

		if (pg_host_is_socket(host)) {
			/* libpq needs no lookup; an empty hostaddr entry keeps host. */
			count = 1;
		} else {
			long port_num = strtol(port, NULL, 10);

			any_tcp = true;
			count = net_resolve(host,
			                    port_num > 0 && port_num < 65536 ? (int)port_num : 5432,
			                    deadline_mono_ms, addrs, &failure);
			if (count <= 0 && failure.outcome == PROBE_TIMEOUT)
				break;
			if (count <= 0)
				continue; /* like libpq: try the other hosts */
		}
		for (int j = 0; j < count && entries < PG_ADDRS_MAX; j++) {
			char addr[NI_MAXHOST] = "";

			if (!pg_host_is_socket(host) &&
			    getnameinfo((const struct sockaddr *)&addrs[j].sa, addrs[j].len, addr,
			                sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			if (pg_list_add(pg->host_list, sizeof(pg->host_list), &hlen, entries,
			                host) ||
			    pg_list_add(pg->addr_list, sizeof(pg->addr_list), &alen, entries,
			                addr) ||
			    pg_list_add(pg->port_list, sizeof(pg->port_list), &plen, entries,
			                port)) {
				probe_fail(obs, PROBE_INTERNAL, "address list over its cap");
				return -1;
			}
			entries++;
		}
	}
	if (failure.outcome == PROBE_TIMEOUT || entries == 0) {
		*obs = failure;
		if (obs->outcome == PROBE_OK)
			probe_fail(obs, PROBE_DNS, "no host resolved");
		return -1;
	}
	return any_tcp ? entries : 0;
}

/* What a connect that ran out of time was waiting for, for the detail. */
static const char *pg_connect_phase_str(PGconn *conn)
{
	switch (PQstatus(conn)) {
	case CONNECTION_STARTED: return "waiting for the TCP connection";
	case CONNECTION_SSL_STARTUP: return "negotiating TLS";
	case CONNECTION_GSS_STARTUP: return "in GSSAPI negotiation";
	case CONNECTION_MADE:
	case CONNECTION_AWAITING_RESPONSE: return "waiting for the server's first reply";
	case CONNECTION_AUTH_OK:
	case CONNECTION_SETENV:
	case CONNECTION_CHECK_WRITABLE:
	case CONNECTION_CHECK_TARGET:
	case CONNECTION_CONSUME:
	case CONNECTION_CHECK_STANDBY: return "waiting for the server to finish the login";
	default: break;
	}
	return "connecting";
}

/*
 * Open pg->conn: resolve, then PQconnectStartParams + PQconnectPoll against
 * the deadline. Returns 0, or -1 with obs filled (pg->conn stays NULL).
 */
static int pg_connect(struct pg_probe *pg, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	const char *keys[8], *values[8];
	PostgresPollingStatusType state = PGRES_POLLING_WRITING;
	int entries, k = 0;

	entries = pg_resolve_hosts(pg, deadline_mono_ms, obs);
	if (entries < 0)
		return -1;
	/* Before dbname, so that the URI may still ask for GSSAPI encryption. */
	keys[k] = "gssencmode";
	values[k++] = "disable";
	keys[k] = "dbname";
	values[k++] = pg->cfg.uri;
	if (entries > 0) {
		keys[k] = "host";
		values[k++] = pg->host_list;
		keys[k] = "hostaddr";
		values[k++] = pg->addr_list;
		keys[k] = "port";
		values[k++] = pg->port_list;
	}
	if (pg->cfg.password[0] != '\0') {
		keys[k] = "password";
		values[k++] = pg->cfg.password;
	}
	keys[k] = "fallback_application_name";
	values[k++] = "warden";
	keys[k] = NULL;
	values[k] = NULL;

	pg->conn = PQconnectStartParams(keys, values, 1);
	if (pg->conn == NULL) {
		probe_fail(obs, PROBE_INTERNAL, "out of memory starting a connection");
		return -1;
	}
	PQsetNoticeProcessor(pg->conn, pg_notice_ignore, NULL);
	if (PQstatus(pg->conn) == CONNECTION_BAD)
		state = PGRES_POLLING_FAILED;
	for (;;) {
		int fd, ready;

		if (state == PGRES_POLLING_OK)
			break;
		if (state == PGRES_POLLING_FAILED) {
			const char *msg = PQerrorMessage(pg->conn);

			pg_fail_msg(pg, obs, pg_classify_message(msg), NULL, msg);
			goto fail;
		}
		/* The socket may change between calls (next host, TLS retry). */
		fd = PQsocket(pg->conn);
		if (fd < 0) {
			pg_fail_msg(pg, obs, PROBE_NETWORK, "connect", PQerrorMessage(pg->conn));
			goto fail;
		}
		ready = pg_wait(fd, state == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		                deadline_mono_ms);
		if (ready == 0) {
			probe_fail(obs, PROBE_TIMEOUT, "timed out %s",
			           pg_connect_phase_str(pg->conn));
			goto fail;
		}
		if (ready < 0) {
			probe_fail(obs, PROBE_INTERNAL, "poll: %s", strerror(-ready));
			goto fail;
		}
		state = PQconnectPoll(pg->conn);
	}
	if (PQsetnonblocking(pg->conn, 1) != 0) {
		pg_fail_msg(pg, obs, PROBE_INTERNAL, "set non-blocking", PQerrorMessage(pg->conn));
		goto fail;
	}
	return 0;
fail:
	pg_drop(pg);
	return -1;
}

/*
 * Send sql and collect its result before the deadline. Returns 0 with *out a
 * PGRES_TUPLES_OK result (the caller PQclear()s it), or -1 with obs filled;
 * the connection is then left for the caller to drop.
 */
static int pg_query(struct pg_probe *pg, const char *sql, int64_t deadline_mono_ms,
                    struct probe_observation *obs, PGresult **out)
{
	PGconn *conn = pg->conn;
	PGresult *first = NULL;
	int rc = -1;

	*out = NULL;
	if (!PQsendQuery(conn, sql)) {
		const char *msg = PQerrorMessage(conn);

		pg_fail_msg(pg, obs, pg_classify_message(msg), NULL, msg);
		return -1;
	}
	for (;;) {
		PGresult *res;
		int flushed = PQflush(conn);
		short events;
		int ready;

		if (flushed < 0) {
			const char *msg = PQerrorMessage(conn);

			pg_fail_msg(pg, obs, pg_classify_message(msg), NULL, msg);
			goto out;
		}
		if (flushed == 0 && !PQisBusy(conn)) {
			res = PQgetResult(conn);
			if (res == NULL)
				break;
			if (first == NULL)
				first = res;
			else
				PQclear(res);
			continue;
		}
		/* Unsent output: wait for either (the server may need us to read). */
		events = flushed ? (POLLIN | POLLOUT) : POLLIN;
		ready = pg_wait(PQsocket(conn), events, deadline_mono_ms);
		if (ready == 0) {
			probe_fail(obs, PROBE_TIMEOUT, "timed out waiting for the reply");
			goto out;
		}
		if (ready < 0) {
			probe_fail(obs, PROBE_INTERNAL, "poll: %s", strerror(-ready));
			goto out;
		}
		if (!PQconsumeInput(conn)) {
			const char *msg = PQerrorMessage(conn);

			pg_fail_msg(pg, obs, pg_classify_message(msg), NULL, msg);
			goto out;
		}
	}
	if (first == NULL) {
		probe_fail(obs, PROBE_BAD_REPLY, "no result from the server");
		goto out;
	}
	if (PQresultStatus(first) != PGRES_TUPLES_OK) {
		const char *sqlstate = PQresultErrorField(first, PG_DIAG_SQLSTATE);
		const char *primary = PQresultErrorField(first, PG_DIAG_MESSAGE_PRIMARY);
		char what[32];

		if (sqlstate == NULL) {
			const char *msg = PQresultErrorMessage(first);

			if (msg == NULL || msg[0] == '\0')
				msg = PQresStatus(PQresultStatus(first));
			pg_fail_msg(pg, obs, pg_classify_message(msg), NULL, msg);
			goto out;
		}
		snprintf(what, sizeof(what), "SQLSTATE %s", sqlstate);
		pg_fail_msg(pg, obs, pg_classify_sqlstate(sqlstate), what,
		            primary ? primary : PQresultErrorMessage(first));
		goto out;
	}
	*out = first;
	first = NULL;
	rc = 0;
out:
	PQclear(first);
	return rc;
}

/*
 * Learn which Aurora functions the server has and build pg->query for this
 * connection. Returns 0, or -1 with obs filled.
 */
static int pg_detect(struct pg_probe *pg, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	static const unsigned bits[] = {PG_AURORA_REPLICA_STATUS, PG_AURORA_GLOBAL_STATUS,
	                                PG_AURORA_GLOBAL_INSTANCE, PG_AURORA_INSTANCE_ID};
	PGresult *res;
	int rc = -1;

	if (pg_query(pg, pg_detect_query, deadline_mono_ms, obs, &res) != 0)
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

/*
 * Connect (unless inside the backoff pause) and prepare the connection.
 * Returns 0 with pg->conn ready, or -1 with obs filled; a failure arms the
 * backoff.
 */
static int pg_open(struct pg_probe *pg, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	int64_t now = clock_mono_ms();

	if (pg->connect_failures > 0 && now < pg->retry_at_ms) {
		long long secs = (long long)((pg->retry_at_ms - now + 999) / 1000);

		probe_fail(obs, pg->last_outcome, "%.*s (reconnect in %llds)",
		           (int)sizeof(obs->detail) - 32, pg->last_detail, secs);
		return -1;
	}
	if (pg_connect(pg, deadline_mono_ms, obs) == 0 &&
	    pg_detect(pg, deadline_mono_ms, obs) == 0) {
		pg->connect_failures = 0;
		return 0;
	}
	pg_drop(pg);
	if (pg->connect_failures < 64)
		pg->connect_failures++;
	pg->retry_at_ms = clock_mono_ms() + pg_backoff_ms(pg->connect_failures);
	pg->last_outcome = obs->outcome;
	pg_copy(pg->last_detail, sizeof(pg->last_detail), obs->detail);
	return -1;
}

enum pg_check_result {
	PG_CHECK_DONE,   /* the server answered; obs holds the verdict */
	PG_CHECK_FAILED, /* error or timeout; connection dropped */
	PG_CHECK_LOST,   /* the server had closed the connection; dropped */
};

/* Run the role query on pg->conn and judge the answer into obs. */
static enum pg_check_result pg_check(struct pg_probe *pg, int64_t deadline_mono_ms,
                                     struct probe_observation *obs)
{
	PGresult *res;
	const char *recovery;
	enum db_role role;
	bool has_lag = false;
	double lag = 0;

	if (pg_query(pg, pg->query, deadline_mono_ms, obs, &res) != 0) {
		bool lost = obs->outcome != PROBE_TIMEOUT && PQstatus(pg->conn) == CONNECTION_BAD;

		pg_drop(pg);
		return lost ? PG_CHECK_LOST : PG_CHECK_FAILED;
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
	pg_drop(pg);
	probe_fail(obs, PROBE_BAD_REPLY, "unexpected reply to the role query");
	return PG_CHECK_FAILED;
}

/* ---- the probe operations ------------------------------------------------ */

/* The value of option `keyword` in a PQconninfoParse() array, or "". */
static const char *pg_option(const PQconninfoOption *opts, const char *keyword)
{
	for (; opts != NULL && opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, keyword) == 0)
			return opts->val ? opts->val : "";
	return "";
}

/* Count the entries of a comma-separated list ("" is one entry). */
static int pg_list_count(const char *list)
{
	int n = 1;

	for (; *list != '\0'; list++)
		n += *list == ',';
	return n;
}

static int pg_validate(const struct probe_config *cfg, struct wd_err *err)
{
	PQconninfoOption *opts;
	char *parse_error = NULL;
	const char *hosts, *ports;
	int nhosts, nports, rc = 0;

	if (cfg->kind != PROBE_KIND_POSTGRES)
		return wd_err_set(err, -EINVAL, "not a postgres probe");
	if (strncmp(cfg->uri, "postgres://", 11) != 0 &&
	    strncmp(cfg->uri, "postgresql://", 13) != 0)
		return wd_err_set(err, -EINVAL, "want a postgres:// or postgresql:// URI");
	opts = PQconninfoParse(cfg->uri, &parse_error);
	if (opts == NULL) {
		char text[WD_ERR_MSG_MAX];

		if (parse_error == NULL)
			return wd_err_set(err, -ENOMEM, "out of memory parsing the URI");
		pg_tidy_message(parse_error, text, sizeof(text));
		PQfreemem(parse_error);
		pg_redact_quoted(text, sizeof(text), cfg->target);
		pg_redact_secret(text, sizeof(text), cfg->password);
		return wd_err_set(err, -EINVAL, "bad postgres URI: %s", text);
	}
	hosts = pg_option(opts, "host");
	ports = pg_option(opts, "port");
	nhosts = pg_list_count(hosts);
	nports = pg_list_count(ports);
	if (nhosts > PG_HOSTS_MAX) {
		rc = wd_err_set(err, -EINVAL, "%d hosts in the URI, at most %d", nhosts,
		                PG_HOSTS_MAX);
		goto out;
	}
	if (nports > 1 && nports != nhosts) {
		rc = wd_err_set(err, -EINVAL, "%d hosts but %d ports in the URI", nhosts, nports);
		goto out;
	}
	for (const char *p = ports; *p != '\0';) {
		size_t len = strcspn(p, ",");
		long port = 0;
		size_t digits = strspn(p, "0123456789");

		if (digits == len && len > 0 && len <= 5)
			port = strtol(p, NULL, 10);
		if (len > 0 && (port < 1 || port > 65535)) {
			rc = wd_err_set(err, -EINVAL, "bad port in the URI (want 1..65535)");
			goto out;
		}
		p += len + (p[len] == ',');
	}
	for (const char *h = hosts; *h != '\0';) {
		size_t len = strcspn(h, ",");

		if (len > WD_HOST_MAX) {
			rc = wd_err_set(err, -EINVAL, "a host name is over %d characters",
			                WD_HOST_MAX);
			goto out;
		}
		h += len + (h[len] == ',');
	}
out:
	PQconninfoFree(opts);
	return rc;
}

static void *pg_create(const struct probe_config *cfg, struct wd_err *err)
{
	struct pg_probe *pg;
	PQconninfoOption *opts;
	const char *env;

	if (pg_validate(cfg, err) != 0)
		return NULL;
	opts = PQconninfoParse(cfg->uri, NULL);
	pg = calloc(1, sizeof(*pg));
	if (opts == NULL || pg == NULL) {
		PQconninfoFree(opts);
		free(pg);
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	pg->cfg = *cfg;
	pg_copy(pg->uri_password, sizeof(pg->uri_password), pg_option(opts, "password"));
	/* libpq falls back to PGHOST/PGPORT/PGHOSTADDR for what the URI leaves out. */
	pg_copy(pg->hosts, sizeof(pg->hosts), pg_option(opts, "host"));
	if (pg->hosts[0] == '\0' && (env = getenv("PGHOST")) != NULL)
		pg_copy(pg->hosts, sizeof(pg->hosts), env);
	pg_copy(pg->ports, sizeof(pg->ports), pg_option(opts, "port"));
	if (pg->ports[0] == '\0' && (env = getenv("PGPORT")) != NULL)
		pg_copy(pg->ports, sizeof(pg->ports), env);
	pg->user_hostaddr = pg_option(opts, "hostaddr")[0] != '\0' ||
	                    ((env = getenv("PGHOSTADDR")) != NULL && env[0] != '\0');
	PQconninfoFree(opts);
	if (pg_list_count(pg->hosts) > PG_HOSTS_MAX ||
	    (pg_list_count(pg->ports) > 1 &&
	     pg_list_count(pg->ports) != pg_list_count(pg->hosts))) {
		wd_err_set(err, -EINVAL, "PGHOST/PGPORT lists do not match (at most %d hosts)",
		           PG_HOSTS_MAX);
		free(pg);
		return NULL;
	}
	return pg;
}

static void pg_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct pg_probe *pg = ctx;
	bool reused;

	if (pg->conn != NULL && PQstatus(pg->conn) != CONNECTION_OK)
		pg_drop(pg);
	reused = pg->conn != NULL;
	if (!reused && pg_open(pg, deadline_mono_ms, obs) != 0)
		return;
	if (pg_check(pg, deadline_mono_ms, obs) != PG_CHECK_LOST || !reused)
		return;
	/* A kept connection the server closed meanwhile (restart, idle timeout)
	 * says nothing about now: try a fresh one within the same deadline. */
	memset(obs, 0, sizeof(*obs));
	if (pg_open(pg, deadline_mono_ms, obs) == 0)
		(void)pg_check(pg, deadline_mono_ms, obs);
}

static void pg_destroy(void *ctx)
{
	struct pg_probe *pg = ctx;

	if (pg == NULL)
		return;
	pg_drop(pg);
	/* The copies of the passwords die with the context. */
	explicit_bzero(pg, sizeof(*pg));
	free(pg);
}

const struct probe_ops probe_pg_ops = {
        .kind = PROBE_KIND_POSTGRES,
        .validate = pg_validate,
        .create = pg_create,
        .run = pg_run,
        .destroy = pg_destroy,
};
