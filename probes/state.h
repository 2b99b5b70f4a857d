/*
 * state.h - what the background loops publish and the HTTP handlers read.
 *
 * Threads share snapshots, not state: a probe thread builds a whole
 * struct probe_snapshot and publishes a copy under a short lock; a handler
 * copies the snapshots out under the same lock and renders from its copy.
 * Heartbeats and the draining flag are atomics, readable without the lock,
 * so /livez costs no lock at all.
 */
#ifndef WARDEN_STATE_H
#define WARDEN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "probes/hysteresis.h"
#include "probes/probe.h"

/* One probe, as last published by its thread. Plain data. */
struct probe_snapshot {
	/* health after rise/fall */
	enum probe_health health;
	int64_t since_wall_ms; /* when health last changed (start-up for pending) */
	uint64_t transitions;  /* health changes, pending -> x included */
	unsigned ok_streak;
	unsigned fail_streak;

	/* the last run */
	bool has_result;
	struct probe_observation last;
	int64_t last_duration_us;
	int64_t last_wall_ms; /* when the last run ended */
	int64_t last_mono_ms; /* the same, on the monotonic clock (freshness checks) */

	/* counters since start-up */
	uint64_t checks[PROBE_OUTCOME_COUNT];
	uint64_t duration_buckets[WD_DURATION_BUCKET_COUNT]; /* per bucket, not cumulative */
	double duration_sum_seconds;
};

struct wd_state;

/*
 * A state for probe_count probes, all pending. Returns NULL on allocation
 * failure. Free with wd_state_free (NULL is a no-op).
 */
struct wd_state *wd_state_new(size_t probe_count);
void wd_state_free(struct wd_state *state);

size_t wd_state_probe_count(const struct wd_state *state);
/* Start-up time (wall ms), for uptime. */
int64_t wd_state_started_wall_ms(const struct wd_state *state);

/* Publish a copy of *snap as probe idx's state. Takes the lock briefly. */
void wd_state_publish(struct wd_state *state, size_t idx, const struct probe_snapshot *snap);
/* Copy every probe's snapshot into out[0..probe_count). */
void wd_state_read_all(struct wd_state *state, struct probe_snapshot *out);
/* Copy one probe's snapshot. */
void wd_state_read_one(struct wd_state *state, size_t idx, struct probe_snapshot *out);

/*
 * Loops that /livez watches. Register each loop once before threads start,
 * with the longest gap between two beats that is still healthy; returns the
 * loop id, or -ENOSPC. `name` must outlive the state.
 */
int wd_state_add_loop(struct wd_state *state, const char *name, int64_t max_gap_ms);
/* The loop is alive now (CLOCK_MONOTONIC). Lock-free. */
void wd_state_beat(struct wd_state *state, int loop_id);
/* The name of a loop whose last beat is older than its max gap, or NULL. */
const char *wd_state_stuck_loop(const struct wd_state *state, int64_t now_mono_ms);

/* Lame duck: set once on SIGTERM; /readyz fails from then on. Lock-free. */
void wd_state_set_draining(struct wd_state *state);
bool wd_state_draining(const struct wd_state *state);

#endif
