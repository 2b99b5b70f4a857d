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

#define PROXY_BUF_SIZE        (16 * 1024) /* each direction, per client connection */
#define PROXY_POOL_MAX        256         /* idle upstream connections per thread */
#define PROXY_POOL_IDLE_MS    4000        /* close pooled upstream connections idle longer */
#define PROXY_TICK_MS         100         /* fence check and timeout sweep */
#define PROXY_LINGER_MS       2000        /* read-and-drop after our last byte, then close */
#define PROXY_LINGER_BYTES    (256 * 1024)
#define PROXY_EVENTS          256
#define PROXY_PUMP_ROUNDS     32 /* per wake-up, before yielding to other connections */
#define PROXY_RESP_HEADERS    256
#define PROXY_SCRATCH_EXTRA   4096
#define PROXY_THREADS_MAX     64
#define PROXY_ACCEPT_BATCH    64
#define PROXY_LISTEN_BACKLOG  1024
#define PROXY_IP_MAX          64
#define PROXY_ABSORB_MAX      4096  /* body bytes copied behind a head to send both at once */
#define PROXY_ACCEPT_PAUSE_MS 100   /* out of descriptors: stop accepting this long */
#define PROXY_ACCEPT_LOG_MS   10000 /* at most one "accept paused" line per thread this often */
#define PROXY_NO_CUT          INT64_MAX

enum ep_kind { EP_LISTENER, EP_TIMER, EP_WAKE, EP_CLIENT, EP_UPSTREAM };

/* One socket in an epoll set and its edge-triggered readiness. */
struct endpoint {
	enum ep_kind kind;
	int fd;
	bool rd;  /* may be readable */
	bool wr;  /* may be writable */
	bool hup; /* the peer closed or the socket failed: read to the end */
};

/* Bytes queued for a socket that it did not take at once (heap, rare). */
struct outq {
	char *data;
	size_t len;
	size_t off;
};

/*
 * One direction's buffer: [start, fwd) is ready to send, [fwd, scan) is a
 * gap left by de-chunking or dropped trailers, [scan, end) is read but not
 * yet framed (the rest of a body, or a pipelined message).
 */
struct flow {
	char *buf;
	size_t cap;
	size_t start;
	size_t fwd;
	size_t scan;
	size_t end;
};

enum rq_state {
	RQ_HEAD,    /* reading the next request head (idle if nothing read) */
	RQ_BODY,    /* forwarding the request body */
	RQ_DISCARD, /* dropping the body of a request answered locally */
	RQ_DONE,    /* the request is read; waiting for the exchange to end */
	RQ_TUNNEL,
};

enum rs_state {
	RS_NONE,  /* no exchange */
	RS_WAIT,  /* waiting for the upstream's response head */
	RS_BODY,  /* forwarding the response body */
	RS_DONE,  /* the response is read; flushing it */
	RS_LOCAL, /* a response of our own is being sent */
	RS_TUNNEL,
};

enum up_error {
	UPERR_CONNECT,  /* "connect": refused or failed */
	UPERR_RESET,    /* "reset": closed or reset before a response */
	UPERR_TIMEOUT,  /* "timeout" */
	UPERR_RESPONSE, /* "bad_response": malformed response */
	UPERR_COUNT
};

static const char *const up_error_names[UPERR_COUNT] = {"connect", "reset", "timeout",
                                                        "bad_response"};

struct worker;
struct conn;

struct upconn {
	struct endpoint ep;
	struct worker *worker;
	struct conn *owner; /* NULL while pooled */
	struct upconn *prev, *next;
	struct upconn *dead_next;
	bool pooled;
	bool connecting;
	bool reused; /* has answered a request before */
	bool dead;
	int64_t idle_since;
};

struct conn {
	struct endpoint ep;
	struct worker *worker;
	struct conn *prev, *next; /* the worker's connections (kept when dead, for walkers) */
	struct conn *dead_next;
	struct conn *again_next; /* to pump again (fairness) */
	bool again;
	bool dead;
	char ip[PROXY_IP_MAX];
	struct upconn *up;
	struct flow cin; /* client -> upstream */
	struct flow uin; /* upstream -> client */
	struct outq cq;  /* to the client, before uin's bytes */
	struct outq uq;  /* to the upstream, before cin's bytes */
	enum rq_state rq;
	enum rs_state rs;

	/* the current request */
	bool in_exchange;
	enum proxy_result result;
	enum http1_method method;
	int minor;
	bool upgrade;
	bool expect_continue;
	enum http1_framing req_framing;
	uint64_t req_left;
	struct http1_chunked req_ck;
	size_t head_off;
	size_t head_len;
	size_t head_scanned;
	int64_t head_start;
	bool writable;
	uint64_t epoch;
	int64_t writable_until; /* the request's verdict: mono ms, INT64_MAX under hold */
	bool allowed;           /* a write or upgrade under an allow-list prefix */
	bool retried;
	/* A write still streaming to the app, or a tunnel, is cut here (mono ms);
	 * PROXY_NO_CUT when nothing is armed. */
	int64_t cut_at;

	/* the current response */
	enum http1_framing resp_framing;
	uint64_t resp_left;
	struct http1_chunked resp_ck;
	size_t resp_scanned;
	bool resp_started; /* a final head was queued to the client */
	bool up_got_byte;
	bool up_keep;
	bool up_write_dead;

	bool close_after;
	bool c_eof, c_err, u_eof, u_err;
	bool c_shut, u_shut; /* tunnels: write sides shut down */
	bool lingering;
	size_t linger_bytes;
	int64_t linger_start;
	int64_t c_last, u_last;

	char buffers[];
};

struct worker_stats {
	_Atomic uint64_t requests[PROXY_RESULT_COUNT];
	_Atomic uint64_t connections_open;
	_Atomic uint64_t tunnels_open;
	_Atomic uint64_t closed_on_fence;
	_Atomic uint64_t cut_at_deadline;
};

struct worker {
	struct proxy *proxy;
	pthread_t thread;
	bool started;
	int epfd;
	struct endpoint listener;
	struct endpoint timer;
	struct endpoint wake;
	int64_t now;
	bool was_writable;
	int64_t next_cut; /* the earliest cut_at of a connection, or PROXY_NO_CUT */
	/* accepting is paused while out of descriptors (EMFILE) */
	bool accept_paused;
	bool accept_kick; /* a descriptor was freed: try again */
	int64_t accept_resume_at;
	int64_t accept_log_last;
	uint64_t accept_pauses; /* since the last log line */
	struct head_wall wall;  /* X-Warden-Deadline: the formatted second, cached */
	struct conn *conns;
	struct conn *dead_conns;
	struct conn *again;
	struct upconn *pool; /* most recent first */
	struct upconn *pool_tail;
	size_t pool_count;
	struct upconn *dead_ups;
	struct http1_header *headers;
	char *scratch;
	size_t scratch_cap;
	struct worker_stats stats;
};

struct proxy {
	struct proxy_config cfg;
	struct proxy_fence_view view;
	struct sockaddr_storage upstream_addr;
	socklen_t upstream_addr_len;
	char upstream_authority[WD_HOST_MAX + 16]; /* Host for requests without one */
	int port;
	size_t cin_cap;
	_Atomic unsigned open_clients;
	_Atomic int64_t log_last[UPERR_COUNT];
	_Atomic uint64_t log_suppressed[UPERR_COUNT];
	unsigned worker_count;
	struct worker workers[];
};

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static void pump(struct conn *c);
static void conn_close(struct conn *c);
static void upstream_fail(struct conn *c, enum up_error kind, const char *detail);

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

/* ---- small helpers ---- */

static void stat_add(_Atomic uint64_t *counter, int64_t delta)
{
	atomic_fetch_add_explicit(counter, (uint64_t)delta, memory_order_relaxed);
}

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

static void set_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int epoll_add(struct worker *w, struct endpoint *ep, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = ep};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0 ? -errno : 0;
}

/* read(); 0 on EOF, -EAGAIN when nothing is there, -errno on error. */
static ssize_t ep_read(struct endpoint *ep, char *dst, size_t n)
{
	ssize_t r = read(ep->fd, dst, n);

	if (r > 0) {
		if ((size_t)r < n && !ep->hup)
			ep->rd = false; /* drained: the next arrival raises a new edge */
		return r;
	}
	if (r == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ep->rd = false;
		return -EAGAIN;
	}
	if (errno == EINTR)
		return -EAGAIN;
	return -errno;
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
	if (r >= 0) {
		if ((size_t)r < alen + blen)
			ep->wr = false;
		return r;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ep->wr = false;
		return -EAGAIN;
	}
	if (errno == EINTR)
		return -EAGAIN;
	return -errno;
}

static bool outq_empty(const struct outq *q)
{
	return q->off == q->len;
}

static void outq_free(struct outq *q)
{
	free(q->data);
	memset(q, 0, sizeof(*q));
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

static size_t flow_pending(const struct flow *f)
{
	return f->fwd - f->start;
}

static size_t flow_raw(const struct flow *f)
{
	return f->end - f->scan;
}

static void flow_reset(struct flow *f)
{
	f->start = f->fwd = f->scan = f->end = 0;
}

/* Make room at the end: move the pending and the raw bytes to the front. */
static void flow_compact(struct flow *f)
{
	size_t pending = flow_pending(f);
	size_t raw = flow_raw(f);

	if (f->start == 0 && f->fwd == f->scan)
		return;
	if (pending > 0 && f->start > 0)
		memmove(f->buf, f->buf + f->start, pending);
	if (raw > 0)
		memmove(f->buf + pending, f->buf + f->scan, raw);
	f->start = 0;
	f->fwd = f->scan = pending;
	f->end = pending + raw;
}

/*
 * Send what q holds, then the first `pending` bytes of f, in one write, and
 * drop from q and f what went. Returns what ep_write2 returned.
 */
static ssize_t send_queued(struct endpoint *ep, struct outq *q, struct flow *f, size_t pending)
{
	ssize_t r = ep_write2(ep, q->data + q->off, q->len - q->off, f->buf + f->start, pending);

	if (r > 0) {
		size_t took = (size_t)r;
		size_t from_q = q->len - q->off;

		if (took >= from_q) {
			outq_free(q);
			f->start += took - from_q;
		} else {
			q->off += took;
		}
	}
	return r;
}

static size_t flow_space(struct flow *f)
{
	if (f->start == f->end) {
		flow_reset(f);
	} else if (f->cap - f->end < f->cap / 4) {
		flow_compact(f);
	}
	return f->cap - f->end;
}

/*
 * Frame the raw bytes of a body: move what belongs to the message to the
 * pending part (or drop it, if discard). Returns 1 when the body ended,
 * 0 if more is needed, -1 on bad chunked framing.
 */
static int flow_frame(struct flow *f, enum http1_framing framing, uint64_t *left,
                      struct http1_chunked *ck, bool discard)
{
	size_t raw = flow_raw(f);
	size_t out = 0;
	size_t take = raw;

	switch (framing) {
	case HTTP1_BODY_NONE: return 1;
	case HTTP1_BODY_LENGTH:
		if (take > *left)
			take = (size_t)*left;
		*left -= take;
		if (f->fwd != f->scan && take > 0)
			memmove(f->buf + f->fwd, f->buf + f->scan, take);
		out = take;
		break;
	case HTTP1_BODY_CLOSE: /* also tunnels */
		if (f->fwd != f->scan && take > 0)
			memmove(f->buf + f->fwd, f->buf + f->scan, take);
		out = take;
		break;
	case HTTP1_BODY_CHUNKED: {
		ssize_t used;

		if (raw == 0)
			return ck->done ? 1 : 0;
		used = http1_chunked_feed(ck, f->buf + f->fwd, f->buf + f->scan, raw, &out);
		if (used < 0)
			return -1;
		take = (size_t)used;
		break;
	}
	}
	f->scan += take;
	if (discard) {
		f->start = f->fwd = f->scan;
	} else {
		f->fwd += out;
		if (f->start == f->fwd && f->fwd < f->scan)
			f->start = f->fwd = f->scan; /* close the gap when nothing waits */
	}
	if (framing == HTTP1_BODY_LENGTH)
		return *left == 0 ? 1 : 0;
	if (framing == HTTP1_BODY_CHUNKED)
		return ck->done ? 1 : 0;
	return 0;
}

/* ---- output ---- */

/*
 * Send bytes of our own to a socket ahead of the flow's pending bytes: at
 * once in one sendmsg when nothing is queued, the rest into the heap queue.
 * A write error leaves the bytes queued: the next write step meets the
 * (sticky) error and handles it.
 */
static bool send_ahead(struct endpoint *ep, bool can_write, struct outq *q, struct flow *f,
                       const char *data, size_t n)
{
	if (can_write && ep->wr && outq_empty(q)) {
		ssize_t r = ep_write2(ep, data, n, f->buf + f->start, flow_pending(f));

		if (r > 0) {
			size_t took = (size_t)r;

			if (took >= n) {
				f->start += took - n;
				return true;
			}
			data += took;
			n -= took;
		}
	}
	return outq_append(q, data, n);
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
	return send_ahead(&c->ep, true, &c->cq, &c->uin, data, n);
}

static bool upstream_send(struct conn *c, const char *data, size_t n)
{
	return send_ahead(&c->up->ep, !c->up->connecting, &c->uq, &c->cin, data, n);
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
	flow_reset(&c->uin);
	if (len == 0 || !client_send(c, w->scratch, len))
		conn_close(c);
}

/* A problem+json error answer, e.g. 400 with the parser's reason. */
static void error_response(struct conn *c, int status, const char *detail, enum proxy_result result)
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
static void fenced_response(struct conn *c, const struct fence_verdict *v, const char *detail)
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
	fenced_response(c, v, detail);
}

/* ---- upstream connections ---- */

static void up_close(struct upconn *u)
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

static void pool_put(struct worker *w, struct upconn *u)
{
	u->owner = NULL;
	if (w->pool_count >= PROXY_POOL_MAX || u->ep.hup) {
		up_close(u);
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

static struct upconn *pool_get(struct worker *w)
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
			up_close(u);
			continue;
		}
		return u;
	}
	return NULL;
}

/* A pooled connection woke up: the upstream closed it, or sent junk. */
static void pool_event(struct upconn *u)
{
	char byte;
	ssize_t r = recv(u->ep.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !u->ep.hup) {
		u->ep.rd = false;
		return;
	}
	up_close(u);
}

static int up_connect(struct worker *w, struct upconn **out)
{
	struct proxy *p = w->proxy;
	struct upconn *u;
	int fd;
	int rc;

	fd = socket(p->upstream_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_nodelay(fd);
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
	rc = epoll_add(w, &u->ep, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	if (rc < 0) {
		close(fd);
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

/* Detach the current upstream connection: back to the pool, or closed. */
static void up_release(struct conn *c, bool keep)
{
	struct upconn *u = c->up;

	if (u == NULL)
		return;
	c->up = NULL;
	u->owner = NULL;
	if (keep && !u->dead && !u->ep.hup && !c->u_eof && !c->up_write_dead)
		pool_put(c->worker, u);
	else
		up_close(u);
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

static void observe_verdict(struct worker *w, const struct fence_verdict *v, struct conn *except);

static void count_result(struct conn *c)
{
	if (!c->in_exchange)
		return;
	c->in_exchange = false;
	stat_add(&c->worker->stats.requests[c->result], 1);
}

/* Attach an upstream connection and send it the request head. */
static void start_upstream(struct conn *c, const char *head, size_t head_len, bool fresh_only)
{
	struct worker *w = c->worker;
	struct upconn *u = fresh_only ? NULL : pool_get(w);
	int rc;

	if (u == NULL) {
		rc = up_connect(w, &u);
		if (rc < 0) {
			char detail[96];

			snprintf(detail, sizeof(detail), "connect: %s", strerror(-rc));
			c->rs = RS_WAIT;
			upstream_fail(c, UPERR_CONNECT, detail);
			return;
		}
	}
	u->owner = c;
	c->up = u;
	c->rs = RS_WAIT;
	c->u_last = w->now;
	c->up_got_byte = false;
	c->u_eof = c->u_err = false;
	c->up_write_dead = false;
	c->resp_scanned = 0;
	flow_reset(&c->uin);
	if (!upstream_send(c, head, head_len))
		conn_close(c);
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
static void ask_fence(struct conn *c, struct fence_verdict *v)
{
	struct worker *w = c->worker;

	memset(v, 0, sizeof(*v));
	w->proxy->view.decide(w->proxy->view.arg, v);
	observe_verdict(w, v, c);
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

	ask_fence(c, v);
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

static void handle_request(struct conn *c, const struct http1_msg *m)
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
	c->head_off = c->cin.scan;
	c->head_len = m->head_len;
	c->head_scanned = 0;
	c->head_start = 0;
	c->cin.scan += m->head_len;
	c->cin.start = c->cin.fwd = c->cin.scan;
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
		error_response(c, 431, "the request head is too large to forward", PROXY_TOO_LARGE);
		return;
	}
	c->rq = m->framing == HTTP1_BODY_NONE ? RQ_DONE : RQ_BODY;
	if (c->rq == RQ_BODY) { /* frame what is already here, to send it with the head */
		int done = flow_frame(&c->cin, c->req_framing, &c->req_left, &c->req_ck, false);

		if (done == 1)
			c->rq = RQ_DONE;
		else if (done < 0) {
			c->close_after = true;
			c->rq = RQ_DONE;
			error_response(c, 400, "bad chunked framing", PROXY_BAD_REQUEST);
			return;
		}
	}
	start_upstream(c, w->scratch, absorb_small(w, head_len, &c->cin), false);
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
	if (http1_parse_request(c->cin.buf + c->head_off, c->head_len, &lim, w->headers, NULL,
	                        &m) != HTTP1_OK)
		return false;
	c->retried = true;
	outq_free(&c->uq);
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

static void upstream_fail(struct conn *c, enum up_error kind, const char *detail)
{
	bool reused = c->up && c->up->reused;

	log_upstream_error(c->worker->proxy, kind, detail);
	up_release(c, false);
	outq_free(&c->uq);
	if (c->resp_started) {
		conn_close(c);
		return;
	}
	if (reused && kind != UPERR_TIMEOUT && retry_request(c))
		return;
	if (c->rq == RQ_BODY || c->rq == RQ_DISCARD) {
		c->close_after = true; /* the rest of the body will not be read */
		c->rq = RQ_DONE;
	}
	if (kind == UPERR_TIMEOUT)
		error_response(c, 504, "the app did not answer in time", PROXY_UPSTREAM_TIMEOUT);
	else
		error_response(c, 502, "the app refused or dropped the connection",
		               PROXY_UPSTREAM_ERROR);
}

/* The upstream's response ended: release the upstream connection. */
static void response_complete(struct conn *c)
{
	bool request_sent = c->rq == RQ_DONE && outq_empty(&c->uq) && flow_pending(&c->cin) == 0;

	c->rs = RS_DONE;
	if (flow_raw(&c->uin) > 0) { /* bytes after the response: do not trust the connection */
		c->up_keep = false;
		c->uin.end = c->uin.scan;
	}
	if (c->rq == RQ_BODY) /* answered before the body was read: cannot resync */
		c->close_after = true;
	up_release(c, c->up_keep && request_sent);
}

/*
 * The app accepted an upgrade: decide again, as the tunnel carries writes.
 * Not writable now (and not allow-listed): no tunnel, the upstream is
 * closed and the client gets 503; else the tunnel is cut at writable_until.
 */
static bool admit_tunnel(struct conn *c)
{
	struct fence_verdict v;

	ask_fence(c, &v);
	if (v.writable || c->allowed) {
		arm_cut(c);
		return true;
	}
	up_release(c, false);
	outq_free(&c->uq);
	c->close_after = true;
	c->rq = RQ_DONE;
	fenced_response(c, &v,
	                "the WebSocket upgrade is refused: this task stopped being writable "
	                "before the app accepted it; reconnect to the active region");
	return false;
}

static void handle_response(struct conn *c, const struct http1_msg *m)
{
	struct worker *w = c->worker;
	bool dechunk = false;
	size_t head_len;
	int done;

	c->up_got_byte = true;
	if (m->status < 200) {
		if (m->status == 101) {
			if (!c->upgrade) {
				upstream_fail(c, UPERR_RESPONSE,
				              "101 to a request without upgrade");
				return;
			}
			if (!admit_tunnel(c))
				return;
			head_len = response_head(c, m, false);
			c->uin.scan += m->head_len;
			c->uin.start = c->uin.fwd = c->uin.scan;
			c->rs = RS_TUNNEL;
			c->rq = RQ_TUNNEL;
			c->resp_started = true;
			c->result = PROXY_WEBSOCKET;
			count_result(c);
			stat_add(&w->stats.tunnels_open, 1);
			/* client bytes sent early are tunnel data: request_step frames them */
			flow_frame(&c->uin, HTTP1_BODY_CLOSE, NULL, NULL, false);
			if (head_len == 0 || !client_send(c, w->scratch, head_len))
				conn_close(c);
			return;
		}
		/* 100 Continue, 103 Early Hints: pass to 1.1 clients, then wait on */
		head_len = response_head(c, m, false);
		c->uin.scan += m->head_len;
		c->uin.start = c->uin.fwd = c->uin.scan;
		c->resp_scanned = 0;
		if (c->minor == 1 && head_len > 0 && !client_send(c, w->scratch, head_len))
			conn_close(c);
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
		upstream_fail(c, UPERR_RESPONSE, "the response head is too large");
		return;
	}
	c->uin.scan += m->head_len;
	c->uin.start = c->uin.fwd = c->uin.scan;
	c->rs = RS_BODY;
	c->resp_started = true;
	done = flow_frame(&c->uin, c->resp_framing, &c->resp_left, &c->resp_ck, false);
	head_len = absorb_small(w, head_len, &c->uin);
	if (!client_send(c, w->scratch, head_len)) {
		conn_close(c);
		return;
	}
	if (done < 0) {
		c->close_after = true;
		c->up_keep = false;
		response_complete(c);
	} else if (done == 1) {
		response_complete(c);
	}
}

/* ---- the pump: move bytes until nothing moves ---- */

static bool want_client_read(const struct conn *c)
{
	if (c->c_eof || c->lingering)
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
	size_t space;
	ssize_t r;

	if (!c->ep.rd || !want_client_read(c))
		return false;
	space = flow_space(&c->cin);
	if (space == 0)
		return false;
	r = ep_read(&c->ep, c->cin.buf + c->cin.end, space);
	if (r > 0) {
		c->cin.end += (size_t)r;
		c->c_last = c->worker->now;
		if (c->rq == RQ_HEAD && c->head_start == 0)
			c->head_start = c->worker->now;
		return true;
	}
	if (r == -EAGAIN)
		return false;
	c->c_eof = true;
	c->c_err = r < 0;
	c->ep.rd = false;
	return true;
}

static bool upstream_read(struct conn *c)
{
	struct upconn *u = c->up;
	size_t space;
	ssize_t r;

	if (u == NULL || u->connecting || !u->ep.rd || c->u_eof)
		return false;
	if (c->rs != RS_WAIT && c->rs != RS_BODY && c->rs != RS_TUNNEL)
		return false;
	space = flow_space(&c->uin);
	if (space == 0)
		return false;
	r = ep_read(&u->ep, c->uin.buf + c->uin.end, space);
	if (r > 0) {
		c->uin.end += (size_t)r;
		c->u_last = c->worker->now;
		c->up_got_byte = true;
		return true;
	}
	if (r == -EAGAIN)
		return false;
	c->u_eof = true;
	c->u_err = r < 0;
	u->ep.rd = false;
	return true;
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
		upstream_fail(c, UPERR_CONNECT, detail);
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

	if (u == NULL || u->connecting || !u->ep.wr || c->up_write_dead)
		return false;
	pending = c->rq == RQ_DISCARD ? 0 : flow_pending(&c->cin);
	if (outq_empty(&c->uq) && pending == 0)
		return false;
	r = send_queued(&u->ep, &c->uq, &c->cin, pending);
	if (r > 0) {
		c->u_last = c->worker->now;
		return true;
	}
	if (r == -EAGAIN)
		return false;
	/* The upstream stopped reading (it may have answered early): keep reading it. */
	c->up_write_dead = true;
	outq_free(&c->uq);
	if (c->rq == RQ_BODY) {
		c->close_after = true;
		c->rq = RQ_DISCARD;
	}
	c->cin.start = c->cin.fwd;
	return true;
}

static bool client_write(struct conn *c)
{
	size_t pending = flow_pending(&c->uin);
	ssize_t r;

	if (!c->ep.wr || (outq_empty(&c->cq) && pending == 0))
		return false;
	r = send_queued(&c->ep, &c->cq, &c->uin, pending);
	if (r > 0) {
		c->c_last = c->worker->now;
		return true;
	}
	if (r == -EAGAIN)
		return false;
	conn_close(c); /* the client is gone */
	return true;
}

/* Drop leading CRLFs before a request line (RFC 9112 §2.2). */
static void skip_empty_lines(struct flow *f)
{
	while (flow_raw(f) >= 2 && f->buf[f->scan] == '\r' && f->buf[f->scan + 1] == '\n')
		f->scan += 2;
	f->start = f->fwd = f->scan;
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
			skip_empty_lines(&c->cin);
		if (flow_raw(&c->cin) == 0) {
			if (c->c_eof) {
				conn_close(c);
				return true;
			}
			return false;
		}
		st = http1_parse_request(c->cin.buf + c->cin.scan, flow_raw(&c->cin), &lim,
		                         w->headers, &c->head_scanned, &m);
		if (st == HTTP1_INCOMPLETE) {
			if (c->c_eof) {
				conn_close(c);
				return true;
			}
			return false;
		}
		if (st == HTTP1_OK) {
			handle_request(c, &m);
			return true;
		}
		c->close_after = true;
		c->rq = RQ_DONE;
		c->method = HTTP1_M_GET;
		c->minor = 1;
		switch (st) {
		case HTTP1_HEAD_TOO_LARGE:
		case HTTP1_TOO_MANY_HEADERS:
			error_response(c, 431, m.error, PROXY_TOO_LARGE);
			break;
		case HTTP1_BAD_VERSION: error_response(c, 505, m.error, PROXY_BAD_REQUEST); break;
		case HTTP1_NOT_IMPLEMENTED:
			error_response(c, 501, m.error, PROXY_BAD_REQUEST);
			break;
		default: error_response(c, 400, m.error, PROXY_BAD_REQUEST); break;
		}
		return true;
	}
	case RQ_BODY:
	case RQ_DISCARD: {
		int done;

		if (flow_raw(&c->cin) == 0) {
			if (c->c_eof) { /* the client gave up mid-body */
				conn_close(c);
				return true;
			}
			return false;
		}
		done = flow_frame(&c->cin, c->req_framing, &c->req_left, &c->req_ck,
		                  c->rq == RQ_DISCARD);
		if (done < 0) {
			if (c->rq == RQ_DISCARD || c->resp_started) {
				c->close_after = true;
				c->rq = RQ_DONE;
				return true;
			}
			up_release(c, false);
			c->close_after = true;
			c->rq = RQ_DONE;
			error_response(c, 400, "bad chunked framing", PROXY_BAD_REQUEST);
			return true;
		}
		if (done == 1)
			c->rq = RQ_DONE;
		return true;
	}
	case RQ_TUNNEL:
		if (flow_raw(&c->cin) == 0)
			return false;
		flow_frame(&c->cin, HTTP1_BODY_CLOSE, NULL, NULL, false);
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
		struct http1_limits lim = {.max_head_bytes = c->uin.cap,
		                           .max_headers = PROXY_RESP_HEADERS};
		struct http1_msg m;
		enum http1_status st;

		if (c->up == NULL)
			return false;
		if (flow_raw(&c->uin) == 0) {
			if (c->u_eof) {
				upstream_fail(c, UPERR_RESET,
				              c->u_err ? "reset before a response"
				                       : "closed before a response");
				return true;
			}
			return false;
		}
		st = http1_parse_response(c->uin.buf + c->uin.scan, flow_raw(&c->uin), c->method,
		                          &lim, w->headers, &c->resp_scanned, &m);
		if (st == HTTP1_INCOMPLETE) {
			if (c->u_eof) {
				upstream_fail(c, UPERR_RESPONSE, "closed inside the response head");
				return true;
			}
			return false;
		}
		if (st != HTTP1_OK) {
			upstream_fail(c, UPERR_RESPONSE, m.error);
			return true;
		}
		handle_response(c, &m);
		return true;
	}
	case RS_BODY: {
		int done = 0;
		bool framed = flow_raw(&c->uin) > 0;

		if (flow_raw(&c->uin) > 0)
			done = flow_frame(&c->uin, c->resp_framing, &c->resp_left, &c->resp_ck,
			                  false);
		if (done == 1) {
			response_complete(c);
			return true;
		}
		if (done < 0 || (c->u_eof && flow_raw(&c->uin) == 0)) {
			/* bad framing, the close that ends it, or a truncated body */
			c->close_after = true;
			c->up_keep = false;
			response_complete(c);
			return true;
		}
		return framed;
	}
	case RS_TUNNEL:
		if (flow_raw(&c->uin) > 0) {
			flow_frame(&c->uin, HTTP1_BODY_CLOSE, NULL, NULL, false);
			return true;
		}
		return false;
	default: return false;
	}
}

static void begin_close(struct conn *c)
{
	up_release(c, false);
	if (c->c_eof) {
		conn_close(c);
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
	char sink[4096];
	ssize_t r;

	if (!c->ep.rd)
		return false;
	r = ep_read(&c->ep, sink, sizeof(sink));
	if (r == -EAGAIN)
		return false;
	if (r <= 0 || (c->linger_bytes += (size_t)r) > PROXY_LINGER_BYTES)
		conn_close(c);
	return true;
}

static bool tunnel_step(struct conn *c)
{
	bool progress = false;

	if (c->c_err || c->u_err) {
		conn_close(c);
		return true;
	}
	if (c->c_eof && !c->u_shut && flow_pending(&c->cin) == 0 && c->up) {
		(void)shutdown(c->up->ep.fd, SHUT_WR);
		c->u_shut = true;
		progress = true;
	}
	if (c->u_eof && !c->c_shut && flow_pending(&c->uin) == 0 && outq_empty(&c->cq)) {
		(void)shutdown(c->ep.fd, SHUT_WR);
		c->c_shut = true;
		progress = true;
	}
	if (c->c_shut && c->u_shut) {
		conn_close(c);
		return true;
	}
	return progress;
}

/* The exchange is over when the answer is out and the request is read. */
static bool finish_step(struct conn *c)
{
	if (c->rs != RS_DONE && c->rs != RS_LOCAL)
		return false;
	if (!outq_empty(&c->cq) || flow_pending(&c->uin) > 0)
		return false;
	if (c->rq == RQ_DISCARD)
		return false;   /* still dropping the refused body */
	if (c->rq == RQ_BODY) { /* early answer: the rest of the body is not read */
		c->close_after = true;
		c->rq = RQ_DONE;
	}
	count_result(c);
	if (c->close_after) {
		begin_close(c);
		return true;
	}
	up_release(c, false); /* only set if the response ended oddly */
	c->cut_at = PROXY_NO_CUT;
	c->rq = RQ_HEAD;
	c->rs = RS_NONE;
	c->upgrade = false;
	c->resp_started = false;
	c->head_scanned = 0;
	c->head_start = 0;
	flow_reset(&c->uin);
	return true;
}

/* Does a byte of the current request still have to go to the app? */
static bool request_streaming(const struct conn *c)
{
	if (!outq_empty(&c->uq))
		return true;
	return c->rq == RQ_BODY || (c->rq != RQ_DISCARD && flow_pending(&c->cin) > 0);
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
	stat_add(&w->stats.cut_at_deadline, 1);
	if (c->rq == RQ_TUNNEL || c->resp_started) {
		conn_close(c);
		return;
	}
	up_release(c, false);
	outq_free(&c->uq);
	c->cin.start = c->cin.fwd;
	c->close_after = true; /* the rest of the body is not read */
	c->rq = RQ_DONE;
	ask_fence(c, &v);
	fenced_response(c, &v,
	                "the write was cut: its body was still arriving when this task stopped "
	                "being writable; send writes to the active region");
}

static void pump(struct conn *c)
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

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	struct worker *w = c->worker;

	if (c->dead)
		return;
	count_result(c);
	c->dead = true;
	up_release(c, false);
	close(c->ep.fd);
	w->accept_kick = true;
	c->ep.fd = -1;
	outq_free(&c->cq);
	outq_free(&c->uq);
	if (c->rq == RQ_TUNNEL)
		stat_add(&w->stats.tunnels_open, -1);
	stat_add(&w->stats.connections_open, -1);
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
	return c->rq == RQ_HEAD && c->rs == RS_NONE && flow_raw(&c->cin) == 0 && !c->lingering;
}

static void observe_verdict(struct worker *w, const struct fence_verdict *v, struct conn *except)
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
			stat_add(&w->stats.closed_on_fence, 1);
			conn_close(c);
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
	if (epoll_add(w, &w->listener, EPOLLIN) < 0) {
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
			stat_add(&w->stats.requests[PROXY_OVERLOADED], 1);
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
		set_nodelay(fd);
		c->ep.kind = EP_CLIENT;
		c->ep.fd = fd;
		c->ep.rd = true;
		c->ep.wr = true;
		c->worker = w;
		c->cin.buf = c->buffers;
		c->cin.cap = p->cin_cap;
		c->uin.buf = c->buffers + p->cin_cap;
		c->uin.cap = PROXY_BUF_SIZE;
		c->c_last = w->now;
		c->minor = 1;
		c->cut_at = PROXY_NO_CUT;
		format_ip(&ss, c->ip, sizeof(c->ip));
		if (epoll_add(w, &c->ep, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
			atomic_fetch_sub_explicit(&p->open_clients, 1, memory_order_relaxed);
			close(fd);
			free(c);
			continue;
		}
		stat_add(&w->stats.connections_open, 1);
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		pump(c);
	}
}

/* Is the exchange stalled on the app (not on a slow client)? */
static bool waiting_on_upstream(const struct conn *c)
{
	if (c->up == NULL)
		return false;
	if (c->rs == RS_WAIT) /* mid-upload with nothing to send: the client is slow */
		return c->rq != RQ_BODY || flow_pending(&c->cin) > 0 || !outq_empty(&c->uq);
	if (c->rs == RS_BODY) /* with output queued for the client, the client is slow */
		return flow_pending(&c->uin) == 0 && outq_empty(&c->cq);
	return false;
}

/* Is the exchange stalled on the client: its upload, or its reading? */
static bool waiting_on_client(const struct conn *c)
{
	if (!outq_empty(&c->cq) || flow_pending(&c->uin) > 0)
		return true;
	return (c->rq == RQ_BODY || c->rq == RQ_DISCARD) && flow_pending(&c->cin) == 0 &&
	       outq_empty(&c->uq);
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
			pump(c); /* cuts it first */
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
	observe_verdict(w, &v, NULL);

	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		extend_cut(c, &v);
		if (c->lingering) {
			if (now - c->linger_start > PROXY_LINGER_MS)
				conn_close(c);
			continue;
		}
		if (c->rq == RQ_HEAD && c->rs == RS_NONE) {
			if (flow_raw(&c->cin) == 0 && now - c->c_last > cfg->idle_timeout_ms) {
				conn_close(c);
			} else if (c->head_start != 0 &&
			           now - c->head_start > cfg->header_timeout_ms) {
				c->close_after = true;
				c->rq = RQ_DONE;
				error_response(c, 408, "the request head did not arrive in time",
				               PROXY_BAD_REQUEST);
				pump(c);
			}
			continue;
		}
		if (c->rq == RQ_TUNNEL) {
			int64_t last = c->c_last > c->u_last ? c->c_last : c->u_last;

			if (now - last > cfg->idle_timeout_ms)
				conn_close(c);
			continue;
		}
		if (waiting_on_upstream(c) && now - c->u_last > cfg->upstream_timeout_ms) {
			upstream_fail(c, UPERR_TIMEOUT, "no byte from the app in time");
			pump(c);
			continue;
		}
		if (waiting_on_client(c) && now - c->c_last > cfg->idle_timeout_ms)
			conn_close(c); /* the client stalled its upload or stopped reading */
	}
	while (w->pool_tail && now - w->pool_tail->idle_since > PROXY_POOL_IDLE_MS)
		up_close(w->pool_tail);
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
	bool hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

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
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			ep->rd = true;
		if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			ep->wr = true;
		if (hup)
			ep->hup = true;
		pump(c);
		return;
	}
	case EP_UPSTREAM: {
		struct upconn *u = CONTAINER_OF(ep, struct upconn, ep);

		if (u->dead)
			return;
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			ep->rd = true;
		if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			ep->wr = true;
		if (hup)
			ep->hup = true;
		if (u->pooled)
			pool_event(u);
		else if (u->owner)
			pump(u->owner);
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
					pump(c);
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
	    epoll_add(w, &w->listener, EPOLLIN) < 0 || epoll_add(w, &w->timer, EPOLLIN) < 0 ||
	    epoll_add(w, &w->wake, EPOLLIN) < 0)
		return wd_err_set(err, -errno, "proxy: epoll: %s", strerror(errno));
	return 0;
}

static void worker_cleanup(struct worker *w)
{
	while (w->conns)
		conn_close(w->conns);
	while (w->pool)
		up_close(w->pool);
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
