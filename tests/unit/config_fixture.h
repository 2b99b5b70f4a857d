/*
 * config_fixture.h - the fixture and helpers the config tests share
 * (test_config*.c): an envp built per test, config_load expected to pass or
 * fail with a message, the test data's paths, and the printout checked for
 * secrets. Not a test itself (tests/CMakeLists.txt builds test_*.c); each
 * helper is marked unused, as not every test file calls every one.
 */
#ifndef WARDEN_TESTS_UNIT_CONFIG_FIXTURE_H
#define WARDEN_TESTS_UNIT_CONFIG_FIXTURE_H

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

static __attribute__((unused)) int setup(void **state)
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
static __attribute__((unused)) void env_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->env_count; i++)
		free(f->env[i]);
	f->env_count = 0;
	f->env[0] = NULL;
}

static __attribute__((unused)) int teardown(void **state)
{
	struct fixture *f = *state;

	env_clear(f);
	free(f->cfg);
	free(f);
	return 0;
}

/* Add "KEY=VALUE" (printf-style) to the fixture's envp. */
static void __attribute__((unused, format(printf, 2, 3)))
env_add(struct fixture *f, const char *fmt, ...)
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
static __attribute__((unused)) const char *data_path(struct fixture *f, int slot, const char *name)
{
	const char *dir = getenv("WARDEN_TEST_DATA");

	assert_non_null(dir);
	snprintf(f->paths[slot], sizeof(f->paths[slot]), "%s/config/%s", dir, name);
	return f->paths[slot];
}

static __attribute__((unused)) void load_ok(struct fixture *f)
{
	if (config_load(f->cfg, f->env, &f->err) != 0)
		fail_msg("config_load failed: %s", f->err.msg);
}

/*
 * config_load fails with exactly `want`. Not inlined: inlined into a caller
 * whose fixture came from setup() (check_bad_env, check_bad_file), GCC -O2
 * takes the fixture for possibly NULL and warns (-Warray-bounds).
 */
static __attribute__((unused, noinline)) void load_fails(struct fixture *f, const char *want)
{
	memset(&f->err, 0, sizeof(f->err));
	assert_true(config_load(f->cfg, f->env, &f->err) < 0);
	assert_string_equal(f->err.msg, want);
}

/* config_load fails with `needle` in the message, and never `secret`. */
static __attribute__((unused)) void load_fails_with(struct fixture *f, const char *needle,
                                                    const char *secret)
{
	memset(&f->err, 0, sizeof(f->err));
	assert_true(config_load(f->cfg, f->env, &f->err) < 0);
	if (strstr(f->err.msg, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", f->err.msg, needle);
	if (secret != NULL && strstr(f->err.msg, secret) != NULL)
		fail_msg("message '%s' leaks '%s'", f->err.msg, secret);
	assert_null(strchr(f->err.msg, '\n'));
}

static __attribute__((unused)) const struct probe_config *probe_named(const struct wd_config *cfg,
                                                                      const char *name)
{
	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (strcmp(cfg->probes[i].name, name) == 0)
			return &cfg->probes[i];
	}
	fail_msg("no probe %s", name);
	return NULL;
}

/* config_print_json, checked to hold none of the secrets given. */
static __attribute__((unused)) char *json_without(const struct wd_config *cfg,
                                                  const char *const *secrets)
{
	char *json = config_print_json(cfg);

	assert_non_null(json);
	for (size_t i = 0; secrets[i] != NULL; i++) {
		if (strstr(json, secrets[i]) != NULL)
			fail_msg("config_print_json leaks '%s':\n%s", secrets[i], json);
	}
	return json;
}

/* One bad setting: the message names the variable. */
static __attribute__((unused)) void check_bad_env(const char *var, const char *want)
{
	struct fixture *f = NULL;

	assert_int_equal(setup((void **)&f), 0);
	env_add(f, "%s", var);
	load_fails(f, want);
	teardown((void **)&f);
}

/* A value that may be a secret, which no config error may echo. */
#define SECRET "S3cr3t:v@lue"

#endif
