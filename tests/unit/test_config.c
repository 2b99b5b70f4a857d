/*
 * test_config.c - the config loader (agent/config.c): the settings table, loading
 * and validation - the settings from the environment, the listener, fencing,
 * the effectors - and a failed load leaving no secret behind.
 * Every test passes its own envp (never the process environment).
 */
#include "config_fixture.h"

/* ---- defaults and the environment -------------------------------------- */

static void test_env_settings(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_LISTEN=[::]:9090");
	env_add(f, "WARDEN_LOG_LEVEL=error");
	env_add(f, "WARDEN_DRAIN_SECONDS=0");
	env_add(f, "WARDEN_EXPOSE_DETAILS=never");
	env_add(f, "WARDEN_HTTP_THREADS=64");
	env_add(f, "WARDEN_HTTP_MAX_CONNECTIONS=100000");
	env_add(f, "WARDEN_HTTP_MAX_CONNECTIONS_PER_IP=0");
	env_add(f, "WARDEN_HTTP_IDLE_TIMEOUT=1h");
	load_ok(f);
	assert_string_equal(f->cfg->listen, "[::]:9090");
	assert_string_equal(f->cfg->listen_host, "::");
	assert_int_equal(f->cfg->listen_port, 9090);
	assert_int_equal(f->cfg->log_level, LOG_ERROR);
	assert_int_equal(f->cfg->drain_ms, 0);
	assert_int_equal(f->cfg->expose_details, EXPOSE_NEVER);
	assert_int_equal(f->cfg->http_threads, 64);
	assert_int_equal(f->cfg->http_max_connections, 100000);
	assert_int_equal(f->cfg->http_max_connections_per_ip, 0);
	assert_int_equal(f->cfg->http_idle_timeout_ms, 3600000);
}

static void test_env_settings_bad(void **state)
{
	(void)state;
	check_bad_env("WARDEN_LISTEN=", "WARDEN_LISTEN: empty listen address (want host:port, "
	                                "[v6]:port or port)");
	check_bad_env("WARDEN_LISTEN=0", "WARDEN_LISTEN: bad port in listen address '0' (want "
	                                 "1..65535)");
	check_bad_env("WARDEN_LOG_LEVEL=verbose", "WARDEN_LOG_LEVEL: bad log level 'verbose' "
	                                          "(want debug, info, warn or error)");
	check_bad_env("WARDEN_DRAIN_SECONDS=3601", "WARDEN_DRAIN_SECONDS: want an integer of "
	                                           "seconds from 0 to 3600, got '3601'");
	check_bad_env("WARDEN_DRAIN_SECONDS=10s", "WARDEN_DRAIN_SECONDS: want an integer of "
	                                          "seconds from 0 to 3600, got '10s'");
	check_bad_env("WARDEN_DRAIN_SECONDS=-1", "WARDEN_DRAIN_SECONDS: want an integer of "
	                                         "seconds from 0 to 3600, got '-1'");
	check_bad_env("WARDEN_EMF=yes", "WARDEN_EMF: bad value 'yes' (want on or off)");
	check_bad_env("WARDEN_EMF_INTERVAL=1500ms",
	              "WARDEN_EMF_INTERVAL: '1500ms' is not a whole number of seconds");
	check_bad_env("WARDEN_EMF_INTERVAL=0s",
	              "WARDEN_EMF_INTERVAL: '0s' out of range (want 1s to 1h)");
	check_bad_env("WARDEN_EXPOSE_DETAILS=yes", "WARDEN_EXPOSE_DETAILS: bad value 'yes' (want "
	                                           "loopback, always or never)");
	check_bad_env("WARDEN_HTTP_THREADS=0",
	              "WARDEN_HTTP_THREADS: want an integer from 1 to 64, got '0'");
	check_bad_env("WARDEN_HTTP_THREADS=65",
	              "WARDEN_HTTP_THREADS: want an integer from 1 to 64, got '65'");
	check_bad_env("WARDEN_HTTP_THREADS= 2",
	              "WARDEN_HTTP_THREADS: want an integer from 1 to 64, got ' 2'");
	check_bad_env("WARDEN_HTTP_MAX_CONNECTIONS=15", "WARDEN_HTTP_MAX_CONNECTIONS: want an "
	                                                "integer from 16 to 100000, got '15'");
	check_bad_env("WARDEN_HTTP_MAX_CONNECTIONS_PER_IP=100001",
	              "WARDEN_HTTP_MAX_CONNECTIONS_PER_IP: want an integer from 0 to 100000, got "
	              "'100001'");
	check_bad_env("WARDEN_HTTP_IDLE_TIMEOUT=1500ms",
	              "WARDEN_HTTP_IDLE_TIMEOUT: '1500ms' is not a whole number of seconds");
	check_bad_env("WARDEN_HTTP_IDLE_TIMEOUT=0s",
	              "WARDEN_HTTP_IDLE_TIMEOUT: '0s' out of range (want 1s to 1h)");
	check_bad_env("WARDEN_HTTP_IDLE_TIMEOUT=2h",
	              "WARDEN_HTTP_IDLE_TIMEOUT: '2h' out of range (want 1s to 1h)");
	check_bad_env("WARDEN_HTTP_IDLE_TIMEOUT=10",
	              "WARDEN_HTTP_IDLE_TIMEOUT: bad duration '10': missing unit (ms, s, m or h)");
	check_bad_env("WARDEN_CONFIG=", "WARDEN_CONFIG: empty file name");
}

/* ---- no config error echoes a value that may be a secret ---------------- */

static void test_env_set_twice(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_LISTEN=8089");
	env_add(f, "WARDEN_LISTEN=8090");
	load_fails(f, "WARDEN_LISTEN: set more than once");
}

/* ---- passwords --------------------------------------------------------- */

static void test_failed_load_wipes_secrets(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROBE_A=redis://h:1");
	env_add(f, "WARDEN_PROBE_A_PASSWORD=wipe-me-please");
	env_add(f, "WARDEN_PROBE_B=tcp://h:1#timeout=9s");
	load_fails(f, "probe b: timeout 9s must be less than interval 5s");
	assert_null(memmem(f->cfg, sizeof(*f->cfg), "wipe-me-please", 14));
}

/* ---- the listener ------------------------------------------------------ */

static void listen_ok(const char *text, const char *host, int port)
{
	char got[WD_HOST_MAX + 1];
	struct wd_err err = {0};
	int got_port = -1;

	if (config_parse_listen(text, got, sizeof(got), &got_port, &err) != 0)
		fail_msg("'%s' rejected: %s", text, err.msg);
	assert_string_equal(got, host);
	assert_int_equal(got_port, port);
}

static void listen_bad(const char *text, const char *needle)
{
	char got[WD_HOST_MAX + 1];
	struct wd_err err = {0};
	int got_port = -1;

	assert_int_equal(config_parse_listen(text, got, sizeof(got), &got_port, &err), -EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", text ? text : "(null)", err.msg, needle);
}

static void test_parse_listen(void **state)
{
	char small[4];
	int port;

	(void)state;
	listen_ok("8089", "0.0.0.0", 8089);
	listen_ok("1", "0.0.0.0", 1);
	listen_ok("65535", "0.0.0.0", 65535);
	listen_ok("127.0.0.1:9000", "127.0.0.1", 9000);
	listen_ok("localhost:80", "localhost", 80);
	listen_ok("[::]:8089", "::", 8089);
	listen_ok("[::1]:8089", "::1", 8089);
	listen_ok("[2001:db8::1]:443", "2001:db8::1", 443);
	listen_bad(NULL, "empty");
	listen_bad("", "empty");
	listen_bad("0", "bad port");
	listen_bad("65536", "bad port");
	listen_bad("99999999999999999999", "bad port");
	listen_bad("host", "no port");
	listen_bad("host:", "bad port");
	listen_bad(":8089", "no host");
	listen_bad("::1:8089", "brackets");
	listen_bad("[::1]", "bad listen address");
	listen_bad("[::1]8089", "bad listen address");
	listen_bad("[::1:8089", "bad listen address");
	listen_bad("[nope]:8089", "bad IPv6");
	listen_bad("[]:8089", "bad IPv6");
	listen_bad("h_st:80", "bad host");
	listen_bad("-h:80", "bad host");
	listen_bad("h:80x", "bad port");
	listen_bad("h:+80", "bad port");
	listen_bad(" 8089", "no port");
	listen_bad(" h:8089", "bad host");
	listen_bad("localhost:080808", "bad port");
	assert_int_equal(config_parse_listen("localhost:80", small, sizeof(small), &port, NULL),
	                 -EINVAL);
}

/* ---- fencing ------------------------------------------------------------ */

static void test_flag_timing_rule(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_FLAG=file:/run/warden/flag");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_FLAG_INTERVAL=5s");
	env_add(f, "WARDEN_FLAG_TIMEOUT=2s");
	env_add(f, "WARDEN_FLAG_TTL=8s");
	load_fails(f, "WARDEN_FLAG_INTERVAL + 2 x WARDEN_FLAG_TIMEOUT must be at most "
	              "WARDEN_FLAG_TTL (5s + 2 x 2s > 8s)");
}

static void test_flag_timing_rule_boundary(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_FLAG_INTERVAL=5s");
	env_add(f, "WARDEN_FLAG_TIMEOUT=2s");
	env_add(f, "WARDEN_FLAG_TTL=9s");
	load_ok(f);
}

static void test_fencing_errors(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_FLAG=s3://bucket/flag");
	env_add(f, "AWS_REGION=us-east-1");
	load_fails_with(f, "WARDEN_FLAG: source 1: unknown source", NULL);
	env_clear(f);
	env_add(f, "WARDEN_ON_STALE=ignore");
	load_fails(f, "WARDEN_ON_STALE: bad value 'ignore' (want fence or hold)");
	env_clear(f);
	env_add(f, "WARDEN_ADMIN_TOKEN=short-secret");
	load_fails_with(f, "WARDEN_ADMIN_TOKEN: shorter than 16 characters", "short-secret");
	env_clear(f);
	env_add(f, "WARDEN_FLAG_TIMEOUT=50ms");
	load_fails(f, "WARDEN_FLAG_TIMEOUT: '50ms' out of range (want 100ms to 1m)");
}

static void test_admin_token_file(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/warden-test-token-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "token-from-a-file-0123456789\n", 29), 29);
	close(fd);
	env_add(f, "WARDEN_ADMIN_TOKEN_FILE=%s", path);
	load_ok(f);
	assert_string_equal(f->cfg->admin_token, "token-from-a-file-0123456789");
	env_add(f, "WARDEN_ADMIN_TOKEN=another-token-0123456789");
	load_fails(f, "WARDEN_ADMIN_TOKEN and WARDEN_ADMIN_TOKEN_FILE are both set: use one");
	unlink(path);
}

/*
 * The region check serve's flag readers make is part of the load, so that
 * `warden config` (and every command) refuses what `serve` refuses.
 */
static void test_flag_needs_a_region(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_FLAG=file:/run/warden/flag");
	load_fails(f, "WARDEN_FLAG needs this task's region: set AWS_REGION (on ECS, task metadata "
	              "gives it)");
	env_add(f, "AWS_REGION=garbage");
	load_fails(f, "AWS_REGION: bad region name (want an AWS region such as us-east-1 or "
	              "us-gov-west-1)");
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/run/warden/flag");
	env_add(f, "AWS_DEFAULT_REGION=us-east");
	load_fails_with(f, "AWS_DEFAULT_REGION: bad region name", NULL);
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/run/warden/flag");
	env_add(f, "AWS_DEFAULT_REGION=eu-central-2");
	load_ok(f);
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/run/warden/flag");
	env_add(f, "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/x");
	load_ok(f); /* the region comes from task metadata at run time */
	env_clear(f);
	env_add(f, "AWS_REGION=garbage"); /* without a flag, no region is needed or read */
	load_ok(f);
}

/* ---- the effectors ------------------------------------------------------ */

static void test_proxy_settings(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_FLAG=file:/run/warden/flag");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_PROXY_LISTEN=0.0.0.0:8080");
	env_add(f, "WARDEN_PROXY_UPSTREAM=http://127.0.0.1:3000");
	env_add(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED=/health,/api/session/");
	env_add(f, "WARDEN_PROXY_TIMEOUT=30s");
	env_add(f, "WARDEN_PROXY_MAX_HEADER_BYTES=32768");
	env_add(f, "WARDEN_PROXY_RETRY_AFTER=10");
	load_ok(f);
	assert_string_equal(f->cfg->proxy_listen, "0.0.0.0:8080");
	assert_int_equal(f->cfg->proxy.listen_port, 8080);
	assert_string_equal(f->cfg->proxy.upstream_host, "127.0.0.1");
	assert_int_equal(f->cfg->proxy.upstream_port, 3000);
	assert_int_equal(f->cfg->proxy.allow_count, 2);
	assert_string_equal(f->cfg->proxy.allow_when_fenced[1], "/api/session/");
	assert_int_equal(f->cfg->proxy.upstream_timeout_ms, 30000);
	assert_int_equal(f->cfg->proxy.max_header_bytes, 32768);
	assert_int_equal(f->cfg->proxy.retry_after_s, 10);
}

static void test_proxy_errors(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROXY_LISTEN=8080");
	env_add(f, "WARDEN_PROXY_UPSTREAM=http://127.0.0.1:3000");
	load_fails_with(f, "WARDEN_PROXY_LISTEN needs WARDEN_FLAG", NULL);
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/f");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_PROXY_LISTEN=8080");
	load_fails(f, "WARDEN_PROXY_LISTEN and WARDEN_PROXY_UPSTREAM go together");
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/f");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_PROXY_LISTEN=8089");
	env_add(f, "WARDEN_PROXY_UPSTREAM=http://127.0.0.1:3000");
	load_fails(f, "WARDEN_PROXY_LISTEN and WARDEN_LISTEN use the same port 8089");
	env_clear(f);
	env_add(f, "WARDEN_PROXY_UPSTREAM=https://app:3000");
	load_fails_with(f, "WARDEN_PROXY_UPSTREAM: want http://host:port", NULL);
	env_clear(f);
	env_add(f, "WARDEN_PROXY_UPSTREAM=http://app:3000/api");
	load_fails_with(f, "without a path", NULL);
	env_clear(f);
	env_add(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED=/health/../admin");
	load_fails_with(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED", NULL);
}

/* "/" (or "//"...) as an allow-list prefix lets every write through: fencing off. */
static void test_proxy_allow_root_refused(void **state)
{
	static const char *const roots[] = {"/", "//", "///", "/health,/", "/,/health", " /"};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		env_clear(f);
		env_add(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED=%s", roots[i]);
		memset(&f->err, 0, sizeof(f->err));
		if (config_load(f->cfg, f->env, &f->err) == 0)
			fail_msg("WARDEN_PROXY_ALLOW_WHEN_FENCED=%s accepted", roots[i]);
		assert_non_null(strstr(f->err.msg, "WARDEN_PROXY_ALLOW_WHEN_FENCED: "));
	}
	env_clear(f);
	env_add(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED=/");
	load_fails(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED: the prefix '/' matches every path: it would "
	              "let every write through while fenced (list the paths that may write)");
	env_clear(f);
	env_add(f, "WARDEN_PROXY_ALLOW_WHEN_FENCED=/health,//x/");
	load_ok(f);
}

static void test_singleton_settings(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_FLAG=file:/f");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_SINGLETON=cron");
	load_fails(f, "WARDEN_SINGLETON needs a postgres probe: there is none (name it in "
	              "WARDEN_SINGLETON_PROBE)");
	env_add(f, "WARDEN_PROBE_DB=postgres://app@db/app");
	load_ok(f);
	assert_string_equal(f->cfg->singleton, "cron");
	assert_string_equal(f->cfg->singleton_probe, "db");
	assert_int_equal(f->cfg->singleton_ttl_ms, 15000);
	env_add(f, "WARDEN_PROBE_DB2=postgres://app@db2/app");
	load_fails_with(f, "there are several", NULL);
	env_add(f, "WARDEN_SINGLETON_PROBE=db2");
	load_ok(f);
	assert_string_equal(f->cfg->singleton_probe, "db2");
	env_clear(f);
	env_add(f, "WARDEN_SINGLETON=cron");
	env_add(f, "WARDEN_PROBE_DB=postgres://app@db/app");
	load_fails(f, "WARDEN_SINGLETON needs WARDEN_FLAG");
	env_clear(f);
	env_add(f, "WARDEN_SINGLETON=Cron Job");
	load_fails_with(f, "WARDEN_SINGLETON: bad name", NULL);
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/f");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_SINGLETON=cron");
	env_add(f, "WARDEN_PROBE_CACHE=redis://cache:6379");
	env_add(f, "WARDEN_SINGLETON_PROBE=cache");
	load_fails(f, "WARDEN_SINGLETON_PROBE: no postgres probe named 'cache'");
	env_clear(f);
	env_add(f, "WARDEN_FLAG=file:/f");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_SINGLETON=cron");
	env_add(f, "WARDEN_SINGLETON_TTL=5s");
	env_add(f, "WARDEN_PROBE_DB=postgres://app@db/app#timeout=2s&interval=5s");
	load_fails(f, "WARDEN_SINGLETON_TTL must be at least 3 x the timeout of probe db (5000ms "
	              "< 3 x 2000ms)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_env_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_settings_bad, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_set_twice, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_failed_load_wipes_secrets, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_timing_rule, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_timing_rule_boundary, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fencing_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_admin_token_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_needs_a_region, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_allow_root_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_singleton_settings, setup, teardown),
	        cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
