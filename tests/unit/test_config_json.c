/*
 * test_config_json.c - the WARDEN_CONFIG file (agent/config_json.c): a full file,
 * env over file, its errors (never echoing a secret), and the JSON text.
 * Every test passes its own envp (never the process environment).
 */
#include "config_fixture.h"

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

/* ---- fencing ------------------------------------------------------------ */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_json_errors_never_echo_secrets, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_file_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_over_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_password_for_file_probe, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_syntax_error_never_leaks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_file_missing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_text, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_text_too_many_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fencing_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
