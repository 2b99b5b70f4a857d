/*
 * test_config_print.c - `warden config` (agent/config_print.c): the printout of
 * the defaults, the fencing timing contract and the flag quorum.
 * Every test passes its own envp (never the process environment).
 */
#include "config_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fencing_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flag_quorum, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
