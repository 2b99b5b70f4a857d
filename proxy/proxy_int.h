/*
 * proxy_int.h - what the proxy's modules share, private to proxy/: the caps,
 * the per-connection, per-upstream-connection and per-thread state, and the
 * calls between the modules. Nothing outside proxy/ includes it.
 *
 *   proxy.c     the public API (proxy.h): config, set-up, stats, tear-down
 *   worker.c    one thread: the epoll loop, timers, accept, timeouts, demotion
 *   pump.c      moving the bytes: bodies, tunnels, linger, the cut at writable_until
 *   exchange.c  a request and its response: the fence, the upstream, our answers
 *   head.c      the bytes we write ourselves (pure: heads, answers; head.h)
 *   side.c      the client and the upstream side: non-blocking reads, writes, queues
 *   flow.c      one direction's buffer and body framing
 *   pool.c      upstream connections: connect, the per-thread LIFO pool, expiry
 */
#ifndef WARDEN_PROXY_PROXY_INT_H
#define WARDEN_PROXY_PROXY_INT_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/http1.h"
#include "proxy/head.h"
#include "proxy/proxy.h"

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

/*
 * One side of a proxied connection: the client, or the upstream. Bytes read
 * from a side land in its flow (`in`) and are sent to the other side; bytes
 * of our own for a side (heads, answers) go to its queue (`out`), sent
 * before the other side's flow.
 */
struct side {
	struct endpoint
	        *ep;     /* the client's socket; the upstream's while one is attached, else NULL */
	struct flow in;  /* read from this side */
	struct outq out; /* to this side, before the other side's bytes */
	bool eof;        /* read to the end (err: by an error) */
	bool err;
	bool shut;       /* tunnels: our write side to it is shut down */
	bool write_dead; /* writes to it fail (the upstream stopped reading): read on */
	int64_t last;    /* the last byte moved to or from it, mono ms */
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
	struct side client;   /* client.ep is &ep */
	struct side upstream; /* upstream.ep is &up->ep while up is attached */
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

	bool close_after;
	bool lingering;
	size_t linger_bytes;
	int64_t linger_start;

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

static inline size_t flow_pending(const struct flow *f)
{
	return f->fwd - f->start;
}

static inline size_t flow_raw(const struct flow *f)
{
	return f->end - f->scan;
}

static inline void flow_reset(struct flow *f)
{
	f->start = f->fwd = f->scan = f->end = 0;
}

static inline bool side_out_empty(const struct side *s)
{
	return s->out.off == s->out.len;
}

static inline void proxy_stat_add(_Atomic uint64_t *counter, int64_t delta)
{
	atomic_fetch_add_explicit(counter, (uint64_t)delta, memory_order_relaxed);
}

static inline void proxy_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- flow.c ---- */

/* Room to read into at the end of f (compacting it when it runs short). */
size_t flow_space(struct flow *f);
/*
 * Frame the raw bytes of a body: move what belongs to the message to the
 * pending part (or drop it, if discard). Returns 1 when the body ended,
 * 0 if more is needed, -1 on bad chunked framing. left and ck are the
 * framing's state (NULL for HTTP1_BODY_CLOSE).
 */
int flow_frame(struct flow *f, enum http1_framing framing, uint64_t *left, struct http1_chunked *ck,
               bool discard);
/* Drop leading CRLFs before a request line (RFC 9112 §2.2). */
void flow_skip_empty_lines(struct flow *f);

/* ---- side.c ---- */

/*
 * Read into s->in. Returns the bytes read (s->last = now), 0 at the end
 * (s->eof, s->err on an error), or -EAGAIN when nothing is there or the
 * flow is full.
 */
ssize_t side_read(struct side *s, int64_t now);
/*
 * Send to->out, then the first `pending` bytes of from (the other side's
 * flow), in one sendmsg; drop what went (to->last = now when anything did).
 * Returns the bytes taken, -EAGAIN, or -errno.
 */
ssize_t side_write(struct side *to, struct flow *from, size_t pending, int64_t now);
/*
 * Send data (our own bytes) to a side ahead of the other side's pending
 * bytes: at once when can_write and nothing is queued, else (or the rest)
 * into to->out. A write error leaves the bytes queued: the next write meets
 * the (sticky) error. False only when the queue cannot grow (no memory).
 */
bool side_send(struct side *to, struct flow *from, bool can_write, const char *data, size_t n);
/* Read up to 4 KiB from s and drop it: bytes, 0 at the end, -EAGAIN, or -errno. */
ssize_t side_discard(struct side *s);
/* Free what is queued to s. */
void side_out_drop(struct side *s);
/*
 * Tunnels: `from` reached its end and all it sent went out: shut down the
 * write side to `to`. True when it did.
 */
bool side_shut_after(struct side *from, struct side *to);
/* Record an epoll event's readiness on ep (edge-triggered: kept until EAGAIN). */
void side_ready(struct endpoint *ep, uint32_t events);

/* ---- exchange.c ---- */

/*
 * A request head m was parsed from c->client.in: ask the fence, then answer
 * it ourselves (503, 431, 400) or rewrite its head and start sending it
 * upstream, with the body bytes already read.
 */
void exchange_request(struct conn *c, const struct http1_msg *m);
/* The upstream's response head m was parsed: 1xx, 101 (a tunnel), or the final answer. */
void exchange_response(struct conn *c, const struct http1_msg *m);
/*
 * The upstream failed (kind, detail for the log, at most once a second per
 * kind): a bodyless read on a reused connection is retried once, else the
 * client gets 502/504 if nothing was answered yet, or the connection closes.
 */
void exchange_fail(struct conn *c, enum up_error kind, const char *detail);
/* The upstream's response ended: release the upstream connection (pooled when it may be). */
void exchange_complete(struct conn *c);
/* Answer with a problem+json error (status, detail), counted as result. */
void exchange_error(struct conn *c, int status, const char *detail, enum proxy_result result);
/* Answer 503 + Retry-After, the body naming the verdict v and detail. */
void exchange_fenced(struct conn *c, const struct fence_verdict *v, const char *detail);
/* Detach the upstream connection: back to the pool when keep (and it may be), else closed. */
void exchange_release(struct conn *c, bool keep);
/* Count the current request's result once (the stats' requests{result}). */
void exchange_count(struct conn *c);
/* Ask the fence now (a demotion is seen at once); v stamps c's current request. */
void exchange_ask_fence(struct conn *c, struct fence_verdict *v);

/* ---- pump.c ---- */

/* Move c's bytes until nothing moves (or yield after PROXY_PUMP_ROUNDS); may close c. */
void pump_run(struct conn *c);

/* ---- worker.c ---- */

/*
 * Set up w for p around its listener (owned by w from here on): epoll,
 * timerfd, eventfd, scratch and header arrays. 0, or -errno with err set;
 * worker_cleanup frees what was set up either way.
 */
int worker_init(struct worker *w, struct proxy *p, int listen_fd, struct wd_err *err);
/* The thread: runs w's loop until its wake eventfd is written. arg is w. */
void *worker_main(void *arg);
/* Close every connection and descriptor of a stopped (or never started) worker, free its buffers.
 */
void worker_cleanup(struct worker *w);

/* Register ep in w's epoll set; 0 or -errno. */
int worker_epoll_add(struct worker *w, struct endpoint *ep, uint32_t events);
/* Close a client connection and its upstream; freed at the end of the turn. Idempotent. */
void worker_close_conn(struct conn *c);
/*
 * A verdict was seen (by a request, or the tick): on a demotion, close idle
 * keep-alive connections and tunnels (but not except) and mark the rest to
 * close after their answer.
 */
void worker_observe(struct worker *w, const struct fence_verdict *v, struct conn *except);

/* ---- pool.c ---- */

/*
 * Open a non-blocking connection to the upstream and register it with w's
 * epoll; *out is owned by w (pool_close frees it at the end of the turn).
 * 0, or -errno.
 */
int pool_connect(struct worker *w, struct upconn **out);
/* The most recently idle pooled connection, or NULL; it is no longer pooled. */
struct upconn *pool_get(struct worker *w);
/* Keep an idle connection for reuse (closed if the pool is full or it hung up). */
void pool_put(struct worker *w, struct upconn *u);
/* Close u (pooled or not); freed with the worker's dead list. Idempotent. */
void pool_close(struct upconn *u);
/* A pooled connection woke up: the upstream closed it, or sent junk; close it. */
void pool_event(struct upconn *u);
/* Close pooled connections idle longer than PROXY_POOL_IDLE_MS at w->now. */
void pool_expire(struct worker *w);

#endif
