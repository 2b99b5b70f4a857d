/*
 * engine.c - one thread per probe, each on its own schedule.
 *
 * Why threads and not one event loop: the kinds wrap libraries (libpq,
 * libcurl, OpenSSL) that each want their own way of being driven; a thread
 * per probe lets each kind drive its library with poll() against a deadline,
 * and makes it impossible for one probe, however broken, to delay another or
 * the HTTP answers. A run that overruns its deadline (a bug in a kind) stops
 * that probe's heartbeat, which /livez reports, so ECS replaces the task.
 *
 * Schedule: runs start every `interval` (start to start); a run that ends
 * after the next start time is followed at once by the next run, never by a
 * burst of missed ones.
 */
#include "probes/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"

/* Slack on top of interval + timeout before /livez calls a probe stuck. */
#define ENGINE_STUCK_SLACK_MS 2000

static const double duration_buckets[WD_DURATION_BUCKET_COUNT] = {WD_DURATION_BUCKETS};

struct probe_engine;

struct probe_worker {
	struct probe_engine *engine;
	size_t idx;
	const struct probe_config *cfg;
	const struct probe_ops *ops;
	void *ctx;
	int loop_id;
	pthread_t thread;
	bool running;
	int64_t started_mono_ms;
	struct probe_hysteresis hysteresis;
	struct probe_snapshot snap; /* this thread's working copy */
};

struct probe_engine {
	struct wd_state *state;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* signalled on stop */
	bool stopping;
	size_t count;
	struct probe_worker workers[];
};

struct probe_engine *probe_engine_new(const struct probe_engine_config *cfg, struct wd_state *state,
                                      struct wd_err *err)
{
	struct probe_engine *engine;
	size_t i;

	engine = calloc(1, sizeof(*engine) + cfg->probe_count * sizeof(engine->workers[0]));
	if (engine == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	engine->state = state;
	pthread_mutex_init(&engine->lock, NULL);
	clock_cond_init(&engine->wake);

	for (i = 0; i < cfg->probe_count; i++) {
		struct probe_worker *worker = &engine->workers[i];
		const struct probe_config *pcfg = &cfg->probes[i];

		worker->engine = engine;
		worker->idx = i;
		worker->cfg = pcfg;
		worker->ops = probe_ops_for(pcfg->kind);
		worker->ctx = worker->ops->create(pcfg, err);
		if (worker->ctx == NULL) {
			wd_err_prefix(err, "probe %s", pcfg->name);
			engine->count = i;
			probe_engine_free(engine);
			return NULL;
		}
		worker->loop_id = wd_state_add_loop(state, pcfg->name,
		                                    pcfg->interval_ms + pcfg->timeout_ms +
		                                            ENGINE_STUCK_SLACK_MS);
		worker->hysteresis.health = PROBE_HEALTH_PENDING;
		worker->snap.health = PROBE_HEALTH_PENDING;
		worker->snap.since_wall_ms = wd_state_started_wall_ms(state);
	}
	engine->count = cfg->probe_count;
	return engine;
}

static void record_duration(struct probe_snapshot *snap, int64_t duration_us)
{
	double seconds = (double)duration_us / 1e6;

	snap->duration_sum_seconds += seconds;
	for (size_t b = 0; b < WD_DURATION_BUCKET_COUNT; b++) {
		if (seconds <= duration_buckets[b]) {
			snap->duration_buckets[b]++;
			return;
		}
	}
	/* Above the last bucket: counted only in +Inf (the total of checks). */
}

static void log_transition(const struct probe_worker *worker, enum probe_health from)
{
	const struct probe_snapshot *snap = &worker->snap;
	const struct probe_observation *obs = &snap->last;
	enum probe_health to = snap->health;
	struct log_line line;

	log_begin(&line, to == PROBE_HEALTH_UP ? LOG_INFO : LOG_WARN, "probe.transition");
	log_str(&line, "probe", worker->cfg->name);
	log_str(&line, "kind", probe_kind_str(worker->cfg->kind));
	log_str(&line, "from", probe_health_str(from));
	log_str(&line, "to", probe_health_str(to));
	log_str(&line, "reason", probe_outcome_str(obs->outcome));
	if (obs->detail[0])
		log_str(&line, "detail", obs->detail);
	if (obs->role != DB_ROLE_UNKNOWN)
		log_str(&line, "role", db_role_str(obs->role));
	log_str(&line, "target", worker->cfg->target);
	log_int(&line, "duration_ms", snap->last_duration_us / 1000);
	log_bool(&line, "critical", worker->cfg->critical);
	log_end(&line, "probe %s is %s (%s)", worker->cfg->name, probe_health_str(to),
	        probe_outcome_str(obs->outcome));
}

/* One run: check, account, rise/fall, publish, log a transition. */
static void run_once(struct probe_worker *worker)
{
	const struct probe_config *cfg = worker->cfg;
	struct probe_snapshot *snap = &worker->snap;
	struct probe_observation obs;
	enum probe_health from = worker->hysteresis.health;
	int64_t t0_us = clock_mono_us();
	int64_t deadline = t0_us / 1000 + cfg->timeout_ms;
	bool ok;
	bool counted;

	memset(&obs, 0, sizeof(obs));
	obs.outcome = PROBE_OK;
	worker->ops->run(worker->ctx, deadline, &obs);
	if ((unsigned)obs.outcome >= PROBE_OUTCOME_COUNT)
		probe_fail(&obs, PROBE_INTERNAL, "probe returned an invalid outcome");

	snap->last = obs;
	snap->has_result = true;
	snap->last_duration_us = clock_mono_us() - t0_us;
	snap->last_wall_ms = clock_wall_ms();
	snap->last_mono_ms = clock_mono_ms();
	snap->checks[obs.outcome]++;
	record_duration(snap, snap->last_duration_us);

	ok = obs.outcome == PROBE_OK;
	counted = clock_mono_ms() - worker->started_mono_ms >= cfg->start_period_ms;
	if (hysteresis_update(&worker->hysteresis, ok, counted, cfg->rise, cfg->fall)) {
		snap->transitions++;
		snap->since_wall_ms = snap->last_wall_ms;
	}
	snap->health = worker->hysteresis.health;
	snap->ok_streak = worker->hysteresis.ok_streak;
	snap->fail_streak = worker->hysteresis.fail_streak;
	wd_state_publish(worker->engine->state, worker->idx, snap);

	if (snap->health != from)
		log_transition(worker, from);
	else if (!ok)
		log_msg(LOG_DEBUG, "probe.check", "probe %s: %s: %s", cfg->name,
		        probe_outcome_str(obs.outcome), obs.detail);
}

/* Wait until deadline (monotonic ms) or stop; returns true when stopping. */
static bool wait_until(struct probe_engine *engine, int64_t deadline_ms)
{
	bool stopping;

	pthread_mutex_lock(&engine->lock);
	while (!engine->stopping &&
	       !clock_cond_wait_until(&engine->wake, &engine->lock, deadline_ms))
		;
	stopping = engine->stopping;
	pthread_mutex_unlock(&engine->lock);
	return stopping;
}

static void *worker_main(void *arg)
{
	struct probe_worker *worker = arg;
	struct probe_engine *engine = worker->engine;
	int64_t next = clock_mono_ms();

	worker->started_mono_ms = next;
	for (;;) {
		int64_t now;

		wd_state_beat(engine->state, worker->loop_id);
		run_once(worker);
		wd_state_beat(engine->state, worker->loop_id);
		now = clock_mono_ms();
		next += worker->cfg->interval_ms;
		if (next < now)
			next = now;
		if (wait_until(engine, next))
			break;
	}
	return NULL;
}

int probe_engine_start(struct probe_engine *engine)
{
	for (size_t i = 0; i < engine->count; i++) {
		struct probe_worker *worker = &engine->workers[i];
		int rc;

		wd_state_beat(engine->state, worker->loop_id);
		rc = pthread_create(&worker->thread, NULL, worker_main, worker);
		if (rc != 0) {
			probe_engine_stop(engine);
			return -rc;
		}
		worker->running = true;
	}
	return 0;
}

void probe_engine_stop(struct probe_engine *engine)
{
	if (engine == NULL)
		return;
	pthread_mutex_lock(&engine->lock);
	engine->stopping = true;
	pthread_cond_broadcast(&engine->wake);
	pthread_mutex_unlock(&engine->lock);
	for (size_t i = 0; i < engine->count; i++) {
		if (engine->workers[i].running) {
			pthread_join(engine->workers[i].thread, NULL);
			engine->workers[i].running = false;
		}
	}
}

void probe_engine_free(struct probe_engine *engine)
{
	if (engine == NULL)
		return;
	probe_engine_stop(engine);
	for (size_t i = 0; i < engine->count; i++)
		engine->workers[i].ops->destroy(engine->workers[i].ctx);
	pthread_cond_destroy(&engine->wake);
	pthread_mutex_destroy(&engine->lock);
	free(engine);
}
