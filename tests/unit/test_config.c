/*
 * test_config.c - the config loader: defaults, environment, the JSON file,
 * env over file, probes and their passwords, errors, and the printout.
 * Every test passes its own envp (never the process environment).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"

#define ENV_MAX 64

struct fixture {
	struct wd_config *cfg;
	struct wd_err err;
	char *env[ENV_MAX + 1];
	size_t env_count;
	char paths[4][WD_PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->cfg = malloc(sizeof(*f->cfg));
	if (f->cfg == NULL)
		return -1;
	*state = f;
	return 0;
}

/* Empty the fixture's envp. */
static void env_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->env_count; i++)
		free(f->env[i]);
	f->env_count = 0;
	f->env[0] = NULL;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	env_clear(f);
	free(f->cfg);
	free(f);
	return 0;
}

/* Add "KEY=VALUE" (printf-style) to the fixture's envp. */
static void __attribute__((format(printf, 2, 3))) env_add(struct fixture *f, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	assert_true(f->env_count < ENV_MAX);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	f->env[f->env_count] = strdup(buf);
	assert_non_null(f->env[f->env_count]);
	f->env_count++;
	f->env[f->env_count] = NULL;
}

/* The path of tests/data/config/<name>. */
static const char *data_path(struct fixture *f, int slot, const char *name)
{
	const char *dir = getenv("WARDEN_TEST_DATA");

	assert_non_null(dir);
	snprintf(f->paths[slot], sizeof(f->paths[slot]), "%s/config/%s", dir, name);
	return f->paths[slot];
}

static void load_ok(struct fixture *f)
{
	if (config_load(f->cfg, f->env, &f->err) != 0)
		fail_msg("config_load failed: %s", f->err.msg);
}

/* config_load fails with exactly `want`. */
static void load_fails(struct fixture *f, const char *want)
{
	memset(&f->err, 0, sizeof(f->err));
	assert_true(config_load(f->cfg, f->env, &f->err) < 0);
	assert_string_equal(f->err.msg, want);
}

/* config_load fails with `needle` in the message, and never `secret`. */
static void load_fails_with(struct fixture *f, const char *needle, const char *secret)
{
	memset(&f->err, 0, sizeof(f->err));
	assert_true(config_load(f->cfg, f->env, &f->err) < 0);
	if (strstr(f->err.msg, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", f->err.msg, needle);
	if (secret != NULL && strstr(f->err.msg, secret) != NULL)
		fail_msg("message '%s' leaks '%s'", f->err.msg, secret);
	assert_null(strchr(f->err.msg, '\n'));
}

static const struct probe_config *probe_named(const struct wd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (strcmp(cfg->probes[i].name, name) == 0)
			return &cfg->probes[i];
	}
	fail_msg("no probe %s", name);
	return NULL;
}

/* config_print_json, checked to hold none of the secrets given. */
static char *json_without(const struct wd_config *cfg, const char *const *secrets)
{
	char *json = config_print_json(cfg);

	assert_non_null(json);
	for (size_t i = 0; secrets[i] != NULL; i++) {
		if (strstr(json, secrets[i]) != NULL)
			fail_msg("config_print_json leaks '%s':\n%s", secrets[i], json);
	}
	return json;
}

/* ---- defaults and the environment -------------------------------------- */

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	char *json;

	env_add(f, "PATH=/usr/bin");
	env_add(f, "HOME=/root");
	env_add(f, "WARDENX=not ours");
	load_ok(f);
	assert_string_equal(f->cfg->config_file, "");
	assert_string_equal(f->cfg->listen, "0.0.0.0:8089");
	assert_string_equal(f->cfg->listen_host, "0.0.0.0");
	assert_int_equal(f->cfg->listen_port, 8089);
	assert_int_equal(f->cfg->log_level, LOG_INFO);
	assert_int_equal(f->cfg->drain_ms, 10000);
	assert_int_equal(f->cfg->expose_details, EXPOSE_LOOPBACK);
	assert_int_equal(f->cfg->http_threads, 2);
	assert_int_equal(f->cfg->http_max_connections, 1024);
	assert_int_equal(f->cfg->http_max_connections_per_ip, 128);
	assert_int_equal(f->cfg->http_idle_timeout_ms, 10000);
	assert_int_equal(f->cfg->http_header_timeout_ms, 10000);
	assert_int_equal(f->cfg->probe_count, 0);

	json = config_print_json(f->cfg);
	assert_non_null(json);
	assert_string_equal(json, "{\n"
	                          "  \"config_file\": null,\n"
	                          "  \"listen\": \"0.0.0.0:8089\",\n"
	                          "  \"log_level\": \"info\",\n"
	                          "  \"drain_seconds\": 10,\n"
	                          "  \"expose_details\": \"loopback\",\n"
	                          "  \"http_threads\": 2,\n"
	                          "  \"http_max_connections\": 1024,\n"
	                          "  \"http_max_connections_per_ip\": 128,\n"
	                          "  \"http_idle_timeout\": \"10s\",\n"
	                          "  \"http_header_timeout\": \"10s\",\n"
	                          "  \"flag\": [],\n"
	                          "  \"flag_interval\": \"5s\",\n"
	                          "  \"flag_timeout\": \"2s\",\n"
	                          "  \"flag_ttl\": \"30s\",\n"
	                          "  \"on_stale\": \"fence\",\n"
	                          "  \"flag_quorum\": \"majority\",\n"
	                          "  \"split_brain_after\": \"150s\",\n"
	                          "  \"admin_token\": null,\n"
	                          "  \"fence_file\": null,\n"
	                          "  \"proxy_listen\": null,\n"
	                          "  \"proxy_upstream\": null,\n"
	                          "  \"proxy_allow_when_fenced\": [],\n"
	                          "  \"proxy_timeout\": \"1m\",\n"
	                          "  \"proxy_idle_timeout\": \"75s\",\n"
	                          "  \"proxy_header_timeout\": \"10s\",\n"
	                          "  \"proxy_threads\": 2,\n"
	                          "  \"proxy_max_connections\": 4096,\n"
	                          "  \"proxy_max_header_bytes\": 16384,\n"
	                          "  \"proxy_max_headers\": 100,\n"
	                          "  \"proxy_retry_after\": 5,\n"
	                          "  \"singleton\": null,\n"
	                          "  \"singleton_ttl\": \"15s\",\n"
	                          "  \"singleton_probe\": null,\n"
	                          "  \"emf\": \"off\",\n"
	                          "  \"emf_interval\": \"1m\",\n"
	                          "  \"probes\": {}\n"
	                          "}");
	free(json);

	/* A NULL envp is an empty environment. */
	assert_int_equal(config_load(f->cfg, NULL, &f->err), 0);
	assert_int_equal(f->cfg->listen_port, 8089);
}

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

/* One bad setting: the message names the variable. */
static void check_bad_env(const char *var, const char *want)
{
	struct fixture *f = NULL;

	assert_int_equal(setup((void **)&f), 0);
	env_add(f, "%s", var);
	load_fails(f, want);
	teardown((void **)&f);
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

static void test_unknown_env(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_LISTEN=8089");
	env_add(f, "WARDEN_LISTN=8090");
	load_fails(f, "WARDEN_LISTN: unknown setting (did you mean WARDEN_LISTEN?)");

	check_bad_env("WARDEN_=1", "WARDEN_: unknown setting (a typo? see the configuration "
	                           "reference in the README)");
	check_bad_env("WARDEN_listen=1",
	              "WARDEN_listen: unknown setting (did you mean WARDEN_LISTEN?)");
	check_bad_env("WARDEN_LISTEN\x01=1",
	              "WARDEN_LISTEN?: unknown setting (did you mean WARDEN_LISTEN?)");
	check_bad_env(
	        "WARDEN_FLAG_INTERVALL=5s",
	        "WARDEN_FLAG_INTERVALL: unknown setting (did you mean WARDEN_FLAG_INTERVAL?)");
	check_bad_env("WARDEN_SOMETHING_ELSE_ENTIRELY=1",
	              "WARDEN_SOMETHING_ELSE_ENTIRELY: unknown setting (a typo? see the "
	              "configuration reference in the README)");
	/* A probe name is not a typo just for holding a word like "pass". */
	env_clear(f);
	env_add(f, "WARDEN_PROBE_PASSPORT_API=tcp://h:1");
	env_add(f, "WARDEN_PROBE_PASS=tcp://h:2");
	load_ok(f);
}

/* ---- no config error echoes a value that may be a secret ---------------- */

#define SECRET "S3cr3t:v@lue"

/*
 * Bad inputs, many of them a secret in the wrong place (a mistyped password
 * variable, a password in a URI, a token in the wrong setting). Each error
 * names the variable and says what is wrong (`says`), and none holds any
 * part of the secret.
 */
static void test_errors_never_echo_secrets(void **state)
{
	static const struct {
		const char *env[3];
		const char *says;
	} cases[] = {
	        {{"WARDEN_PROBE_DB=postgres://db/app", "WARDEN_PROBE_DB_PASWORD=" SECRET},
	         "WARDEN_PROBE_DB_PASWORD: unknown setting (did you mean "
	         "WARDEN_PROBE_DB_PASSWORD?)"},
	        {{"WARDEN_PROBE_DB_PASSWROD=" SECRET}, "did you mean WARDEN_PROBE_DB_PASSWORD?"},
	        {{"WARDEN_PROBE_DB_PASSWORDS=" SECRET}, "did you mean WARDEN_PROBE_DB_PASSWORD?"},
	        {{"WARDEN_PROBE_DB_PASSWD=" SECRET}, "did you mean WARDEN_PROBE_DB_PASSWORD?"},
	        {{"WARDEN_PROBE_db_password_fiel=/run/" SECRET},
	         "did you mean WARDEN_PROBE_DB_PASSWORD_FILE?"},
	        {{"WARDEN_PROBE_DB_PASSWORDFILE=" SECRET},
	         "did you mean WARDEN_PROBE_DB_PASSWORD_FILE?"},
	        {{"WARDEN_PROBE_DBPASSWORD=" SECRET}, "did you mean WARDEN_PROBE_DB_PASSWORD?"},
	        {{"WARDEN_PROBE_PASWORD=" SECRET}, "did you mean WARDEN_PROBE_<NAME>_PASSWORD?"},
	        {{"WARDEN_PROBES_DB_PASSWORD=" SECRET}, "did you mean WARDEN_PROBE_DB_PASSWORD?"},
	        {{"WARDEN_ADMN_TOKEN=" SECRET}, "did you mean WARDEN_ADMIN_TOKEN?"},
	        {{"WARDEN_ADMIN_TOKEN_FIL=" SECRET}, "did you mean WARDEN_ADMIN_TOKEN_FILE?"},
	        {{"WARDEN_PROBE_DB_PWD=" SECRET}, "WARDEN_PROBE_DB_PWD: "},
	        {{"WARDEN_PROBE_DB=" SECRET}, "WARDEN_PROBE_DB: "},
	        {{"WARDEN_PROBE_DB=S3cr3t"}, "WARDEN_PROBE_DB: "},
	        {{"WARDEN_PROBE_DB=postgres://u:" SECRET "@h/db#intervall=1s"},
	         "WARDEN_PROBE_DB: option 1: unknown option (did you mean interval?)"},
	        {{"WARDEN_PROBE_DB=postgres://u:S3cr3t@h/db#bogus=1"}, "unknown option"},
	        {{"WARDEN_PROBE_DB=postgres://u:S3cr3t@h/db?passwrd=S3cr3t"}, "passwrd"},
	        {{"WARDEN_PROBE_DB=redis://:S3cr3t@h:99999"}, "port out of range"},
	        {{"WARDEN_PROBE_DB=redis://u:S3cr3t/x@h:6379"}, "bad URI"},
	        {{"WARDEN_PROBE_DB=redis://h:6379?password=ab#S3cr3t"}, "want key=value"},
	        {{"WARDEN_PROBE_DB=redis://h:6379?password=ab#S3cr3t=1"}, "unknown option"},
	        {{"WARDEN_PROBE_DB=tcp://h:1#rise=2&S3cr3t"}, "option 2: want key=value"},
	        {{"WARDEN_PROBE_DB=mysql://u:S3cr3t@h/db"}, "unknown probe kind 'mysql'"},
	        {{"WARDEN_PROBE_DB=S3cr3t://h"}, "WARDEN_PROBE_DB: "},
	        {{"WARDEN_PROBE_DB_PASSWORD_FILE=" SECRET}, "WARDEN_PROBE_DB_PASSWORD_FILE: "},
	        {{"WARDEN_PROBE_DB=tcp://h:1",
	          "WARDEN_PROBE_DB_PASSWORD_FILE=/nonexistent/" SECRET},
	         "WARDEN_PROBE_DB_PASSWORD_FILE: cannot open"},
	        {{"WARDEN_ADMIN_TOKEN_FILE=/nonexistent/" SECRET}, "WARDEN_ADMIN_TOKEN_FILE: "},
	        {{"WARDEN_ADMIN_TOKEN=S3cr3t"}, "WARDEN_ADMIN_TOKEN: shorter than 16"},
	        {{"AWS_REGION=us-east-1", "WARDEN_FLAG=ssm:/p?endpoint=http://u:S3cr3t@h:4566"},
	         "WARDEN_FLAG: source 1: ssm: endpoint: an endpoint URL takes no user or password"},
	        {{"AWS_REGION=us-east-1", "WARDEN_FLAG=https://u:S3cr3t@h/p"}, "unknown source"},
	        {{"AWS_REGION=us-east-1", "WARDEN_FLAG=" SECRET}, "unknown source"},
	        {{"AWS_REGION=us-east-1", "WARDEN_FLAG=ssm:/p?S3cr3t"}, "without a value"},
	        {{"WARDEN_PROXY_UPSTREAM=http://u:S3cr3t@127.0.0.1:3000"},
	         "without a path, query or user"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		env_clear(f);
		for (size_t e = 0; e < 3 && cases[i].env[e] != NULL; e++)
			env_add(f, "%s", cases[i].env[e]);
		memset(&f->err, 0, sizeof(f->err));
		if (config_load(f->cfg, f->env, &f->err) == 0)
			fail_msg("case %zu accepted", i);
		if (strstr(f->err.msg, cases[i].says) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, f->err.msg, cases[i].says);
		if (strstr(f->err.msg, "S3cr3t") != NULL || strstr(f->err.msg, "v@lue") != NULL)
			fail_msg("case %zu: '%s' echoes the secret", i, f->err.msg);
	}
}

/* The same for the WARDEN_CONFIG file. */
static void test_json_errors_never_echo_secrets(void **state)
{
	static const struct {
		const char *json;
		const char *says;
	} cases[] = {
	        {"{\"probes\": {\"db\": {\"uri\": \"" SECRET "\"}}}", "probes.db.uri: "},
	        {"{\"probes\": {\"db\": {\"uri\": \"postgres://h/db\", \"pasword\": \"" SECRET
	         "\"}}}",
	         "probes.db.pasword: unknown key (did you mean password?)"},
	        {"{\"admin_tokn\": \"" SECRET "\"}",
	         "admin_tokn: unknown key (did you mean admin_token?)"},
	        {"{\"admin_token\": \"S3cr3t\"}", "admin_token: shorter than 16"},
	        {"{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"password_file\": \"" SECRET
	         "\"}}}",
	         "probes.db.password_file: "},
	        {"{\"flag\": \"ssm:/p?endpoint=http://u:S3cr3t@h:1\"}", "flag: source 1"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&f->err, 0, sizeof(f->err));
		if (config_load_json_text(f->cfg, cases[i].json, strlen(cases[i].json), f->env,
		                          &f->err) == 0)
			fail_msg("case %zu accepted", i);
		if (strstr(f->err.msg, cases[i].says) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, f->err.msg, cases[i].says);
		if (strstr(f->err.msg, "S3cr3t") != NULL || strstr(f->err.msg, "v@lue") != NULL)
			fail_msg("case %zu: '%s' echoes the secret", i, f->err.msg);
	}
}

static void test_env_set_twice(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_LISTEN=8089");
	env_add(f, "WARDEN_LISTEN=8090");
	load_fails(f, "WARDEN_LISTEN: set more than once");
}

/* ---- probes from the environment --------------------------------------- */

static void test_env_probes_sorted(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROBE_WEB=http://web:3000/healthz#expect=200&interval=2s&timeout=1s");
	env_add(f, "WARDEN_PROBE_DB=postgres://db:5432/app#expect=writer");
	env_add(f, "WARDEN_PROBE_CACHE_1=redis://cache:6379/0#critical=false");
	env_add(f, "WARDEN_PROBE_amqp=tcp://mq:5672");
	load_ok(f);
	assert_int_equal(f->cfg->probe_count, 4);
	assert_string_equal(f->cfg->probes[0].name, "amqp");
	assert_string_equal(f->cfg->probes[1].name, "cache_1");
	assert_string_equal(f->cfg->probes[2].name, "db");
	assert_string_equal(f->cfg->probes[3].name, "web");
	assert_int_equal(f->cfg->probes[0].kind, PROBE_KIND_TCP);
	assert_int_equal(f->cfg->probes[1].kind, PROBE_KIND_REDIS);
	assert_false(f->cfg->probes[1].critical);
	assert_int_equal(f->cfg->probes[2].kind, PROBE_KIND_POSTGRES);
	assert_int_equal(f->cfg->probes[2].expect_role, EXPECT_ROLE_WRITER);
	assert_int_equal(f->cfg->probes[3].kind, PROBE_KIND_HTTP);
	assert_int_equal(f->cfg->probes[3].expect_status_min, 200);
	assert_int_equal(f->cfg->probes[3].expect_status_max, 200);
	assert_int_equal(f->cfg->probes[3].interval_ms, 2000);
	assert_int_equal(f->cfg->probes[3].timeout_ms, 1000);
}

static void test_env_probe_errors(void **state)
{
	(void)state;
	check_bad_env("WARDEN_PROBE_DB=tcp://h:1#interval=nope",
	              "WARDEN_PROBE_DB: option interval: bad duration 'nope' (want an integer and "
	              "a unit: 250ms, 5s, 2m)");
	check_bad_env("WARDEN_PROBE_DB=tcp://h:1#timeout=5s",
	              "probe db: timeout 5s must be less than interval 5s");
	check_bad_env("WARDEN_PROBE_DB=tcp://h:1#interval=1s&timeout=1s",
	              "probe db: timeout 1s must be less than interval 1s");
	check_bad_env("WARDEN_PROBE_DB=ftp://h:1", "WARDEN_PROBE_DB: unknown probe kind 'ftp' "
	                                           "(want postgres, postgresql, redis, rediss, "
	                                           "http, https or tcp)");
	check_bad_env(
	        "WARDEN_PROBE_DB=tcp://h:1#bogus=1",
	        "WARDEN_PROBE_DB: option 1: unknown option (want critical, interval, timeout, "
	        "start_period, rise, fall, expect or max_lag)");
	check_bad_env("WARDEN_PROBE_DB=tcp://h:1#rise=2&intervall=1s",
	              "WARDEN_PROBE_DB: option 2: unknown option (did you mean interval?)");
	check_bad_env("WARDEN_PROBE_DB=tcp://h:1#expect=200",
	              "WARDEN_PROBE_DB: option expect does not apply to tcp probes (only to "
	              "postgres and http)");
	check_bad_env("WARDEN_PROBE_DB=tcp://h:99999",
	              "WARDEN_PROBE_DB: bad URI: port out of range (want 1..65535)");
	check_bad_env("WARDEN_PROBE_DB=", "WARDEN_PROBE_DB: empty probe definition (want "
	                                  "<uri>#<options>)");
	check_bad_env("WARDEN_PROBE_=tcp://h:1", "WARDEN_PROBE_: empty probe name");
	check_bad_env("WARDEN_PROBE_D-B=tcp://h:1",
	              "WARDEN_PROBE_D-B: bad probe name 'd-b' (want a-z, 0-9 and _ only)");
	check_bad_env("WARDEN_PROBE_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456=tcp://h:1",
	              "WARDEN_PROBE_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456: probe name "
	              "'abcdefghijklmnopqrstuvwxyz0123456' longer than 32 characters");
}

static void test_env_probe_bad_uri_never_leaks(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROBE_CACHE=redis://u:hunter2/x@h:6379");
	load_fails_with(f, "WARDEN_PROBE_CACHE: bad URI", "hunter2");
}

static void test_env_probe_same_name_twice(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROBE_DB=tcp://h:1");
	env_add(f, "WARDEN_PROBE_db=tcp://h:2");
	load_fails(f, "WARDEN_PROBE_db: same probe as WARDEN_PROBE_DB (names are "
	              "case-insensitive)");
}

static void test_too_many_probes(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < WD_PROBES_MAX; i++)
		env_add(f, "WARDEN_PROBE_P%02d=tcp://h:%d", i, i + 1);
	load_ok(f);
	assert_int_equal(f->cfg->probe_count, WD_PROBES_MAX);
	env_add(f, "WARDEN_PROBE_ONE_MORE=tcp://h:1");
	load_fails(f, "WARDEN_PROBE_ONE_MORE: too many probes (at most 32)");
}

/* ---- passwords --------------------------------------------------------- */

static void test_password_from_env(void **state)
{
	struct fixture *f = *state;
	static const char *const secrets[] = {"env-secret", "uri-secret", "query-secret", NULL};
	char *json;

	env_add(f, "WARDEN_PROBE_DB=postgresql://app:uri-secret@h1:5432,h2:5433/app"
	           "?sslmode=require&password=query-secret#max_lag=10s&expect=reader");
	env_add(f, "WARDEN_PROBE_DB_PASSWORD=env-secret");
	env_add(f, "WARDEN_PROBE_WEB=http://web/healthz");
	load_ok(f);
	assert_string_equal(probe_named(f->cfg, "db")->password, "env-secret");
	assert_string_equal(
	        probe_named(f->cfg, "db")->target,
	        "postgresql://app:***@h1:5432,h2:5433/app?sslmode=require&password=***");
	assert_string_equal(probe_named(f->cfg, "web")->password, "");

	json = json_without(f->cfg, secrets);
	assert_non_null(strstr(json, "\"password\": \"<redacted>\""));
	assert_non_null(strstr(json, "\"target\": \"postgresql://app:***@h1:5432,h2:5433/app"
	                             "?sslmode=require&password=***\""));
	assert_non_null(strstr(json, "\"max_lag\": \"10s\""));
	assert_non_null(strstr(json, "\"expect\": \"reader\""));
	assert_null(strstr(json, "\"uri\""));
	/* Only the db probe has a password. */
	assert_ptr_equal(strstr(json, "<redacted>"), strrchr(json, '<'));
	free(json);
}

static void test_password_from_file(void **state)
{
	struct fixture *f = *state;
	static const char *const secrets[] = {"pw-from-file", NULL};
	char *json;

	env_add(f, "WARDEN_PROBE_CACHE=rediss://cache:6380");
	env_add(f, "WARDEN_PROBE_CACHE_PASSWORD_FILE=%s", data_path(f, 0, "db_password.txt"));
	load_ok(f);
	assert_string_equal(probe_named(f->cfg, "cache")->password, "pw-from-file");
	json = json_without(f->cfg, secrets);
	assert_non_null(strstr(json, "\"password\": \"<redacted>\""));
	free(json);
}

static void test_password_file_strips_one_newline(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROBE_CACHE=rediss://cache:6380");
	env_add(f, "WARDEN_PROBE_CACHE_PASSWORD_FILE=%s",
	        data_path(f, 0, "two_newlines_password.txt"));
	load_ok(f);
	assert_string_equal(probe_named(f->cfg, "cache")->password, "two-newlines\n");
}

static void test_password_errors(void **state)
{
	struct fixture *f = *state;
	char var[WD_PATH_MAX + 64];

	(void)f;
	check_bad_env("WARDEN_PROBE_DB_PASSWORD=x",
	              "WARDEN_PROBE_DB_PASSWORD: no probe named 'db' (define it in "
	              "WARDEN_PROBE_<NAME> or in the config file)");
	/* A probe cannot be named x_password: that is x's password. */
	check_bad_env("WARDEN_PROBE_X_PASSWORD=tcp://h:1",
	              "WARDEN_PROBE_X_PASSWORD: no probe named 'x' (define it in "
	              "WARDEN_PROBE_<NAME> or in the config file)");
	check_bad_env("WARDEN_PROBE_X_PASSWORD_FILE=/nonexistent",
	              "WARDEN_PROBE_X_PASSWORD_FILE: no probe named 'x' (define it in "
	              "WARDEN_PROBE_<NAME> or in the config file)");

	{
		struct fixture *g = NULL;

		assert_int_equal(setup((void **)&g), 0);
		env_add(g, "WARDEN_PROBE_DB=tcp://h:1");
		env_add(g, "WARDEN_PROBE_DB_PASSWORD=secret-one");
		env_add(g, "WARDEN_PROBE_DB_PASSWORD_FILE=/nonexistent");
		load_fails(g, "WARDEN_PROBE_DB_PASSWORD: and WARDEN_PROBE_DB_PASSWORD_FILE are "
		              "both set (use one)");
		teardown((void **)&g);

		assert_int_equal(setup((void **)&g), 0);
		env_add(g, "WARDEN_PROBE_DB=tcp://h:1");
		env_add(g, "WARDEN_PROBE_DB_PASSWORD=");
		load_fails(g, "WARDEN_PROBE_DB_PASSWORD: empty password");
		teardown((void **)&g);

		assert_int_equal(setup((void **)&g), 0);
		env_add(g, "WARDEN_PROBE_DB=tcp://h:1");
		env_add(g, "WARDEN_PROBE_DB_PASSWORD_FILE=/nonexistent/pw");
		memset(&g->err, 0, sizeof(g->err));
		assert_int_equal(config_load(g->cfg, g->env, &g->err), -ENOENT);
		/* A secret's file name is not quoted: it may be the secret, misplaced. */
		assert_string_equal(g->err.msg, "WARDEN_PROBE_DB_PASSWORD_FILE: cannot open "
		                                "the file: No such file or directory");
		teardown((void **)&g);

		assert_int_equal(setup((void **)&g), 0);
		env_add(g, "WARDEN_PROBE_DB=tcp://h:1");
		snprintf(var, sizeof(var), "WARDEN_PROBE_DB_PASSWORD_FILE=%s",
		         data_path(g, 0, "empty_password.txt"));
		env_add(g, "%s", var);
		load_fails(g, "WARDEN_PROBE_DB_PASSWORD_FILE: the file: empty password");
		teardown((void **)&g);

		assert_int_equal(setup((void **)&g), 0);
		env_add(g, "WARDEN_PROBE_DB=tcp://h:1");
		env_add(g, "WARDEN_PROBE_DB_PASSWORD_FILE=/dev/null");
		load_fails(g, "WARDEN_PROBE_DB_PASSWORD_FILE: the file is not a regular file");
		teardown((void **)&g);

		assert_int_equal(setup((void **)&g), 0);
		env_add(g, "WARDEN_PROBE_DB=tcp://h:1");
		env_add(g, "WARDEN_PROBE_DB_PASSWORD_FILE=%s", data_path(g, 0, ""));
		load_fails_with(g, "is not a regular file", NULL);
		teardown((void **)&g);
	}
}

static void test_password_file_too_long(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/warden-test-pw-XXXXXX";
	char big[WD_SECRET_MAX + 2];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	memset(big, 'p', sizeof(big));
	assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
	close(fd);
	env_add(f, "WARDEN_PROBE_DB=redis://h:1");
	env_add(f, "WARDEN_PROBE_DB_PASSWORD_FILE=%s", path);
	load_fails_with(f, "is larger than 1025 bytes", "pppp");

	/* Exactly the cap plus its newline is fine. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	big[WD_SECRET_MAX] = '\n';
	assert_int_equal(write(fd, big, WD_SECRET_MAX + 1), WD_SECRET_MAX + 1);
	close(fd);
	load_ok(f);
	assert_int_equal(strlen(probe_named(f->cfg, "db")->password), WD_SECRET_MAX);
	unlink(path);
}

static void test_failed_load_wipes_secrets(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_PROBE_A=redis://h:1");
	env_add(f, "WARDEN_PROBE_A_PASSWORD=wipe-me-please");
	env_add(f, "WARDEN_PROBE_B=tcp://h:1#timeout=9s");
	load_fails(f, "probe b: timeout 9s must be less than interval 5s");
	assert_null(memmem(f->cfg, sizeof(*f->cfg), "wipe-me-please", 14));
}

/* ---- the JSON file ----------------------------------------------------- */

static void test_file_full(void **state)
{
	struct fixture *f = *state;
	static const char *const secrets[] = {"file-pw",       "query-pw",     "redis-pw",
	                                      "json-password", "tok-in-query", NULL};
	const struct probe_config *probe;
	char *json;

	env_add(f, "WARDEN_CONFIG=%s", data_path(f, 0, "full.json"));
	load_ok(f);
	assert_string_equal(f->cfg->config_file, f->paths[0]);
	assert_string_equal(f->cfg->listen, "127.0.0.1:9000");
	assert_int_equal(f->cfg->log_level, LOG_DEBUG);
	assert_int_equal(f->cfg->drain_ms, 30000);
	assert_int_equal(f->cfg->expose_details, EXPOSE_ALWAYS);
	assert_int_equal(f->cfg->http_threads, 4);
	assert_int_equal(f->cfg->http_max_connections, 2048);
	assert_int_equal(f->cfg->http_max_connections_per_ip, 0);
	assert_int_equal(f->cfg->http_idle_timeout_ms, 60000);
	assert_int_equal(f->cfg->probe_count, 3);
	assert_string_equal(f->cfg->probes[0].name, "cache");
	assert_string_equal(f->cfg->probes[1].name, "db");
	assert_string_equal(f->cfg->probes[2].name, "web");

	probe = probe_named(f->cfg, "web");
	assert_int_equal(probe->kind, PROBE_KIND_HTTP);
	assert_int_equal(probe->expect_status_min, 200);
	assert_int_equal(probe->expect_status_max, 299);
	assert_int_equal(probe->interval_ms, 10000);
	assert_int_equal(probe->timeout_ms, 3000);
	assert_false(probe->critical);
	assert_int_equal(probe->rise, 1);
	assert_int_equal(probe->fall, 5);
	assert_int_equal(probe->start_period_ms, 30000);
	assert_string_equal(probe->target, "https://app.internal/healthz?deep=1&token=***");
	probe = probe_named(f->cfg, "db");
	assert_int_equal(probe->expect_role, EXPECT_ROLE_READER);
	assert_int_equal(probe->max_lag_ms, 15000);
	assert_string_equal(probe->password, "");
	probe = probe_named(f->cfg, "cache");
	assert_string_equal(probe->password, "json-password");
	assert_string_equal(probe->parsed.password, "redis-pw");

	json = json_without(f->cfg, secrets);
	assert_non_null(strstr(json, "\"http_idle_timeout\": \"1m\""));
	assert_non_null(strstr(json, "\"drain_seconds\": 30"));
	assert_non_null(strstr(json, "\"critical\": false"));
	assert_non_null(strstr(json, "\"rise\": 1"));
	assert_non_null(strstr(json, "\"expect\": \"200-299\""));
	free(json);
}

static void test_env_over_file(void **state)
{
	struct fixture *f = *state;
	static const char *const secrets[] = {"password-from-file", "queue-file-pw",
	                                      "env-db-password", NULL};
	const struct probe_config *probe;
	char *json;

	env_add(f, "WARDEN_CONFIG=%s", data_path(f, 0, "env_override.json"));
	env_add(f, "WARDEN_LISTEN=9100");
	env_add(f, "WARDEN_PROBE_DB=postgres://db-from-env:5432/app#expect=any");
	env_add(f, "WARDEN_PROBE_QUEUE_PASSWORD=env-queue-pw");
	load_ok(f);
	/* Env setting wins; file settings that env does not set stay. */
	assert_string_equal(f->cfg->listen, "0.0.0.0:9100");
	assert_int_equal(f->cfg->log_level, LOG_WARN);
	/* The env probe replaces the file's entirely: options and password. */
	probe = probe_named(f->cfg, "db");
	assert_string_equal(probe->uri, "postgres://db-from-env:5432/app");
	assert_int_equal(probe->interval_ms, 5000);
	assert_int_equal(probe->timeout_ms, 2000);
	assert_int_equal(probe->expect_role, EXPECT_ROLE_ANY);
	assert_string_equal(probe->password, "");
	/* The env password overrides the file's. */
	probe = probe_named(f->cfg, "queue");
	assert_string_equal(probe->password, "env-queue-pw");
	json = json_without(f->cfg, secrets);
	free(json);
}

static void test_env_password_for_file_probe(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_CONFIG=%s", data_path(f, 0, "env_override.json"));
	env_add(f, "WARDEN_PROBE_DB_PASSWORD=env-db-password");
	load_ok(f);
	assert_string_equal(probe_named(f->cfg, "db")->password, "env-db-password");
	assert_int_equal(probe_named(f->cfg, "db")->interval_ms, 30000);
}

/* A WARDEN_CONFIG file that fails with exactly `want`. */
static void check_bad_file(const char *name, const char *want)
{
	struct fixture *f = NULL;

	assert_int_equal(setup((void **)&f), 0);
	env_add(f, "WARDEN_CONFIG=%s", data_path(f, 0, name));
	load_fails(f, want);
	teardown((void **)&f);
}

static void test_file_errors(void **state)
{
	(void)state;
	check_bad_file("unknown_key.json",
	               "probes.db.intervall: unknown key (did you mean interval?)");
	check_bad_file("unknown_top_key.json", "log_levle: unknown key (did you mean log_level?)");
	check_bad_file("wrong_type.json", "http_threads: want an integer, got a string");
	check_bad_file("wrong_type_probe.json",
	               "probes.db.critical: want true or false, got a string");
	check_bad_file("duplicate_key.json",
	               "config file, line 1 column 28: duplicate object key near '\"listen\"'");
	check_bad_file("not_object.json", "config file: want a JSON object, got an array");
	check_bad_file("missing_uri.json", "probes.db.uri: missing (every probe needs one)");
	check_bad_file("bad_option.json",
	               "probes.db: option interval: bad duration 'nope' (want an integer and a "
	               "unit: 250ms, 5s, 2m)");
	check_bad_file("both_passwords.json",
	               "probes.db: password and password_file are both set (use one)");
}

static void test_file_syntax_error_never_leaks(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_CONFIG=%s", data_path(f, 0, "bad_syntax_secret.json"));
	load_fails_with(f, "config file, line 3", "hunter2");
}

static void test_file_missing(void **state)
{
	struct fixture *f = *state;

	env_add(f, "WARDEN_CONFIG=/nonexistent/warden.json");
	assert_int_equal(config_load(f->cfg, f->env, &f->err), -ENOENT);
	assert_string_equal(f->err.msg, "WARDEN_CONFIG: cannot open '/nonexistent/warden.json': "
	                                "No such file or directory");
}

/* config_load_json_text, same path as the file. */
static void json_text_fails(const char *text, const char *want)
{
	struct fixture *f = NULL;

	assert_int_equal(setup((void **)&f), 0);
	assert_true(config_load_json_text(f->cfg, text, strlen(text), NULL, &f->err) < 0);
	assert_string_equal(f->err.msg, want);
	teardown((void **)&f);
}

static void test_json_text(void **state)
{
	struct fixture *f = *state;
	char text[WD_PATH_MAX + 256];

	snprintf(text, sizeof(text),
	         "{\"probes\": {\"db\": {\"uri\": \"postgres://h/db\", \"password_file\": \"%s\","
	         " \"rise\": 3, \"fall\": 1, \"timeout\": \"250ms\", \"start_period\": \"0s\"}}}",
	         data_path(f, 0, "db_password.txt"));
	assert_int_equal(config_load_json_text(f->cfg, text, strlen(text), f->env, &f->err), 0);
	assert_string_equal(f->cfg->probes[0].password, "pw-from-file");
	assert_int_equal(f->cfg->probes[0].rise, 3);
	assert_int_equal(f->cfg->probes[0].fall, 1);
	assert_int_equal(f->cfg->probes[0].timeout_ms, 250);

	json_text_fails("", "config file, line 1 column 0: '[' or '{' expected");
	json_text_fails("{", "config file, line 1 column 1: string or '}' expected");
	json_text_fails("{\"probes\": []}", "probes: want an object, got an array");
	json_text_fails("{\"probes\": {\"DB\": {}}}",
	                "probes.DB: bad probe name 'DB' (want a-z, 0-9 and _ only)");
	json_text_fails("{\"probes\": {\"db\": 1}}", "probes.db: want an object, got an integer");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": 5}}}",
	                "probes.db.uri: want a string, got an integer");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"ftp://h\"}}}",
	                "probes.db.uri: unknown probe kind 'ftp' (want postgres, postgresql, "
	                "redis, rediss, http, https or tcp)");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1#interval=1s\"}}}",
	                "probes.db.uri: bad URI: it has a '#' (options go in their own keys; "
	                "percent-encode '#' in a password as %23)");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"rise\": 2.0}}}",
	                "probes.db.rise: want an integer, got a real number");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"rise\": -2}}}",
	                "probes.db: option rise: want an integer from 1 to 100, got '-2'");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"password\": \"\"}}}",
	                "probes.db.password: empty password");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"interval\": null}}}",
	                "probes.db.interval: want a string, got null");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"expect\": \"200\"}}}",
	                "probes.db: option expect does not apply to tcp probes (only to postgres "
	                "and http)");
	json_text_fails("{\"probes\": {\"db\": {\"uri\": \"tcp://h:1\", \"timeout\": \"5s\"}}}",
	                "probe db: timeout 5s must be less than interval 5s");
	json_text_fails("{\"listen\": 8089}", "listen: want a string, got an integer");
	json_text_fails("{\"http_idle_timeout\": 10}",
	                "http_idle_timeout: want a string, got an integer");
	json_text_fails("{\"drain_seconds\": 1e3}", "drain_seconds: want an integer, got a real "
	                                            "number");
	json_text_fails("{\"drain_seconds\": 99999999999999999999}",
	                "config file, line 1 column 38: too big integer");
	json_text_fails("{\"config_file\": \"/x\"}", "config_file: unknown key");
	json_text_fails("{\"a\\nb\": 1}", "a?b: unknown key");
}

static void test_json_text_too_many_probes(void **state)
{
	struct fixture *f = *state;
	char text[8192];
	size_t len = 0;

	len += (size_t)snprintf(text + len, sizeof(text) - len, "{\"probes\": {");
	for (int i = 0; i <= WD_PROBES_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "%s\"p%d\": {\"uri\": \"tcp://h:1\"}", i ? "," : "", i);
	len += (size_t)snprintf(text + len, sizeof(text) - len, "}}");
	assert_true(config_load_json_text(f->cfg, text, len, NULL, &f->err) < 0);
	assert_string_equal(f->err.msg, "probes: too many probes (at most 32)");
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

static void test_fencing_settings(void **state)
{
	struct fixture *f = *state;
	static const char *const secrets[] = {"an-admin-token-of-32-characters", NULL};
	char *json;

	env_add(f, "WARDEN_FLAG=ssm:/platform/prod/active-region, file:/run/warden/flag");
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_FLAG_INTERVAL=2s");
	env_add(f, "WARDEN_FLAG_TIMEOUT=500ms");
	env_add(f, "WARDEN_FLAG_TTL=10s");
	env_add(f, "WARDEN_ON_STALE=hold");
	env_add(f, "WARDEN_ADMIN_TOKEN=an-admin-token-of-32-characters");
	env_add(f, "WARDEN_FENCE_FILE=/run/warden/fence.json");
	load_ok(f);
	assert_int_equal(f->cfg->flag_count, 2);
	assert_int_equal(f->cfg->flags[0].kind, FLAG_SOURCE_SSM);
	assert_int_equal(f->cfg->flags[1].kind, FLAG_SOURCE_FILE);
	assert_int_equal(f->cfg->flag_interval_ms, 2000);
	assert_int_equal(f->cfg->flag_timeout_ms, 500);
	assert_int_equal(f->cfg->flag_ttl_ms, 10000);
	assert_true(f->cfg->on_stale_hold);
	assert_string_equal(f->cfg->admin_token, "an-admin-token-of-32-characters");
	assert_string_equal(f->cfg->fence_file, "/run/warden/fence.json");

	json = json_without(f->cfg, secrets);
	assert_non_null(strstr(json, "\"admin_token\": \"<redacted>\""));
	assert_null(strstr(json, "admin_token_file"));
	/* The timing contract: 2s x 1.2 + 500ms; no bound under WARDEN_ON_STALE=hold. */
	assert_non_null(strstr(json, "\"typical_fence\": \"2900ms\""));
	assert_non_null(strstr(json, "\"worst_case_fence\": \"unbounded\""));
	assert_non_null(strstr(json, "\"worst_case_fence_ms\": null"));
	assert_non_null(strstr(json, "\"worst_case\": \"unbounded\""));
	/* The split-brain window: ttl + 2m by default (worst_case is unbounded). */
	assert_non_null(strstr(json, "\"split_brain_after\": \"130s\""));
	free(json);
}

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

static void test_flag_quorum(void **state)
{
	struct fixture *f = *state;
	char *json;

	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_FLAG=file:/a,file:/b,file:/c");
	load_ok(f);
	assert_int_equal(f->cfg->flag_quorum_needed, 2); /* majority by default */
	json = config_print_json(f->cfg);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"needed\": 2,\n    \"of\": 3"));
	assert_non_null(strstr(json, "an outage of any one source changes nothing; of two fences "
	                             "every task"));
	free(json);

	env_add(f, "WARDEN_FLAG_QUORUM=all");
	load_ok(f);
	assert_int_equal(f->cfg->flag_quorum_needed, 3);
	env_clear(f);
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_FLAG=file:/a,file:/b");
	env_add(f, "WARDEN_FLAG_QUORUM=any");
	load_ok(f);
	assert_int_equal(f->cfg->flag_quorum_needed, 1);
	json = config_print_json(f->cfg);
	assert_non_null(strstr(json, "unsafe in a partition"));
	free(json);

	env_clear(f);
	env_add(f, "AWS_REGION=us-east-1");
	env_add(f, "WARDEN_FLAG=file:/a,file:/b");
	env_add(f, "WARDEN_FLAG_QUORUM=3");
	load_fails(f, "WARDEN_FLAG_QUORUM: want majority, all, any or a number from 1 to 2 (the "
	              "number of WARDEN_FLAG sources)");
	env_clear(f);
	env_add(f, "WARDEN_FLAG_QUORUM=most");
	load_fails_with(f, "WARDEN_FLAG_QUORUM", NULL);
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

static void test_fencing_json(void **state)
{
	struct fixture *f = *state;
	static const char both[] = "{\"admin_token\": \"0123456789abcdef\", "
	                           "\"admin_token_file\": \"/x\"}";
	static const char good[] = "{\"flag\": \"file:/run/warden/flag\", \"flag_ttl\": \"1m\", "
	                           "\"on_stale\": \"fence\"}";

	assert_true(config_load_json_text(f->cfg, both, strlen(both), f->env, &f->err) < 0);
	assert_string_equal(f->err.msg, "admin_token and admin_token_file are both set: use one");
	assert_true(config_load_json_text(f->cfg, good, strlen(good), f->env, &f->err) < 0);
	assert_string_equal(f->err.msg, "WARDEN_FLAG needs this task's region: set AWS_REGION (on "
	                                "ECS, task metadata gives it)");
	env_add(f, "AWS_REGION=us-east-1");
	assert_int_equal(config_load_json_text(f->cfg, good, strlen(good), f->env, &f->err), 0);
	assert_int_equal(f->cfg->flag_count, 1);
	assert_int_equal(f->cfg->flag_ttl_ms, 60000);
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
	        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_settings_bad, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_env, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_set_twice, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_errors_never_echo_secrets, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_errors_never_echo_secrets, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_env_probes_sorted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_probe_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_probe_bad_uri_never_leaks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_env_probe_same_name_twice, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_too_many_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_from_env, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_from_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_file_strips_one_newline, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_password_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_file_too_long, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_failed_load_wipes_secrets, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_over_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_password_for_file_probe, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_syntax_error_never_leaks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_file_missing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_text, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_text_too_many_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fencing_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_timing_rule, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_quorum, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_timing_rule_boundary, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fencing_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_admin_token_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fencing_json, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_needs_a_region, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_allow_root_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_singleton_settings, setup, teardown),
	        cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
