/*
 * pool.c - the proxy's upstream connections: a non-blocking connect, and a
 * LIFO pool per thread of idle keep-alive connections (at most
 * PROXY_POOL_MAX, each idle at most PROXY_POOL_IDLE_MS: apps such as Node
 * close idle keep-alives after 5 s), most recently used first so that the
 * ones left idle at the tail expire.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/proxy_int.h"

void pool_close(struct upconn *u)
{
	struct worker *w = u->worker;

	if (u->dead)
		return;
	u->dead = true;
	close(u->ep.fd);
	w->accept_kick = true;
	u->ep.fd = -1;
	if (u->pooled) {
		if (u->prev)
			u->prev->next = u->next;
		else
			w->pool = u->next;
		if (u->next)
			u->next->prev = u->prev;
		else
			w->pool_tail = u->prev;
		w->pool_count--;
		u->pooled = false;
	}
	u->owner = NULL;
	u->dead_next = w->dead_ups;
	w->dead_ups = u;
}

void pool_put(struct worker *w, struct upconn *u)
{
	u->owner = NULL;
	if (w->pool_count >= PROXY_POOL_MAX || u->ep.hup) {
		pool_close(u);
		return;
	}
	u->pooled = true;
	u->reused = true;
	u->idle_since = w->now;
	u->prev = NULL;
	u->next = w->pool;
	if (w->pool)
		w->pool->prev = u;
	w->pool = u;
	if (w->pool_tail == NULL)
		w->pool_tail = u;
	w->pool_count++;
}

struct upconn *pool_get(struct worker *w)
{
	while (w->pool) {
		struct upconn *u = w->pool;

		w->pool = u->next;
		if (w->pool)
			w->pool->prev = NULL;
		else
			w->pool_tail = NULL;
		w->pool_count--;
		u->pooled = false;
		u->prev = u->next = NULL;
		if (u->ep.hup) {
			pool_close(u);
			continue;
		}
		return u;
	}
	return NULL;
}

/* A pooled connection woke up: the upstream closed it, or sent junk. */
void pool_event(struct upconn *u)
{
	char byte;
	ssize_t r = recv(u->ep.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !u->ep.hup) {
		u->ep.rd = false;
		return;
	}
	pool_close(u);
}

int pool_connect(struct worker *w, struct upconn **out)
{
	struct proxy *p = w->proxy;
	struct upconn *u;
	int fd;
	int rc;

	fd = socket(p->upstream_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	proxy_nodelay(fd);
	rc = connect(fd, (struct sockaddr *)&p->upstream_addr, p->upstream_addr_len);
	if (rc < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		close(fd);
		return -ENOMEM;
	}
	u->ep.kind = EP_UPSTREAM;
	u->ep.fd = fd;
	u->worker = w;
	u->connecting = rc < 0;
	u->ep.wr = rc == 0;
	rc = worker_epoll_add(w, &u->ep, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	if (rc < 0) {
		close(fd);
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

void pool_expire(struct worker *w)
{
	while (w->pool_tail && w->now - w->pool_tail->idle_since > PROXY_POOL_IDLE_MS)
		pool_close(w->pool_tail);
}
