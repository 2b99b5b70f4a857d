/*
 * http_routes.c - the health listener's routes: /livez, /readyz[/<probe>],
 * /status, /metrics, /activez, /fence and /admin/..., their static responses
 * and MHD's access handler. See http_server.c for the whole design.
 */
#include "agent/http_server_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "agent/render.h"

static const char livez_ok_body[] = "ok\n";
static const char not_found_body[] = "not found\n";
static const char method_body[] = "method not allowed\n";
static const char too_large_body[] = "request body too large\n";
static const char internal_body[] = "internal error\n";
static const char activez_yes_body[] = "writable\n";
static const char activez_no_body[] = "not writable\n";
static const char unauthorized_body[] = "unauthorized\n";
static const char bad_request_body[] = "bad request\n";

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
		if (http_guard_log_allow(&server->refused_log, &suppressed)) {
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

/*
 * MHD's access handler. *req_cls counts the request's calls: NULL on the
 * first, then 1 + the body bytes discarded so far (an integer in the
 * pointer, so that a request costs no allocation).
 */
enum MHD_Result http_routes_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **req_cls)
{
	struct http_server *server = cls;
	uintptr_t seen = (uintptr_t)*req_cls;

	(void)upload_data;
	if (seen == 0) {
		/* Queueing now closes the connection: right for a refusal. */
		if (!http_guard_head_complete(conn, version))
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

void http_routes_free(struct http_server *server)
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

int http_routes_build(struct http_server *server)
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
