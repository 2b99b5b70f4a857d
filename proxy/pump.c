/*
 * pump.c - moving a connection's bytes until nothing moves: reads and
 * writes on both sides, the request head and body (streamed, chunked
 * passed through, a refused body dropped), the response body, tunnels, the
 * linger after our last byte, the end of an exchange, and the cut of a
 * write still streaming at writable_until. Each wake-up pumps at most
 * PROXY_PUMP_ROUNDS rounds, then yields to the worker's other connections.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy/proxy_int.h"

static bool want_client_read(const struct conn *c)
{
	if (c->client.eof || c->lingering)
		return false;
	switch (c->rq) {
	case RQ_HEAD: return c->rs == RS_NONE;
	case RQ_BODY:
	case RQ_DISCARD:
	case RQ_TUNNEL: return true;
	case RQ_DONE: return false;
	}
	return false;
}

static bool client_read(struct conn *c)
{
	ssize_t r;

	if (!c->ep.rd || !want_client_read(c))
		return false;
	r = side_read(&c->client, c->worker->now);
	if (r > 0 && c->rq == RQ_HEAD && c->head_start == 0)
		c->head_start = c->worker->now;
	return r != -EAGAIN;
}

static bool upstream_read(struct conn *c)
{
	struct upconn *u = c->up;
	ssize_t r;

	if (u == NULL || u->connecting || !u->ep.rd || c->upstream.eof)
		return false;
	if (c->rs != RS_WAIT && c->rs != RS_BODY && c->rs != RS_TUNNEL)
		return false;
	r = side_read(&c->upstream, c->worker->now);
	if (r > 0)
		c->up_got_byte = true;
	return r != -EAGAIN;
}

static bool upstream_connected(struct conn *c)
{
	struct upconn *u = c->up;
	int error = 0;
	socklen_t len = sizeof(error);

	if (u == NULL || !u->connecting || !(u->ep.wr || u->ep.hup))
		return false;
	if (getsockopt(u->ep.fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	if (error != 0) {
		char detail[96];

		snprintf(detail, sizeof(detail), "connect: %s", strerror(error));
		exchange_fail(c, UPERR_CONNECT, detail);
		return true;
	}
	if (!u->ep.wr)
		return false;
	u->connecting = false;
	return true;
}

static bool upstream_write(struct conn *c)
{
	struct upconn *u = c->up;
	size_t pending;
	ssize_t r;

	if (u == NULL || u->connecting || !u->ep.wr || c->upstream.write_dead)
		return false;
	pending = c->rq == RQ_DISCARD ? 0 : flow_pending(&c->client.in);
	if (side_out_empty(&c->upstream) && pending == 0)
		return false;
	r = side_write(&c->upstream, &c->client.in, pending, c->worker->now);
	if (r > 0)
		return true;
	if (r == -EAGAIN)
		return false;
	/* The upstream stopped reading (it may have answered early): keep reading it. */
	c->upstream.write_dead = true;
	side_out_drop(&c->upstream);
	if (c->rq == RQ_BODY) {
		c->close_after = true;
		c->rq = RQ_DISCARD;
	}
	c->client.in.start = c->client.in.fwd;
	return true;
}

static bool client_write(struct conn *c)
{
	size_t pending = flow_pending(&c->upstream.in);
	ssize_t r;

	if (!c->ep.wr || (side_out_empty(&c->client) && pending == 0))
		return false;
	r = side_write(&c->client, &c->upstream.in, pending, c->worker->now);
	if (r > 0)
		return true;
	if (r == -EAGAIN)
		return false;
	worker_close_conn(c); /* the client is gone */
	return true;
}

static bool request_step(struct conn *c)
{
	struct worker *w = c->worker;
	struct proxy *p = w->proxy;

	switch (c->rq) {
	case RQ_HEAD: {
		struct http1_limits lim = {.max_head_bytes = p->cfg.max_header_bytes,
		                           .max_headers = p->cfg.max_headers};
		struct http1_msg m;
		enum http1_status st;

		if (c->rs != RS_NONE)
			return false;
		if (c->head_scanned == 0)
			flow_skip_empty_lines(&c->client.in);
		if (flow_raw(&c->client.in) == 0) {
			if (c->client.eof) {
				worker_close_conn(c);
				return true;
			}
			return false;
		}
		st = http1_parse_request(c->client.in.buf + c->client.in.scan,
		                         flow_raw(&c->client.in), &lim, w->headers,
		                         &c->head_scanned, &m);
		if (st == HTTP1_INCOMPLETE) {
			if (c->client.eof) {
				worker_close_conn(c);
				return true;
			}
			return false;
		}
		if (st == HTTP1_OK) {
			exchange_request(c, &m);
			return true;
		}
		c->close_after = true;
		c->rq = RQ_DONE;
		c->method = HTTP1_M_GET;
		c->minor = 1;
		switch (st) {
		case HTTP1_HEAD_TOO_LARGE:
		case HTTP1_TOO_MANY_HEADERS:
			exchange_error(c, 431, m.error, PROXY_TOO_LARGE);
			break;
		case HTTP1_BAD_VERSION: exchange_error(c, 505, m.error, PROXY_BAD_REQUEST); break;
		case HTTP1_NOT_IMPLEMENTED:
			exchange_error(c, 501, m.error, PROXY_BAD_REQUEST);
			break;
		default: exchange_error(c, 400, m.error, PROXY_BAD_REQUEST); break;
		}
		return true;
	}
	case RQ_BODY:
	case RQ_DISCARD: {
		int done;

		if (flow_raw(&c->client.in) == 0) {
			if (c->client.eof) { /* the client gave up mid-body */
				worker_close_conn(c);
				return true;
			}
			return false;
		}
		done = flow_frame(&c->client.in, c->req_framing, &c->req_left, &c->req_ck,
		                  c->rq == RQ_DISCARD);
		if (done < 0) {
			if (c->rq == RQ_DISCARD || c->resp_started) {
				c->close_after = true;
				c->rq = RQ_DONE;
				return true;
			}
			exchange_release(c, false);
			c->close_after = true;
			c->rq = RQ_DONE;
			exchange_error(c, 400, "bad chunked framing", PROXY_BAD_REQUEST);
			return true;
		}
		if (done == 1)
			c->rq = RQ_DONE;
		return true;
	}
	case RQ_TUNNEL:
		if (flow_raw(&c->client.in) == 0)
			return false;
		flow_frame(&c->client.in, HTTP1_BODY_CLOSE, NULL, NULL, false);
		return true;
	case RQ_DONE: return false;
	}
	return false;
}

static bool response_step(struct conn *c)
{
	struct worker *w = c->worker;

	switch (c->rs) {
	case RS_WAIT: {
		struct http1_limits lim = {.max_head_bytes = c->upstream.in.cap,
		                           .max_headers = PROXY_RESP_HEADERS};
		struct http1_msg m;
		enum http1_status st;

		if (c->up == NULL)
			return false;
		if (flow_raw(&c->upstream.in) == 0) {
			if (c->upstream.eof) {
				exchange_fail(c, UPERR_RESET,
				              c->upstream.err ? "reset before a response"
				                              : "closed before a response");
				return true;
			}
			return false;
		}
		st = http1_parse_response(c->upstream.in.buf + c->upstream.in.scan,
		                          flow_raw(&c->upstream.in), c->method, &lim, w->headers,
		                          &c->resp_scanned, &m);
		if (st == HTTP1_INCOMPLETE) {
			if (c->upstream.eof) {
				exchange_fail(c, UPERR_RESPONSE, "closed inside the response head");
				return true;
			}
			return false;
		}
		if (st != HTTP1_OK) {
			exchange_fail(c, UPERR_RESPONSE, m.error);
			return true;
		}
		exchange_response(c, &m);
		return true;
	}
	case RS_BODY: {
		int done = 0;
		bool framed = flow_raw(&c->upstream.in) > 0;

		if (flow_raw(&c->upstream.in) > 0)
			done = flow_frame(&c->upstream.in, c->resp_framing, &c->resp_left,
			                  &c->resp_ck, false);
		if (done == 1) {
			exchange_complete(c);
			return true;
		}
		if (done < 0 || (c->upstream.eof && flow_raw(&c->upstream.in) == 0)) {
			/* bad framing, the close that ends it, or a truncated body */
			c->close_after = true;
			c->up_keep = false;
			exchange_complete(c);
			return true;
		}
		return framed;
	}
	case RS_TUNNEL:
		if (flow_raw(&c->upstream.in) > 0) {
			flow_frame(&c->upstream.in, HTTP1_BODY_CLOSE, NULL, NULL, false);
			return true;
		}
		return false;
	default: return false;
	}
}

static void begin_close(struct conn *c)
{
	exchange_release(c, false);
	if (c->client.eof) {
		worker_close_conn(c);
		return;
	}
	/* Our answer is out; read and drop what the client still sends, so that
	 * closing with unread bytes does not reset the connection under it. */
	(void)shutdown(c->ep.fd, SHUT_WR);
	c->lingering = true;
	c->linger_start = c->worker->now;
	c->linger_bytes = 0;
}

static bool linger_step(struct conn *c)
{
	ssize_t r;

	if (!c->ep.rd)
		return false;
	r = side_discard(&c->client);
	if (r == -EAGAIN)
		return false;
	if (r <= 0 || (c->linger_bytes += (size_t)r) > PROXY_LINGER_BYTES)
		worker_close_conn(c);
	return true;
}

static bool tunnel_step(struct conn *c)
{
	bool progress = false;

	if (c->client.err || c->upstream.err) {
		worker_close_conn(c);
		return true;
	}
	progress |= side_shut_after(&c->client, &c->upstream);
	progress |= side_shut_after(&c->upstream, &c->client);
	if (c->client.shut && c->upstream.shut) {
		worker_close_conn(c);
		return true;
	}
	return progress;
}

/* The exchange is over when the answer is out and the request is read. */
static bool finish_step(struct conn *c)
{
	if (c->rs != RS_DONE && c->rs != RS_LOCAL)
		return false;
	if (!side_out_empty(&c->client) || flow_pending(&c->upstream.in) > 0)
		return false;
	if (c->rq == RQ_DISCARD)
		return false;   /* still dropping the refused body */
	if (c->rq == RQ_BODY) { /* early answer: the rest of the body is not read */
		c->close_after = true;
		c->rq = RQ_DONE;
	}
	exchange_count(c);
	if (c->close_after) {
		begin_close(c);
		return true;
	}
	exchange_release(c, false); /* only set if the response ended oddly */
	c->cut_at = PROXY_NO_CUT;
	c->rq = RQ_HEAD;
	c->rs = RS_NONE;
	c->upgrade = false;
	c->resp_started = false;
	c->head_scanned = 0;
	c->head_start = 0;
	flow_reset(&c->upstream.in);
	return true;
}

/* Does a byte of the current request still have to go to the app? */
static bool request_streaming(const struct conn *c)
{
	if (!side_out_empty(&c->upstream))
		return true;
	return c->rq == RQ_BODY || (c->rq != RQ_DISCARD && flow_pending(&c->client.in) > 0);
}

/*
 * writable_until has come (c->cut_at <= now): a write still streaming to
 * the app is cut - the upstream connection is closed, so the app sees a
 * truncated body, and the client gets 503 if nothing was answered yet (else
 * the connection closes). A tunnel is closed. A write already delivered
 * runs on: its answer is awaited (the app has X-Warden-Deadline).
 */
static void cut_now(struct conn *c)
{
	struct worker *w = c->worker;
	struct fence_verdict v;

	c->cut_at = PROXY_NO_CUT;
	if (c->up == NULL || (c->rq != RQ_TUNNEL && !request_streaming(c)))
		return;
	proxy_stat_add(&w->stats.cut_at_deadline, 1);
	if (c->rq == RQ_TUNNEL || c->resp_started) {
		worker_close_conn(c);
		return;
	}
	exchange_release(c, false);
	side_out_drop(&c->upstream);
	c->client.in.start = c->client.in.fwd;
	c->close_after = true; /* the rest of the body is not read */
	c->rq = RQ_DONE;
	exchange_ask_fence(c, &v);
	exchange_fenced(c, &v,
	                "the write was cut: its body was still arriving when this task stopped "
	                "being writable; send writes to the active region");
}

void pump_run(struct conn *c)
{
	struct worker *w = c->worker;

	if (c->cut_at <= w->now) /* never forward a byte of a write after the deadline */
		cut_now(c);
	for (int round = 0; round < PROXY_PUMP_ROUNDS; round++) {
		bool progress = false;

		if (c->dead)
			return;
		if (c->lingering) {
			if (!linger_step(c))
				return;
			continue;
		}
		progress |= client_read(c);
		if (!c->dead)
			progress |= request_step(c);
		if (!c->dead)
			progress |= upstream_connected(c);
		if (!c->dead)
			progress |= upstream_write(c);
		if (!c->dead)
			progress |= upstream_read(c);
		if (!c->dead)
			progress |= response_step(c);
		if (!c->dead)
			progress |= client_write(c);
		if (!c->dead && c->rq == RQ_TUNNEL)
			progress |= tunnel_step(c);
		if (!c->dead)
			progress |= finish_step(c);
		if (!progress)
			return;
	}
	if (!c->dead && !c->again) { /* still busy: let the others run first */
		c->again = true;
		c->again_next = w->again;
		w->again = c;
	}
}
