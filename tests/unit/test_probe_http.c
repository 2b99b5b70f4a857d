/*
 * test_probe_http.c - the http probe: validate() on good and bad URIs, and
 * run() against a canned HTTP/1.1 server on a loopback thread (status range,
 * keep-alive reuse, a bad reply, a silent peer, a refused port, a bad name).
 * No test asserts on absolute times.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "probes/http.h"

/* A one-connection-at-a-time HTTP server answering every request with `reply`. */
struct canned_server {
	int listen_fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int accepts;
	atomic_int requests;
	char reply[512];
	size_t filler; /* bytes of 'x' sent after reply (a body beyond the cap) */
	char last_request[2048];
	pthread_mutex_t lock;
};

static bool wait_readable(int fd, atomic_bool *stop)
{
	while (!atomic_load(stop)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (poll(&pfd, 1, 50) > 0)
			return true;
	}
	return false;
}

static int canned_fill(int conn, size_t n)
{
	char chunk[4096];

	memset(chunk, 'x', sizeof(chunk));
	while (n > 0) {
		size_t part = n < sizeof(chunk) ? n : sizeof(chunk);
		ssize_t sent = send(conn, chunk, part, MSG_NOSIGNAL);

		if (sent <= 0)
			return -1;
		n -= (size_t)sent;
	}
	return 0;
}

static void *canned_serve(void *arg)
{
	struct canned_server *srv = arg;

	while (wait_readable(srv->listen_fd, &srv->stop)) {
		int conn = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		char req[2048];
		size_t have = 0;

		if (conn < 0)
			continue;
		atomic_fetch_add(&srv->accepts, 1);
		while (wait_readable(conn, &srv->stop)) {
			ssize_t got = recv(conn, req + have, sizeof(req) - 1 - have, 0);
			char *end;

			if (got <= 0)
				break;
			have += (size_t)got;
			req[have] = '\0';
			end = strstr(req, "\r\n\r\n");
			if (end == NULL) {
				if (have == sizeof(req) - 1)
					break;
				continue;
			}
			pthread_mutex_lock(&srv->lock);
			snprintf(srv->last_request, sizeof(srv->last_request), "%s", req);
			pthread_mutex_unlock(&srv->lock);
			atomic_fetch_add(&srv->requests, 1);
			if (send(conn, srv->reply, strlen(srv->reply), MSG_NOSIGNAL) < 0)
				break;
			if (srv->filler > 0 && canned_fill(conn, srv->filler) != 0)
				break;
			have = 0;
		}
		close(conn);
	}
	return NULL;
}

static void canned_start(struct canned_server *srv, const char *reply)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);

	memset(srv, 0, sizeof(*srv));
	pthread_mutex_init(&srv->lock, NULL);
	snprintf(srv->reply, sizeof(srv->reply), "%s", reply);
	srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv->listen_fd >= 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(srv->listen_fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(srv->listen_fd, 16), 0);
	assert_int_equal(getsockname(srv->listen_fd, (struct sockaddr *)&in, &len), 0);
	srv->port = ntohs(in.sin_port);
	assert_int_equal(pthread_create(&srv->thread, NULL, canned_serve, srv), 0);
}

static void canned_stop(struct canned_server *srv)
{
	atomic_store(&srv->stop, true);
	pthread_join(srv->thread, NULL);
	close(srv->listen_fd);
	pthread_mutex_destroy(&srv->lock);
}

static void http_config(struct probe_config *cfg, const char *uri)
{
	struct wd_err err = {0};

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "web");
	cfg->kind = PROBE_KIND_HTTP;
	snprintf(cfg->uri, sizeof(cfg->uri), "%s", uri);
	uri_redact(uri, cfg->target, sizeof(cfg->target));
	assert_int_equal(uri_parse(uri, &cfg->parsed, &err), 0);
	cfg->timeout_ms = 1000;
	cfg->interval_ms = 5000;
	cfg->expect_status_min = 200;
	cfg->expect_status_max = 399;
}

static void *http_new(const struct probe_config *cfg)
{
	struct wd_err err = {0};
	void *ctx = probe_http_ops.create(cfg, &err);

	if (ctx == NULL)
		fail_msg("create: %s", err.msg);
	return ctx;
}

static void http_run_once(void *ctx, int64_t timeout_ms, struct probe_observation *obs)
{
	memset(obs, 0, sizeof(*obs));
	probe_http_ops.run(ctx, clock_mono_ms() + timeout_ms, obs);
}

static void test_validate(void **state)
{
	const char *good[] = {"http://127.0.0.1:8080/healthz", "https://example.com/",
	                      "http://[::1]/x?deep=1", "http://u:p@host/"};
	const char *bad_scheme[] = {"tcp://localhost:80", "redis://localhost:6379"};
	struct wd_err err = {0};
	struct probe_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		http_config(&cfg, good[i]);
		if (probe_http_ops.validate(&cfg, &err) != 0)
			fail_msg("%s: %s", good[i], err.msg);
	}
	for (size_t i = 0; i < sizeof(bad_scheme) / sizeof(bad_scheme[0]); i++) {
		http_config(&cfg, bad_scheme[i]);
		assert_int_equal(probe_http_ops.validate(&cfg, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "scheme"));
	}
	http_config(&cfg, "http://localhost/");
	cfg.expect_status_min = 500;
	cfg.expect_status_max = 200;
	assert_int_equal(probe_http_ops.validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "expect"));
}

static void test_status_in_and_out_of_range_keepalive(void **state)
{
	struct canned_server srv;
	struct probe_observation obs;
	struct probe_config cfg;
	char uri[96];
	void *ctx;

	(void)state;
	canned_start(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/healthz?deep=1", srv.port);
	http_config(&cfg, uri);
	ctx = http_new(&cfg);
	for (int i = 0; i < 5; i++) {
		http_run_once(ctx, 2000, &obs);
		assert_int_equal(obs.outcome, PROBE_OK);
		assert_int_equal(obs.http_status, 200);
	}
	assert_int_equal(atomic_load(&srv.requests), 5);
	assert_int_equal(atomic_load(&srv.accepts), 1); /* keep-alive reuse */
	pthread_mutex_lock(&srv.lock);
	assert_non_null(strstr(srv.last_request, "GET /healthz?deep=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(srv.last_request, "User-Agent: warden/"));
	pthread_mutex_unlock(&srv.lock);

	/* The same server now answers 503. */
	pthread_mutex_lock(&srv.lock);
	snprintf(srv.reply, sizeof(srv.reply),
	         "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown");
	pthread_mutex_unlock(&srv.lock);
	http_run_once(ctx, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_HTTP_STATUS);
	assert_int_equal(obs.http_status, 503);
	assert_string_equal(obs.detail, "HTTP 503 (want 200-399)");
	probe_http_ops.destroy(ctx);
	canned_stop(&srv);
}

static void test_basic_auth_password_override(void **state)
{
	struct canned_server srv;
	struct probe_observation obs;
	struct probe_config cfg;
	char uri[96];
	void *ctx;

	(void)state;
	canned_start(&srv, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
	snprintf(uri, sizeof(uri), "http://app:fromuri@127.0.0.1:%d/", srv.port);
	http_config(&cfg, uri);
	snprintf(cfg.password, sizeof(cfg.password), "fromenv");
	ctx = http_new(&cfg);
	http_run_once(ctx, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_HTTP_STATUS);
	assert_int_equal(obs.http_status, 401);
	pthread_mutex_lock(&srv.lock);
	/* base64("app:fromenv") */
	assert_non_null(strstr(srv.last_request, "Authorization: Basic YXBwOmZyb21lbnY="));
	pthread_mutex_unlock(&srv.lock);
	assert_null(strstr(obs.detail, "fromenv"));
	probe_http_ops.destroy(ctx);
	canned_stop(&srv);
}

static void test_bad_reply(void **state)
{
	struct canned_server srv;
	struct probe_observation obs;
	struct probe_config cfg;
	char uri[96];
	void *ctx;

	(void)state;
	canned_start(&srv, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/", srv.port);
	http_config(&cfg, uri);
	ctx = http_new(&cfg);
	http_run_once(ctx, 2000, &obs);
	assert_true(obs.outcome == PROBE_BAD_REPLY);
	probe_http_ops.destroy(ctx);
	canned_stop(&srv);
}

/*
 * A body past WD_HTTP_PROBE_BODY_MAX: judged by its status, never stored;
 * the transfer stops and the connection is not reused.
 */
static void test_body_beyond_cap(void **state)
{
	struct canned_server srv;
	struct probe_observation obs;
	struct probe_config cfg;
	char uri[96];
	char reply[128];
	void *ctx;

	(void)state;
	snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
	         4 * WD_HTTP_PROBE_BODY_MAX);
	canned_start(&srv, reply);
	srv.filler = 4 * WD_HTTP_PROBE_BODY_MAX;
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/big", srv.port);
	http_config(&cfg, uri);
	ctx = http_new(&cfg);
	for (int i = 0; i < 2; i++) {
		http_run_once(ctx, 2000, &obs);
		assert_int_equal(obs.outcome, PROBE_OK);
		assert_int_equal(obs.http_status, 200);
	}
	assert_int_equal(atomic_load(&srv.accepts), 2);
	probe_http_ops.destroy(ctx);
	canned_stop(&srv);
}

/* A peer that accepts (kernel backlog) and never answers: timeout, then again. */
static void test_silent_peer_times_out(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);
	struct probe_observation obs;
	struct probe_config cfg;
	char uri[96];
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	void *ctx;

	(void)state;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&in, &len), 0);
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/", ntohs(in.sin_port));
	http_config(&cfg, uri);
	ctx = http_new(&cfg);
	for (int i = 0; i < 2; i++) {
		http_run_once(ctx, 150, &obs);
		assert_int_equal(obs.outcome, PROBE_TIMEOUT);
		assert_int_equal(obs.http_status, 0);
	}
	probe_http_ops.destroy(ctx);
	close(lfd);
}

static void test_refused_and_dns(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);
	struct probe_observation obs;
	struct probe_config cfg;
	char uri[96];
	int bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	void *ctx;

	(void)state;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(bfd, (struct sockaddr *)&in, sizeof(in)), 0); /* no listen */
	assert_int_equal(getsockname(bfd, (struct sockaddr *)&in, &len), 0);
	snprintf(uri, sizeof(uri), "http://localhost:%d/", ntohs(in.sin_port));
	http_config(&cfg, uri);
	ctx = http_new(&cfg);
	http_run_once(ctx, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_REFUSED);
	probe_http_ops.destroy(ctx);
	close(bfd);

	http_config(&cfg, "http://nonexistent.invalid/");
	ctx = http_new(&cfg);
	http_run_once(ctx, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_DNS);
	probe_http_ops.destroy(ctx);
}

static void test_deadline_passed(void **state)
{
	struct probe_observation obs = {0};
	struct probe_config cfg;
	void *ctx;

	(void)state;
	http_config(&cfg, "http://127.0.0.1:9/");
	ctx = http_new(&cfg);
	probe_http_ops.run(ctx, clock_mono_ms() - 1, &obs);
	assert_int_equal(obs.outcome, PROBE_TIMEOUT);
	probe_http_ops.destroy(ctx);
	probe_http_ops.destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_validate),
	        cmocka_unit_test(test_status_in_and_out_of_range_keepalive),
	        cmocka_unit_test(test_basic_auth_password_override),
	        cmocka_unit_test(test_body_beyond_cap),
	        cmocka_unit_test(test_bad_reply),
	        cmocka_unit_test(test_silent_peer_times_out),
	        cmocka_unit_test(test_refused_and_dns),
	        cmocka_unit_test(test_deadline_passed),
	};
	int failed;

	alarm(60);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}
