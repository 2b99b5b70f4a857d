/*
 * http_guard.c - the health listener's guard thread: it accepts and hands
 * each connection to MHD, pauses accepting after EMFILE and at the
 * connection cap, and enforces the per-connection header deadline
 * (slowloris); also the target check of the URI callback and the
 * rate-limited log lines. See http_server.c for the whole design.
 */
#include "agent/http_server_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"

void http_guard_log_init(struct log_limiter *limiter)
{
	atomic_init(&limiter->last_mono_ms, INT64_MIN / 2);
	atomic_init(&limiter->suppressed, 0);
}

/*
 * `events` more things happened: true when a line may say so now;
 * *suppressed is then the count of the events not logged since the last
 * line. Otherwise they are counted. Lock-free; any thread.
 */
bool http_guard_log_allow_n(struct log_limiter *limiter, uint64_t events, uint64_t *suppressed)
{
	int64_t now = clock_mono_ms();
	int64_t last = atomic_load(&limiter->last_mono_ms);

	if (now - last < HTTP_LOG_INTERVAL_MS ||
	    !atomic_compare_exchange_strong(&limiter->last_mono_ms, &last, now)) {
		atomic_fetch_add(&limiter->suppressed, events);
		return false;
	}
	*suppressed = atomic_exchange(&limiter->suppressed, 0);
	return true;
}

/* One event: http_guard_log_allow_n(limiter, 1, suppressed). */
bool http_guard_log_allow(struct log_limiter *limiter, uint64_t *suppressed)
{
	return http_guard_log_allow_n(limiter, 1, suppressed);
}

/* This connection's tracking record, or NULL. */
static struct http_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

/* A control byte (0x00-0x1f, 0x7f), raw or percent-encoded, in target. */
static bool target_has_control(const char *target)
{
	return text_percent_decode(target, strlen(target), NULL, 0,
	                           TEXT_PCT_LENIENT | TEXT_PCT_NO_CONTROL) < 0;
}

/*
 * MHD's URI log callback: the raw target (query included), before any
 * decoding, once per request. Notes on the connection whether it is bad and
 * where MHD's C string of it ends. Returns NULL: the request's *req_cls.
 */
void *http_guard_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_conn *c = conn_of(conn);

	(void)cls;
	if (c == NULL)
		return NULL;
	c->target_bad = uri == NULL || target_has_control(uri);
	c->target_end = uri != NULL ? uri + strlen(uri) : NULL;
	return NULL;
}

/*
 * The request head is whole: disarm the header deadline, and refuse a target
 * with a control byte. A raw NUL cut MHD's C string short: the HTTP version,
 * which MHD parses right after the target's end in its buffer, then does not
 * start one byte after where the URI callback saw the target end.
 */
bool http_guard_head_complete(struct MHD_Connection *conn, const char *version)
{
	struct http_conn *c = conn_of(conn);

	if (c == NULL)
		return true;
	atomic_store(&c->head_deadline_ms, 0);
	return !c->target_bad && c->target_end != NULL && version == c->target_end + 1;
}

/* A request is over; on a connection kept alive, arm the next head's deadline. */
void http_guard_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                             enum MHD_RequestTerminationCode toe)
{
	struct http_server *server = cls;
	struct http_conn *c;

	(void)req_cls;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	c = conn_of(conn);
	if (c != NULL)
		atomic_store(&c->head_deadline_ms, clock_mono_ms() +
		                                           server->cfg->http_idle_timeout_ms +
		                                           server->cfg->http_header_timeout_ms);
}

/* Wake the guard thread (a connection closed, or stop). */
void http_guard_wake(struct http_server *server)
{
	uint64_t one = 1;

	if (write(server->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the guard wakes anyway. */
	}
}

/*
 * MHD's connection notifier (the connection's own thread): track it from
 * STARTED, with its first header deadline, until CLOSED, which MHD calls
 * before it closes the socket.
 */
void http_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
	struct http_server *server = cls;
	struct http_conn *c;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		*socket_context = NULL;
		if (info == NULL)
			return;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			/* Untracked means no deadline: refuse it instead. */
			shutdown(info->connect_fd, SHUT_RDWR);
			return;
		}
		c->fd = info->connect_fd;
		atomic_init(&c->head_deadline_ms,
		            clock_mono_ms() + server->cfg->http_header_timeout_ms);
		pthread_mutex_lock(&server->conns_lock);
		c->next = server->conns;
		if (server->conns != NULL)
			server->conns->prev = c;
		server->conns = c;
		pthread_mutex_unlock(&server->conns_lock);
		atomic_fetch_add(&server->live, 1);
		*socket_context = c;
		return;
	}
	c = *socket_context;
	*socket_context = NULL;
	if (c == NULL)
		return;
	pthread_mutex_lock(&server->conns_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		server->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&server->conns_lock);
	free(c);
	atomic_fetch_sub(&server->live, 1);
	if (atomic_exchange(&server->paused, false))
		http_guard_wake(server);
}

/*
 * Shut down every connection past its header deadline; returns the next
 * deadline (or now + the header timeout when none is nearer).
 */
static int64_t enforce_deadlines(struct http_server *server, int64_t now)
{
	int64_t next = now + server->cfg->http_header_timeout_ms;
	uint64_t closed = 0;
	uint64_t suppressed = 0;
	struct log_line line;

	pthread_mutex_lock(&server->conns_lock);
	for (struct http_conn *c = server->conns; c != NULL; c = c->next) {
		int64_t deadline = atomic_load(&c->head_deadline_ms);

		if (deadline == 0)
			continue;
		if (deadline <= now) {
			/* MHD reads the end of the stream, closes and frees. */
			shutdown(c->fd, SHUT_RDWR);
			atomic_store(&c->head_deadline_ms, 0);
			closed++;
		} else if (deadline < next) {
			next = deadline;
		}
	}
	pthread_mutex_unlock(&server->conns_lock);
	if (closed > 0 && http_guard_log_allow_n(&server->timeout_log, closed, &suppressed)) {
		log_begin(&line, LOG_WARN, "http.header_timeout");
		log_int(&line, "closed", (int64_t)closed);
		log_int(&line, "suppressed", (int64_t)suppressed);
		log_end(&line, "closed %llu connection(s) without a whole request head in %lld ms",
		        (unsigned long long)closed, (long long)server->cfg->http_header_timeout_ms);
	}
	return next;
}

/* accept() failed: say so (one line a second); true when the guard should pause. */
static bool accept_failed(struct http_server *server, int error)
{
	uint64_t suppressed = 0;
	struct log_line line;

	switch (error) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM: return false;
	default: break;
	}
	if (http_guard_log_allow(&server->accept_log, &suppressed)) {
		log_begin(&line, LOG_WARN, "http.accept");
		log_str(&line, "error", strerror(error));
		log_int(&line, "live", (int64_t)atomic_load(&server->live));
		log_int(&line, "suppressed", (int64_t)suppressed);
		log_end(&line, "health listener: accept: %s; waiting for a connection to close",
		        strerror(error));
	}
	return true;
}

/* Accept what is queued (up to a batch) and hand it to MHD. */
static void accept_batch(struct http_server *server)
{
	for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd;

		if (atomic_load(&server->live) >= server->cfg->http_max_connections) {
			/* Full: leave the rest in the backlog until one closes. */
			atomic_store(&server->paused, true);
			return;
		}
		fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &len,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int error = errno;

			if (error == EAGAIN || error == EWOULDBLOCK)
				return;
			if (accept_failed(server, error)) {
				atomic_store(&server->paused, true);
				return;
			}
			continue;
		}
		/* MHD closes fd on failure (over the per-address cap) and says why. */
		(void)MHD_add_connection(server->daemon, fd, (const struct sockaddr *)&addr, len);
	}
}

/*
 * The guard thread: accept, pausing after EMFILE-like failures and at the
 * connection cap until a connection closes (or HTTP_ACCEPT_PAUSE_MS), and
 * enforce the header deadlines.
 */
void *http_guard_main(void *arg)
{
	struct http_server *server = arg;
	int64_t next_scan = clock_mono_ms() + server->cfg->http_header_timeout_ms;

	while (!atomic_load(&server->stopping)) {
		bool paused = atomic_load(&server->paused);
		struct pollfd fds[2] = {{.fd = server->wake_fd, .events = POLLIN},
		                        {.fd = server->listen_fd, .events = POLLIN}};
		int64_t now = clock_mono_ms();
		int64_t wake = next_scan;
		uint64_t count;
		int n;

		if (paused && now + HTTP_ACCEPT_PAUSE_MS < wake)
			wake = now + HTTP_ACCEPT_PAUSE_MS;
		n = poll(fds, paused ? 1 : 2, clock_ms_until(wake));
		if (n < 0 && errno != EINTR)
			break;
		now = clock_mono_ms();
		if (n > 0 && (fds[0].revents & POLLIN) != 0 &&
		    read(server->wake_fd, &count, sizeof(count)) < 0) {
			/* EAGAIN: another read took it. */
		}
		if (paused && (n == 0 || (fds[0].revents & POLLIN) != 0))
			atomic_store(&server->paused, false); /* a close, or the pause ran out */
		if (now >= next_scan)
			next_scan = enforce_deadlines(server, now);
		if (!atomic_load(&server->paused) && (paused || (fds[1].revents & POLLIN) != 0))
			accept_batch(server);
	}
	return NULL;
}
