/*
 * test_config_env.c - the environment's part of the configuration
 * (agent/config_env.c): probes from WARDEN_PROBE_*, their passwords, unknown
 * names with their "did you mean", and no error echoing a secret.
 * Every test passes its own envp (never the process environment).
 */
#include "config_fixture.h"

/* ---- defaults and the environment -------------------------------------- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_unknown_env, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_errors_never_echo_secrets, setup, teardown),
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
