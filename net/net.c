/*
 * net.c - deadline-bounded name resolution and TCP I/O for the probe kinds and the HTTP client.
 *
 * Resolution: a literal address is parsed with AI_NUMERICHOST (no resolver,
 * no thread). A name goes to getaddrinfo_a(GAI_NOWAIT) with a SIGEV_THREAD
 * completion callback. The request lives on the heap with a reference count
 * of two (the caller and the callback) and its own mutex: the caller waits on
 * a condition variable (CLOCK_MONOTONIC) until the callback says "done" or
 * the deadline passes, then drops its reference; whoever drops the last one
 * frees the request and its result. So an abandoned lookup costs a glibc
 * resolver thread until the resolver gives up (resolv.conf timeout x
 * attempts), and is freed then; nothing ever touches freed memory.
 *
 * Names under the special-use TLD "invalid" (RFC 6761 6.4) are answered
 * "no such host" without asking the resolver, as the RFC asks of resolver
 * libraries.
 *
 * Connect: one non-blocking socket per address, in resolver order; each
 * attempt gets an equal share of the time left (so a black-holed first
 * address leaves time for the next), the last one all of it.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"

/* One getaddrinfo_a request, shared by the caller and the completion callback. */
struct resolve_request {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int refs;  /* 2 while both the caller and the callback may touch it */
	bool done; /* the callback ran: cb.ar_result / gai_error are final */
	struct gaicb cb;
	struct addrinfo hints;
	char host[WD_HOST_MAX + 1];
	char service[8];
};

static void resolve_request_free(struct resolve_request *req)
{
	if (req->cb.ar_result != NULL)
		freeaddrinfo(req->cb.ar_result);
	pthread_cond_destroy(&req->done_cond);
	pthread_mutex_destroy(&req->lock);
	free(req);
}

/* Drop one reference; free on the last. */
static void resolve_request_unref(struct resolve_request *req)
{
	int refs;

	pthread_mutex_lock(&req->lock);
	refs = --req->refs;
	pthread_mutex_unlock(&req->lock);
	if (refs == 0)
		resolve_request_free(req);
}

/* SIGEV_THREAD callback: runs on a glibc-created thread once the lookup ends. */
static void resolve_request_complete(union sigval value)
{
	struct resolve_request *req = value.sival_ptr;
	int refs;

	pthread_mutex_lock(&req->lock);
	req->done = true;
	pthread_cond_signal(&req->done_cond);
	refs = --req->refs;
	pthread_mutex_unlock(&req->lock);
	if (refs == 0)
		resolve_request_free(req);
}

static struct resolve_request *resolve_request_new(const char *host, int port)
{
	struct resolve_request *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	if (pthread_mutex_init(&req->lock, NULL) != 0) {
		free(req);
		return NULL;
	}
	if (clock_cond_init(&req->done_cond) != 0) {
		pthread_mutex_destroy(&req->lock);
		free(req);
		return NULL;
	}
	req->refs = 2;
	snprintf(req->host, sizeof(req->host), "%s", host);
	snprintf(req->service, sizeof(req->service), "%d", port);
	req->hints.ai_family = AF_UNSPEC;
	req->hints.ai_socktype = SOCK_STREAM;
	req->hints.ai_protocol = IPPROTO_TCP;
	req->hints.ai_flags = AI_NUMERICSERV;
	req->cb.ar_name = req->host;
	req->cb.ar_service = req->service;
	req->cb.ar_request = &req->hints;
	return req;
}

/* Copy at most NET_ADDRS_MAX results; returns the count. */
static int copy_addrs(const struct addrinfo *list, struct net_addr *addrs)
{
	int count = 0;

	for (const struct addrinfo *ai = list; ai != NULL && count < NET_ADDRS_MAX;
	     ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(addrs[count].sa))
			continue;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memset(&addrs[count], 0, sizeof(addrs[count]));
		memcpy(&addrs[count].sa, ai->ai_addr, ai->ai_addrlen);
		addrs[count].len = ai->ai_addrlen;
		count++;
	}
	return count;
}

/* A literal v4/v6 address: 1..NET_ADDRS_MAX when host is one, 0 when not. */
static int resolve_numeric(const char *host, const char *service, struct net_addr *addrs)
{
	struct addrinfo hints = {
	        .ai_family = AF_UNSPEC,
	        .ai_socktype = SOCK_STREAM,
	        .ai_protocol = IPPROTO_TCP,
	        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct addrinfo *list = NULL;
	int count;

	if (getaddrinfo(host, service, &hints, &list) != 0)
		return 0;
	count = copy_addrs(list, addrs);
	freeaddrinfo(list);
	return count;
}

/* True for "invalid", "x.invalid", "x.invalid." (RFC 6761 6.4). */
static bool is_invalid_tld(const char *host)
{
	size_t len = strlen(host);
	static const char tld[] = "invalid";
	size_t tld_len = sizeof(tld) - 1;

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len < tld_len)
		return false;
	if (strncasecmp(host + len - tld_len, tld, tld_len) != 0)
		return false;
	return len == tld_len || host[len - tld_len - 1] == '.';
}

int net_resolve(const char *host, int port, int64_t deadline_mono_ms, struct net_addr *addrs,
                struct net_status *status)
{
	struct resolve_request *req;
	struct sigevent sev;
	char service[8];
	int count;
	int rc;

	if (host == NULL || host[0] == '\0' || strlen(host) > WD_HOST_MAX) {
		net_fail(status, NET_DNS, "bad host name");
		return -1;
	}
	if (port < 1 || port > 65535) {
		net_fail(status, NET_INTERNAL, "bad port %d", port);
		return -1;
	}
	snprintf(service, sizeof(service), "%d", port);
	count = resolve_numeric(host, service, addrs);
	if (count > 0)
		return count;
	if (is_invalid_tld(host)) {
		net_fail(status, NET_DNS, "%s: no such host", host);
		return -1;
	}
	if (clock_ms_until(deadline_mono_ms) == 0) {
		net_fail(status, NET_TIMEOUT, "%s: no time left to resolve", host);
		return -1;
	}

	req = resolve_request_new(host, port);
	if (req == NULL) {
		net_fail(status, NET_INTERNAL, "out of memory");
		return -1;
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = resolve_request_complete;
	sev.sigev_value.sival_ptr = req;
	{
		struct gaicb *list[1] = {&req->cb};

		rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	}
	if (rc != 0) {
		/* Not queued: the callback will never run, so the request is ours. */
		net_fail(status, NET_DNS, "%s: %s", host, gai_strerror(rc));
		resolve_request_free(req);
		return -1;
	}

	pthread_mutex_lock(&req->lock);
	while (!req->done) {
		if (clock_cond_wait_until(&req->done_cond, &req->lock, deadline_mono_ms))
			break;
	}
	if (!req->done) {
		pthread_mutex_unlock(&req->lock);
		net_fail(status, NET_TIMEOUT, "%s: resolver did not answer in time", host);
		resolve_request_unref(req); /* the callback frees it when the lookup ends */
		return -1;
	}
	pthread_mutex_unlock(&req->lock);

	/* done: the callback has dropped its reference; only we hold req now. */
	rc = gai_error(&req->cb);
	if (rc != 0) {
		if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
			net_fail(status, NET_DNS, "%s: no such host", host);
		else
			net_fail(status, NET_DNS, "%s: %s", host, gai_strerror(rc));
		count = -1;
	} else {
		count = copy_addrs(req->cb.ar_result, addrs);
		if (count == 0) {
			net_fail(status, NET_DNS, "%s: no TCP address", host);
			count = -1;
		}
	}
	resolve_request_unref(req);
	return count;
}

/* Poll one fd, retrying on EINTR. Returns poll()'s result (0 at the deadline). */
static int poll_until(int fd, short events, int64_t deadline_mono_ms, short *revents)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, clock_ms_until(deadline_mono_ms));
		if (rc >= 0 || errno != EINTR)
			break;
	}
	*revents = pfd.revents;
	return rc;
}

static int socket_error(int fd)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		return errno;
	return soerr;
}

/*
 * One connect attempt before attempt_deadline. Returns the fd, or -1 with
 * *error set to the errno (ETIMEDOUT when attempt_deadline passed).
 */
static int connect_one(const struct net_addr *addr, int64_t attempt_deadline, int *error)
{
	int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	short revents = 0;
	int one = 1;
	int rc;

	if (fd < 0) {
		*error = errno;
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)&addr->sa, addr->len);
	if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
		*error = errno;
		goto fail;
	}
	if (rc != 0) {
		rc = poll_until(fd, POLLOUT, attempt_deadline, &revents);
		if (rc < 0) {
			*error = errno;
			goto fail;
		}
		if (rc == 0) {
			*error = ETIMEDOUT;
			goto fail;
		}
		*error = socket_error(fd);
		if (*error != 0)
			goto fail;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*error = 0;
	return fd;
fail:
	close(fd);
	return -1;
}

int net_connect(const struct net_addr *addrs, int count, int64_t deadline_mono_ms,
                struct net_status *status)
{
	char where[INET6_ADDRSTRLEN + 8];
	char refused_where[INET6_ADDRSTRLEN + 8] = "";
	int last_error = 0;
	int fd;

	if (count <= 0) {
		net_fail(status, NET_INTERNAL, "no address to connect to");
		return -1;
	}
	net_addr_str(&addrs[0], where, sizeof(where));
	for (int i = 0; i < count; i++) {
		int64_t now = clock_mono_ms();
		int64_t attempt_deadline;
		int error = 0;

		if (now >= deadline_mono_ms)
			break;
		/* An equal share of what is left; the last address gets all of it. */
		attempt_deadline = now + (deadline_mono_ms - now) / (count - i);
		if (i == count - 1)
			attempt_deadline = deadline_mono_ms;
		net_addr_str(&addrs[i], where, sizeof(where));
		fd = connect_one(&addrs[i], attempt_deadline, &error);
		if (fd >= 0)
			return fd;
		last_error = error;
		if (error == ECONNREFUSED && refused_where[0] == '\0')
			memcpy(refused_where, where, sizeof(where));
	}
	if (clock_mono_ms() >= deadline_mono_ms || last_error == 0) {
		net_fail(status, NET_TIMEOUT, "connect to %s timed out", where);
	} else if (refused_where[0] != '\0') {
		net_fail(status, NET_REFUSED, "connect to %s: connection refused", refused_where);
	} else if (last_error == ETIMEDOUT) {
		/* Every attempt used its share up: the deadline is (all but) here. */
		net_fail(status, NET_TIMEOUT, "connect to %s timed out", where);
	} else {
		net_fail(status, NET_NETWORK, "connect to %s: %s", where, strerror(last_error));
	}
	return -1;
}

int net_wait(int fd, short events, int64_t deadline_mono_ms, struct net_status *status)
{
	short revents = 0;
	int rc = poll_until(fd, events, deadline_mono_ms, &revents);
	int error;

	if (rc < 0) {
		net_fail(status, NET_NETWORK, "poll: %s", strerror(errno));
		return -1;
	}
	if (rc == 0) {
		net_fail(status, NET_TIMEOUT, "no %s before the deadline",
		         (events & POLLOUT) ? "progress" : "answer");
		return -1;
	}
	if (revents & events)
		return 0; /* includes POLLIN at end of stream: the read sees it */
	if (revents & POLLNVAL) {
		net_fail(status, NET_INTERNAL, "poll: bad file descriptor");
		return -1;
	}
	error = socket_error(fd);
	if (error != 0)
		net_fail(status, error == ECONNREFUSED ? NET_REFUSED : NET_NETWORK, "%s",
		         strerror(error));
	else
		net_fail(status, NET_NETWORK, "connection closed by peer");
	return -1;
}

int net_write_all(int fd, const void *data, size_t n, int64_t deadline_mono_ms,
                  struct net_status *status)
{
	const char *p = data;

	while (n > 0) {
		ssize_t sent;

		if (clock_mono_ms() >= deadline_mono_ms) {
			net_fail(status, NET_TIMEOUT, "write did not finish before the deadline");
			return -1;
		}
		sent = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent > 0) {
			p += sent;
			n -= (size_t)sent;
			continue;
		}
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (net_wait(fd, POLLOUT, deadline_mono_ms, status) != 0)
				return -1;
			continue;
		}
		net_fail(status, NET_NETWORK, "write: %s",
		         sent < 0 ? strerror(errno) : "nothing written");
		return -1;
	}
	return 0;
}

ssize_t net_read_some(int fd, void *buf, size_t size, int64_t deadline_mono_ms,
                      struct net_status *status)
{
	if (size == 0) {
		net_fail(status, NET_INTERNAL, "read into an empty buffer");
		return -1;
	}
	for (;;) {
		ssize_t got;

		if (clock_mono_ms() >= deadline_mono_ms) {
			net_fail(status, NET_TIMEOUT, "no answer before the deadline");
			return -1;
		}
		got = recv(fd, buf, size, MSG_DONTWAIT);
		if (got > 0)
			return got;
		if (got == 0) {
			net_fail(status, NET_NETWORK, "connection closed by peer");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (net_wait(fd, POLLIN, deadline_mono_ms, status) != 0)
				return -1;
			continue;
		}
		net_fail(status, NET_NETWORK, "read: %s", strerror(errno));
		return -1;
	}
}

void net_addr_str(const struct net_addr *addr, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN] = "?";

	if (size == 0)
		return;
	if (addr->sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&addr->sa;

		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		snprintf(buf, size, "%s:%u", text, (unsigned)ntohs(in->sin_port));
	} else if (addr->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr->sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		snprintf(buf, size, "[%s]:%u", text, (unsigned)ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
}
