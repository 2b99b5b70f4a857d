/*
 * curl_deadline.h - one HTTP(S) request with libcurl that returns by a
 * deadline, whatever the resolver or the peer does. Shared by the http probe
 * (probes/http.c), the AWS credentials provider, the task metadata lookup and
 * the SSM client (aws/).
 *
 * How the deadline holds:
 *  - the URL's host is resolved here with net_resolve() (getaddrinfo_a,
 *    bounded by the deadline) and pinned with CURLOPT_RESOLVE, so curl never
 *    runs a lookup of its own; a literal address reaches no resolver;
 *  - the transfer runs on a multi handle driven by curl_multi_perform /
 *    curl_multi_poll until it is done or the deadline passes; curl's own
 *    timeouts are set a little later, as a second line; CURLOPT_QUICK_EXIT
 *    is a third (a handle removed mid-lookup never joins a resolver thread).
 *
 * One struct curl_deadline holds one easy and one multi handle, kept across
 * requests: the multi handle owns the connection cache, so keep-alive
 * connections are reused by the next request. A request that did not finish
 * is removed from the multi handle, which closes its connection, so a
 * half-read response never reaches the next request.
 *
 * Fixed policy for every user: http and https only, no redirect followed, no
 * proxy (never the environment's), TLS peers verified against the system CA
 * store, User-Agent "warden/<version>", TCP_NODELAY, no signals.
 *
 * The response body goes into a caller-provided bounded struct wd_buf, or is
 * read and dropped; past the cap the transfer stops (`body_too_large`), never
 * a silent cut. Selected response headers are captured by name.
 */
#ifndef WARDEN_NET_CURL_DEADLINE_H
#define WARDEN_NET_CURL_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/limits.h"
#include "net/outcome.h"

#define CURL_DEADLINE_CAPTURE_MAX 4  /* response headers one request may capture */
#define CURL_DEADLINE_HEADERS_MAX 16 /* request headers one request may add */
#define CURL_DEADLINE_HIDE_MAX    4  /* strings a detail must never quote */

/* One request. Everything is borrowed for the duration of curl_deadline_perform(). */
struct curl_deadline_request {
	const char *url;    /* absolute http:// or https:// URL, no userinfo */
	const char *method; /* "GET" (also when NULL) or "POST" */
	const void *body;   /* POST: body_len bytes (NULL allowed when 0) */
	size_t body_len;
	/* Extra request headers, each "Name: value" (a "Host: ..." replaces curl's). */
	const char *const *headers;
	size_t header_count; /* <= CURL_DEADLINE_HEADERS_MAX */
	/* HTTP basic credentials (CURLOPT_USERNAME / CURLOPT_PASSWORD); NULL = none. */
	const char *username;
	const char *password;
	/* Where the body goes: response_body (its max is the cap), else dropped up to discard_max.
	 */
	struct wd_buf *response_body;
	size_t discard_max;
	/* Response header names to capture (case-insensitive), <= CURL_DEADLINE_CAPTURE_MAX. */
	const char *const *capture;
	size_t capture_count;
	/*
	 * Strings that must never appear in result.detail (a URL's query, a
	 * password): a curl message quoting one is replaced by curl's generic text.
	 */
	const char *const *hide;
	size_t hide_count; /* <= CURL_DEADLINE_HIDE_MAX */
	/*
	 * One call, one request: a new connection, closed after. On a kept
	 * connection that dies before answering, libcurl silently sends the
	 * request again on a fresh one; a caller counted against a quota (SSM)
	 * must not have that.
	 */
	bool one_request;
};

/* What one request saw. Plain data; curl_deadline_perform() fills all of it. */
struct curl_deadline_result {
	/*
	 * NET_OK when a response arrived (whatever its status: the caller
	 * judges it), also when its body was cut at the cap. Otherwise
	 * NET_TIMEOUT, NET_DNS, NET_REFUSED, NET_NETWORK, NET_TLS,
	 * NET_AUTH (curl refused the login), NET_BAD_REPLY (not HTTP, or a
	 * captured header over WD_HTTP_HEADER_VALUE_MAX or with control bytes),
	 * NET_INTERNAL (out of memory, bad request).
	 */
	enum net_outcome outcome;
	char detail[WD_ERR_MSG_MAX]; /* why, for people; "" when ok; no secret */
	int http_status;             /* the final response's status, 0 if none */
	bool body_too_large;         /* the body passed its cap: the transfer was stopped */
	bool truncated;              /* the peer closed before the announced body ended */
	int64_t elapsed_ms;
	/* Values of the captured headers, in the order of request.capture; "" when absent. */
	char captured[CURL_DEADLINE_CAPTURE_MAX][WD_HTTP_HEADER_VALUE_MAX + 1];
};

struct curl_deadline;

/*
 * Apply the fixed policy above (http and https only, no redirect, no proxy,
 * TLS verified, the User-Agent, TCP_NODELAY, no signals) to an easy handle
 * that a caller drives itself (warden gate polls its sidecar on its own
 * multi handle). curl_deadline_new() applies it to its own handle. Returns
 * CURLE_OK (0) or the first curl error.
 */
int curl_deadline_policy(CURL *easy);

/*
 * A new request context (one easy + one multi handle, no connection yet).
 * Returns NULL with err on failure. The process must have called
 * curl_global_init() (agent/main.c does; tests do it themselves). Free with
 * curl_deadline_free(). A context is used by one thread at a time.
 */
struct curl_deadline *curl_deadline_new(struct wd_err *err);

/* Close the connections and free cd. NULL is a no-op. */
void curl_deadline_free(struct curl_deadline *cd);

/*
 * Run req on cd and return by deadline_mono_ms (CLOCK_MONOTONIC ms), whatever
 * the resolver or the peer does; fills *result (see above) and returns
 * result->outcome. The body, if any, is appended to req->response_body (the
 * caller resets it first if it wants only this response). Blocks the calling
 * thread up to the deadline.
 */
enum net_outcome curl_deadline_perform(struct curl_deadline *cd,
                                       const struct curl_deadline_request *req,
                                       int64_t deadline_mono_ms,
                                       struct curl_deadline_result *result);

#endif
