/*
 * proxy.c - the write-fencing HTTP/1.1 reverse proxy.
 *
 * Design, and why:
 *
 * - One epoll event loop per thread (cfg->threads), each with its own
 *   SO_REUSEPORT listener: the kernel spreads connections, threads share
 *   nothing but the counters and the fence view, and a connection lives and
 *   dies on one thread (no locks on the data path). Sockets are non-blocking
 *   and edge-triggered, registered once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET):
 *   readiness is kept as two flags per socket, cleared on EAGAIN or on a
 *   short read/write, so no epoll_ctl is ever needed to throttle a side. A
 *   keep-alive request costs four syscalls (read, sendmsg, read, sendmsg)
 *   plus the epoll_wait calls. Backpressure is simply "do not read a side
 *   while the buffer it fills is full".
 * - Each client connection owns two fixed buffers (16 KiB each way, the
 *   client one at least max_header_bytes); bodies of any size stream through
 *   them, so memory is bounded by connections x 32 KiB. Heads are parsed by
 *   net/http1.c (our own strict parser: smaller and stricter than
 *   llhttp, no dependency) and rewritten into a per-thread scratch buffer
 *   that is sent with the body bytes already read in one sendmsg; only what
 *   the kernel does not take is copied to a small heap queue.
 * - Each thread keeps a LIFO pool of idle upstream connections (at most
 *   PROXY_POOL_MAX, idle at most PROXY_POOL_IDLE_MS: apps such as Node close
 *   idle keep-alives after 5 s). A bodyless GET, HEAD or OPTIONS that fails
 *   on a reused connection before any response byte is retried once on a
 *   fresh connection (the keep-alive close race), decided again by the
 *   fence; a write is never retried (the app may have acted on it: 502).
 * - A per-thread timerfd ticks every 100 ms: it asks the fence (so demotion
 *   is seen within a tick even with no traffic) and sweeps the timeouts.
 *
 * Behaviour:
 * - Fencing: view->decide() is called once per request. When not writable,
 *   any method but GET, HEAD and OPTIONS gets 503 + Retry-After +
 *   problem+json, unless its path is under an allow-list prefix (matched on
 *   the raw path at a segment boundary; a path with dot-segments, encoded
 *   '/' or '\' never matches: http1_path_allowed). A refused request's body
 *   is read and dropped so the connection stays in sync; with
 *   "Expect: 100-continue" no body is coming, and the connection is closed
 *   after the 503.
 * - Demotion (writable -> not writable, seen by a tick or a request): idle
 *   keep-alive client connections and WebSocket tunnels are closed at once
 *   (closed_on_fence); in-flight requests finish, then their connections
 *   close, so clients reconnect (through Global Accelerator) elsewhere.
 *   A head half-read at the demotion is marked too.
 * - writable_until (the verdict's, monotonic) bounds the whole request: a
 *   write forwarded while writable arms a cut at it (moved on by later
 *   verdicts of the same epoch). When it comes - on the loop's wake-up,
 *   whose epoll timeout is the worker's earliest cut, so even with no
 *   traffic - a write whose bytes are still going to the app is cut (the
 *   upstream closed, 503 or close), and a tunnel is closed. WebSocket
 *   upgrades are writes: refused while not writable, decided again when the
 *   101 arrives, their tunnels cut at writable_until.
 * - EMFILE/ENFILE on accept: the listener leaves epoll for
 *   PROXY_ACCEPT_PAUSE_MS (or until a descriptor is closed), not a spin.
 * - Headers: X-Warden-Writable / -Epoch / -Deadline / -Writable-For-Ms sent
 *   by the client are removed and set from the verdict (no Deadline when
 *   not writable or under hold; no Writable-For-Ms under hold); a request
 *   without Host (HTTP/1.0) gets the upstream's; equal Content-Length
 *   values are sent as one line; X-Forwarded-For gets the client IP
 *   appended (several XFF lines are joined); X-Forwarded-Proto is kept when
 *   present (the ALB sets it: the ALB knows whether the user came over TLS,
 *   we do not) and set to "http" otherwise; Connection, Keep-Alive, TE,
 *   Proxy-*, Upgrade (unless upgrading) and any header named in Connection
 *   are removed (never Content-Length, Transfer-Encoding or Host: listing
 *   them in Connection is a smuggling trick). Both heads are sent as
 *   HTTP/1.1.
 * - Framing (RFC 9112 §6): requests by Content-Length or chunked (anything
 *   ambiguous is 400, see http1.h); request trailers are dropped; responses
 *   by method/status (HEAD, 1xx, 204, 304: none), chunked, Content-Length or
 *   the upstream's close. A chunked response to an HTTP/1.0 client is
 *   de-chunked and close-delimited. 1xx interim answers are forwarded to
 *   HTTP/1.1 clients; 101 to a WebSocket upgrade makes a byte tunnel.
 * - Pipelining: requests are answered one at a time, in order; the next one
 *   is not even read before the current response is done.
 * - Errors: upstream refused/reset before any response byte -> 502; no byte
 *   for upstream_timeout_ms -> 504 if nothing was sent yet, else close.
 *   Upstream errors are logged at most once a second per class.
 */
#include "proxy/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "net/http1.h"
#include "proxy/head.h"
#include "proxy/proxy_int.h"

/* ---- configuration ---- */

void proxy_config_defaults(struct proxy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->upstream_timeout_ms = 60000;
	cfg->idle_timeout_ms = 60000;
	cfg->threads = 2;
	cfg->max_connections = 4096;
	cfg->max_header_bytes = 16 * 1024;
	cfg->max_headers = 100;
	cfg->retry_after_s = 5;
	cfg->header_timeout_ms = 10000;
}

int proxy_config_set_allow(struct proxy_config *cfg, const char *csv, struct wd_err *err)
{
	char list[PROXY_ALLOW_MAX][PROXY_ALLOW_PREFIX_MAX + 1];
	size_t count = 0;
	const char *at = csv ? csv : "";

	while (*at) {
		size_t len = strcspn(at, ",");

		if (len > 0) {
			if (count == PROXY_ALLOW_MAX)
				return wd_err_set(err, -E2BIG, "more than %d allow-list prefixes",
				                  PROXY_ALLOW_MAX);
			if (len > PROXY_ALLOW_PREFIX_MAX)
				return wd_err_set(err, -E2BIG,
				                  "an allow-list prefix is longer than %d bytes",
				                  PROXY_ALLOW_PREFIX_MAX);
			memcpy(list[count], at, len);
			list[count][len] = '\0';
			if (!http1_prefix_valid(list[count]))
				return wd_err_set(err, -EINVAL,
				                  "bad allow-list prefix '%s' (want /path, no "
				                  "'%%', '?', spaces or dot-segments)",
				                  list[count]);
			/* "/", "//"...: every path (a client may write "//x"). */
			if (strspn(list[count], "/") == len)
				return wd_err_set(
				        err, -EINVAL,
				        "the prefix '%s' matches every path: it would let "
				        "every write through while fenced (list the paths "
				        "that may write)",
				        list[count]);
			count++;
		}
		at += len;
		if (*at == ',')
			at++;
	}
	memcpy(cfg->allow_when_fenced, list, sizeof(list[0]) * count);
	cfg->allow_count = count;
	return 0;
}

const char *proxy_result_str(enum proxy_result result)
{
	switch (result) {
	case PROXY_FORWARDED: return "forwarded";
	case PROXY_FENCED: return "fenced";
	case PROXY_ALLOWED: return "allowed";
	case PROXY_UPSTREAM_ERROR: return "upstream_error";
	case PROXY_UPSTREAM_TIMEOUT: return "upstream_timeout";
	case PROXY_BAD_REQUEST: return "bad_request";
	case PROXY_TOO_LARGE: return "too_large";
	case PROXY_OVERLOADED: return "overloaded";
	case PROXY_WEBSOCKET: return "websocket";
	case PROXY_RESULT_COUNT: break;
	}
	return "unknown";
}
int worker_epoll_add(struct worker *w, struct endpoint *ep, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = ep};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0 ? -errno : 0;
}

/* ---- connections ---- */

void worker_close_conn(struct conn *c)
{
	struct worker *w = c->worker;

	if (c->dead)
		return;
	exchange_count(c);
	c->dead = true;
	exchange_release(c, false);
	close(c->ep.fd);
	w->accept_kick = true;
	c->ep.fd = -1;
	side_out_drop(&c->client);
	side_out_drop(&c->upstream);
	if (c->rq == RQ_TUNNEL)
		proxy_stat_add(&w->stats.tunnels_open, -1);
	proxy_stat_add(&w->stats.connections_open, -1);
	atomic_fetch_sub_explicit(&w->proxy->open_clients, 1, memory_order_relaxed);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->again) { /* it is freed at the end of this turn: out of the again list */
		for (struct conn **at = &w->again; *at; at = &(*at)->again_next) {
			if (*at == c) {
				*at = c->again_next;
				break;
			}
		}
		c->again = false;
	}
	c->dead_next = w->dead_conns;
	w->dead_conns = c;
}

static bool conn_idle(const struct conn *c)
{
	return c->rq == RQ_HEAD && c->rs == RS_NONE && flow_raw(&c->client.in) == 0 &&
	       !c->lingering;
}

void worker_observe(struct worker *w, const struct fence_verdict *v, struct conn *except)
{
	bool was = w->was_writable;

	w->was_writable = v->writable;
	if (!was || v->writable)
		return;
	/* Demotion: idle keep-alives and tunnels go now, the rest after their answer. */
	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c == except || c->dead)
			continue;
		if (conn_idle(c) || c->rq == RQ_TUNNEL) {
			proxy_stat_add(&w->stats.closed_on_fence, 1);
			worker_close_conn(c);
		} else {
			c->close_after = true;
		}
	}
	log_msg(LOG_INFO, "proxy.demoted",
	        "not writable any more (%s): closed idle keep-alive connections and tunnels",
	        fence_state_str(v->state));
}

static void send_overloaded(int fd)
{
	static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
	                           "\"status\":503,\"detail\":\"too many connections\"}";
	char answer[512];
	int n = snprintf(answer, sizeof(answer),
	                 "HTTP/1.1 503 Service Unavailable\r\n"
	                 "Content-Type: application/problem+json\r\nRetry-After: 1\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                 sizeof(body) - 1, body);

	char sink[4096];

	/* Drop what already arrived: closing over unread bytes would reset the
	 * connection and could lose the answer. Best effort, never blocks. */
	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	if (n > 0 && (size_t)n < sizeof(answer))
		(void)send(fd, answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)shutdown(fd, SHUT_WR);
}

static void format_ip(const struct sockaddr_storage *ss, char *out, size_t size)
{
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out,
		          (socklen_t)size);
	} else if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)size);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)size);
	} else {
		snprintf(out, size, "unknown");
	}
}

/*
 * Out of descriptors (or kernel memory): the level-triggered listener would
 * wake us again at once, forever. Take it out of epoll for
 * PROXY_ACCEPT_PAUSE_MS, or until one of our descriptors is closed, as
 * nginx and HAProxy do; the backlog waits in the kernel meanwhile.
 */
static void accept_pause(struct worker *w, int error)
{
	w->accept_resume_at = w->now + PROXY_ACCEPT_PAUSE_MS;
	w->accept_kick = false;
	if (w->accept_paused)
		return;
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listener.fd, NULL);
	w->accept_paused = true;
	w->accept_pauses++;
	if (w->accept_log_last != 0 && w->now - w->accept_log_last < PROXY_ACCEPT_LOG_MS)
		return;
	w->accept_log_last = w->now;
	{
		struct log_line line;

		log_begin(&line, LOG_WARN, "proxy.accept_paused");
		log_str(&line, "error", strerror(error));
		log_int(&line, "pauses", (int64_t)w->accept_pauses);
		log_end(&line,
		        "cannot accept a connection (%s): accepting paused for %d ms at a time "
		        "until a descriptor is free (%" PRIu64 " pauses since the last line)",
		        strerror(error), PROXY_ACCEPT_PAUSE_MS, w->accept_pauses);
	}
	w->accept_pauses = 0;
}

/* Accept again once the pause is over or a descriptor was freed. */
static void accept_maybe_resume(struct worker *w)
{
	if (!w->accept_paused || (!w->accept_kick && w->now < w->accept_resume_at))
		return;
	if (worker_epoll_add(w, &w->listener, EPOLLIN) < 0) {
		w->accept_resume_at = w->now + PROXY_ACCEPT_PAUSE_MS;
		return;
	}
	w->accept_paused = false;
	w->accept_kick = false;
}

static void accept_clients(struct worker *w)
{
	struct proxy *p = w->proxy;

	for (int i = 0; i < PROXY_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct conn *c;
		int fd = accept4(w->listener.fd, (struct sockaddr *)&ss, &len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(w, errno);
			return; /* EAGAIN, or a transient error: the next wake-up */
		}
		if (atomic_fetch_add_explicit(&p->open_clients, 1, memory_order_relaxed) >=
		    p->cfg.max_connections) {
			atomic_fetch_sub_explicit(&p->open_clients, 1, memory_order_relaxed);
			proxy_stat_add(&w->stats.requests[PROXY_OVERLOADED], 1);
			send_overloaded(fd);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c) + p->cin_cap + PROXY_BUF_SIZE);
		if (c == NULL) {
			atomic_fetch_sub_explicit(&p->open_clients, 1, memory_order_relaxed);
			close(fd);
			continue;
		}
		proxy_nodelay(fd);
		c->ep.kind = EP_CLIENT;
		c->client.ep = &c->ep;
		c->ep.fd = fd;
		c->ep.rd = true;
		c->ep.wr = true;
		c->worker = w;
		c->client.in.buf = c->buffers;
		c->client.in.cap = p->cin_cap;
		c->upstream.in.buf = c->buffers + p->cin_cap;
		c->upstream.in.cap = PROXY_BUF_SIZE;
		c->client.last = w->now;
		c->minor = 1;
		c->cut_at = PROXY_NO_CUT;
		format_ip(&ss, c->ip, sizeof(c->ip));
		if (worker_epoll_add(w, &c->ep, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
			atomic_fetch_sub_explicit(&p->open_clients, 1, memory_order_relaxed);
			close(fd);
			free(c);
			continue;
		}
		proxy_stat_add(&w->stats.connections_open, 1);
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		pump_run(c);
	}
}

/* Is the exchange stalled on the app (not on a slow client)? */
static bool waiting_on_upstream(const struct conn *c)
{
	if (c->up == NULL)
		return false;
	if (c->rs == RS_WAIT) /* mid-upload with nothing to send: the client is slow */
		return c->rq != RQ_BODY || flow_pending(&c->client.in) > 0 ||
		       !side_out_empty(&c->upstream);
	if (c->rs == RS_BODY) /* with output queued for the client, the client is slow */
		return flow_pending(&c->upstream.in) == 0 && side_out_empty(&c->client);
	return false;
}

/* Is the exchange stalled on the client: its upload, or its reading? */
static bool waiting_on_client(const struct conn *c)
{
	if (!side_out_empty(&c->client) || flow_pending(&c->upstream.in) > 0)
		return true;
	return (c->rq == RQ_BODY || c->rq == RQ_DISCARD) && flow_pending(&c->client.in) == 0 &&
	       side_out_empty(&c->upstream);
}

/*
 * Still writable in the same epoch: a later read moved writable_until on,
 * and an armed cut moves with it (a long upload is not cut while the
 * region stays active). A verdict of another epoch never moves it.
 */
static void extend_cut(struct conn *c, const struct fence_verdict *v)
{
	if (c->cut_at == PROXY_NO_CUT || !v->writable || v->epoch != c->epoch ||
	    v->writable_until_mono_ms <= c->cut_at)
		return;
	c->cut_at = v->writable_until_mono_ms; /* INT64_MAX (hold) disarms it */
}

/* Cut what is due, and find the next cut for the loop's timeout. */
static void sweep_cuts(struct worker *w)
{
	int64_t next = PROXY_NO_CUT;

	for (struct conn *c = w->conns, *after; c; c = after) {
		after = c->next;
		if (c->dead)
			continue;
		if (c->cut_at <= w->now)
			pump_run(c); /* cuts it first */
		if (!c->dead && c->cut_at < next)
			next = c->cut_at;
	}
	w->next_cut = next;
}

/* Every tick: the fence, then the timeouts. */
static void tick(struct worker *w)
{
	struct proxy *p = w->proxy;
	const struct proxy_config *cfg = &p->cfg;
	struct fence_verdict v;
	int64_t now = w->now;

	memset(&v, 0, sizeof(v));
	p->view.decide(p->view.arg, &v);
	worker_observe(w, &v, NULL);

	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		extend_cut(c, &v);
		if (c->lingering) {
			if (now - c->linger_start > PROXY_LINGER_MS)
				worker_close_conn(c);
			continue;
		}
		if (c->rq == RQ_HEAD && c->rs == RS_NONE) {
			if (flow_raw(&c->client.in) == 0 &&
			    now - c->client.last > cfg->idle_timeout_ms) {
				worker_close_conn(c);
			} else if (c->head_start != 0 &&
			           now - c->head_start > cfg->header_timeout_ms) {
				c->close_after = true;
				c->rq = RQ_DONE;
				exchange_error(c, 408, "the request head did not arrive in time",
				               PROXY_BAD_REQUEST);
				pump_run(c);
			}
			continue;
		}
		if (c->rq == RQ_TUNNEL) {
			int64_t last = c->client.last > c->upstream.last ? c->client.last
			                                                 : c->upstream.last;

			if (now - last > cfg->idle_timeout_ms)
				worker_close_conn(c);
			continue;
		}
		if (waiting_on_upstream(c) && now - c->upstream.last > cfg->upstream_timeout_ms) {
			exchange_fail(c, UPERR_TIMEOUT, "no byte from the app in time");
			pump_run(c);
			continue;
		}
		if (waiting_on_client(c) && now - c->client.last > cfg->idle_timeout_ms)
			worker_close_conn(c); /* the client stalled its upload or stopped reading */
	}
	pool_expire(w);
	sweep_cuts(w);
}

static void free_dead(struct worker *w)
{
	while (w->dead_conns) {
		struct conn *c = w->dead_conns;

		w->dead_conns = c->dead_next;
		free(c);
	}
	while (w->dead_ups) {
		struct upconn *u = w->dead_ups;

		w->dead_ups = u->dead_next;
		free(u);
	}
}

static void handle_event(struct worker *w, struct endpoint *ep, uint32_t events)
{
	switch (ep->kind) {
	case EP_LISTENER: accept_clients(w); return;
	case EP_TIMER: {
		uint64_t expirations;

		(void)read(ep->fd, &expirations, sizeof(expirations));
		tick(w);
		return;
	}
	case EP_WAKE: return;
	case EP_CLIENT: {
		struct conn *c = CONTAINER_OF(ep, struct conn, ep);

		if (c->dead)
			return;
		side_ready(ep, events);
		pump_run(c);
		return;
	}
	case EP_UPSTREAM: {
		struct upconn *u = CONTAINER_OF(ep, struct upconn, ep);

		if (u->dead)
			return;
		side_ready(ep, events);
		if (u->pooled)
			pool_event(u);
		else if (u->owner)
			pump_run(u->owner);
		return;
	}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct proxy *p = w->proxy;
	struct epoll_event events[PROXY_EVENTS];
	struct fence_verdict v;

	memset(&v, 0, sizeof(v));
	p->view.decide(p->view.arg, &v);
	w->was_writable = v.writable;
	for (;;) {
		int timeout = w->again ? 0 : -1;
		int n;

		if (timeout < 0 && w->next_cut != PROXY_NO_CUT) /* wake for the next cut */
			timeout = clock_ms_until(w->next_cut);
		n = epoll_wait(w->epfd, events, PROXY_EVENTS, timeout);
		bool stop = false;

		if (n < 0 && errno != EINTR)
			break;
		w->now = clock_mono_ms();
		for (int i = 0; i < n; i++) {
			struct endpoint *ep = events[i].data.ptr;

			if (ep->kind == EP_WAKE)
				stop = true;
			handle_event(w, ep, events[i].events);
		}
		while (w->again) { /* one more turn for the connections that yielded */
			struct conn *list = w->again;

			w->again = NULL;
			for (struct conn *c = list, *next; c; c = next) {
				next = c->again_next;
				c->again = false;
				c->again_next = NULL;
				if (!c->dead)
					pump_run(c);
			}
			break;
		}
		if (w->now >= w->next_cut)
			sweep_cuts(w);
		free_dead(w);
		accept_maybe_resume(w);
		if (stop)
			break;
	}
	return NULL;
}

/* ---- set-up and tear-down ---- */

static int resolve(const char *host, int port, bool passive, struct sockaddr_storage *out,
                   socklen_t *out_len, struct wd_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char service[16];
	int rc;

	if (passive)
		hints.ai_flags = AI_PASSIVE;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0 || res == NULL)
		return wd_err_set(err, -EINVAL, "cannot resolve '%s': %s", host, gai_strerror(rc));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int open_listener(const struct sockaddr_storage *addr, socklen_t addr_len, int port,
                         struct wd_err *err, const char *host)
{
	struct sockaddr_storage bound = *addr;
	int one = 1;
	int fd;

	if (bound.ss_family == AF_INET)
		((struct sockaddr_in *)&bound)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&bound)->sin6_port = htons((uint16_t)port);
	fd = socket(bound.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return wd_err_set(err, -errno, "socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&bound, addr_len) < 0 ||
	    listen(fd, PROXY_LISTEN_BACKLOG) < 0) {
		int rc = -errno;

		close(fd);
		return wd_err_set(err, rc, "cannot listen on %s:%d: %s", host, port, strerror(-rc));
	}
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int check_config(const struct proxy_config *cfg, const struct proxy_fence_view *view,
                        struct wd_err *err)
{
	if (view == NULL || view->decide == NULL)
		return wd_err_set(err, -EINVAL, "proxy: no fence view");
	if (cfg->listen_host[0] == '\0' || cfg->listen_port < 0 || cfg->listen_port > 65535)
		return wd_err_set(err, -EINVAL, "proxy: bad listen address");
	if (cfg->upstream_host[0] == '\0' || cfg->upstream_port <= 0 || cfg->upstream_port > 65535)
		return wd_err_set(err, -EINVAL, "proxy: bad upstream address");
	if (cfg->threads < 1 || cfg->threads > PROXY_THREADS_MAX)
		return wd_err_set(err, -EINVAL, "proxy: threads must be 1..%d", PROXY_THREADS_MAX);
	if (cfg->max_header_bytes < 1024 || cfg->max_header_bytes > 256 * 1024)
		return wd_err_set(err, -EINVAL, "proxy: max_header_bytes must be 1 KiB..256 KiB");
	if (cfg->max_headers < 8 || cfg->max_headers > HTTP1_HEADERS_MAX)
		return wd_err_set(err, -EINVAL, "proxy: max_headers must be 8..%d",
		                  HTTP1_HEADERS_MAX);
	if (cfg->max_connections < 1 || cfg->upstream_timeout_ms < 1 || cfg->idle_timeout_ms < 1 ||
	    cfg->header_timeout_ms < 1 || cfg->retry_after_s < 0 ||
	    cfg->allow_count > PROXY_ALLOW_MAX)
		return wd_err_set(err, -EINVAL, "proxy: a limit or timeout is out of range");
	return 0;
}

static int worker_init(struct worker *w, struct proxy *p, int listen_fd, struct wd_err *err)
{
	struct itimerspec its = {.it_interval = {0, PROXY_TICK_MS * 1000000L},
	                         .it_value = {0, PROXY_TICK_MS * 1000000L}};
	size_t headers =
	        p->cfg.max_headers > PROXY_RESP_HEADERS ? p->cfg.max_headers : PROXY_RESP_HEADERS;

	w->proxy = p;
	w->listener.kind = EP_LISTENER;
	w->listener.fd = listen_fd;
	w->timer.kind = EP_TIMER;
	w->wake.kind = EP_WAKE;
	w->timer.fd = w->wake.fd = -1;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->scratch_cap =
	        (p->cin_cap > PROXY_BUF_SIZE ? p->cin_cap : PROXY_BUF_SIZE) + PROXY_SCRATCH_EXTRA;
	w->scratch = malloc(w->scratch_cap);
	w->headers = calloc(headers, sizeof(*w->headers));
	w->now = clock_mono_ms();
	w->next_cut = PROXY_NO_CUT;
	if (w->epfd < 0 || w->timer.fd < 0 || w->wake.fd < 0 || w->scratch == NULL ||
	    w->headers == NULL)
		return wd_err_set(err, -ENOMEM, "proxy: cannot set up a thread");
	if (timerfd_settime(w->timer.fd, 0, &its, NULL) < 0 ||
	    worker_epoll_add(w, &w->listener, EPOLLIN) < 0 ||
	    worker_epoll_add(w, &w->timer, EPOLLIN) < 0 ||
	    worker_epoll_add(w, &w->wake, EPOLLIN) < 0)
		return wd_err_set(err, -errno, "proxy: epoll: %s", strerror(errno));
	return 0;
}

static void worker_cleanup(struct worker *w)
{
	while (w->conns)
		worker_close_conn(w->conns);
	while (w->pool)
		pool_close(w->pool);
	free_dead(w);
	if (w->listener.fd >= 0)
		close(w->listener.fd);
	if (w->timer.fd >= 0)
		close(w->timer.fd);
	if (w->wake.fd >= 0)
		close(w->wake.fd);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->scratch);
	free(w->headers);
}

struct proxy *proxy_new(const struct proxy_config *cfg, const struct proxy_fence_view *view,
                        struct wd_err *err)
{
	struct sockaddr_storage listen_addr;
	socklen_t listen_len;
	struct proxy *p;
	sigset_t all;
	sigset_t old;

	if (check_config(cfg, view, err) < 0)
		return NULL;
	p = calloc(1, sizeof(*p) + cfg->threads * sizeof(struct worker));
	if (p == NULL) {
		wd_err_set(err, -ENOMEM, "proxy: out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	p->view = *view;
	if (strchr(cfg->upstream_host, ':')) /* an IPv6 literal */
		snprintf(p->upstream_authority, sizeof(p->upstream_authority), "[%s]:%d",
		         cfg->upstream_host, cfg->upstream_port);
	else
		snprintf(p->upstream_authority, sizeof(p->upstream_authority), "%s:%d",
		         cfg->upstream_host, cfg->upstream_port);
	p->worker_count = cfg->threads;
	p->cin_cap =
	        cfg->max_header_bytes > PROXY_BUF_SIZE ? cfg->max_header_bytes : PROXY_BUF_SIZE;
	for (unsigned i = 0; i < p->worker_count; i++) {
		p->workers[i].epfd = p->workers[i].listener.fd = -1;
		p->workers[i].timer.fd = p->workers[i].wake.fd = -1;
	}
	if (resolve(cfg->upstream_host, cfg->upstream_port, false, &p->upstream_addr,
	            &p->upstream_addr_len, err) < 0 ||
	    resolve(cfg->listen_host, cfg->listen_port, true, &listen_addr, &listen_len, err) < 0)
		goto fail;
	p->port = cfg->listen_port;
	for (unsigned i = 0; i < p->worker_count; i++) {
		int fd = open_listener(&listen_addr, listen_len, p->port, err, cfg->listen_host);

		if (fd < 0)
			goto fail;
		if (i == 0)
			p->port = bound_port(fd);
		if (worker_init(&p->workers[i], p, fd, err) < 0)
			goto fail;
	}
	/* Workers take no signals: the main thread handles SIGTERM. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < p->worker_count; i++) {
		if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			wd_err_set(err, -EAGAIN, "proxy: cannot start a thread");
			goto fail;
		}
		p->workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_msg(LOG_INFO, "proxy.listening", "proxy listening on %s:%d, forwarding to %s:%d",
	        cfg->listen_host, p->port, cfg->upstream_host, cfg->upstream_port);
	return p;
fail:
	proxy_free(p);
	return NULL;
}

int proxy_port(const struct proxy *proxy)
{
	return proxy ? proxy->port : -1;
}

void proxy_get_stats(struct proxy *proxy, struct proxy_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (proxy == NULL)
		return;
	for (unsigned i = 0; i < proxy->worker_count; i++) {
		struct worker_stats *s = &proxy->workers[i].stats;

		for (int r = 0; r < PROXY_RESULT_COUNT; r++)
			out->requests[r] +=
			        atomic_load_explicit(&s->requests[r], memory_order_relaxed);
		out->connections_open +=
		        atomic_load_explicit(&s->connections_open, memory_order_relaxed);
		out->tunnels_open += atomic_load_explicit(&s->tunnels_open, memory_order_relaxed);
		out->closed_on_fence +=
		        atomic_load_explicit(&s->closed_on_fence, memory_order_relaxed);
		out->cut_at_deadline +=
		        atomic_load_explicit(&s->cut_at_deadline, memory_order_relaxed);
	}
}

void proxy_free(struct proxy *proxy)
{
	if (proxy == NULL)
		return;
	for (unsigned i = 0; i < proxy->worker_count; i++) {
		struct worker *w = &proxy->workers[i];
		uint64_t one = 1;

		if (w->started && write(w->wake.fd, &one, sizeof(one)) < 0)
			log_msg(LOG_WARN, "proxy.stop", "cannot wake a proxy thread: %s",
			        strerror(errno));
	}
	for (unsigned i = 0; i < proxy->worker_count; i++) {
		if (proxy->workers[i].started)
			pthread_join(proxy->workers[i].thread, NULL);
		if (proxy->workers[i].proxy)
			worker_cleanup(&proxy->workers[i]);
		else if (proxy->workers[i].listener.fd >= 0)
			close(proxy->workers[i].listener.fd);
	}
	free(proxy);
}
