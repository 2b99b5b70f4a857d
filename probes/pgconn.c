/*
 * pgconn.c - one libpq connection against deadlines (see pgconn.h), shared by
 * the postgres probe and the singleton lease.
 *
 * Never blocking past the deadline. libpq is driven only through its
 * asynchronous API: PQconnectStartParams + PQconnectPoll, then
 * PQsendQueryParams + PQflush/PQconsumeInput/PQisBusy, every wait a poll() on
 * PQsocket() against the deadline. Three things in libpq would still block,
 * and are kept out of its way:
 *  - DNS. PQconnectStart resolves host names with a blocking getaddrinfo(), so
 *    every host of the URI is resolved here first with net_resolve()
 *    (deadline-bounded) and handed to libpq as `hostaddr`, while `host` stays
 *    as written for TLS certificate checks (SNI, verify-full) and .pgpass.
 *    Multi-host URIs are supported: each host is resolved and repeated once per
 *    address (host=a,a,b hostaddr=10.0.0.1,10.0.0.2,10.0.0.3, ports repeated
 *    alike), so libpq tries the same addresses in the same order it would have.
 *    Names are resolved again at every open (an Aurora cluster endpoint is a
 *    CNAME that moves on failover). Unix-socket hosts ('/' or '@') and a
 *    `hostaddr` the user gave (URI or PGHOSTADDR) are passed through.
 *    Limitation: hosts that come from a pg_service.conf `service` entry are
 *    not seen here, and libpq resolves them itself (blocking).
 *  - GSSAPI. Its negotiation can wait on a KDC; `gssencmode=disable` is set
 *    unless the URI asks for it explicitly.
 *  - PQcancel on a timed-out query is a blocking connect + write: never used.
 *    A timeout or any client-side error simply PQfinish()es the connection
 *    (in non-blocking mode, its Terminate message is a best-effort write).
 * Not avoided: without a user in the URI (or PGUSER), libpq asks getpwuid()
 * for one, an NSS lookup; give the user explicitly.
 *
 * Reconnect with backoff. A failed open is retried at the next attempt; after
 * that the pause doubles from 1 s up to 10 s, and an open inside the pause
 * reports the last failure's outcome with "(reconnect in Ns)".
 *
 * Secrets: the password (cfg->password, or the URI's) is never formatted;
 * every libpq message is scrubbed of both before it becomes a detail, and
 * pgconn_validate() hides any quoted URI fragment that is not in the redacted
 * target.
 */
#include "probes/pgconn.h"
#include "probes/pgconn_internal.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "net/net.h"

#define PGCONN_ADDRS_MAX        16 /* addresses handed to libpq, all hosts together */
#define PGCONN_LIST_MAX         (PGCONN_ADDRS_MAX * (WD_HOST_MAX + 2)) /* one comma-separated list */
#define PGCONN_BACKOFF_FIRST_MS 1000
#define PGCONN_BACKOFF_MAX_MS   10000

struct pgconn {
	char uri[WD_URI_MAX + 1];             /* the libpq URI (may hold a password) */
	char password[WD_SECRET_MAX + 1];     /* the probe's password; "" if none */
	char uri_password[WD_SECRET_MAX + 1]; /* the URI's own, only to scrub messages */
	char hosts[WD_URI_MAX + 1];           /* host list (URI, else PGHOST); "" = default */
	char ports[WD_URI_MAX + 1];           /* port list (URI, else PGPORT); "" = default */
	bool user_hostaddr;                   /* hostaddr given: libpq resolves nothing */

	PGconn *conn; /* NULL when closed */
	char sqlstate[6];

	unsigned connect_failures; /* consecutive failed opens */
	int64_t retry_at_ms;       /* no open before this (monotonic) */
	enum probe_outcome last_outcome;
	char last_detail[WD_ERR_MSG_MAX];

	/* Connect parameters, rebuilt at each open (kept here, off the stack). */
	char host_items[PGCONN_HOSTS_MAX][WD_HOST_MAX + 1];
	char port_items[PGCONN_HOSTS_MAX][WD_HOST_MAX + 1];
	char host_list[PGCONN_LIST_MAX];
	char addr_list[PGCONN_LIST_MAX];
	char port_list[PGCONN_LIST_MAX];
};

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/* Copy src into dst[size], cut to fit. */
static void pgconn_copy(char *dst, size_t size, const char *src)
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
void pgconn_tidy_message(const char *in, char *out, size_t size)
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
static size_t pgconn_replace_range(char *text, size_t size, size_t at, size_t len)
{
	char tmp[WD_ERR_MSG_MAX];
	size_t cap = size < sizeof(tmp) ? size : sizeof(tmp);
	size_t next = at + 3;

	snprintf(tmp, cap, "%.*s***%s", (int)at, text, text + at + len);
	memcpy(text, tmp, strlen(tmp) + 1);
	return next < cap - 1 ? next : cap - 1;
}

/* Replace every occurrence of secret in text[size] by "***" (cut to fit). */
void pgconn_redact_secret(char *text, size_t size, const char *secret)
{
	size_t secret_len = secret ? strlen(secret) : 0;
	size_t from = 0;
	char *hit;

	if (secret_len == 0 || size == 0)
		return;
	while ((hit = strstr(text + from, secret)) != NULL)
		from = pgconn_replace_range(text, size, (size_t)(hit - text), secret_len);
}

/*
 * Replace every double-quoted token of text[size] that does not appear in
 * `shown` (the redacted target) by "***": libpq's URI parse errors quote raw
 * pieces of the URI, and a piece of the userinfo may be the password.
 */
void pgconn_redact_quoted(char *text, size_t size, const char *shown)
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
		pgconn_copy(token, len + 1 < sizeof(token) ? len + 1 : sizeof(token), open + 1);
		if (len < sizeof(token) && strstr(shown, token) != NULL)
			continue;
		from = pgconn_replace_range(text, size, at, len);
		if (text[from] == '"')
			from++;
	}
}

/* True if haystack contains needle, ignoring ASCII case. */
static bool pgconn_contains(const char *haystack, const char *needle)
{
	return strcasestr(haystack, needle) != NULL;
}

/*
 * The outcome of a connection-level libpq error text (connect failures, and
 * errors without a SQLSTATE while a query runs). Credentials first (the
 * server's pg_hba message mentions "SSL off"), then TLS, then transport.
 */
enum probe_outcome pgconn_classify_message(const char *msg)
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
	if (pgconn_contains(msg, "database \"") && pgconn_contains(msg, "does not exist"))
		return PROBE_SERVER_ERROR;
	for (i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		if (pgconn_contains(msg, auth[i]))
			return PROBE_AUTH;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (pgconn_contains(msg, refused[i]))
			return PROBE_REFUSED;
	if (pgconn_contains(msg, "could not translate host name"))
		return PROBE_DNS;
	for (i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
		if (strstr(msg, tls[i]) != NULL)
			return PROBE_TLS;
	for (i = 0; i < sizeof(network) / sizeof(network[0]); i++)
		if (pgconn_contains(msg, network[i]))
			return PROBE_NETWORK;
	if (pgconn_contains(msg, "expected authentication request") ||
	    pgconn_contains(msg, "invalid response") ||
	    pgconn_contains(msg, "unexpected message") || pgconn_contains(msg, "protocol"))
		return PROBE_BAD_REPLY;
	if (pgconn_contains(msg, "FATAL") || pgconn_contains(msg, "ERROR"))
		return PROBE_SERVER_ERROR;
	return PROBE_NETWORK;
}

/*
 * The outcome of a server error by SQLSTATE: class 28 (invalid authorization)
 * is auth, class 08 (connection exception) network, 08P01 (protocol
 * violation) bad_reply, anything else server_error.
 */
enum probe_outcome pgconn_classify_sqlstate(const char *sqlstate)
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
int64_t pgconn_backoff_ms(unsigned failures)
{
	int64_t pause = PGCONN_BACKOFF_FIRST_MS;

	if (failures <= 1)
		return 0; /* the first failure is retried at the next run */
	for (unsigned i = 2; i < failures && pause < PGCONN_BACKOFF_MAX_MS; i++)
		pause *= 2;
	return pause < PGCONN_BACKOFF_MAX_MS ? pause : PGCONN_BACKOFF_MAX_MS;
}

/*
 * Split the comma-separated list `list` into at most max items of at most
 * item_size - 1 characters each. Returns the count (an empty list is one empty
 * item, as libpq counts), or -ENOSPC / -ENAMETOOLONG.
 */
int pgconn_split_list(const char *list, char (*items)[WD_HOST_MAX + 1], int max)
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
bool pgconn_host_is_socket(const char *host)
{
	return host[0] == '\0' || host[0] == '/' || host[0] == '@';
}

/* The value of option `keyword` in a PQconninfoParse() array, or "". */
static const char *pgconn_option(const PQconninfoOption *opts, const char *keyword)
{
	for (; opts != NULL && opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, keyword) == 0)
			return opts->val ? opts->val : "";
	return "";
}

/* Count the entries of a comma-separated list ("" is one entry). */
int pgconn_list_count(const char *list)
{
	int n = 1;

	for (; *list != '\0'; list++)
		n += *list == ',';
	return n;
}

/* ---- libpq plumbing ------------------------------------------------------ */

/* libpq prints notices (and FATALs that arrive while idle) on stderr: drop them. */
static void pgconn_notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * Fill obs with outcome and the libpq message msg, tidied and scrubbed of the
 * probe's passwords, after `what: `. Returns outcome.
 */
static enum probe_outcome pgconn_fail_msg(const struct pgconn *pc, struct probe_observation *obs,
                                          enum probe_outcome outcome, const char *what,
                                          const char *msg)
{
	char text[WD_ERR_MSG_MAX];

	pgconn_tidy_message(msg, text, sizeof(text));
	pgconn_redact_secret(text, sizeof(text), pc->password);
	pgconn_redact_secret(text, sizeof(text), pc->uri_password);
	if (text[0] == '\0')
		pgconn_copy(text, sizeof(text), "no detail from libpq");
	if (what != NULL)
		return probe_fail(obs, outcome, "%s: %s", what, text);
	return probe_fail(obs, outcome, "%s", text);
}

/*
 * Wait until fd is ready for events or the deadline. Returns 1 when ready
 * (errors and hang-ups count as ready: libpq reads them), 0 at the deadline,
 * -errno if poll() fails.
 */
static int pgconn_wait(int fd, short events, int64_t deadline_mono_ms)
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
int pgconn_list_add(char *list, size_t size, size_t *len, int index, const char *item)
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
 * Build pc->host_list/addr_list/port_list for this connect: each TCP host
 * resolved with net_resolve (bounded by the deadline) and repeated once per
 * address, socket hosts kept with an empty hostaddr. Returns the number of
 * entries, 0 when libpq needs no help (sockets only, or a hostaddr given), or
 * -1 with obs filled (dns: no host resolved; timeout; internal).
 */
static int pgconn_resolve_hosts(struct pgconn *pc, int64_t deadline_mono_ms,
                                struct probe_observation *obs)
{
	struct net_addr addrs[NET_ADDRS_MAX];
	struct net_status failure = {.outcome = NET_DNS};
	size_t hlen = 0, alen = 0, plen = 0;
	int nhosts, nports, entries = 0;
	bool any_tcp = false;

	if (pc->user_hostaddr)
		return 0;
	nhosts = pgconn_split_list(pc->hosts, pc->host_items, PGCONN_HOSTS_MAX);
	nports = pgconn_split_list(pc->ports, pc->port_items, PGCONN_HOSTS_MAX);
	if (nhosts < 0 || nports < 0 || (nports > 1 && nports != nhosts)) {
		probe_fail(obs, PROBE_INTERNAL, "host or port list not as validated");
		return -1;
	}
	pc->host_list[0] = pc->addr_list[0] = pc->port_list[0] = '\0';
	for (int i = 0; i < nhosts; i++) {
		const char *host = pc->host_items[i];
		const char *port = pc->port_items[nports > 1 ? i : 0];
		int count = 0;

		if (pgconn_host_is_socket(host)) {
			/* libpq needs no lookup; an empty hostaddr entry keeps host. */
			count = 1;
		} else {
			long port_num = strtol(port, NULL, 10);

			any_tcp = true;
			count = net_resolve(host,
			                    port_num > 0 && port_num < 65536 ? (int)port_num : 5432,
			                    deadline_mono_ms, addrs, &failure);
			if (count <= 0 && failure.outcome == NET_TIMEOUT)
				break;
			if (count <= 0)
				continue; /* like libpq: try the other hosts */
		}
		for (int j = 0; j < count && entries < PGCONN_ADDRS_MAX; j++) {
			char addr[NI_MAXHOST] = "";

			if (!pgconn_host_is_socket(host) &&
			    getnameinfo((const struct sockaddr *)&addrs[j].sa, addrs[j].len, addr,
			                sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			if (pgconn_list_add(pc->host_list, sizeof(pc->host_list), &hlen, entries,
			                    host) ||
			    pgconn_list_add(pc->addr_list, sizeof(pc->addr_list), &alen, entries,
			                    addr) ||
			    pgconn_list_add(pc->port_list, sizeof(pc->port_list), &plen, entries,
			                    port)) {
				probe_fail(obs, PROBE_INTERNAL, "address list over its cap");
				return -1;
			}
			entries++;
		}
	}
	if (failure.outcome == NET_TIMEOUT || entries == 0) {
		probe_fail_net(obs, &failure);
		if (obs->outcome == PROBE_OK)
			probe_fail(obs, PROBE_DNS, "no host resolved");
		return -1;
	}
	return any_tcp ? entries : 0;
}

/* What a connect that ran out of time was waiting for, for the detail. */
static const char *pgconn_connect_phase_str(PGconn *conn)
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
 * Open pc->conn: resolve, then PQconnectStartParams + PQconnectPoll against
 * the deadline. Returns 0, or -1 with obs filled (pc->conn stays NULL).
 */
static int pgconn_connect(struct pgconn *pc, int64_t deadline_mono_ms,
                          struct probe_observation *obs)
{
	const char *keys[8], *values[8];
	PostgresPollingStatusType state = PGRES_POLLING_WRITING;
	int entries, k = 0;

	entries = pgconn_resolve_hosts(pc, deadline_mono_ms, obs);
	if (entries < 0)
		return -1;
	/* Before dbname, so that the URI may still ask for GSSAPI encryption. */
	keys[k] = "gssencmode";
	values[k++] = "disable";
	keys[k] = "dbname";
	values[k++] = pc->uri;
	if (entries > 0) {
		keys[k] = "host";
		values[k++] = pc->host_list;
		keys[k] = "hostaddr";
		values[k++] = pc->addr_list;
		keys[k] = "port";
		values[k++] = pc->port_list;
	}
	if (pc->password[0] != '\0') {
		keys[k] = "password";
		values[k++] = pc->password;
	}
	keys[k] = "fallback_application_name";
	values[k++] = "warden";
	keys[k] = NULL;
	values[k] = NULL;

	pc->conn = PQconnectStartParams(keys, values, 1);
	if (pc->conn == NULL) {
		probe_fail(obs, PROBE_INTERNAL, "out of memory starting a connection");
		return -1;
	}
	PQsetNoticeProcessor(pc->conn, pgconn_notice_ignore, NULL);
	if (PQstatus(pc->conn) == CONNECTION_BAD)
		state = PGRES_POLLING_FAILED;
	for (;;) {
		int fd, ready;

		if (state == PGRES_POLLING_OK)
			break;
		if (state == PGRES_POLLING_FAILED) {
			const char *msg = PQerrorMessage(pc->conn);

			pgconn_fail_msg(pc, obs, pgconn_classify_message(msg), NULL, msg);
			goto fail;
		}
		/* The socket may change between calls (next host, TLS retry). */
		fd = PQsocket(pc->conn);
		if (fd < 0) {
			pgconn_fail_msg(pc, obs, PROBE_NETWORK, "connect",
			                PQerrorMessage(pc->conn));
			goto fail;
		}
		ready = pgconn_wait(fd, state == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		                    deadline_mono_ms);
		if (ready == 0) {
			probe_fail(obs, PROBE_TIMEOUT, "timed out %s",
			           pgconn_connect_phase_str(pc->conn));
			goto fail;
		}
		if (ready < 0) {
			probe_fail(obs, PROBE_INTERNAL, "poll: %s", strerror(-ready));
			goto fail;
		}
		state = PQconnectPoll(pc->conn);
	}
	if (PQsetnonblocking(pc->conn, 1) != 0) {
		pgconn_fail_msg(pc, obs, PROBE_INTERNAL, "set non-blocking",
		                PQerrorMessage(pc->conn));
		goto fail;
	}
	return 0;
fail:
	pgconn_close(pc);
	return -1;
}

/*
 * Collect the results of the statement sent on pc->conn before the deadline.
 * Returns 0 with *first the first result (the others are cleared), or -1
 * with obs filled.
 */
static int pgconn_collect(struct pgconn *pc, int64_t deadline_mono_ms,
                          struct probe_observation *obs, PGresult **first)
{
	PGconn *conn = pc->conn;

	for (;;) {
		PGresult *res;
		int flushed = PQflush(conn);
		short events;
		int ready;

		if (flushed < 0) {
			const char *msg = PQerrorMessage(conn);

			pgconn_fail_msg(pc, obs, pgconn_classify_message(msg), NULL, msg);
			return -1;
		}
		if (flushed == 0 && !PQisBusy(conn)) {
			res = PQgetResult(conn);
			if (res == NULL)
				return 0;
			if (*first == NULL)
				*first = res;
			else
				PQclear(res);
			continue;
		}
		/* Unsent output: wait for either (the server may need us to read). */
		events = flushed ? (POLLIN | POLLOUT) : POLLIN;
		ready = pgconn_wait(PQsocket(conn), events, deadline_mono_ms);
		if (ready == 0) {
			probe_fail(obs, PROBE_TIMEOUT, "timed out waiting for the reply");
			return -1;
		}
		if (ready < 0) {
			probe_fail(obs, PROBE_INTERNAL, "poll: %s", strerror(-ready));
			return -1;
		}
		if (!PQconsumeInput(conn)) {
			const char *msg = PQerrorMessage(conn);

			pgconn_fail_msg(pc, obs, pgconn_classify_message(msg), NULL, msg);
			return -1;
		}
	}
}

/*
 * Fill obs (and pc->sqlstate) from a result that is not a success. Returns
 * true if the server itself refused the statement (an error with a SQLSTATE).
 */
static bool pgconn_result_error(struct pgconn *pc, const PGresult *res,
                                struct probe_observation *obs)
{
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char what[32];

	if (sqlstate == NULL) {
		const char *msg = PQresultErrorMessage(res);

		if (msg == NULL || msg[0] == '\0')
			msg = PQresStatus(PQresultStatus(res));
		pgconn_fail_msg(pc, obs, pgconn_classify_message(msg), NULL, msg);
		return false;
	}
	pgconn_copy(pc->sqlstate, sizeof(pc->sqlstate), sqlstate);
	snprintf(what, sizeof(what), "SQLSTATE %s", sqlstate);
	pgconn_fail_msg(pc, obs, pgconn_classify_sqlstate(sqlstate), what,
	                primary ? primary : PQresultErrorMessage(res));
	return true;
}

enum pgconn_result pgconn_query(struct pgconn *pc, const char *sql, int nparams,
                                const char *const *params, int64_t deadline_mono_ms,
                                struct probe_observation *obs, PGresult **out)
{
	PGresult *first = NULL;
	enum pgconn_result result = PGCONN_FAILED;
	bool refused = false;

	*out = NULL;
	pc->sqlstate[0] = '\0';
	if (pc->conn == NULL) {
		probe_fail(obs, PROBE_INTERNAL, "no connection");
		return PGCONN_FAILED;
	}
	if (nparams < 0 || nparams > PGCONN_PARAMS_MAX) {
		probe_fail(obs, PROBE_INTERNAL, "%d statement parameters, at most %d", nparams,
		           PGCONN_PARAMS_MAX);
		return PGCONN_FAILED;
	}
	if (!PQsendQueryParams(pc->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		const char *msg = PQerrorMessage(pc->conn);

		pgconn_fail_msg(pc, obs, pgconn_classify_message(msg), NULL, msg);
		goto out;
	}
	if (pgconn_collect(pc, deadline_mono_ms, obs, &first) != 0)
		goto out;
	if (first == NULL) {
		probe_fail(obs, PROBE_BAD_REPLY, "no result from the server");
		goto out;
	}
	if (PQresultStatus(first) == PGRES_TUPLES_OK || PQresultStatus(first) == PGRES_COMMAND_OK) {
		*out = first;
		first = NULL;
		result = PGCONN_OK;
		goto out;
	}
	refused = pgconn_result_error(pc, first, obs);
out:
	PQclear(first);
	if (result == PGCONN_OK)
		return PGCONN_OK;
	/* A kept connection that the server had closed (restart, idle timeout,
	 * administrator command) is lost; one that answered an error is fine. */
	if (obs->outcome != PROBE_TIMEOUT && PQstatus(pc->conn) == CONNECTION_BAD)
		result = PGCONN_LOST;
	else if (refused)
		return PGCONN_SERVER_ERROR;
	pgconn_close(pc);
	return result;
}

/* ---- the handle --------------------------------------------------------- */

int pgconn_validate(const struct probe_config *cfg, struct wd_err *err)
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
		pgconn_tidy_message(parse_error, text, sizeof(text));
		PQfreemem(parse_error);
		pgconn_redact_quoted(text, sizeof(text), cfg->target);
		pgconn_redact_secret(text, sizeof(text), cfg->password);
		return wd_err_set(err, -EINVAL, "bad postgres URI: %s", text);
	}
	hosts = pgconn_option(opts, "host");
	ports = pgconn_option(opts, "port");
	nhosts = pgconn_list_count(hosts);
	nports = pgconn_list_count(ports);
	if (nhosts > PGCONN_HOSTS_MAX) {
		rc = wd_err_set(err, -EINVAL, "%d hosts in the URI, at most %d", nhosts,
		                PGCONN_HOSTS_MAX);
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

struct pgconn *pgconn_new(const struct probe_config *cfg, struct wd_err *err)
{
	struct pgconn *pc;
	PQconninfoOption *opts;
	const char *env;

	if (pgconn_validate(cfg, err) != 0)
		return NULL;
	opts = PQconninfoParse(cfg->uri, NULL);
	pc = calloc(1, sizeof(*pc));
	if (opts == NULL || pc == NULL) {
		PQconninfoFree(opts);
		free(pc);
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	pgconn_copy(pc->uri, sizeof(pc->uri), cfg->uri);
	pgconn_copy(pc->password, sizeof(pc->password), cfg->password);
	pgconn_copy(pc->uri_password, sizeof(pc->uri_password), pgconn_option(opts, "password"));
	/* libpq falls back to PGHOST/PGPORT/PGHOSTADDR for what the URI leaves out. */
	pgconn_copy(pc->hosts, sizeof(pc->hosts), pgconn_option(opts, "host"));
	if (pc->hosts[0] == '\0' && (env = getenv("PGHOST")) != NULL)
		pgconn_copy(pc->hosts, sizeof(pc->hosts), env);
	pgconn_copy(pc->ports, sizeof(pc->ports), pgconn_option(opts, "port"));
	if (pc->ports[0] == '\0' && (env = getenv("PGPORT")) != NULL)
		pgconn_copy(pc->ports, sizeof(pc->ports), env);
	pc->user_hostaddr = pgconn_option(opts, "hostaddr")[0] != '\0' ||
	                    ((env = getenv("PGHOSTADDR")) != NULL && env[0] != '\0');
	PQconninfoFree(opts);
	if (pgconn_list_count(pc->hosts) > PGCONN_HOSTS_MAX ||
	    (pgconn_list_count(pc->ports) > 1 &&
	     pgconn_list_count(pc->ports) != pgconn_list_count(pc->hosts))) {
		wd_err_set(err, -EINVAL, "PGHOST/PGPORT lists do not match (at most %d hosts)",
		           PGCONN_HOSTS_MAX);
		pgconn_free(pc);
		return NULL;
	}
	return pc;
}
void pgconn_free(struct pgconn *pc)
{
	if (pc == NULL)
		return;
	pgconn_close(pc);
	/* The copies of the passwords die with the handle. */
	explicit_bzero(pc, sizeof(*pc));
	free(pc);
}

void pgconn_close(struct pgconn *pc)
{
	if (pc->conn != NULL) {
		PQfinish(pc->conn);
		pc->conn = NULL;
	}
}

bool pgconn_ready(struct pgconn *pc)
{
	if (pc->conn != NULL && PQstatus(pc->conn) != CONNECTION_OK)
		pgconn_close(pc);
	return pc->conn != NULL;
}

int pgconn_open(struct pgconn *pc, int64_t deadline_mono_ms, pgconn_setup_fn setup, void *arg,
                struct probe_observation *obs)
{
	int64_t now = clock_mono_ms();

	pgconn_close(pc);
	if (pc->connect_failures > 0 && now < pc->retry_at_ms) {
		long long secs = (long long)((pc->retry_at_ms - now + 999) / 1000);

		probe_fail(obs, pc->last_outcome, "%.*s (reconnect in %llds)",
		           (int)sizeof(obs->detail) - 32, pc->last_detail, secs);
		return -1;
	}
	if (pgconn_connect(pc, deadline_mono_ms, obs) == 0 &&
	    (setup == NULL || setup(pc, arg, deadline_mono_ms, obs) == 0)) {
		pc->connect_failures = 0;
		return 0;
	}
	pgconn_close(pc);
	if (pc->connect_failures < 64)
		pc->connect_failures++;
	pc->retry_at_ms = clock_mono_ms() + pgconn_backoff_ms(pc->connect_failures);
	pc->last_outcome = obs->outcome;
	pgconn_copy(pc->last_detail, sizeof(pc->last_detail), obs->detail);
	return -1;
}

const char *pgconn_sqlstate(const struct pgconn *pc)
{
	return pc->sqlstate;
}
