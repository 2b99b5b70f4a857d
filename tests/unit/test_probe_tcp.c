/*
 * test_probe_tcp.c - the tcp probe: validate() on good and bad URIs, and
 * run() against real loopback sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "probes/tcp.h"

static void tcp_config(struct probe_config *cfg, const char *uri)
{
	struct wd_err err = {0};

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "t");
	cfg->kind = PROBE_KIND_TCP;
	snprintf(cfg->uri, sizeof(cfg->uri), "%s", uri);
	uri_redact(uri, cfg->target, sizeof(cfg->target));
	assert_int_equal(uri_parse(uri, &cfg->parsed, &err), 0);
	cfg->timeout_ms = 1000;
	cfg->interval_ms = 5000;
}

static void expect_invalid(const char *uri, const char *needle)
{
	struct probe_config cfg;
	struct wd_err err = {0};

	tcp_config(&cfg, uri);
	assert_int_equal(probe_tcp_ops.validate(&cfg, &err), -EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("%s: error \"%s\" does not name \"%s\"", uri, err.msg, needle);
	assert_null(strstr(err.msg, "secret"));
	assert_null(probe_tcp_ops.create(&cfg, &err));
}

static void test_validate_good(void **state)
{
	const char *good[] = {"tcp://127.0.0.1:5432", "tcp://db.internal:6379", "tcp://[::1]:80",
	                      "tcp://localhost:1"};
	struct wd_err err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct probe_config cfg;

		tcp_config(&cfg, good[i]);
		if (probe_tcp_ops.validate(&cfg, &err) != 0)
			fail_msg("%s: %s", good[i], err.msg);
	}
}

static void test_validate_bad(void **state)
{
	(void)state;
	expect_invalid("tcp://localhost", "no port");
	expect_invalid("tcp://localhost:80/x", "path");
	expect_invalid("tcp://localhost:80/", "path");
	expect_invalid("tcp://localhost:80?x=1", "query");
	expect_invalid("tcp://user:secret@localhost:80", "user or password");
	expect_invalid("http://localhost:80", "scheme");
}

static void test_validate_password_set(void **state)
{
	struct probe_config cfg;
	struct wd_err err = {0};

	(void)state;
	tcp_config(&cfg, "tcp://localhost:80");
	snprintf(cfg.password, sizeof(cfg.password), "secret");
	assert_int_equal(probe_tcp_ops.validate(&cfg, &err), -EINVAL);
	assert_null(strstr(err.msg, "secret\""));
}

static int listen_v4(int *port, bool do_listen)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	*port = ntohs(in.sin_port);
	return fd;
}

static void run_once(const char *uri, struct probe_observation *obs)
{
	struct probe_config cfg;
	struct wd_err err = {0};
	void *ctx;

	tcp_config(&cfg, uri);
	ctx = probe_tcp_ops.create(&cfg, &err);
	assert_non_null(ctx);
	memset(obs, 0, sizeof(*obs));
	probe_tcp_ops.run(ctx, clock_mono_ms() + cfg.timeout_ms, obs);
	probe_tcp_ops.destroy(ctx);
}

static void test_run_ok_and_refused(void **state)
{
	struct probe_observation obs;
	char uri[64];
	int port;
	int lfd = listen_v4(&port, true);
	int closed_port;
	int bfd = listen_v4(&closed_port, false);

	(void)state;
	snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", port);
	run_once(uri, &obs);
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_string_equal(obs.detail, "");

	snprintf(uri, sizeof(uri), "tcp://localhost:%d", port);
	run_once(uri, &obs);
	assert_int_equal(obs.outcome, PROBE_OK);

	snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", closed_port);
	run_once(uri, &obs);
	assert_int_equal(obs.outcome, PROBE_REFUSED);

	run_once("tcp://nonexistent.invalid:80", &obs);
	assert_int_equal(obs.outcome, PROBE_DNS);
	close(bfd);
	close(lfd);
}

static void test_destroy_null(void **state)
{
	(void)state;
	probe_tcp_ops.destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_validate_good),
	        cmocka_unit_test(test_validate_bad),
	        cmocka_unit_test(test_validate_password_set),
	        cmocka_unit_test(test_run_ok_and_refused),
	        cmocka_unit_test(test_destroy_null),
	};

	alarm(30);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
