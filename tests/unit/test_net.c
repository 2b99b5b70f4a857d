/*
 * test_net.c - net/net.c against real loopback sockets.
 *
 * No test asserts on absolute times: a deadline test asserts that the call
 * returned, with the right outcome (an alarm() guards against a hang).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "net/net.h"

/*
 * Link seams: every resolve request inits one condition variable
 * (clock_cond_init) and destroys it when it is freed, so "made == gone"
 * says every lookup, abandoned ones included, has been freed.
 */
/* WRAP: clock_cond_init pthread_cond_destroy */
static atomic_int conds_made, conds_gone;

int __real_clock_cond_init(pthread_cond_t *cond);
int __wrap_clock_cond_init(pthread_cond_t *cond);
int __real_pthread_cond_destroy(pthread_cond_t *cond);
int __wrap_pthread_cond_destroy(pthread_cond_t *cond);

int __wrap_clock_cond_init(pthread_cond_t *cond)
{
	int rc = __real_clock_cond_init(cond);

	if (rc == 0)
		atomic_fetch_add(&conds_made, 1);
	return rc;
}

int __wrap_pthread_cond_destroy(pthread_cond_t *cond)
{
	atomic_fetch_add(&conds_gone, 1);
	return __real_pthread_cond_destroy(cond);
}

#define WATCHDOG_SECONDS 20

/* A listening socket on family's loopback, port chosen by the kernel. */
static int listen_loopback(int family, int backlog, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
	                          : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Resolve + connect to 127.0.0.1:port; returns the fd (asserted). */
static int connect_v4(int port, int64_t timeout_ms)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int count = net_resolve("127.0.0.1", port, deadline, addrs, &obs);
	int fd;

	assert_int_equal(count, 1);
	fd = net_connect(addrs, count, deadline, &obs);
	assert_true(fd >= 0);
	assert_int_equal(obs.outcome, NET_OK);
	return fd;
}

static int setup(void **state)
{
	(void)state;
	alarm(WATCHDOG_SECONDS);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static void test_connect_ok(void **state)
{
	int port;
	int lfd = listen_loopback(AF_INET, 16, &port);
	int fd = connect_v4(port, 2000);
	int fl = fcntl(fd, F_GETFL);
	int fdfl = fcntl(fd, F_GETFD);

	(void)state;
	assert_true(fl & O_NONBLOCK);
	assert_true(fdfl & FD_CLOEXEC);
	close(fd);
	close(lfd);
}

static void test_connect_refused(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	int port;
	/* Bound but not listening: the port stays ours and refuses SYNs. */
	int bfd = listen_loopback(AF_INET, -1, &port);
	int count;

	(void)state;
	count = net_resolve("127.0.0.1", port, clock_mono_ms() + 2000, addrs, &obs);
	assert_int_equal(count, 1);
	assert_int_equal(net_connect(addrs, count, clock_mono_ms() + 2000, &obs), -1);
	assert_int_equal(obs.outcome, NET_REFUSED);
	assert_non_null(strstr(obs.detail, "127.0.0.1"));
	close(bfd);
}

static void test_connect_tries_next_address(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	int closed_port;
	int open_port;
	int bfd = listen_loopback(AF_INET, -1, &closed_port);
	int lfd = listen_loopback(AF_INET, 16, &open_port);
	int fd;

	(void)state;
	assert_int_equal(
	        net_resolve("127.0.0.1", closed_port, clock_mono_ms() + 1000, &addrs[0], &obs), 1);
	assert_int_equal(
	        net_resolve("127.0.0.1", open_port, clock_mono_ms() + 1000, &addrs[1], &obs), 1);
	fd = net_connect(addrs, 2, clock_mono_ms() + 2000, &obs);
	assert_true(fd >= 0);
	close(fd);
	close(lfd);
	close(bfd);
}

static void test_connect_deadline_passed(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	int port;
	int lfd = listen_loopback(AF_INET, 16, &port);

	(void)state;
	assert_int_equal(net_resolve("127.0.0.1", port, clock_mono_ms() + 1000, addrs, &obs), 1);
	assert_int_equal(net_connect(addrs, 1, clock_mono_ms() - 1, &obs), -1);
	assert_int_equal(obs.outcome, NET_TIMEOUT);
	close(lfd);
}

/*
 * A peer whose SYNs go unanswered: a listener with a full backlog that never
 * accepts. Not every stack drops SYNs on a full queue; skip where none stays
 * pending.
 */
static void test_connect_timeout_full_backlog(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	int fillers[16];
	int nfill = 0;
	int port;
	int lfd = listen_loopback(AF_INET, 0, &port);
	bool pending = false;

	(void)state;
	assert_int_equal(net_resolve("127.0.0.1", port, clock_mono_ms() + 1000, addrs, &obs), 1);
	while (nfill < 16 && !pending) {
		struct pollfd pfd;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		assert_true(fd >= 0);
		(void)connect(fd, (struct sockaddr *)&addrs[0].sa, addrs[0].len);
		fillers[nfill++] = fd;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		pending = poll(&pfd, 1, 200) == 0;
	}
	if (pending) {
		int64_t deadline = clock_mono_ms() + 150;

		assert_int_equal(net_connect(addrs, 1, deadline, &obs), -1);
		assert_int_equal(obs.outcome, NET_TIMEOUT);
	}
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
	close(lfd);
	if (!pending)
		skip();
}

/* Accepted by the kernel (backlog), never answered: the read must time out. */
static void test_read_timeout_silent_peer(void **state)
{
	struct net_status obs = {0};
	char buf[16];
	int port;
	int lfd = listen_loopback(AF_INET, 16, &port);
	int fd = connect_v4(port, 2000);
	int64_t deadline = clock_mono_ms() + 100;

	(void)state;
	assert_int_equal(net_read_some(fd, buf, sizeof(buf), deadline, &obs), -1);
	assert_int_equal(obs.outcome, NET_TIMEOUT);
	/* And with the deadline already gone, at once. */
	memset(&obs, 0, sizeof(obs));
	assert_int_equal(net_read_some(fd, buf, sizeof(buf), clock_mono_ms() - 1, &obs), -1);
	assert_int_equal(obs.outcome, NET_TIMEOUT);
	close(fd);
	close(lfd);
}

static void test_write_read_roundtrip(void **state)
{
	struct net_status obs = {0};
	char buf[16];
	int port;
	int lfd = listen_loopback(AF_INET, 16, &port);
	int fd = connect_v4(port, 2000);
	int peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int64_t deadline = clock_mono_ms() + 2000;
	ssize_t got;

	(void)state;
	assert_true(peer >= 0);
	assert_int_equal(net_write_all(fd, "PING\r\n", 6, deadline, &obs), 0);
	assert_int_equal(recv(peer, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "PING\r\n", 6);
	assert_int_equal(send(peer, "+PONG\r\n", 7, 0), 7);
	got = net_read_some(fd, buf, sizeof(buf), deadline, &obs);
	assert_true(got > 0 && got <= 7);
	assert_memory_equal(buf, "+PONG\r\n", (size_t)got);
	assert_int_equal(net_wait(fd, POLLOUT, deadline, &obs), 0);
	close(peer);
	close(fd);
	close(lfd);
}

static void test_read_peer_closed(void **state)
{
	struct net_status obs = {0};
	char buf[16];
	int port;
	int lfd = listen_loopback(AF_INET, 16, &port);
	int fd = connect_v4(port, 2000);
	int peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	(void)state;
	assert_true(peer >= 0);
	close(peer);
	assert_int_equal(net_read_some(fd, buf, sizeof(buf), clock_mono_ms() + 2000, &obs), -1);
	assert_int_equal(obs.outcome, NET_NETWORK);
	close(fd);
	close(lfd);
}

static void test_write_to_closed_peer_no_sigpipe(void **state)
{
	struct net_status obs = {0};
	static char big[256 * 1024];
	int port;
	int lfd = listen_loopback(AF_INET, 16, &port);
	int fd = connect_v4(port, 2000);
	int peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int rc = 0;

	(void)state;
	assert_true(peer >= 0);
	close(peer);
	/* The first write may land before the RST; keep writing until it fails. */
	for (int i = 0; i < 20 && rc == 0; i++)
		rc = net_write_all(fd, big, sizeof(big), clock_mono_ms() + 1000, &obs);
	assert_int_equal(rc, -1);
	assert_true(obs.outcome == NET_NETWORK || obs.outcome == NET_TIMEOUT);
	close(fd);
	close(lfd);
}

static void test_resolve_localhost(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	int count = net_resolve("localhost", 8089, clock_mono_ms() + 2000, addrs, &obs);
	char text[64];

	(void)state;
	assert_true(count > 0);
	assert_int_equal(obs.outcome, NET_OK);
	for (int i = 0; i < count; i++) {
		net_addr_str(&addrs[i], text, sizeof(text));
		assert_true(strcmp(text, "127.0.0.1:8089") == 0 || strcmp(text, "[::1]:8089") == 0);
	}
}

static void test_resolve_nonexistent(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];

	(void)state;
	assert_true(net_resolve("nonexistent.invalid", 80, clock_mono_ms() + 2000, addrs, &obs) <
	            0);
	assert_int_equal(obs.outcome, NET_DNS);
	assert_non_null(strstr(obs.detail, "nonexistent.invalid"));
}

static void test_resolve_literal_v6_and_connect(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];
	char text[64];
	int port;
	int lfd = listen_loopback(AF_INET6, 16, &port);
	int count;
	int fd;

	(void)state;
	/* A past deadline: a literal never waits for the resolver. */
	count = net_resolve("::1", port, clock_mono_ms() - 1, addrs, &obs);
	assert_int_equal(count, 1);
	assert_int_equal(addrs[0].sa.ss_family, AF_INET6);
	net_addr_str(&addrs[0], text, sizeof(text));
	assert_non_null(strstr(text, "[::1]:"));
	fd = net_connect(addrs, count, clock_mono_ms() + 2000, &obs);
	assert_true(fd >= 0);
	close(fd);
	close(lfd);
}

static void test_resolve_name_deadline_passed(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];

	(void)state;
	assert_true(net_resolve("localhost", 80, clock_mono_ms() - 1, addrs, &obs) < 0);
	assert_int_equal(obs.outcome, NET_TIMEOUT);
}

/*
 * Lookups abandoned at a tiny deadline must be freed when they complete
 * (LeakSanitizer checks at exit in the sanitizer build) and must never
 * write into the caller's memory afterwards.
 */
static void test_resolve_abandoned_lookups(void **state)
{
	int ok = 0;
	int timeouts = 0;

	(void)state;
	for (int i = 0; i < 50; i++) {
		struct net_status obs = {0};
		struct net_addr addrs[NET_ADDRS_MAX];
		int count = net_resolve("localhost", 80, clock_mono_ms() + (i % 3), addrs, &obs);

		if (count > 0)
			ok++;
		else if (obs.outcome == NET_TIMEOUT)
			timeouts++;
		else
			fail_msg("unexpected outcome %d: %s", obs.outcome, obs.detail);
	}
	assert_int_equal(ok + timeouts, 50);
	/* Wait until the abandoned ones have finished and their callbacks freed
	 * them (resolv.conf's timeout x attempts at most; localhost is instant). */
	for (int64_t give_up = clock_mono_ms() + 30000;
	     atomic_load(&conds_gone) != atomic_load(&conds_made) && clock_mono_ms() < give_up;)
		usleep(1000);
	assert_int_equal(atomic_load(&conds_gone), atomic_load(&conds_made));
	assert_true(atomic_load(&conds_made) > 0);
}

static void test_resolve_bad_input(void **state)
{
	struct net_status obs = {0};
	struct net_addr addrs[NET_ADDRS_MAX];

	(void)state;
	assert_true(net_resolve("", 80, clock_mono_ms() + 1000, addrs, &obs) < 0);
	assert_int_equal(obs.outcome, NET_DNS);
	assert_true(net_resolve("127.0.0.1", 0, clock_mono_ms() + 1000, addrs, &obs) < 0);
	assert_true(net_resolve("127.0.0.1", 70000, clock_mono_ms() + 1000, addrs, &obs) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_connect_ok, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_tries_next_address, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_deadline_passed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_timeout_full_backlog, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_timeout_silent_peer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_write_read_roundtrip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_peer_closed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_write_to_closed_peer_no_sigpipe, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_resolve_localhost, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_resolve_nonexistent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_resolve_literal_v6_and_connect, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_resolve_name_deadline_passed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_resolve_abandoned_lookups, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_resolve_bad_input, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
