/*
 * worker.c - one proxy thread: its epoll loop (edge-triggered sockets, a
 * 100 ms timerfd tick, an eventfd to stop it, the wake-up for the earliest
 * cut), its SO_REUSEPORT listener and accept (paused, not spun, when out of
 * descriptors), its client connections and their timeouts, the demotion
 * that closes idle keep-alives and tunnels, and its counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "proxy/proxy_int.h"

int worker_epoll_add(struct worker *w, struct endpoint *ep, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = ep};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0 ? -errno : 0;
}

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

void *worker_main(void *arg)
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

int worker_init(struct worker *w, struct proxy *p, int listen_fd, struct wd_err *err)
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

void worker_cleanup(struct worker *w)
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
