/*
 * side.c - the two sides of a proxied connection, the client and the
 * upstream, each a non-blocking socket with edge-triggered readiness kept as
 * flags (struct endpoint), the flow of bytes read from it and a small heap
 * queue of our own bytes to it (struct side). Reads fill the side's own
 * flow; writes send the side's queue, then the other side's pending bytes,
 * in one sendmsg.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proxy/proxy_int.h"

/*
 * A read or write failed with errno: -EAGAIN when the socket is not ready
 * (*ready cleared: edge-triggered, the next edge sets it) or the call was
 * interrupted, else -errno.
 */
static ssize_t ep_error(bool *ready)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		*ready = false;
		return -EAGAIN;
	}
	if (errno == EINTR)
		return -EAGAIN;
	return -errno;
}

/* read(); 0 on EOF, -EAGAIN when nothing is there, -errno on error. */
static ssize_t ep_read(struct endpoint *ep, char *dst, size_t n)
{
	ssize_t r = read(ep->fd, dst, n);

	if (r < 0)
		return ep_error(&ep->rd);
	if (r > 0 && (size_t)r < n && !ep->hup)
		ep->rd = false; /* drained: the next arrival raises a new edge */
	return r;
}

/* sendmsg() of up to two pieces; bytes taken, -EAGAIN, or -errno. */
static ssize_t ep_write2(struct endpoint *ep, const char *a, size_t alen, const char *b,
                         size_t blen)
{
	struct iovec iov[2];
	struct msghdr msg = {.msg_iov = iov};
	ssize_t r;

	if (alen == 0 || blen == 0) { /* one piece (the common case): plain send() */
		r = send(ep->fd, alen ? a : b, alen + blen, MSG_NOSIGNAL | MSG_DONTWAIT);
		goto out;
	}
	if (alen > 0) {
		iov[msg.msg_iovlen].iov_base = (void *)a;
		iov[msg.msg_iovlen++].iov_len = alen;
	}
	if (blen > 0) {
		iov[msg.msg_iovlen].iov_base = (void *)b;
		iov[msg.msg_iovlen++].iov_len = blen;
	}
	r = sendmsg(ep->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
out:
	if (r < 0)
		return ep_error(&ep->wr);
	if ((size_t)r < alen + blen)
		ep->wr = false;
	return r;
}

/* Append; false on allocation failure. Bounded by the callers (heads only). */
static bool outq_append(struct outq *q, const char *data, size_t n)
{
	char *grown;

	if (q->off > 0 && q->off == q->len) {
		q->off = 0;
		q->len = 0;
	}
	grown = realloc(q->data, q->len + n);
	if (grown == NULL)
		return false;
	memcpy(grown + q->len, data, n);
	q->data = grown;
	q->len += n;
	return true;
}

void side_out_drop(struct side *s)
{
	free(s->out.data);
	memset(&s->out, 0, sizeof(s->out));
}

/*
 * Send what to->out holds, then the first `pending` bytes of from, in one
 * write, and drop from the queue and the flow what went. Returns what
 * ep_write2 returned.
 */
ssize_t side_write(struct side *to, struct flow *from, size_t pending, int64_t now)
{
	struct outq *q = &to->out;
	ssize_t r = ep_write2(to->ep, q->data + q->off, q->len - q->off, from->buf + from->start,
	                      pending);

	if (r > 0) {
		size_t took = (size_t)r;
		size_t from_q = q->len - q->off;

		if (took >= from_q) {
			side_out_drop(to);
			from->start += took - from_q;
		} else {
			q->off += took;
		}
		to->last = now;
	}
	return r;
}

ssize_t side_read(struct side *s, int64_t now)
{
	size_t space = flow_space(&s->in);
	ssize_t r;

	if (space == 0)
		return -EAGAIN;
	r = ep_read(s->ep, s->in.buf + s->in.end, space);
	if (r > 0) {
		s->in.end += (size_t)r;
		s->last = now;
		return r;
	}
	if (r == -EAGAIN)
		return -EAGAIN;
	s->eof = true;
	s->err = r < 0;
	s->ep->rd = false;
	return 0;
}

/*
 * Send bytes of our own to a side ahead of the other side's pending bytes: at
 * once in one sendmsg when nothing is queued, the rest into the heap queue.
 * A write error leaves the bytes queued: the next write step meets the
 * (sticky) error and handles it.
 */
bool side_send(struct side *to, struct flow *from, bool can_write, const char *data, size_t n)
{
	struct endpoint *ep = to->ep;

	if (can_write && ep->wr && side_out_empty(to)) {
		ssize_t r = ep_write2(ep, data, n, from->buf + from->start, flow_pending(from));

		if (r > 0) {
			size_t took = (size_t)r;

			if (took >= n) {
				from->start += took - n;
				return true;
			}
			data += took;
			n -= took;
		}
	}
	return outq_append(&to->out, data, n);
}

ssize_t side_discard(struct side *s)
{
	char sink[4096];

	return ep_read(s->ep, sink, sizeof(sink));
}

bool side_shut_after(struct side *from, struct side *to)
{
	if (!from->eof || to->shut || to->ep == NULL || flow_pending(&from->in) > 0 ||
	    !side_out_empty(to))
		return false;
	(void)shutdown(to->ep->fd, SHUT_WR);
	to->shut = true;
	return true;
}

void side_ready(struct endpoint *ep, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		ep->rd = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		ep->wr = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		ep->hup = true;
}
