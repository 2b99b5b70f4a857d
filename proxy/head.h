/*
 * head.h - the bytes the proxy writes itself: the request head it sends the
 * app and the response head it sends the client, both rewritten from the
 * parsed message (net/http1.h), and the answers of its own (problem+json).
 *
 * Every function here is pure: it reads its arguments (the parsed message,
 * the verdict's facts, the client's address, the clocks read by the caller)
 * and writes bytes into the caller's bounded buffer; no socket, no clock, no
 * allocation. The only state is the caller-owned head_wall cache, which only
 * saves formatting work. Each returns the length written, or 0 when the
 * bytes do not fit in cap (nothing usable is in buf then).
 */
#ifndef WARDEN_PROXY_HEAD_H
#define WARDEN_PROXY_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fencing/fence.h"
#include "net/http1.h"

/* X-Warden-Deadline's formatted wall-clock second, kept by the caller (zero it first). */
struct head_wall {
	int64_t sec;
	char text[32];
};

/* What stamps a forwarded request: the request's verdict and where it came from. */
struct head_facts {
	bool writable;
	uint64_t epoch;
	int64_t writable_until; /* mono ms; INT64_MAX under hold; unused when not writable */
	int64_t now_mono_ms;    /* the clocks, read by the caller as the head is built */
	int64_t now_wall_ms;
	bool upgrade;                   /* a WebSocket upgrade is being forwarded */
	const char *client_ip;          /* appended to X-Forwarded-For */
	const char *upstream_authority; /* Host for a request without one (HTTP/1.0) */
	struct head_wall *wall;         /* formatting cache, or NULL */
};

/*
 * The request head for the app, from the client's request m, as HTTP/1.1:
 * - removed: Connection, Keep-Alive, Proxy-*, TE, Upgrade (unless
 *   facts->upgrade), every header named in a Connection header (never
 *   Content-Length, Transfer-Encoding or Host: listing them there is a
 *   smuggling trick), and the client's X-Warden-* and X-Forwarded-For;
 * - a folded Content-Length ("3, 3", or two equal lines) as one line;
 * - Host: the upstream's when the request has none;
 * - X-Forwarded-For: the client's values joined, then client_ip;
 *   X-Forwarded-Proto kept, else "http";
 * - X-Warden-Writable, X-Warden-Epoch, and head_deadline's stamps;
 * - "Connection: Upgrade" when upgrading.
 * Returns the length, 0 if it does not fit in cap.
 */
size_t head_request(const struct http1_msg *m, const struct head_facts *facts, char *buf,
                    size_t cap);

/*
 * The response head for the client, from the app's response m, as HTTP/1.1:
 * hop-by-hop headers and the ones named in Connection removed, Upgrade kept
 * only on a 101, Transfer-Encoding removed when dechunk (an HTTP/1.0
 * client), then "Connection: Upgrade" (101), "Connection: close" (close) or
 * "Connection: keep-alive" (a keep-alive 1.0 client, client_minor 0); an
 * interim (1xx) head gets no Connection. Returns the length, 0 if it does not fit.
 */
size_t head_response(const struct http1_msg *m, bool dechunk, bool close, int client_minor,
                     char *buf, size_t cap);

/*
 * An answer of our own: status line, problem+json body of body_len bytes
 * (left out, but counted in Content-Length, when head_only: a HEAD
 * request), Cache-Control: no-store, Retry-After when retry_after >= 0, and
 * Connection as in head_response. Returns the length, 0 if it does not fit.
 */
size_t head_local(int status, const char *body, size_t body_len, int64_t retry_after,
                  bool head_only, bool close, int client_minor, char *buf, size_t cap);

/* The problem+json body of an error answer (status, its title, detail). */
size_t head_problem(int status, const char *detail, char *buf, size_t cap);

/*
 * The problem+json body of the fenced answer (503): detail, this task's
 * region, the verdict's active region (null when unknown), epoch and state.
 */
size_t head_fenced_problem(const struct fence_verdict *v, const char *region, const char *detail,
                           char *buf, size_t cap);

/*
 * X-Warden-Deadline (the wall-clock writable_until, RFC 3339 UTC with
 * milliseconds) and X-Warden-Writable-For-Ms (what is left of it, clamped at
 * 0), so the app can bound its transaction. Not writable: only
 * "X-Warden-Writable-For-Ms: 0"; under hold (writable_until INT64_MAX):
 * nothing. Each line ends in CRLF. Returns the length, 0 if it does not fit
 * (or there is nothing to write).
 */
size_t head_deadline(const struct head_facts *facts, char *buf, size_t cap);

#endif
