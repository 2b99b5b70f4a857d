/*
 * http_server.c - the health listener, on libmicrohttpd.
 *
 * One daemon: epoll, an internal polling thread (a pool of cfg->http_threads
 * when more than one), turbo mode. Handlers read the state (atomics for
 * /livez, a copy of the snapshots under the state's short lock for the rest),
 * render into a bounded wd_buf and hand the bytes to MHD. They never touch a
 * dependency and never wait on anything else.
 *
 * Keep-alive: MHD closes the connection when a response is queued on the
 * first call of the access handler for a request (before it knows whether a
 * body follows). So the first call only marks the request; the response is
 * queued on the second call, after any body has been discarded.
 *
 * Bodies are not expected. A body is read and thrown away in the connection's
 * own buffer (no allocation) up to HTTP_BODY_DISCARD_MAX bytes; a larger
 * declared body gets 413 (and the connection closes), and a chunked one that
 * grows past the cap closes the connection without a reply.
 *
 * Accept: warden owns the listening socket and one guard thread accepts and
 * hands each connection to MHD (MHD_add_connection). MHD's own accept loop
 * busy-waits when accept() fails with EMFILE while it holds no connection;
 * the guard instead stops accepting until a connection closes (or
 * HTTP_ACCEPT_PAUSE_MS passes: a descriptor may free elsewhere), and stops
 * accepting at WARDEN_HTTP_MAX_CONNECTIONS the same way.
 *
 * Header deadline (slowloris): MHD's connection timeout is an idle timeout
 * that every byte resets. The guard thread also keeps, per connection, the
 * monotonic deadline by which its request head must be whole: accept +
 * WARDEN_HTTP_HEADER_TIMEOUT for the first request, and for each later
 * request on a keep-alive connection the end of the previous response +
 * WARDEN_HTTP_IDLE_TIMEOUT + WARDEN_HTTP_HEADER_TIMEOUT (the idle wait that
 * keep-alive allows, then the head). A connection past its deadline is
 * shut down (shutdown(2), never close: MHD sees the end of the stream and
 * closes and frees it itself). The connection list is guarded by one mutex,
 * and MHD calls NOTIFY_CLOSED before it closes a socket, so the guard never
 * shuts down a descriptor number that was reused.
 *
 * Target: the raw request target may hold no control byte (0x00-0x1f,
 * 0x7f), raw or percent-encoded: 400. MHD hands callbacks C strings, so a
 * raw NUL would cut the target short ("/livez\0x" read as "/livez"); it is
 * caught by checking that the HTTP version starts right after the end of
 * the target as the URI log callback saw it.
 *
 * Decisions (DESIGN.md, HTTP endpoints):
 * - Listening on "::" is dual-stack; any other IPv6 address is IPv6 only.
 * - /readyz/<unknown> is 404 whatever the method; a known path with another
 *   method than GET or HEAD is 405 with `Allow: GET, HEAD`.
 * - `?verbose` is present when the query holds the key `verbose`, with or
 *   without a value.
 */
#include "agent/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "agent/render.h"

/* Caps of the listener (candidates for limits.h). */
#define HTTP_BODY_MAX          (1 << 20)  /* a rendered response body */
#define HTTP_BODY_DISCARD_MAX  (64 << 10) /* a request body read and dropped */
#define HTTP_CONNECTION_MEMORY (8 << 10)  /* MHD's per-connection pool: request head, reply head */
#define HTTP_LISTEN_BACKLOG    1024       /* capped by net.core.somaxconn */
#define HTTP_LOG_INTERVAL_MS   1000       /* at most one line a second per kind after start-up */
#define HTTP_ACCEPT_PAUSE_MS   100        /* accept() again after EMFILE even if nothing closed */
#define HTTP_ACCEPT_BATCH      64         /* connections accepted per wake-up */

#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define CONTENT_TYPE_HEALTH  "application/health+json"
#define CONTENT_TYPE_JSON    "application/json"
#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

static const char livez_ok_body[] = "ok\n";
static const char not_found_body[] = "not found\n";
static const char method_body[] = "method not allowed\n";
static const char too_large_body[] = "request body too large\n";
static const char internal_body[] = "internal error\n";
static const char activez_yes_body[] = "writable\n";
static const char activez_no_body[] = "not writable\n";
static const char unauthorized_body[] = "unauthorized\n";
static const char bad_request_body[] = "bad request\n";

/* At most one line a second of a kind; the lines in between are counted. */
struct log_limiter {
	_Atomic int64_t last_mono_ms;
	_Atomic uint64_t suppressed;
};

/* One connection, from MHD's NOTIFY_CONNECTION STARTED to CLOSED. */
struct http_conn {
	struct http_conn *prev; /* the live list, under http_server.conns_lock */
	struct http_conn *next;
	int fd;
	/* When the request head must be whole (monotonic ms); 0: none pending. */
	_Atomic int64_t head_deadline_ms;
	/* Set by the URI log callback, read by the first access call (MHD's thread). */
	const char *target_end;
	bool target_bad;
};

struct http_server {
	const struct wd_config *cfg;
	struct wd_state *state;
	struct fencing *fencing;
	struct proxy *proxy;                                  /* NULL without WARDEN_PROXY_LISTEN */
	unsigned char admin_token_hash[SHA256_DIGEST_LENGTH]; /* of cfg->admin_token */
	struct MHD_Daemon *daemon;

	/* Built once, queued many times (MHD counts references). */
	struct MHD_Response *livez_ok;
	struct MHD_Response *not_found;
	struct MHD_Response *method_not_allowed;
	struct MHD_Response *too_large;
	struct MHD_Response *internal_error;
	struct MHD_Response *method_not_allowed_post;
	struct MHD_Response *activez_yes;
	struct MHD_Response *activez_no;
	struct MHD_Response *unauthorized;
	struct MHD_Response *no_content;
	struct MHD_Response *bad_request;

	/* MHD's messages: kept for the start-up error, then logged, rate-limited. */
	atomic_bool starting;
	char start_error[WD_ERR_MSG_MAX];
	struct log_limiter mhd_log;
	struct log_limiter refused_log;
	struct log_limiter accept_log;
	struct log_limiter timeout_log;

	/* The guard thread: accept, and the header deadlines. */
	int listen_fd;
	int wake_fd;          /* eventfd: a connection closed, or stop */
	atomic_bool stopping; /* set before wake_fd is written for the stop */
	atomic_bool paused;   /* the guard waits for a close before accept() */
	bool guard_started;
	pthread_t guard;
	pthread_mutex_t conns_lock;
	bool conns_lock_ready;
	struct http_conn *conns; /* live connections, under conns_lock */
	_Atomic unsigned live;   /* connections MHD holds */
};

static void log_limiter_init(struct log_limiter *limiter)
{
	atomic_init(&limiter->last_mono_ms, INT64_MIN / 2);
	atomic_init(&limiter->suppressed, 0);
}

/*
 * `events` more things happened: true when a line may say so now;
 * *suppressed is then the count of the events not logged since the last
 * line. Otherwise they are counted. Lock-free; any thread.
 */
static bool log_limiter_allow_n(struct log_limiter *limiter, uint64_t events, uint64_t *suppressed)
{
	int64_t now = clock_mono_ms();
	int64_t last = atomic_load(&limiter->last_mono_ms);

	if (now - last < HTTP_LOG_INTERVAL_MS ||
	    !atomic_compare_exchange_strong(&limiter->last_mono_ms, &last, now)) {
		atomic_fetch_add(&limiter->suppressed, events);
		return false;
	}
	*suppressed = atomic_exchange(&limiter->suppressed, 0);
	return true;
}

/* One event: log_limiter_allow_n(limiter, 1, suppressed). */
static bool log_limiter_allow(struct log_limiter *limiter, uint64_t *suppressed)
{
	return log_limiter_allow_n(limiter, 1, suppressed);
}

/* MHD's error log, turned into our JSON lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *server = cls;
	char text[WD_ERR_MSG_MAX];
	size_t len;
	uint64_t suppressed = 0;
	struct log_line line;

	vsnprintf(text, sizeof(text), fmt, ap);
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (atomic_load(&server->starting)) {
		snprintf(server->start_error, sizeof(server->start_error), "%s", text);
		return;
	}
	/* A flood of connections must not become a flood of log lines. */
	if (!log_limiter_allow(&server->mhd_log, &suppressed))
		return;
	log_begin(&line, LOG_WARN, "http.error");
	log_int(&line, "suppressed", (int64_t)suppressed);
	log_end(&line, "health listener: %s", text);
}

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool client_is_loopback(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info;
	const struct sockaddr *sa;

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return false;
	sa = info->client_addr;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		if (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) && in6.sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/*
 * Whether this request may see details: never with EXPOSE_NEVER; else only
 * with ?verbose (when need_verbose) and from loopback unless EXPOSE_ALWAYS.
 */
static bool details_allowed(const struct http_server *server, struct MHD_Connection *conn,
                            bool need_verbose)
{
	const char *value = NULL;
	size_t value_len = 0;

	if (server->cfg->expose_details == EXPOSE_NEVER)
		return false;
	if (need_verbose &&
	    MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "verbose", strlen("verbose"),
	                                  &value, &value_len) != MHD_YES)
		return false;
	return server->cfg->expose_details == EXPOSE_ALWAYS || client_is_loopback(conn);
}

/* A response over static bytes, with its Content-Type (and extra header). */
static struct MHD_Response *static_response(const char *body, const char *content_type,
                                            const char *header, const char *value)
{
	struct MHD_Response *response;

	response =
	        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (response == NULL)
		return NULL;
	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) !=
	            MHD_YES ||
	    (header != NULL && MHD_add_response_header(response, header, value) != MHD_YES)) {
		MHD_destroy_response(response);
		return NULL;
	}
	return response;
}

/* Queue a rendered body (taken from buf) with status and content type. */
static enum MHD_Result queue_body(struct http_server *server, struct MHD_Connection *conn,
                                  unsigned int status, const char *content_type, struct wd_buf *buf)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	size_t len = buf->len;
	char *body = wd_buf_take(buf);

	if (body == NULL)
		return MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                          server->internal_error);
	response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (response == NULL) {
		free(body);
		return MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                          server->internal_error);
	}
	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) !=
	            MHD_YES ||
	    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") !=
	            MHD_YES) {
		MHD_destroy_response(response);
		return MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                          server->internal_error);
	}
	ret = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	return ret;
}

/* A renderer failed (E2BIG, ENOMEM): 500, and say so once in the log. */
static enum MHD_Result render_failed(struct http_server *server, struct MHD_Connection *conn,
                                     const char *path, int rc, struct wd_buf *buf)
{
	struct log_line line;

	wd_buf_free(buf);
	log_begin(&line, LOG_ERROR, "http.render");
	log_str(&line, "path", path);
	log_str(&line, "error", strerror(-rc));
	log_end(&line, "cannot render %s: %s", path, strerror(-rc));
	return MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, server->internal_error);
}

/* /livez: no lock, no allocation on the healthy path. */
static enum MHD_Result serve_livez(struct http_server *server, struct MHD_Connection *conn)
{
	const char *stuck = wd_state_stuck_loop(server->state, clock_mono_ms());
	struct wd_buf buf;

	if (stuck == NULL)
		return MHD_queue_response(conn, MHD_HTTP_OK, server->livez_ok);
	wd_buf_init(&buf, HTTP_BODY_MAX);
	if (wd_buf_printf(&buf, "stuck: %s\n", stuck) < 0) {
		wd_buf_free(&buf);
		return MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                          server->internal_error);
	}
	return queue_body(server, conn, MHD_HTTP_SERVICE_UNAVAILABLE, CONTENT_TYPE_TEXT, &buf);
}

static enum MHD_Result serve_readyz(struct http_server *server, struct MHD_Connection *conn,
                                    const char *path, int only)
{
	struct probe_snapshot snaps[WD_PROBES_MAX];
	enum health_status status = HEALTH_FAIL;
	struct wd_buf buf;
	bool draining = wd_state_draining(server->state);
	int rc;

	wd_state_read_all(server->state, snaps);
	wd_buf_init(&buf, HTTP_BODY_MAX);
	rc = render_health(server->cfg, snaps, only, draining, details_allowed(server, conn, true),
	                   &buf, &status);
	if (rc < 0)
		return render_failed(server, conn, path, rc, &buf);
	return queue_body(server, conn, (unsigned int)health_http_code(status), CONTENT_TYPE_HEALTH,
	                  &buf);
}

/* /status and /metrics: the probes and the fencing report, rendered. */
static enum MHD_Result serve_report(struct http_server *server, struct MHD_Connection *conn,
                                    bool metrics)
{
	struct fencing_report report;
	struct probe_snapshot snaps[WD_PROBES_MAX];
	struct wd_buf buf;
	bool draining = wd_state_draining(server->state);
	int rc;

	fencing_report(server->fencing, &report);
	wd_state_read_all(server->state, snaps);
	wd_buf_init(&buf, HTTP_BODY_MAX);
	if (metrics) {
		rc = render_metrics(server->cfg, snaps, draining, &report, &buf);
		if (rc == 0 && server->proxy != NULL) {
			struct proxy_stats proxy;

			proxy_get_stats(server->proxy, &proxy);
			rc = render_proxy_metrics(&proxy, &buf);
		}
	} else
		rc = render_status(server->cfg, snaps, draining,
		                   details_allowed(server, conn, false),
		                   wd_state_started_wall_ms(server->state), &report, &buf);
	if (rc < 0)
		return render_failed(server, conn, metrics ? "/metrics" : "/status", rc, &buf);
	return queue_body(server, conn, MHD_HTTP_OK,
	                  metrics ? CONTENT_TYPE_METRICS : CONTENT_TYPE_JSON, &buf);
}

/* /activez: the verdict now, with no allocation. */
static enum MHD_Result serve_activez(struct http_server *server, struct MHD_Connection *conn)
{
	struct fence_verdict verdict;

	fencing_verdict(server->fencing, clock_mono_ms(), &verdict);
	if (verdict.writable)
		return MHD_queue_response(conn, MHD_HTTP_OK, server->activez_yes);
	return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, server->activez_no);
}

static enum MHD_Result serve_fence(struct http_server *server, struct MHD_Connection *conn)
{
	struct fencing_report report;
	struct wd_buf buf;
	int rc;

	fencing_report(server->fencing, &report);
	wd_buf_init(&buf, HTTP_BODY_MAX);
	rc = render_fence(server->cfg, &report, &buf);
	if (rc < 0)
		return render_failed(server, conn, "/fence", rc, &buf);
	return queue_body(server, conn, MHD_HTTP_OK, CONTENT_TYPE_JSON, &buf);
}

/*
 * Authorization: Bearer <WARDEN_ADMIN_TOKEN>. The scheme is case-insensitive
 * and followed by one or more spaces (RFC 9110, 11.6.2 and 11.4). Both
 * tokens are hashed first, so the comparison takes the same time whatever
 * the length or the content.
 */
static bool admin_authorized(struct http_server *server, struct MHD_Connection *conn)
{
	static const char scheme[] = "bearer";
	const char *auth =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char given[SHA256_DIGEST_LENGTH];

	if (auth == NULL || strncasecmp(auth, scheme, sizeof(scheme) - 1) != 0 ||
	    auth[sizeof(scheme) - 1] != ' ')
		return false;
	auth += sizeof(scheme) - 1;
	while (*auth == ' ')
		auth++;
	if (*auth == '\0')
		return false;
	SHA256((const unsigned char *)auth, strlen(auth), given);
	return CRYPTO_memcmp(given, server->admin_token_hash, sizeof(given)) == 0;
}

enum admin_action { ADMIN_DRAIN, ADMIN_FENCE, ADMIN_UNFENCE };

static enum MHD_Result serve_admin(struct http_server *server, struct MHD_Connection *conn,
                                   enum admin_action action)
{
	static const char *const names[] = {"drain", "fence", "unfence"};
	struct log_line line;
	uint64_t suppressed = 0;
	bool ok = admin_authorized(server, conn);

	if (!ok) {
		/* A stream of bad tokens is one line a second, with a count (DESIGN.md). */
		if (log_limiter_allow(&server->refused_log, &suppressed)) {
			log_begin(&line, LOG_WARN, "admin.refused");
			log_str(&line, "action", names[action]);
			log_int(&line, "suppressed", (int64_t)suppressed);
			log_end(&line, "admin %s refused: bad or missing bearer token",
			        names[action]);
		}
		return MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, server->unauthorized);
	}
	log_begin(&line, LOG_WARN, "admin.action");
	log_str(&line, "action", names[action]);
	log_end(&line, "admin %s", names[action]);
	switch (action) {
	case ADMIN_DRAIN: wd_state_set_draining(server->state); break;
	case ADMIN_FENCE: fencing_force(server->fencing, true); break;
	case ADMIN_UNFENCE: fencing_force(server->fencing, false); break;
	}
	return MHD_queue_response(conn, MHD_HTTP_NO_CONTENT, server->no_content);
}

enum route {
	ROUTE_NONE,
	ROUTE_LIVEZ,
	ROUTE_READYZ,
	ROUTE_STATUS,
	ROUTE_METRICS,
	ROUTE_ACTIVEZ,
	ROUTE_FENCE,
	ROUTE_ADMIN_DRAIN,
	ROUTE_ADMIN_FENCE,
	ROUTE_ADMIN_UNFENCE,
};

/* Map a path to its route; *probe is the index for /readyz/<probe>, else -1. */
static enum route find_route(const struct wd_config *cfg, const char *path, int *probe)
{
	static const char readyz_prefix[] = "/readyz/";

	*probe = -1;
	if (strcmp(path, "/livez") == 0)
		return ROUTE_LIVEZ;
	if (strcmp(path, "/readyz") == 0)
		return ROUTE_READYZ;
	if (strncmp(path, readyz_prefix, sizeof(readyz_prefix) - 1) == 0) {
		*probe = (int)probe_config_index(cfg->probes, cfg->probe_count,
		                                 path + sizeof(readyz_prefix) - 1);
		return *probe < 0 ? ROUTE_NONE : ROUTE_READYZ;
	}
	if (strcmp(path, "/status") == 0)
		return ROUTE_STATUS;
	if (strcmp(path, "/metrics") == 0)
		return ROUTE_METRICS;
	if (strcmp(path, "/activez") == 0)
		return ROUTE_ACTIVEZ;
	if (strcmp(path, "/fence") == 0)
		return ROUTE_FENCE;
	/* The admin endpoints exist only while a token is set. */
	if (cfg->admin_token[0] == '\0')
		return ROUTE_NONE;
	if (strcmp(path, "/admin/drain") == 0)
		return ROUTE_ADMIN_DRAIN;
	if (strcmp(path, "/admin/fence") == 0)
		return ROUTE_ADMIN_FENCE;
	if (strcmp(path, "/admin/unfence") == 0)
		return ROUTE_ADMIN_UNFENCE;
	return ROUTE_NONE;
}

static enum MHD_Result serve(struct http_server *server, struct MHD_Connection *conn,
                             const char *path, const char *method)
{
	int probe;
	enum route route = find_route(server->cfg, path, &probe);

	if (route == ROUTE_NONE)
		return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, server->not_found);
	if (route >= ROUTE_ADMIN_DRAIN) {
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			                          server->method_not_allowed_post);
		return serve_admin(server, conn, (enum admin_action)(route - ROUTE_ADMIN_DRAIN));
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		                          server->method_not_allowed);
	switch (route) {
	case ROUTE_LIVEZ: return serve_livez(server, conn);
	case ROUTE_READYZ: return serve_readyz(server, conn, path, probe);
	case ROUTE_STATUS: return serve_report(server, conn, false);
	case ROUTE_METRICS: return serve_report(server, conn, true);
	case ROUTE_ACTIVEZ: return serve_activez(server, conn);
	case ROUTE_FENCE: return serve_fence(server, conn);
	case ROUTE_ADMIN_DRAIN:
	case ROUTE_ADMIN_FENCE:
	case ROUTE_ADMIN_UNFENCE:
	case ROUTE_NONE: break;
	}
	return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, server->not_found);
}

/* A declared body larger than we are willing to read and drop. */
static bool declared_body_too_large(struct MHD_Connection *conn)
{
	const char *length =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end = NULL;
	unsigned long long n;

	if (length == NULL)
		return false;
	errno = 0;
	n = strtoull(length, &end, 10);
	return errno != 0 || end == length || n > HTTP_BODY_DISCARD_MAX;
}

/* This connection's tracking record, or NULL. */
static struct http_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

/* A control byte (0x00-0x1f, 0x7f), raw or percent-encoded, in target. */
static bool target_has_control(const char *target)
{
	return text_percent_decode(target, strlen(target), NULL, 0,
	                           TEXT_PCT_LENIENT | TEXT_PCT_NO_CONTROL) < 0;
}

/*
 * MHD's URI log callback: the raw target (query included), before any
 * decoding, once per request. Notes on the connection whether it is bad and
 * where MHD's C string of it ends. Returns NULL: the request's *req_cls.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_conn *c = conn_of(conn);

	(void)cls;
	if (c == NULL)
		return NULL;
	c->target_bad = uri == NULL || target_has_control(uri);
	c->target_end = uri != NULL ? uri + strlen(uri) : NULL;
	return NULL;
}

/*
 * The request head is whole: disarm the header deadline, and refuse a target
 * with a control byte. A raw NUL cut MHD's C string short: the HTTP version,
 * which MHD parses right after the target's end in its buffer, then does not
 * start one byte after where the URI callback saw the target end.
 */
static bool head_complete(struct MHD_Connection *conn, const char *version)
{
	struct http_conn *c = conn_of(conn);

	if (c == NULL)
		return true;
	atomic_store(&c->head_deadline_ms, 0);
	return !c->target_bad && c->target_end != NULL && version == c->target_end + 1;
}

/*
 * MHD's access handler. *req_cls counts the request's calls: NULL on the
 * first, then 1 + the body bytes discarded so far (an integer in the
 * pointer, so that a request costs no allocation).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct http_server *server = cls;
	uintptr_t seen = (uintptr_t)*req_cls;

	(void)upload_data;
	if (seen == 0) {
		/* Queueing now closes the connection: right for a refusal. */
		if (!head_complete(conn, version))
			return MHD_queue_response(conn, MHD_HTTP_BAD_REQUEST, server->bad_request);
		if (declared_body_too_large(conn))
			return MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			                          server->too_large);
		/* Else wait for the next call, so that keep-alive holds. */
		*req_cls = (void *)(uintptr_t)1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* Past the cap (a chunked body): MHD 0.9.75 cannot reply mid-body, so close. */
		if (*upload_data_size > HTTP_BODY_DISCARD_MAX - (seen - 1))
			return MHD_NO;
		seen += *upload_data_size;
		*upload_data_size = 0;
		*req_cls = (void *)seen;
		return MHD_YES;
	}
	return serve(server, conn, url, method);
}

/* A request is over; on a connection kept alive, arm the next head's deadline. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http_server *server = cls;
	struct http_conn *c;

	(void)req_cls;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	c = conn_of(conn);
	if (c != NULL)
		atomic_store(&c->head_deadline_ms, clock_mono_ms() +
		                                           server->cfg->http_idle_timeout_ms +
		                                           server->cfg->http_header_timeout_ms);
}

/* Wake the guard thread (a connection closed, or stop). */
static void wake_guard(struct http_server *server)
{
	uint64_t one = 1;

	if (write(server->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the guard wakes anyway. */
	}
}

/*
 * MHD's connection notifier (the connection's own thread): track it from
 * STARTED, with its first header deadline, until CLOSED, which MHD calls
 * before it closes the socket.
 */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct http_server *server = cls;
	struct http_conn *c;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		*socket_context = NULL;
		if (info == NULL)
			return;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			/* Untracked means no deadline: refuse it instead. */
			shutdown(info->connect_fd, SHUT_RDWR);
			return;
		}
		c->fd = info->connect_fd;
		atomic_init(&c->head_deadline_ms,
		            clock_mono_ms() + server->cfg->http_header_timeout_ms);
		pthread_mutex_lock(&server->conns_lock);
		c->next = server->conns;
		if (server->conns != NULL)
			server->conns->prev = c;
		server->conns = c;
		pthread_mutex_unlock(&server->conns_lock);
		atomic_fetch_add(&server->live, 1);
		*socket_context = c;
		return;
	}
	c = *socket_context;
	*socket_context = NULL;
	if (c == NULL)
		return;
	pthread_mutex_lock(&server->conns_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		server->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&server->conns_lock);
	free(c);
	atomic_fetch_sub(&server->live, 1);
	if (atomic_exchange(&server->paused, false))
		wake_guard(server);
}

/*
 * Shut down every connection past its header deadline; returns the next
 * deadline (or now + the header timeout when none is nearer).
 */
static int64_t enforce_deadlines(struct http_server *server, int64_t now)
{
	int64_t next = now + server->cfg->http_header_timeout_ms;
	uint64_t closed = 0;
	uint64_t suppressed = 0;
	struct log_line line;

	pthread_mutex_lock(&server->conns_lock);
	for (struct http_conn *c = server->conns; c != NULL; c = c->next) {
		int64_t deadline = atomic_load(&c->head_deadline_ms);

		if (deadline == 0)
			continue;
		if (deadline <= now) {
			/* MHD reads the end of the stream, closes and frees. */
			shutdown(c->fd, SHUT_RDWR);
			atomic_store(&c->head_deadline_ms, 0);
			closed++;
		} else if (deadline < next) {
			next = deadline;
		}
	}
	pthread_mutex_unlock(&server->conns_lock);
	if (closed > 0 && log_limiter_allow_n(&server->timeout_log, closed, &suppressed)) {
		log_begin(&line, LOG_WARN, "http.header_timeout");
		log_int(&line, "closed", (int64_t)closed);
		log_int(&line, "suppressed", (int64_t)suppressed);
		log_end(&line, "closed %llu connection(s) without a whole request head in %lld ms",
		        (unsigned long long)closed, (long long)server->cfg->http_header_timeout_ms);
	}
	return next;
}

/* accept() failed: say so (one line a second); true when the guard should pause. */
static bool accept_failed(struct http_server *server, int error)
{
	uint64_t suppressed = 0;
	struct log_line line;

	switch (error) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM: return false;
	default: break;
	}
	if (log_limiter_allow(&server->accept_log, &suppressed)) {
		log_begin(&line, LOG_WARN, "http.accept");
		log_str(&line, "error", strerror(error));
		log_int(&line, "live", (int64_t)atomic_load(&server->live));
		log_int(&line, "suppressed", (int64_t)suppressed);
		log_end(&line, "health listener: accept: %s; waiting for a connection to close",
		        strerror(error));
	}
	return true;
}

/* Accept what is queued (up to a batch) and hand it to MHD. */
static void accept_batch(struct http_server *server)
{
	for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd;

		if (atomic_load(&server->live) >= server->cfg->http_max_connections) {
			/* Full: leave the rest in the backlog until one closes. */
			atomic_store(&server->paused, true);
			return;
		}
		fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &len,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int error = errno;

			if (error == EAGAIN || error == EWOULDBLOCK)
				return;
			if (accept_failed(server, error)) {
				atomic_store(&server->paused, true);
				return;
			}
			continue;
		}
		/* MHD closes fd on failure (over the per-address cap) and says why. */
		(void)MHD_add_connection(server->daemon, fd, (const struct sockaddr *)&addr, len);
	}
}

/*
 * The guard thread: accept, pausing after EMFILE-like failures and at the
 * connection cap until a connection closes (or HTTP_ACCEPT_PAUSE_MS), and
 * enforce the header deadlines.
 */
static void *guard_main(void *arg)
{
	struct http_server *server = arg;
	int64_t next_scan = clock_mono_ms() + server->cfg->http_header_timeout_ms;

	while (!atomic_load(&server->stopping)) {
		bool paused = atomic_load(&server->paused);
		struct pollfd fds[2] = {{.fd = server->wake_fd, .events = POLLIN},
		                        {.fd = server->listen_fd, .events = POLLIN}};
		int64_t now = clock_mono_ms();
		int64_t wake = next_scan;
		uint64_t count;
		int n;

		if (paused && now + HTTP_ACCEPT_PAUSE_MS < wake)
			wake = now + HTTP_ACCEPT_PAUSE_MS;
		n = poll(fds, paused ? 1 : 2, clock_ms_until(wake));
		if (n < 0 && errno != EINTR)
			break;
		now = clock_mono_ms();
		if (n > 0 && (fds[0].revents & POLLIN) != 0 &&
		    read(server->wake_fd, &count, sizeof(count)) < 0) {
			/* EAGAIN: another read took it. */
		}
		if (paused && (n == 0 || (fds[0].revents & POLLIN) != 0))
			atomic_store(&server->paused, false); /* a close, or the pause ran out */
		if (now >= next_scan)
			next_scan = enforce_deadlines(server, now);
		if (!atomic_load(&server->paused) && (paused || (fds[1].revents & POLLIN) != 0))
			accept_batch(server);
	}
	return NULL;
}

static void free_responses(struct http_server *server)
{
	struct MHD_Response **all[] = {
	        &server->livez_ok,    &server->not_found,      &server->method_not_allowed,
	        &server->too_large,   &server->internal_error, &server->method_not_allowed_post,
	        &server->activez_yes, &server->activez_no,     &server->unauthorized,
	        &server->no_content,  &server->bad_request};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i] != NULL)
			MHD_destroy_response(*all[i]);
		*all[i] = NULL;
	}
}

static int build_responses(struct http_server *server)
{
	server->livez_ok = static_response(livez_ok_body, CONTENT_TYPE_TEXT, NULL, NULL);
	server->not_found = static_response(not_found_body, CONTENT_TYPE_TEXT, NULL, NULL);
	server->method_not_allowed =
	        static_response(method_body, CONTENT_TYPE_TEXT, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	server->too_large = static_response(too_large_body, CONTENT_TYPE_TEXT,
	                                    MHD_HTTP_HEADER_CONNECTION, "close");
	server->internal_error = static_response(internal_body, CONTENT_TYPE_TEXT, NULL, NULL);
	server->method_not_allowed_post =
	        static_response(method_body, CONTENT_TYPE_TEXT, MHD_HTTP_HEADER_ALLOW, "POST");
	server->activez_yes = static_response(activez_yes_body, CONTENT_TYPE_TEXT,
	                                      MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	server->activez_no = static_response(activez_no_body, CONTENT_TYPE_TEXT,
	                                     MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	server->unauthorized = static_response(unauthorized_body, CONTENT_TYPE_TEXT,
	                                       MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	server->no_content = static_response("", CONTENT_TYPE_TEXT, NULL, NULL);
	server->bad_request = static_response(bad_request_body, CONTENT_TYPE_TEXT,
	                                      MHD_HTTP_HEADER_CONNECTION, "close");
	if (server->livez_ok == NULL || server->not_found == NULL ||
	    server->method_not_allowed == NULL || server->too_large == NULL ||
	    server->internal_error == NULL || server->method_not_allowed_post == NULL ||
	    server->activez_yes == NULL || server->activez_no == NULL ||
	    server->unauthorized == NULL || server->no_content == NULL ||
	    server->bad_request == NULL)
		return -ENOMEM;
	return 0;
}

/* cfg->listen_host:listen_port as a socket address. Blocks on DNS for a host name. */
static int resolve_listen(const struct wd_config *cfg, struct sockaddr_storage *addr,
                          struct wd_err *err)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	rc = getaddrinfo(cfg->listen_host[0] != '\0' ? cfg->listen_host : NULL, port, &hints, &res);
	if (rc != 0 || res == NULL)
		return wd_err_set(err, -EINVAL, "cannot listen on %s: %s", cfg->listen,
		                  rc != 0 ? gai_strerror(rc) : "no address");
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static bool is_any_v6(const struct sockaddr_storage *addr)
{
	struct sockaddr_in6 in6;

	if (addr->ss_family != AF_INET6)
		return false;
	memcpy(&in6, addr, sizeof(in6));
	return IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
}

/*
 * Bind and listen on addr: non-blocking, close-on-exec, SO_REUSEADDR; "::"
 * is dual-stack, any other IPv6 address IPv6 only. Returns 0 or -errno.
 */
static int open_listener(const struct sockaddr_storage *addr, int *out)
{
	socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                            : sizeof(struct sockaddr_in);
	int one = 1;
	int fd;
	int rc = 0;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (addr->ss_family == AF_INET6) {
		int v6only = is_any_v6(addr) ? 0 : 1;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
			goto fail;
	}
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0)
		goto fail;
	*out = fd;
	return 0;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

/* The stop signals, blocked around creating threads (they inherit the mask). */
static void block_stop_signals(sigset_t *saved)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, saved);
}

/*
 * Start the daemon (no listening socket of its own: the guard thread hands it
 * connections) with the signals that stop warden blocked, so that MHD's
 * threads never take them and main sees them at once.
 */
static struct MHD_Daemon *start_daemon(struct http_server *server)
{
	const struct wd_config *cfg = server->cfg;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TURBO |
	                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	struct MHD_OptionItem opts[12];
	struct MHD_Daemon *daemon;
	sigset_t saved;
	size_t n = 0;

	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
	                                    (intptr_t)cfg->http_max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	                                    (intptr_t)cfg->http_max_connections_per_ip, NULL};
	opts[n++] =
	        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
	                                (intptr_t)((cfg->http_idle_timeout_ms + 999) / 1000), NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                                    (intptr_t)HTTP_CONNECTION_MEMORY, NULL};
	if (cfg->http_threads > 1)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
		                                    (intptr_t)cfg->http_threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	block_stop_signals(&saved);
	daemon = MHD_start_daemon(
	        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	        server, MHD_OPTION_NOTIFY_CONNECTION, on_connection, server,
	        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_URI_LOG_CALLBACK,
	        on_uri, server, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return daemon;
}

/* Start the guard thread (stop signals blocked). 0 or -errno. */
static int start_guard(struct http_server *server)
{
	sigset_t saved;
	int rc;

	block_stop_signals(&saved);
	rc = pthread_create(&server->guard, NULL, guard_main, server);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (rc != 0)
		return -rc;
	server->guard_started = true;
	return 0;
}

/* Stop the guard, then the daemon; close the sockets. Each part only if started. */
static void stop_all(struct http_server *server)
{
	if (server->guard_started) {
		atomic_store(&server->stopping, true);
		wake_guard(server);
		pthread_join(server->guard, NULL);
		server->guard_started = false;
	}
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon); /* closes each connection: NOTIFY_CLOSED */
	server->daemon = NULL;
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	if (server->wake_fd >= 0)
		close(server->wake_fd);
	server->listen_fd = -1;
	server->wake_fd = -1;
	if (server->conns_lock_ready)
		pthread_mutex_destroy(&server->conns_lock);
	server->conns_lock_ready = false;
}

struct http_server *http_server_new(const struct wd_config *cfg, struct wd_state *state,
                                    struct fencing *fencing, struct proxy *proxy,
                                    struct wd_err *err)
{
	struct http_server *server;
	struct sockaddr_storage addr;
	int rc;

	if (cfg->probe_count > WD_PROBES_MAX || wd_state_probe_count(state) != cfg->probe_count) {
		wd_err_set(err, -EINVAL, "health listener: state and config disagree on probes");
		return NULL;
	}
	if (resolve_listen(cfg, &addr, err) < 0)
		return NULL;
	server = calloc(1, sizeof(*server));
	if (server == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	server->cfg = cfg;
	server->state = state;
	server->fencing = fencing;
	server->proxy = proxy;
	server->listen_fd = -1;
	server->wake_fd = -1;
	SHA256((const unsigned char *)cfg->admin_token, strlen(cfg->admin_token),
	       server->admin_token_hash);
	atomic_init(&server->starting, true);
	atomic_init(&server->stopping, false);
	atomic_init(&server->paused, false);
	atomic_init(&server->live, 0);
	log_limiter_init(&server->mhd_log);
	log_limiter_init(&server->refused_log);
	log_limiter_init(&server->accept_log);
	log_limiter_init(&server->timeout_log);
	if (build_responses(server) < 0 || pthread_mutex_init(&server->conns_lock, NULL) != 0) {
		wd_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	server->conns_lock_ready = true;
	rc = open_listener(&addr, &server->listen_fd);
	if (rc < 0) {
		wd_err_set(err, rc, "cannot listen on %s: %s", cfg->listen, strerror(-rc));
		goto fail;
	}
	server->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (server->wake_fd < 0) {
		wd_err_set(err, -errno, "health listener: eventfd: %s", strerror(errno));
		goto fail;
	}
	errno = 0;
	server->daemon = start_daemon(server);
	if (server->daemon == NULL) {
		int code = errno != 0 ? -errno : -EINVAL;

		wd_err_set(err, code, "health listener: %s",
		           server->start_error[0] != '\0' ? server->start_error : strerror(-code));
		goto fail;
	}
	atomic_store(&server->starting, false);
	rc = start_guard(server);
	if (rc < 0) {
		wd_err_set(err, rc, "health listener: cannot start a thread: %s", strerror(-rc));
		goto fail;
	}
	return server;
fail:
	stop_all(server);
	free_responses(server);
	free(server);
	return NULL;
}

void http_server_free(struct http_server *server)
{
	if (server == NULL)
		return;
	stop_all(server);
	free_responses(server);
	free(server);
}
