/*
 * http_server.c - the health listener, on libmicrohttpd: start and stop;
 * the guard thread is http_guard.c, the routes http_routes.c.
 *
 * One daemon: epoll, an internal polling thread (a pool of cfg->http_threads
 * when more than one), turbo mode. Handlers read the state (atomics for
 * /livez, a copy of the snapshots under the state's short lock for the rest),
 * render into a bounded wd_buf and hand the bytes to MHD. They never touch a
 * dependency and never wait on anything else.
 *
 * Keep-alive: MHD closes the connection when a response is queued on the
 * first call of the access handler for a request (before it knows whether a
 * body follows). So the first call only marks the request; the response is
 * queued on the second call, after any body has been discarded.
 *
 * Bodies are not expected. A body is read and thrown away in the connection's
 * own buffer (no allocation) up to HTTP_BODY_DISCARD_MAX bytes; a larger
 * declared body gets 413 (and the connection closes), and a chunked one that
 * grows past the cap closes the connection without a reply.
 *
 * Accept: warden owns the listening socket and one guard thread accepts and
 * hands each connection to MHD (MHD_add_connection). MHD's own accept loop
 * busy-waits when accept() fails with EMFILE while it holds no connection;
 * the guard instead stops accepting until a connection closes (or
 * HTTP_ACCEPT_PAUSE_MS passes: a descriptor may free elsewhere), and stops
 * accepting at WARDEN_HTTP_MAX_CONNECTIONS the same way.
 *
 * Header deadline (slowloris): MHD's connection timeout is an idle timeout
 * that every byte resets. The guard thread also keeps, per connection, the
 * monotonic deadline by which its request head must be whole: accept +
 * WARDEN_HTTP_HEADER_TIMEOUT for the first request, and for each later
 * request on a keep-alive connection the end of the previous response +
 * WARDEN_HTTP_IDLE_TIMEOUT + WARDEN_HTTP_HEADER_TIMEOUT (the idle wait that
 * keep-alive allows, then the head). A connection past its deadline is
 * shut down (shutdown(2), never close: MHD sees the end of the stream and
 * closes and frees it itself). The connection list is guarded by one mutex,
 * and MHD calls NOTIFY_CLOSED before it closes a socket, so the guard never
 * shuts down a descriptor number that was reused.
 *
 * Target: the raw request target may hold no control byte (0x00-0x1f,
 * 0x7f), raw or percent-encoded: 400. MHD hands callbacks C strings, so a
 * raw NUL would cut the target short ("/livez\0x" read as "/livez"); it is
 * caught by checking that the HTTP version starts right after the end of
 * the target as the URI log callback saw it.
 *
 * Decisions (DESIGN.md, HTTP endpoints):
 * - Listening on "::" is dual-stack; any other IPv6 address is IPv6 only.
 * - /readyz/<unknown> is 404 whatever the method; a known path with another
 *   method than GET or HEAD is 405 with `Allow: GET, HEAD`.
 * - `?verbose` is present when the query holds the key `verbose`, with or
 *   without a value.
 */
#include "agent/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "agent/http_server_internal.h"
#include "agent/render.h"

/* MHD's error log, turned into our JSON lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *server = cls;
	char text[WD_ERR_MSG_MAX];
	size_t len;
	uint64_t suppressed = 0;
	struct log_line line;

	vsnprintf(text, sizeof(text), fmt, ap);
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (atomic_load(&server->starting)) {
		snprintf(server->start_error, sizeof(server->start_error), "%s", text);
		return;
	}
	/* A flood of connections must not become a flood of log lines. */
	if (!http_guard_log_allow(&server->mhd_log, &suppressed))
		return;
	log_begin(&line, LOG_WARN, "http.error");
	log_int(&line, "suppressed", (int64_t)suppressed);
	log_end(&line, "health listener: %s", text);
}

/* cfg->listen_host:listen_port as a socket address. Blocks on DNS for a host name. */
static int resolve_listen(const struct wd_config *cfg, struct sockaddr_storage *addr,
                          struct wd_err *err)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	rc = getaddrinfo(cfg->listen_host[0] != '\0' ? cfg->listen_host : NULL, port, &hints, &res);
	if (rc != 0 || res == NULL)
		return wd_err_set(err, -EINVAL, "cannot listen on %s: %s", cfg->listen,
		                  rc != 0 ? gai_strerror(rc) : "no address");
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static bool is_any_v6(const struct sockaddr_storage *addr)
{
	struct sockaddr_in6 in6;

	if (addr->ss_family != AF_INET6)
		return false;
	memcpy(&in6, addr, sizeof(in6));
	return IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
}

/*
 * Bind and listen on addr: non-blocking, close-on-exec, SO_REUSEADDR; "::"
 * is dual-stack, any other IPv6 address IPv6 only. Returns 0 or -errno.
 */
static int open_listener(const struct sockaddr_storage *addr, int *out)
{
	socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                            : sizeof(struct sockaddr_in);
	int one = 1;
	int fd;
	int rc = 0;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (addr->ss_family == AF_INET6) {
		int v6only = is_any_v6(addr) ? 0 : 1;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
			goto fail;
	}
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0)
		goto fail;
	*out = fd;
	return 0;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

/* The stop signals, blocked around creating threads (they inherit the mask). */
static void block_stop_signals(sigset_t *saved)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, saved);
}

/*
 * Start the daemon (no listening socket of its own: the guard thread hands it
 * connections) with the signals that stop warden blocked, so that MHD's
 * threads never take them and main sees them at once.
 */
static struct MHD_Daemon *start_daemon(struct http_server *server)
{
	const struct wd_config *cfg = server->cfg;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TURBO |
	                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	struct MHD_OptionItem opts[12];
	struct MHD_Daemon *daemon;
	sigset_t saved;
	size_t n = 0;

	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
	                                    (intptr_t)cfg->http_max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	                                    (intptr_t)cfg->http_max_connections_per_ip, NULL};
	opts[n++] =
	        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
	                                (intptr_t)((cfg->http_idle_timeout_ms + 999) / 1000), NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                                    (intptr_t)HTTP_CONNECTION_MEMORY, NULL};
	if (cfg->http_threads > 1)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
		                                    (intptr_t)cfg->http_threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	block_stop_signals(&saved);
	daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_routes_on_request, server,
	                          MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, server,
	                          MHD_OPTION_NOTIFY_CONNECTION, http_guard_on_connection, server,
	                          MHD_OPTION_NOTIFY_COMPLETED, http_guard_on_completed, server,
	                          MHD_OPTION_URI_LOG_CALLBACK, http_guard_on_uri, server,
	                          MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return daemon;
}

/* Start the guard thread (stop signals blocked). 0 or -errno. */
static int start_guard(struct http_server *server)
{
	sigset_t saved;
	int rc;

	block_stop_signals(&saved);
	rc = pthread_create(&server->guard, NULL, http_guard_main, server);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (rc != 0)
		return -rc;
	server->guard_started = true;
	return 0;
}

/* Stop the guard, then the daemon; close the sockets. Each part only if started. */
static void stop_all(struct http_server *server)
{
	if (server->guard_started) {
		atomic_store(&server->stopping, true);
		http_guard_wake(server);
		pthread_join(server->guard, NULL);
		server->guard_started = false;
	}
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon); /* closes each connection: NOTIFY_CLOSED */
	server->daemon = NULL;
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	if (server->wake_fd >= 0)
		close(server->wake_fd);
	server->listen_fd = -1;
	server->wake_fd = -1;
	if (server->conns_lock_ready)
		pthread_mutex_destroy(&server->conns_lock);
	server->conns_lock_ready = false;
}

struct http_server *http_server_new(const struct wd_config *cfg, struct wd_state *state,
                                    struct fencing *fencing, struct proxy *proxy,
                                    struct wd_err *err)
{
	struct http_server *server;
	struct sockaddr_storage addr;
	int rc;

	if (cfg->probe_count > WD_PROBES_MAX || wd_state_probe_count(state) != cfg->probe_count) {
		wd_err_set(err, -EINVAL, "health listener: state and config disagree on probes");
		return NULL;
	}
	if (resolve_listen(cfg, &addr, err) < 0)
		return NULL;
	server = calloc(1, sizeof(*server));
	if (server == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	server->cfg = cfg;
	server->state = state;
	server->fencing = fencing;
	server->proxy = proxy;
	server->listen_fd = -1;
	server->wake_fd = -1;
	SHA256((const unsigned char *)cfg->admin_token, strlen(cfg->admin_token),
	       server->admin_token_hash);
	atomic_init(&server->starting, true);
	atomic_init(&server->stopping, false);
	atomic_init(&server->paused, false);
	atomic_init(&server->live, 0);
	http_guard_log_init(&server->mhd_log);
	http_guard_log_init(&server->refused_log);
	http_guard_log_init(&server->accept_log);
	http_guard_log_init(&server->timeout_log);
	if (http_routes_build(server) < 0 || pthread_mutex_init(&server->conns_lock, NULL) != 0) {
		wd_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	server->conns_lock_ready = true;
	rc = open_listener(&addr, &server->listen_fd);
	if (rc < 0) {
		wd_err_set(err, rc, "cannot listen on %s: %s", cfg->listen, strerror(-rc));
		goto fail;
	}
	server->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (server->wake_fd < 0) {
		wd_err_set(err, -errno, "health listener: eventfd: %s", strerror(errno));
		goto fail;
	}
	errno = 0;
	server->daemon = start_daemon(server);
	if (server->daemon == NULL) {
		int code = errno != 0 ? -errno : -EINVAL;

		wd_err_set(err, code, "health listener: %s",
		           server->start_error[0] != '\0' ? server->start_error : strerror(-code));
		goto fail;
	}
	atomic_store(&server->starting, false);
	rc = start_guard(server);
	if (rc < 0) {
		wd_err_set(err, rc, "health listener: cannot start a thread: %s", strerror(-rc));
		goto fail;
	}
	return server;
fail:
	stop_all(server);
	http_routes_free(server);
	free(server);
	return NULL;
}

void http_server_free(struct http_server *server)
{
	if (server == NULL)
		return;
	stop_all(server);
	http_routes_free(server);
	free(server);
}
