/*
 * test_probe_redis.c - the redis probe: URI validation, and runs against an
 * in-process fake server on loopback that answers canned RESP bytes (so the
 * reply parsing, the error mapping, the deadline and the redaction are tested
 * through the probe's own ops).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "probes/probe.h"
#include "probes/redis.h"

/* ---- config helpers ---------------------------------------------------- */

/* A redis probe config with its parsed URI filled by hand (no uri_parse). */
static void make_cfg(struct probe_config *cfg, const char *scheme, const char *user,
                     const char *password, const char *host, int port, const char *path,
                     const char *query)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "cache");
	cfg->kind = PROBE_KIND_REDIS;
	snprintf(cfg->uri, sizeof(cfg->uri), "%s://%s", scheme, host);
	snprintf(cfg->parsed.scheme, sizeof(cfg->parsed.scheme), "%s", scheme);
	snprintf(cfg->parsed.user, sizeof(cfg->parsed.user), "%s", user);
	snprintf(cfg->parsed.password, sizeof(cfg->parsed.password), "%s", password);
	cfg->parsed.has_password = password[0] != '\0';
	snprintf(cfg->parsed.host, sizeof(cfg->parsed.host), "%s", host);
	cfg->parsed.port = port;
	snprintf(cfg->parsed.path, sizeof(cfg->parsed.path), "%s", path);
	snprintf(cfg->parsed.query, sizeof(cfg->parsed.query), "%s", query);
	cfg->critical = true;
	cfg->interval_ms = 5000;
	cfg->timeout_ms = 2000;
	cfg->rise = 2;
	cfg->fall = 3;
}

static int validate(const struct probe_config *cfg, struct wd_err *err)
{
	memset(err, 0, sizeof(*err));
	return probe_ops_for(PROBE_KIND_REDIS)->validate(cfg, err);
}

static void test_validate_good(void **unused)
{
	struct probe_config cfg;
	struct wd_err err;

	(void)unused;
	make_cfg(&cfg, "redis", "", "", "cache.local", 0, "", "");
	assert_int_equal(validate(&cfg, &err), 0);
	make_cfg(&cfg, "redis", "", "", "10.0.0.1", 6380, "/", "");
	assert_int_equal(validate(&cfg, &err), 0);
	make_cfg(&cfg, "redis", "", "", "::1", 6380, "/15", "");
	assert_int_equal(validate(&cfg, &err), 0);
	make_cfg(&cfg, "redis", "", "pw", "h", 0, "/0", "");
	assert_int_equal(validate(&cfg, &err), 0);
	make_cfg(&cfg, "rediss", "probe", "pw", "h", 0, "/3", "");
	assert_int_equal(validate(&cfg, &err), 0);
	/* The user's password may come from WARDEN_PROBE_<NAME>_PASSWORD alone. */
	make_cfg(&cfg, "rediss", "probe", "", "h", 0, "", "");
	snprintf(cfg.password, sizeof(cfg.password), "from-env");
	assert_int_equal(validate(&cfg, &err), 0);
	/* cacert on rediss://, percent-encoded like any query value. */
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=%2Fdev%2Fnull");
	assert_int_equal(validate(&cfg, &err), 0);
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=/dev/null");
	assert_int_equal(validate(&cfg, &err), 0);
}

/* validate() fails with -EINVAL and a message containing `needle`. */
static void expect_invalid(const struct probe_config *cfg, const char *needle)
{
	struct wd_err err;

	assert_int_equal(validate(cfg, &err), -EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
}

static void test_validate_bad(void **unused)
{
	struct probe_config cfg;

	(void)unused;
	make_cfg(&cfg, "http", "", "", "h", 0, "", "");
	expect_invalid(&cfg, "redis://");
	make_cfg(&cfg, "redis", "", "", "", 0, "", "");
	expect_invalid(&cfg, "host");
	make_cfg(&cfg, "redis", "", "", "h", 0, "/16", "");
	expect_invalid(&cfg, "16");
	make_cfg(&cfg, "redis", "", "", "h", 0, "/-1", "");
	expect_invalid(&cfg, "db");
	make_cfg(&cfg, "redis", "", "", "h", 0, "/abc", "");
	expect_invalid(&cfg, "db");
	make_cfg(&cfg, "redis", "", "", "h", 0, "/1/2", "");
	expect_invalid(&cfg, "db");
	make_cfg(&cfg, "redis", "", "", "h", 0, "/0001", "");
	expect_invalid(&cfg, "db");
	make_cfg(&cfg, "redis", "", "", "h", 0, "", "timeout=5");
	expect_invalid(&cfg, "'timeout'");
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=/dev/null&ssl_verify=no");
	expect_invalid(&cfg, "'ssl_verify'");
	make_cfg(&cfg, "redis", "", "", "h", 0, "", "cacert=/dev/null");
	expect_invalid(&cfg, "rediss://");
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=");
	expect_invalid(&cfg, "empty");
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=/no/such/ca.pem");
	expect_invalid(&cfg, "/no/such/ca.pem");
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=%zz");
	expect_invalid(&cfg, "cacert");
	make_cfg(&cfg, "rediss", "", "", "h", 0, "", "cacert=/dev/null&cacert=/dev/null");
	expect_invalid(&cfg, "twice");
	/* A user needs a password, and the error names where to put it. */
	make_cfg(&cfg, "redis", "probe", "", "h", 0, "", "");
	expect_invalid(&cfg, "WARDEN_PROBE_CACHE_PASSWORD");
}

static void test_validate_never_quotes_password(void **unused)
{
	struct probe_config cfg;
	struct wd_err err;

	(void)unused;
	make_cfg(&cfg, "redis", "probe", "hunter2", "h", 0, "/99", "hunter2=1");
	assert_int_equal(validate(&cfg, &err), -EINVAL);
	assert_null(strstr(err.msg, "hunter2"));
}

static void test_validate_through_uri_parse(void **unused)
{
	struct probe_config cfg;
	struct wd_err err;

	(void)unused;
	make_cfg(&cfg, "redis", "", "", "h", 0, "", "");
	assert_int_equal(uri_parse("rediss://probe:pw@cache.example.com:6380/2?cacert=/dev/null",
	                           &cfg.parsed, &err),
	                 0);
	assert_int_equal(validate(&cfg, &err), 0);
	assert_int_equal(uri_parse("redis://cache.example.com/x", &cfg.parsed, &err), 0);
	assert_int_equal(validate(&cfg, &err), -EINVAL);
}

/* ---- a fake server ----------------------------------------------------- */

/*
 * Accepts connections on 127.0.0.1 and, each time a whole run's commands
 * have arrived (they end with INFO replication), writes `reply`; with
 * `silent` it never writes. Keeps what it received, and counts accepts.
 */
struct fake_server {
	int listen_fd;
	int port;
	const char *reply;
	bool silent;
	bool drip; /* write the reply one byte every DRIP_MS */
	pthread_t thread;
	atomic_bool stop;
	atomic_int accepts;
	char request[8192];
	size_t request_len;
	pthread_mutex_t lock;
};

#define DRIP_MS 50

static bool ends_run(const char *data, size_t len)
{
	static const char tail[] = "replication\r\n";

	return len >= sizeof(tail) - 1 &&
	       memcmp(data + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0;
}

static void serve_connection(struct fake_server *fake, int fd)
{
	char buf[4096];
	char pending[8192];
	size_t pending_len = 0;

	while (!atomic_load(&fake->stop)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		pthread_mutex_lock(&fake->lock);
		if (fake->request_len + (size_t)n < sizeof(fake->request)) {
			memcpy(fake->request + fake->request_len, buf, (size_t)n);
			fake->request_len += (size_t)n;
		}
		pthread_mutex_unlock(&fake->lock);
		if (pending_len + (size_t)n > sizeof(pending))
			pending_len = 0;
		memcpy(pending + pending_len, buf, (size_t)n);
		pending_len += (size_t)n;
		if (!ends_run(pending, pending_len))
			continue;
		pending_len = 0;
		if (fake->drip) {
			for (const char *p = fake->reply; *p != '\0' && !atomic_load(&fake->stop);
			     p++) {
				if (write(fd, p, 1) < 0)
					return;
				usleep(DRIP_MS * 1000);
			}
		} else if (!fake->silent && write(fd, fake->reply, strlen(fake->reply)) < 0) {
			return;
		}
	}
}

static void *fake_main(void *arg)
{
	struct fake_server *fake = arg;

	while (!atomic_load(&fake->stop)) {
		struct pollfd pfd = {.fd = fake->listen_fd, .events = POLLIN};
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(fake->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&fake->accepts, 1);
		serve_connection(fake, fd);
		close(fd);
	}
	return NULL;
}

static struct fake_server *fake_start(const char *reply, bool silent)
{
	struct fake_server *fake = calloc(1, sizeof(*fake));
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t len = sizeof(addr);

	assert_non_null(fake);
	fake->reply = reply;
	fake->silent = silent;
	pthread_mutex_init(&fake->lock, NULL);
	fake->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fake->listen_fd >= 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fake->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fake->listen_fd, 8), 0);
	assert_int_equal(getsockname(fake->listen_fd, (struct sockaddr *)&addr, &len), 0);
	fake->port = ntohs(addr.sin_port);
	assert_int_equal(pthread_create(&fake->thread, NULL, fake_main, fake), 0);
	return fake;
}

static void fake_stop(struct fake_server *fake)
{
	atomic_store(&fake->stop, true);
	pthread_join(fake->thread, NULL);
	close(fake->listen_fd);
	pthread_mutex_destroy(&fake->lock);
	free(fake);
}

static bool fake_received(struct fake_server *fake, const char *needle)
{
	bool found;

	pthread_mutex_lock(&fake->lock);
	found = memmem(fake->request, fake->request_len, needle, strlen(needle)) != NULL;
	pthread_mutex_unlock(&fake->lock);
	return found;
}

/* A PONG and an INFO replication reply ("# Replication\r\n" + role line + one more). */
#define REPLY_MASTER  "+PONG\r\n$48\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n"
#define REPLY_SLAVE   "+PONG\r\n$47\r\n# Replication\r\nrole:slave\r\nconnected_slaves:0\r\n\r\n"
#define REPLY_REPLICA "+PONG\r\n$49\r\n# Replication\r\nrole:replica\r\nconnected_slaves:0\r\n\r\n"

/* ---- runs -------------------------------------------------------------- */

struct run_case {
	struct probe_config cfg;
	void *ctx;
};

static void case_open(struct run_case *rc, const struct fake_server *fake, const char *user,
                      const char *password, const char *path)
{
	struct wd_err err = {0};

	make_cfg(&rc->cfg, "redis", user, password, "127.0.0.1", fake->port, path, "");
	assert_int_equal(validate(&rc->cfg, &err), 0);
	rc->ctx = probe_ops_for(PROBE_KIND_REDIS)->create(&rc->cfg, &err);
	assert_non_null(rc->ctx);
}

static void case_run(struct run_case *rc, int64_t timeout_ms, struct probe_observation *obs)
{
	memset(obs, 0, sizeof(*obs));
	probe_ops_for(PROBE_KIND_REDIS)->run(rc->ctx, clock_mono_ms() + timeout_ms, obs);
}

static void case_close(struct run_case *rc)
{
	probe_ops_for(PROBE_KIND_REDIS)->destroy(rc->ctx);
}

/* One run against a fake that answers `reply`; returns the observation. */
static struct probe_observation run_once(const char *reply)
{
	struct fake_server *fake = fake_start(reply, false);
	struct probe_observation obs;
	struct run_case rc;

	case_open(&rc, fake, "", "", "");
	case_run(&rc, 2000, &obs);
	case_close(&rc);
	fake_stop(fake);
	return obs;
}

static void assert_detail_has(const struct probe_observation *obs, const char *needle)
{
	if (strstr(obs->detail, needle) == NULL)
		fail_msg("detail \"%s\" does not mention \"%s\"", obs->detail, needle);
}

static void test_roles(void **unused)
{
	struct probe_observation obs;

	(void)unused;
	obs = run_once(REPLY_MASTER);
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_int_equal(obs.role, DB_ROLE_WRITER);
	assert_string_equal(obs.detail, "");
	obs = run_once(REPLY_SLAVE);
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_int_equal(obs.role, DB_ROLE_READER);
	obs = run_once(REPLY_REPLICA);
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_int_equal(obs.role, DB_ROLE_READER);
	/* An INFO the ACL refuses hides the role; PING still decides. */
	obs = run_once(
	        "+PONG\r\n-NOPERM this user has no permissions to run the 'info' command\r\n");
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_int_equal(obs.role, DB_ROLE_UNKNOWN);
}

static void test_error_replies(void **unused)
{
	struct probe_observation obs;

	(void)unused;
	obs = run_once("-LOADING Redis is loading the dataset in memory\r\n");
	assert_int_equal(obs.outcome, PROBE_SERVER_ERROR);
	assert_detail_has(&obs, "LOADING");
	obs = run_once("-MASTERDOWN Link with MASTER is down\r\n");
	assert_int_equal(obs.outcome, PROBE_SERVER_ERROR);
	assert_detail_has(&obs, "MASTERDOWN");
	obs = run_once("-NOAUTH Authentication required.\r\n");
	assert_int_equal(obs.outcome, PROBE_AUTH);
	obs = run_once("-ERR something odd\r\n");
	assert_int_equal(obs.outcome, PROBE_SERVER_ERROR);
	assert_detail_has(&obs, "ERR something odd");
}

static void test_bad_replies(void **unused)
{
	struct probe_observation obs;

	(void)unused;
	obs = run_once("HTTP/1.1 400 Bad Request\r\n\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	obs = run_once("+PANG\r\n$5\r\nhello\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	assert_detail_has(&obs, "PONG");
	obs = run_once("+PONG\r\n$5\r\nhello\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	assert_detail_has(&obs, "role");
	obs = run_once("+PONG\r\n*2\r\n+a\r\n+b\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	obs = run_once("+PONG\r\n:42\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	/* Trailing bytes nobody asked for: the stream is out of step. */
	obs = run_once(REPLY_MASTER "+EXTRA\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
}

static void test_reply_over_cap(void **unused)
{
	static char reply[WD_REPLY_MAX + 256];
	struct probe_observation obs;
	int n;

	(void)unused;
	n = snprintf(reply, sizeof(reply), "+PONG\r\n$%d\r\nrole:master\r\n", WD_REPLY_MAX);
	memset(reply + n, 'x', sizeof(reply) - (size_t)n - 1);
	reply[sizeof(reply) - 1] = '\0';
	obs = run_once(reply);
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	assert_detail_has(&obs, "over");
}

static void test_huge_array_is_refused_without_allocating(void **unused)
{
	struct probe_observation obs;

	(void)unused;
	/* hiredis's own reader would ask for 16 GiB of slots here. */
	obs = run_once("*2147483647\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
	assert_detail_has(&obs, "array over 64 elements");
	/* A small array is fine for the reader (the probe wants none: bad_reply). */
	obs = run_once("*2\r\n:1\r\n$-1\r\n");
	assert_int_equal(obs.outcome, PROBE_BAD_REPLY);
}

static void test_silent_peer_times_out(void **unused)
{
	struct fake_server *fake = fake_start("", true);
	struct probe_observation obs;
	struct run_case rc;

	(void)unused;
	case_open(&rc, fake, "", "", "");
	case_run(&rc, 200, &obs);
	assert_int_equal(obs.outcome, PROBE_TIMEOUT);
	assert_int_equal(obs.role, DB_ROLE_UNKNOWN);
	/* The connection was dropped: the next run connects again. */
	case_run(&rc, 200, &obs);
	assert_int_equal(obs.outcome, PROBE_TIMEOUT);
	case_close(&rc);
	fake_stop(fake);
}

static void test_dripping_peer_times_out(void **unused)
{
	struct fake_server *fake = fake_start(REPLY_MASTER, false);
	struct probe_observation obs;
	struct run_case rc;
	int64_t start;
	int64_t whole_reply_ms = (int64_t)strlen(REPLY_MASTER) * DRIP_MS;

	(void)unused;
	fake->drip = true;
	case_open(&rc, fake, "", "", "");
	start = clock_mono_ms();
	case_run(&rc, 300, &obs);
	/* Each byte arrives well within the timeout; the run still ends at its deadline. */
	assert_int_equal(obs.outcome, PROBE_TIMEOUT);
	assert_true(clock_mono_ms() - start < whole_reply_ms);
	case_close(&rc);
	fake_stop(fake);
}

static void test_connection_is_kept(void **unused)
{
	struct fake_server *fake = fake_start(REPLY_MASTER, false);
	struct probe_observation obs;
	struct run_case rc;

	(void)unused;
	case_open(&rc, fake, "", "", "");
	for (int i = 0; i < 3; i++) {
		case_run(&rc, 2000, &obs);
		assert_int_equal(obs.outcome, PROBE_OK);
	}
	assert_int_equal(atomic_load(&fake->accepts), 1);
	case_close(&rc);
	fake_stop(fake);
}

static void test_auth_and_select_sent(void **unused)
{
	struct fake_server *fake = fake_start("+OK\r\n+OK\r\n" REPLY_MASTER, false);
	struct probe_observation obs;
	struct run_case rc;

	(void)unused;
	case_open(&rc, fake, "probe", "hunter2", "/3");
	case_run(&rc, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_true(fake_received(fake, "*3\r\n$4\r\nAUTH\r\n$5\r\nprobe\r\n$7\r\nhunter2\r\n"));
	assert_true(fake_received(fake, "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"));
	assert_true(fake_received(fake, "*1\r\n$4\r\nPING\r\n"));
	case_close(&rc);
	fake_stop(fake);
}

static void test_env_password_wins(void **unused)
{
	struct fake_server *fake = fake_start("+OK\r\n" REPLY_MASTER, false);
	struct probe_observation obs;
	struct wd_err err = {0};
	struct run_case rc;

	(void)unused;
	make_cfg(&rc.cfg, "redis", "", "from-uri", "127.0.0.1", fake->port, "", "");
	snprintf(rc.cfg.password, sizeof(rc.cfg.password), "from-env");
	rc.ctx = probe_ops_for(PROBE_KIND_REDIS)->create(&rc.cfg, &err);
	assert_non_null(rc.ctx);
	case_run(&rc, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_OK);
	assert_true(fake_received(fake, "*2\r\n$4\r\nAUTH\r\n$8\r\nfrom-env\r\n"));
	assert_false(fake_received(fake, "from-uri"));
	case_close(&rc);
	fake_stop(fake);
}

static void test_auth_errors_never_show_password(void **unused)
{
	static const char *const replies[] = {
	        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
	        "-ERR invalid password\r\n",
	        "-ERR unknown command 'AUTH', with args beginning with: 'probe' 'hunter2' \r\n",
	        "-ERR hunter2\r\n",
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct fake_server *fake = fake_start(replies[i], false);
		struct probe_observation obs;
		struct run_case rc;

		case_open(&rc, fake, "probe", "hunter2", "");
		case_run(&rc, 2000, &obs);
		assert_int_equal(obs.outcome, PROBE_AUTH);
		assert_null(strstr(obs.detail, "hunter2"));
		assert_detail_has(&obs, "AUTH");
		case_close(&rc);
		fake_stop(fake);
	}
}

static void test_password_scrubbed_from_any_detail(void **unused)
{
	/* AUTH passes, then a (strange) server echoes the password in a PING error. */
	struct fake_server *fake = fake_start("+OK\r\n-ERR bad hunter2 here\r\n", false);
	struct probe_observation obs;
	struct run_case rc;

	(void)unused;
	case_open(&rc, fake, "", "hunter2", "");
	case_run(&rc, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_SERVER_ERROR);
	assert_null(strstr(obs.detail, "hunter2"));
	assert_detail_has(&obs, "***");
	case_close(&rc);
	fake_stop(fake);
}

static void test_refused(void **unused)
{
	struct fake_server *fake = fake_start("", true);
	struct probe_observation obs;
	struct run_case rc;
	int port = fake->port;

	(void)unused;
	fake_stop(fake); /* the port is closed now */
	make_cfg(&rc.cfg, "redis", "", "", "127.0.0.1", port, "", "");
	rc.ctx = probe_ops_for(PROBE_KIND_REDIS)->create(&rc.cfg, NULL);
	assert_non_null(rc.ctx);
	case_run(&rc, 2000, &obs);
	assert_int_equal(obs.outcome, PROBE_REFUSED);
	case_close(&rc);
}

static void test_destroy_null(void **unused)
{
	(void)unused;
	probe_ops_for(PROBE_KIND_REDIS)->destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_validate_good),
	        cmocka_unit_test(test_validate_bad),
	        cmocka_unit_test(test_validate_never_quotes_password),
	        cmocka_unit_test(test_validate_through_uri_parse),
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test(test_error_replies),
	        cmocka_unit_test(test_bad_replies),
	        cmocka_unit_test(test_reply_over_cap),
	        cmocka_unit_test(test_huge_array_is_refused_without_allocating),
	        cmocka_unit_test(test_silent_peer_times_out),
	        cmocka_unit_test(test_dripping_peer_times_out),
	        cmocka_unit_test(test_connection_is_kept),
	        cmocka_unit_test(test_auth_and_select_sent),
	        cmocka_unit_test(test_env_password_wins),
	        cmocka_unit_test(test_auth_errors_never_show_password),
	        cmocka_unit_test(test_password_scrubbed_from_any_detail),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_destroy_null),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
