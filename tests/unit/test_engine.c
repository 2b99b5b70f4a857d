/*
 * test_engine.c - the probe engine with a scripted fake kind in place of the
 * real ones (link seam on probe_ops_for): schedules, rise/fall through the
 * engine, published snapshots, one log event per transition, start_period,
 * and a prompt stop.
 */
/* WRAP: probe_ops_for */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "agent/config.h"
#include "lib/log.h"
#include "probes/state.h"
#include "probes/engine.h"

/* The script: outcome of run N (repeats the last entry after the end). */
struct script {
	const enum probe_outcome *outcomes;
	size_t count;
	atomic_int runs;
};

static struct script *current_script;

static int fake_validate(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	(void)err;
	return 0;
}

static void *fake_create(const struct probe_config *cfg, struct wd_err *err)
{
	(void)cfg;
	(void)err;
	return current_script;
}

static void fake_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct script *script = ctx;
	int n = atomic_fetch_add(&script->runs, 1);
	size_t at = (size_t)n < script->count ? (size_t)n : script->count - 1;

	(void)deadline_mono_ms;
	if (script->outcomes[at] != PROBE_OK)
		probe_fail(obs, script->outcomes[at], "scripted failure %d", n);
}

static void fake_destroy(void *ctx)
{
	(void)ctx;
}

static const struct probe_ops fake_ops = {
        .kind = PROBE_KIND_TCP,
        .validate = fake_validate,
        .create = fake_create,
        .run = fake_run,
        .destroy = fake_destroy,
};

const struct probe_ops *__wrap_probe_ops_for(enum probe_kind kind);
const struct probe_ops *__wrap_probe_ops_for(enum probe_kind kind)
{
	(void)kind;
	return &fake_ops;
}

static struct wd_config *one_probe_config(int64_t start_period_ms)
{
	struct wd_config *cfg = calloc(1, sizeof(*cfg));
	struct probe_config *p = &cfg->probes[0];

	cfg->probe_count = 1;
	snprintf(p->name, sizeof(p->name), "fake");
	snprintf(p->target, sizeof(p->target), "tcp://127.0.0.1:1");
	p->kind = PROBE_KIND_TCP;
	p->critical = true;
	p->interval_ms = 10;
	p->timeout_ms = 5;
	p->rise = 2;
	p->fall = 2;
	p->start_period_ms = start_period_ms;
	return cfg;
}

/* Run the engine until the script has run `runs` times; return the log text. */
static char *run_script(struct wd_config *cfg, struct script *script, int runs,
                        struct probe_snapshot *snap_out)
{
	FILE *log = tmpfile();
	struct wd_state *state = wd_state_new(cfg->probe_count);
	struct probe_engine *engine;
	struct wd_err err = {0};
	int64_t give_up = clock_mono_ms() + 10000;
	char *text;
	long size;

	assert_non_null(log);
	log_set_fd(fileno(log));
	current_script = script;
	engine = probe_engine_new(&(struct probe_engine_config){cfg->probes, cfg->probe_count},
	                          state, &err);
	assert_non_null(engine);
	assert_int_equal(probe_engine_start(engine), 0);
	while (atomic_load(&script->runs) < runs && clock_mono_ms() < give_up)
		usleep(2000);
	probe_engine_free(engine);
	assert_true(atomic_load(&script->runs) >= runs);
	wd_state_read_one(state, 0, snap_out);
	wd_state_free(state);
	log_set_fd(1);

	fflush(log);
	size = ftell(log);
	text = calloc(1, (size_t)size + 1);
	rewind(log);
	assert_int_equal(fread(text, 1, (size_t)size, log), (size_t)size);
	fclose(log);
	return text;
}

static int count_of(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_rise_and_fall_through_engine(void **unused)
{
	/* ok -> up at once; fail, fail -> down; ok, ok -> up; then ok forever. */
	static const enum probe_outcome outcomes[] = {PROBE_OK, PROBE_TIMEOUT, PROBE_TIMEOUT,
	                                              PROBE_OK, PROBE_OK};
	struct script script = {.outcomes = outcomes, .count = 5};
	struct wd_config *cfg = one_probe_config(0);
	struct probe_snapshot snap;
	char *log;

	(void)unused;
	log = run_script(cfg, &script, 8, &snap);
	assert_int_equal(snap.health, PROBE_HEALTH_UP);
	assert_int_equal(snap.transitions, 3);
	assert_true(snap.checks[PROBE_TIMEOUT] == 2);
	assert_true(snap.checks[PROBE_OK] >= 6);
	assert_true(snap.has_result);
	/* One event per transition, naming from, to and the reason. */
	assert_int_equal(count_of(log, "\"event\":\"probe.transition\""), 3);
	assert_non_null(strstr(log, "\"from\":\"pending\",\"to\":\"up\",\"reason\":\"ok\""));
	assert_non_null(strstr(log, "\"from\":\"up\",\"to\":\"down\",\"reason\":\"timeout\""));
	assert_non_null(strstr(log, "\"from\":\"down\",\"to\":\"up\",\"reason\":\"ok\""));
	free(log);
	free(cfg);
}

static void test_failures_in_start_period_do_not_count(void **unused)
{
	static const enum probe_outcome outcomes[] = {PROBE_REFUSED};
	struct script script = {.outcomes = outcomes, .count = 1};
	struct wd_config *cfg = one_probe_config(60000);
	struct probe_snapshot snap;
	char *log;

	(void)unused;
	log = run_script(cfg, &script, 5, &snap);
	assert_int_equal(snap.health, PROBE_HEALTH_PENDING);
	assert_int_equal(snap.transitions, 0);
	assert_int_equal(snap.last.outcome, PROBE_REFUSED);
	assert_null(strstr(log, "probe.transition"));
	free(log);
	free(cfg);
}

static void test_durations_are_bucketed(void **unused)
{
	static const enum probe_outcome outcomes[] = {PROBE_OK};
	struct script script = {.outcomes = outcomes, .count = 1};
	struct wd_config *cfg = one_probe_config(0);
	struct probe_snapshot snap;
	uint64_t in_buckets = 0;
	char *log;

	(void)unused;
	log = run_script(cfg, &script, 4, &snap);
	for (size_t b = 0; b < WD_DURATION_BUCKET_COUNT; b++)
		in_buckets += snap.duration_buckets[b];
	/* A no-op run is far below 10 s: every run lands in a finite bucket. */
	assert_int_equal(in_buckets, snap.checks[PROBE_OK]);
	assert_true(snap.duration_sum_seconds >= 0);
	free(log);
	free(cfg);
}

static void test_stuck_loop_is_reported(void **unused)
{
	struct wd_state *state = wd_state_new(0);
	int id;

	(void)unused;
	id = wd_state_add_loop(state, "slow", 50);
	assert_true(id >= 0);
	assert_null(wd_state_stuck_loop(state, clock_mono_ms()));
	assert_string_equal(wd_state_stuck_loop(state, clock_mono_ms() + 51), "slow");
	wd_state_beat(state, id);
	assert_null(wd_state_stuck_loop(state, clock_mono_ms()));
	wd_state_free(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rise_and_fall_through_engine),
	        cmocka_unit_test(test_failures_in_start_period_do_not_count),
	        cmocka_unit_test(test_durations_are_bucketed),
	        cmocka_unit_test(test_stuck_loop_is_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
