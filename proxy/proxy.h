/*
 * proxy.h - the write-fencing HTTP/1.1 reverse proxy (WARDEN_PROXY_LISTEN ->
 * WARDEN_PROXY_UPSTREAM).
 *
 * It sits in the data path of every user request. While the task is not
 * writable it answers every method but GET, HEAD and OPTIONS with 503,
 * Retry-After and an RFC 9457 problem+json body (paths under an allow-list
 * prefix pass); it stamps every forwarded request with X-Warden-Writable,
 * X-Warden-Epoch, X-Warden-Writable-For-Ms and X-Warden-Deadline; it cuts a
 * write still streaming to the app, and any WebSocket tunnel, at the
 * verdict's writable_until; and on the transition to not writable it closes
 * idle keep-alive connections and tunnels so clients reconnect (through
 * Global Accelerator, to the active region).
 *
 * The proxy never decides anything itself: it asks the fence through a
 * view, at request time.
 */
#ifndef WARDEN_PROXY_PROXY_H
#define WARDEN_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/limits.h"
#include "fencing/fence.h"

#define PROXY_ALLOW_MAX        32  /* allow-list prefixes */
#define PROXY_ALLOW_PREFIX_MAX 256 /* bytes of one prefix */

struct proxy_config {
	char listen_host[WD_HOST_MAX + 1]; /* WARDEN_PROXY_LISTEN */
	int listen_port;
	char upstream_host[WD_HOST_MAX + 1]; /* WARDEN_PROXY_UPSTREAM, http:// only */
	int upstream_port;
	char region[FLAG_REGION_MAX + 1]; /* this task's region, for problem bodies */
	size_t allow_count;               /* WARDEN_PROXY_ALLOW_WHEN_FENCED, comma-separated */
	char allow_when_fenced[PROXY_ALLOW_MAX][PROXY_ALLOW_PREFIX_MAX + 1];
	int64_t upstream_timeout_ms; /* WARDEN_PROXY_TIMEOUT, default 60s: no upstream byte -> 504
	                              */
	int64_t idle_timeout_ms;  /* WARDEN_PROXY_IDLE_TIMEOUT, default 60s: idle client keep-alive
	                           */
	unsigned threads;         /* WARDEN_PROXY_THREADS, default 2 */
	unsigned max_connections; /* WARDEN_PROXY_MAX_CONNECTIONS, default 4096 (clients) */
	size_t max_header_bytes;  /* WARDEN_PROXY_MAX_HEADER_BYTES, default 16 KiB -> 431 */
	unsigned max_headers;     /* default 100 -> 431 */
	int64_t retry_after_s;    /* Retry-After on fenced answers, default 5 */
	/* Added by the proxy: a request head must arrive whole within this
	 * (slowloris), else 408 and close. WARDEN_PROXY_HEADER_TIMEOUT, default 10s. */
	int64_t header_timeout_ms;
};

/* Fill the defaults (no listener, no upstream yet). */
void proxy_config_defaults(struct proxy_config *cfg);

/*
 * Set the allow-list from WARDEN_PROXY_ALLOW_WHEN_FENCED: comma-separated
 * path prefixes, each starting with '/', without '%', '?', spaces or
 * dot-segments (http1_prefix_valid). Empty elements are skipped. Returns 0,
 * or -EINVAL / -E2BIG with err naming the bad prefix (cfg's list unchanged).
 */
int proxy_config_set_allow(struct proxy_config *cfg, const char *csv, struct wd_err *err);

/* How the proxy asks the fence, at request time and on its own ticks. */
struct proxy_fence_view {
	void *arg;
	void (*decide)(void *arg, struct fence_verdict *out);
};

/* What each request came to, for warden_proxy_requests_total{result}. */
enum proxy_result {
	PROXY_FORWARDED,        /* "forwarded" */
	PROXY_FENCED,           /* "fenced": a write refused with 503 */
	PROXY_ALLOWED,          /* "allowed": a write passed through the allow-list while fenced */
	PROXY_UPSTREAM_ERROR,   /* "upstream_error": 502 */
	PROXY_UPSTREAM_TIMEOUT, /* "upstream_timeout": 504 */
	PROXY_BAD_REQUEST,      /* "bad_request": 400 */
	PROXY_TOO_LARGE,        /* "too_large": 431 / 413 */
	PROXY_OVERLOADED,       /* "overloaded": 503, connection limit */
	PROXY_WEBSOCKET,        /* "websocket": an upgrade became a tunnel */
	PROXY_RESULT_COUNT
};

const char *proxy_result_str(enum proxy_result result);

struct proxy_stats {
	uint64_t requests[PROXY_RESULT_COUNT];
	uint64_t connections_open;
	uint64_t tunnels_open;
	uint64_t closed_on_fence; /* idle connections and tunnels closed on demotion */
	uint64_t cut_at_deadline; /* writes still streaming and tunnels cut at writable_until */
};

struct proxy;

/*
 * Bind the listener and start the proxy threads. cfg is copied; view->arg
 * must outlive the proxy. Returns NULL with err naming the address on a bind
 * failure.
 */
struct proxy *proxy_new(const struct proxy_config *cfg, const struct proxy_fence_view *view,
                        struct wd_err *err);
/* The TCP port the listener is bound to (useful when cfg->listen_port was 0). */
int proxy_port(const struct proxy *proxy);
/* Copy the counters (cheap, lock-free or a short lock). */
void proxy_get_stats(struct proxy *proxy, struct proxy_stats *out);
/* Stop accepting, close everything, join the threads, free. NULL is a no-op. */
void proxy_free(struct proxy *proxy);

#endif
