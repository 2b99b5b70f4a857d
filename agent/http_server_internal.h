/*
 * http_server_internal.h - what the health listener's modules share: the
 * server and connection records, the caps, the guard thread
 * (http_guard.c: accept, header deadlines, the rate-limited logs) and the
 * routes (http_routes.c: the handlers and their static responses).
 * Private to agent/http_*.c.
 */
#ifndef WARDEN_AGENT_HTTP_SERVER_INTERNAL_H
#define WARDEN_AGENT_HTTP_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>
#include <openssl/sha.h>

#include "agent/http_server.h"
#include "lib/limits.h"

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

/* A limiter that allows its first line at once. */
void http_guard_log_init(struct log_limiter *limiter);

/*
 * May a line about `events` more events be logged now (at most one a
 * HTTP_LOG_INTERVAL_MS)? When true, *suppressed is how many were held back
 * since the last line; when false they are counted.
 */
bool http_guard_log_allow_n(struct log_limiter *limiter, uint64_t events, uint64_t *suppressed);

/* http_guard_log_allow_n for one event. */
bool http_guard_log_allow(struct log_limiter *limiter, uint64_t *suppressed);

/* MHD's URI log callback: notes whether the raw target is bad (http_guard.c). */
void *http_guard_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);

/*
 * The request head is whole: disarm the header deadline. False when the
 * target holds a control byte (raw, encoded, or a NUL that cut it short).
 */
bool http_guard_head_complete(struct MHD_Connection *conn, const char *version);

/* MHD's completion callback: arm the next head's deadline on a kept-alive connection. */
void http_guard_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                             enum MHD_RequestTerminationCode toe);

/* Wake the guard thread (a connection closed, or stop). Never blocks. */
void http_guard_wake(struct http_server *server);

/* MHD's connection notifier: track a connection from STARTED to CLOSED. */
void http_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code);

/* The guard thread (arg: the server): accept and enforce header deadlines until stopping. */
void *http_guard_main(void *arg);

/* MHD's access handler: refusals on the first call, the route on the second (http_routes.c). */
enum MHD_Result http_routes_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **req_cls);

/* Free the static responses (NULL ones skipped). */
void http_routes_free(struct http_server *server);

/* Build the static responses once. 0 or -ENOMEM. */
int http_routes_build(struct http_server *server);

#endif
