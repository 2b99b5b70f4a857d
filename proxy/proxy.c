/*
 * proxy.c - the write-fencing HTTP/1.1 reverse proxy: its public API (proxy.h),
 * set-up and tear-down. The modules and what each holds: proxy_int.h.
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
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "net/http1.h"
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
