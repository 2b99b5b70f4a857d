/*
 * exchange.c - one request and its response, as the proxy sees them: the
 * fence's admission of a request (writes only while writable or under the
 * allow-list; a write's cut armed at writable_until), the upstream
 * connection it goes to, the retry of a bodyless read on the keep-alive
 * race, the response head and its framing, the 101 that makes a tunnel, and
 * the answers of our own (400, 408, 431, 502, 503, 504).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "proxy/proxy_int.h"

static const char *const up_error_names[UPERR_COUNT] = {"connect", "reset", "timeout",
                                                        "bad_response"};
static void log_upstream_error(struct proxy *p, enum up_error kind, const char *detail)
{
	int64_t now = clock_mono_ms();
	int64_t last = atomic_load_explicit(&p->log_last[kind], memory_order_relaxed);
	struct log_line line;

	if (now - last < 1000 || !atomic_compare_exchange_strong(&p->log_last[kind], &last, now)) {
		atomic_fetch_add_explicit(&p->log_suppressed[kind], 1, memory_order_relaxed);
		return;
	}
	log_begin(&line, LOG_WARN, "proxy.upstream_error");
	log_str(&line, "class", up_error_names[kind]);
	log_str(&line, "upstream", p->cfg.upstream_host);
	log_int(&line, "port", p->cfg.upstream_port);
	log_int(&line, "suppressed",
	        (int64_t)atomic_exchange_explicit(&p->log_suppressed[kind], 0,
	                                          memory_order_relaxed));
	log_end(&line, "upstream %s: %s", up_error_names[kind], detail);
}

/*
 * Small bodies ride in the scratch buffer behind the head (in w->scratch,
 * head_len bytes): one send() instead of a two-piece sendmsg(). Returns the
 * new length to send.
 */
static size_t absorb_small(struct worker *w, size_t head_len, struct flow *f)
{
	size_t pending = flow_pending(f);

	if (pending == 0 || pending > PROXY_ABSORB_MAX || head_len + pending > w->scratch_cap)
		return head_len;
	memcpy(w->scratch + head_len, f->buf + f->start, pending);
	f->start = f->fwd;
	return head_len + pending;
}

static bool client_send(struct conn *c, const char *data, size_t n)
{
	return side_send(&c->client, &c->upstream.in, true, data, n);
}

static bool upstream_send(struct conn *c, const char *data, size_t n)
{
	return side_send(&c->upstream, &c->client.in, !c->up->connecting, data, n);
}

/*
 * Queue a response of our own: problem+json body, Connection per
 * c->close_after. retry_after < 0 leaves Retry-After out.
 */
static void local_response(struct conn *c, int status, const char *body, size_t body_len,
                           int64_t retry_after)
{
	struct worker *w = c->worker;
	size_t len = head_local(status, body, body_len, retry_after, c->method == HTTP1_M_HEAD,
	                        c->close_after, c->minor, w->scratch, w->scratch_cap);

	c->rs = RS_LOCAL;
	c->resp_started = true;
	flow_reset(&c->upstream.in);
	if (len == 0 || !client_send(c, w->scratch, len))
		worker_close_conn(c);
}

/* A problem+json error answer, e.g. 400 with the parser's reason. */
void exchange_error(struct conn *c, int status, const char *detail, enum proxy_result result)
{
	char body[512];

	c->result = result;
	c->in_exchange = true;
	local_response(c, status, body, head_problem(status, detail, body, sizeof(body)), -1);
}

/*
 * The fenced answer: 503, Retry-After, problem+json naming the verdict.
 * detail says what was refused; the connection closes after it when
 * c->close_after.
 */
void exchange_fenced(struct conn *c, const struct fence_verdict *v, const char *detail)
{
	const struct proxy_config *cfg = &c->worker->proxy->cfg;
	char body[1024];
	size_t len = head_fenced_problem(v, cfg->region, detail, body, sizeof(body));

	c->result = PROXY_FENCED;
	local_response(c, 503, body, len, cfg->retry_after_s);
}

/* A request refused by the fence: "<METHOD> is refused: ..." */
static void refuse_request(struct conn *c, const struct fence_verdict *v, const struct http1_msg *m)
{
	char detail[256];

	snprintf(detail, sizeof(detail),
	         "%.*s is refused: this task is not writable (state %s); send writes to the "
	         "active region",
	         (int)(m->method_len > 32 ? 32 : m->method_len), m->method,
	         fence_state_str(v->state));
	exchange_fenced(c, v, detail);
}

/* Detach the current upstream connection: back to the pool, or closed. */
void exchange_release(struct conn *c, bool keep)
{
	struct upconn *u = c->up;

	if (u == NULL)
		return;
	c->up = NULL;
	c->upstream.ep = NULL;
	u->owner = NULL;
	if (keep && !u->dead && !u->ep.hup && !c->upstream.eof && !c->upstream.write_dead)
		pool_put(c->worker, u);
	else
		pool_close(u);
}

/* ---- request heads ---- */

static bool is_read_method(enum http1_method m)
{
	return m == HTTP1_M_GET || m == HTTP1_M_HEAD || m == HTTP1_M_OPTIONS;
}

/* ---- the exchange ---- */

/* The request head for the app, in w->scratch; 0 if it does not fit. */
static size_t request_head(struct conn *c, const struct http1_msg *m)
{
	struct worker *w = c->worker;
	struct head_facts facts = {.writable = c->writable,
	                           .epoch = c->epoch,
	                           .writable_until = c->writable_until,
	                           .now_mono_ms = clock_mono_ms(),
	                           .now_wall_ms = clock_wall_ms(),
	                           .upgrade = c->upgrade,
	                           .client_ip = c->ip,
	                           .upstream_authority = w->proxy->upstream_authority,
	                           .wall = &w->wall};

	return head_request(m, &facts, w->scratch, w->scratch_cap);
}

/* The response head for the client, in w->scratch; 0 if it does not fit. */
static size_t response_head(struct conn *c, const struct http1_msg *m, bool dechunk)
{
	struct worker *w = c->worker;

	return head_response(m, dechunk, c->close_after, c->minor, w->scratch, w->scratch_cap);
}

void exchange_count(struct conn *c)
{
	if (!c->in_exchange)
		return;
	c->in_exchange = false;
	proxy_stat_add(&c->worker->stats.requests[c->result], 1);
}

/* Attach an upstream connection and send it the request head. */
static void start_upstream(struct conn *c, const char *head, size_t head_len, bool fresh_only)
{
	struct worker *w = c->worker;
	struct upconn *u = fresh_only ? NULL : pool_get(w);
	int rc;

	if (u == NULL) {
		rc = pool_connect(w, &u);
		if (rc < 0) {
			char detail[96];

			snprintf(detail, sizeof(detail), "connect: %s", strerror(-rc));
			c->rs = RS_WAIT;
			exchange_fail(c, UPERR_CONNECT, detail);
			return;
		}
	}
	u->owner = c;
	c->up = u;
	c->upstream.ep = &u->ep;
	c->rs = RS_WAIT;
	c->upstream.last = w->now;
	c->up_got_byte = false;
	c->upstream.eof = c->upstream.err = false;
	c->upstream.write_dead = false;
	c->resp_scanned = 0;
	flow_reset(&c->upstream.in);
	if (!upstream_send(c, head, head_len))
		worker_close_conn(c);
}

static bool path_allowed(const struct proxy_config *cfg, const struct http1_msg *m)
{
	for (size_t i = 0; i < cfg->allow_count; i++) {
		if (http1_path_allowed(m->target, m->target_len, cfg->allow_when_fenced[i]))
			return true;
	}
	return false;
}

/* Ask the fence now; the verdict stamps the current request. */
void exchange_ask_fence(struct conn *c, struct fence_verdict *v)
{
	struct worker *w = c->worker;

	memset(v, 0, sizeof(*v));
	w->proxy->view.decide(w->proxy->view.arg, v);
	worker_observe(w, v, c);
	c->writable = v->writable;
	c->epoch = v->epoch;
	c->writable_until = v->writable ? v->writable_until_mono_ms : 0;
}

/* Cut the current write or tunnel at the request's writable_until (none under hold). */
static void arm_cut(struct conn *c)
{
	struct worker *w = c->worker;

	c->cut_at = PROXY_NO_CUT;
	if (!c->writable || c->allowed || c->writable_until == INT64_MAX)
		return;
	c->cut_at = c->writable_until;
	if (c->cut_at < w->next_cut)
		w->next_cut = c->cut_at;
}

/*
 * Decide the request in m from a fresh verdict (v). A write (any method but
 * GET, HEAD, OPTIONS) or a WebSocket upgrade passes only while writable or
 * under an allow-list prefix; a write forwarded while writable is cut at
 * writable_until. Returns false when it must be refused (503).
 */
static bool admit_request(struct conn *c, const struct http1_msg *m, struct fence_verdict *v)
{
	bool write = !is_read_method(m->method_id);

	exchange_ask_fence(c, v);
	c->result = PROXY_FORWARDED;
	c->cut_at = PROXY_NO_CUT;
	if (!write && !c->upgrade)
		return true;
	if (!v->writable && !c->allowed)
		return false;
	if (!v->writable)
		c->result = PROXY_ALLOWED;
	else if (write)
		arm_cut(c);
	return true;
}

void exchange_request(struct conn *c, const struct http1_msg *m)
{
	struct worker *w = c->worker;
	struct proxy *p = w->proxy;
	struct fence_verdict v;
	size_t head_len;

	c->in_exchange = true;
	c->method = m->method_id;
	c->minor = m->minor;
	c->expect_continue = m->expect_continue && m->minor == 1;
	/* a demotion while the head arrived already asked for the close */
	c->close_after = c->close_after || !m->keep_alive;
	c->retried = false;
	c->resp_started = false;
	c->head_off = c->client.in.scan;
	c->head_len = m->head_len;
	c->head_scanned = 0;
	c->head_start = 0;
	c->client.in.scan += m->head_len;
	c->client.in.start = c->client.in.fwd = c->client.in.scan;
	c->req_framing = m->framing;
	c->req_left = m->content_length;
	if (m->framing == HTTP1_BODY_CHUNKED)
		http1_chunked_init(&c->req_ck, HTTP1_CHUNK_PASS_NO_TRAILERS);
	c->upgrade = m->upgrade_websocket && m->conn_upgrade && m->method_id == HTTP1_M_GET &&
	             m->minor == 1 && m->framing == HTTP1_BODY_NONE;
	c->allowed = (c->upgrade || !is_read_method(m->method_id)) && path_allowed(&p->cfg, m);

	if (!admit_request(c, m, &v)) {
		if (m->framing == HTTP1_BODY_NONE) {
			c->rq = RQ_DONE;
		} else if (c->expect_continue) {
			c->close_after = true; /* the body is not coming */
			c->rq = RQ_DONE;
		} else {
			c->rq = RQ_DISCARD;
		}
		refuse_request(c, &v, m);
		return;
	}
	head_len = request_head(c, m);
	if (head_len == 0) {
		c->close_after = true;
		c->rq = RQ_DONE;
		exchange_error(c, 431, "the request head is too large to forward", PROXY_TOO_LARGE);
		return;
	}
	c->rq = m->framing == HTTP1_BODY_NONE ? RQ_DONE : RQ_BODY;
	if (c->rq == RQ_BODY) { /* frame what is already here, to send it with the head */
		int done =
		        flow_frame(&c->client.in, c->req_framing, &c->req_left, &c->req_ck, false);

		if (done == 1)
			c->rq = RQ_DONE;
		else if (done < 0) {
			c->close_after = true;
			c->rq = RQ_DONE;
			exchange_error(c, 400, "bad chunked framing", PROXY_BAD_REQUEST);
			return;
		}
	}
	start_upstream(c, w->scratch, absorb_small(w, head_len, &c->client.in), false);
}

/*
 * Re-send a bodyless read on a fresh connection (the keep-alive race),
 * decided again by the fence. A write is never re-sent: its bytes went to
 * the app, which may have acted on them (the caller answers 502).
 */
static bool retry_request(struct conn *c)
{
	struct worker *w = c->worker;
	struct proxy *p = w->proxy;
	struct http1_limits lim = {.max_head_bytes = c->head_len,
	                           .max_headers = p->cfg.max_headers};
	struct fence_verdict v;
	struct http1_msg m;
	size_t head_len;

	if (c->retried || c->req_framing != HTTP1_BODY_NONE || c->resp_started ||
	    !is_read_method(c->method))
		return false;
	if (http1_parse_request(c->client.in.buf + c->head_off, c->head_len, &lim, w->headers, NULL,
	                        &m) != HTTP1_OK)
		return false;
	c->retried = true;
	side_out_drop(&c->upstream);
	if (!admit_request(c, &m, &v)) { /* an upgrade, and no longer writable */
		c->rq = RQ_DONE;
		refuse_request(c, &v, &m);
		return true;
	}
	head_len = request_head(c, &m);
	if (head_len == 0)
		return false;
	start_upstream(c, w->scratch, head_len, true);
	return true;
}

void exchange_fail(struct conn *c, enum up_error kind, const char *detail)
{
	bool reused = c->up && c->up->reused;

	log_upstream_error(c->worker->proxy, kind, detail);
	exchange_release(c, false);
	side_out_drop(&c->upstream);
	if (c->resp_started) {
		worker_close_conn(c);
		return;
	}
	if (reused && kind != UPERR_TIMEOUT && retry_request(c))
		return;
	if (c->rq == RQ_BODY || c->rq == RQ_DISCARD) {
		c->close_after = true; /* the rest of the body will not be read */
		c->rq = RQ_DONE;
	}
	if (kind == UPERR_TIMEOUT)
		exchange_error(c, 504, "the app did not answer in time", PROXY_UPSTREAM_TIMEOUT);
	else
		exchange_error(c, 502, "the app refused or dropped the connection",
		               PROXY_UPSTREAM_ERROR);
}

/* The upstream's response ended: release the upstream connection. */
void exchange_complete(struct conn *c)
{
	bool request_sent = c->rq == RQ_DONE && side_out_empty(&c->upstream) &&
	                    flow_pending(&c->client.in) == 0;

	c->rs = RS_DONE;
	if (flow_raw(&c->upstream.in) >
	    0) { /* bytes after the response: do not trust the connection */
		c->up_keep = false;
		c->upstream.in.end = c->upstream.in.scan;
	}
	if (c->rq == RQ_BODY) /* answered before the body was read: cannot resync */
		c->close_after = true;
	exchange_release(c, c->up_keep && request_sent);
}

/*
 * The app accepted an upgrade: decide again, as the tunnel carries writes.
 * Not writable now (and not allow-listed): no tunnel, the upstream is
 * closed and the client gets 503; else the tunnel is cut at writable_until.
 */
static bool admit_tunnel(struct conn *c)
{
	struct fence_verdict v;

	exchange_ask_fence(c, &v);
	if (v.writable || c->allowed) {
		arm_cut(c);
		return true;
	}
	exchange_release(c, false);
	side_out_drop(&c->upstream);
	c->close_after = true;
	c->rq = RQ_DONE;
	exchange_fenced(c, &v,
	                "the WebSocket upgrade is refused: this task stopped being writable "
	                "before the app accepted it; reconnect to the active region");
	return false;
}

void exchange_response(struct conn *c, const struct http1_msg *m)
{
	struct worker *w = c->worker;
	bool dechunk = false;
	size_t head_len;
	int done;

	c->up_got_byte = true;
	if (m->status < 200) {
		if (m->status == 101) {
			if (!c->upgrade) {
				exchange_fail(c, UPERR_RESPONSE,
				              "101 to a request without upgrade");
				return;
			}
			if (!admit_tunnel(c))
				return;
			head_len = response_head(c, m, false);
			c->upstream.in.scan += m->head_len;
			c->upstream.in.start = c->upstream.in.fwd = c->upstream.in.scan;
			c->rs = RS_TUNNEL;
			c->rq = RQ_TUNNEL;
			c->resp_started = true;
			c->result = PROXY_WEBSOCKET;
			exchange_count(c);
			proxy_stat_add(&w->stats.tunnels_open, 1);
			/* client bytes sent early are tunnel data: request_step frames them */
			flow_frame(&c->upstream.in, HTTP1_BODY_CLOSE, NULL, NULL, false);
			if (head_len == 0 || !client_send(c, w->scratch, head_len))
				worker_close_conn(c);
			return;
		}
		/* 100 Continue, 103 Early Hints: pass to 1.1 clients, then wait on */
		head_len = response_head(c, m, false);
		c->upstream.in.scan += m->head_len;
		c->upstream.in.start = c->upstream.in.fwd = c->upstream.in.scan;
		c->resp_scanned = 0;
		if (c->minor == 1 && head_len > 0 && !client_send(c, w->scratch, head_len))
			worker_close_conn(c);
		return;
	}
	c->resp_framing = m->framing;
	c->resp_left = m->content_length;
	c->up_keep = m->keep_alive && m->framing != HTTP1_BODY_CLOSE && !c->upgrade;
	if (m->framing == HTTP1_BODY_CLOSE)
		c->close_after = true;
	if (c->rq == RQ_BODY)
		c->close_after = true;
	if (m->framing == HTTP1_BODY_CHUNKED) {
		dechunk = c->minor == 0;
		if (dechunk)
			c->close_after = true;
		http1_chunked_init(&c->resp_ck, dechunk ? HTTP1_CHUNK_DATA : HTTP1_CHUNK_PASS);
	}
	head_len = response_head(c, m, dechunk);
	if (head_len == 0) {
		exchange_fail(c, UPERR_RESPONSE, "the response head is too large");
		return;
	}
	c->upstream.in.scan += m->head_len;
	c->upstream.in.start = c->upstream.in.fwd = c->upstream.in.scan;
	c->rs = RS_BODY;
	c->resp_started = true;
	done = flow_frame(&c->upstream.in, c->resp_framing, &c->resp_left, &c->resp_ck, false);
	head_len = absorb_small(w, head_len, &c->upstream.in);
	if (!client_send(c, w->scratch, head_len)) {
		worker_close_conn(c);
		return;
	}
	if (done < 0) {
		c->close_after = true;
		c->up_keep = false;
		exchange_complete(c);
	} else if (done == 1) {
		exchange_complete(c);
	}
}
