#include "probes/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"

#define STATE_LOOPS_MAX (WD_PROBES_MAX + 8)

struct state_loop {
	const char *name;
	int64_t max_gap_ms;
	_Atomic int64_t last_beat_ms;
};

struct wd_state {
	pthread_mutex_t lock; /* guards probes[] only */
	size_t probe_count;
	int64_t started_wall_ms;
	atomic_bool draining;
	_Atomic int loop_count;
	struct state_loop loops[STATE_LOOPS_MAX];
	struct probe_snapshot probes[]; /* probe_count */
};

struct wd_state *wd_state_new(size_t probe_count)
{
	struct wd_state *state;
	int64_t now = clock_wall_ms();

	state = calloc(1, sizeof(*state) + probe_count * sizeof(state->probes[0]));
	if (state == NULL)
		return NULL;
	if (pthread_mutex_init(&state->lock, NULL) != 0) {
		free(state);
		return NULL;
	}
	state->probe_count = probe_count;
	state->started_wall_ms = now;
	atomic_init(&state->draining, false);
	atomic_init(&state->loop_count, 0);
	for (size_t i = 0; i < probe_count; i++) {
		state->probes[i].health = PROBE_HEALTH_PENDING;
		state->probes[i].since_wall_ms = now;
	}
	return state;
}

void wd_state_free(struct wd_state *state)
{
	if (state == NULL)
		return;
	pthread_mutex_destroy(&state->lock);
	free(state);
}

size_t wd_state_probe_count(const struct wd_state *state)
{
	return state->probe_count;
}

int64_t wd_state_started_wall_ms(const struct wd_state *state)
{
	return state->started_wall_ms;
}

void wd_state_publish(struct wd_state *state, size_t idx, const struct probe_snapshot *snap)
{
	if (idx >= state->probe_count)
		return;
	pthread_mutex_lock(&state->lock);
	state->probes[idx] = *snap;
	pthread_mutex_unlock(&state->lock);
}

void wd_state_read_all(struct wd_state *state, struct probe_snapshot *out)
{
	pthread_mutex_lock(&state->lock);
	memcpy(out, state->probes, state->probe_count * sizeof(state->probes[0]));
	pthread_mutex_unlock(&state->lock);
}

void wd_state_read_one(struct wd_state *state, size_t idx, struct probe_snapshot *out)
{
	if (idx >= state->probe_count)
		return;
	pthread_mutex_lock(&state->lock);
	*out = state->probes[idx];
	pthread_mutex_unlock(&state->lock);
}

int wd_state_add_loop(struct wd_state *state, const char *name, int64_t max_gap_ms)
{
	int id = atomic_load(&state->loop_count);

	if (id >= STATE_LOOPS_MAX)
		return -ENOSPC;
	state->loops[id].name = name;
	state->loops[id].max_gap_ms = max_gap_ms;
	atomic_init(&state->loops[id].last_beat_ms, clock_mono_ms());
	atomic_store(&state->loop_count, id + 1);
	return id;
}

void wd_state_beat(struct wd_state *state, int loop_id)
{
	if (loop_id < 0 || loop_id >= atomic_load(&state->loop_count))
		return;
	atomic_store_explicit(&state->loops[loop_id].last_beat_ms, clock_mono_ms(),
	                      memory_order_relaxed);
}

const char *wd_state_stuck_loop(const struct wd_state *state, int64_t now_mono_ms)
{
	int count = atomic_load(&state->loop_count);

	for (int i = 0; i < count; i++) {
		const struct state_loop *loop = &state->loops[i];
		int64_t last = atomic_load_explicit(&loop->last_beat_ms, memory_order_relaxed);

		if (now_mono_ms - last > loop->max_gap_ms)
			return loop->name;
	}
	return NULL;
}

void wd_state_set_draining(struct wd_state *state)
{
	atomic_store(&state->draining, true);
}

bool wd_state_draining(const struct wd_state *state)
{
	return atomic_load(&state->draining);
}
