/*
 * lease_internal.h - the singleton lease's helpers and shared state, for
 * lease.c and its unit test (tests/unit/test_lease.c) only. Not an API: the
 * rest of warden uses lease.h. Each helper's full contract is above its
 * definition in lease.c.
 */
#ifndef WARDEN_FENCING_LEASE_INTERNAL_H
#define WARDEN_FENCING_LEASE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "probes/outcome.h"
#include "probes/pgconn.h"
#include "fencing/fence.h"
#include "fencing/lease.h"

/* The statements, as lease.h documents the table. */
extern const char lease_create_sql[];
extern const char lease_claim_sql[];   /* $1 name, $2 holder, $3 ttl in ms */
extern const char lease_release_sql[]; /* $1 name, $2 holder, $3 generation */

/* What the thread last learned; shared under lease->lock. Plain data. */
struct lease_state {
	bool claim_ok; /* the row is ours until held_until (no attempt said otherwise) */
	bool draining; /* the agent is stopping: claim no more, report not held */
	int64_t held_until_mono_ms; /* of the last successful claim */
	uint64_t generation;        /* of the last successful claim; 0: never */
	char holder[LEASE_HOLDER_MAX + 1];
	enum lease_error reason; /* of the last attempt */
	char error[WD_ERR_MSG_MAX];
	uint64_t errors[LEASE_ERROR_COUNT];
	/* The latest instant lease_status() reported the lease held until: the
	 * row is not given up on demotion before it (a gate may trust it). */
	int64_t promised_until_mono_ms;
};

/* The reason of a failed statement or connect. Pure. */
enum lease_error lease_error_of(enum pgconn_result result, const char *sqlstate,
                                enum probe_outcome outcome);

/* 0 for 1..LEASE_HOLDER_MAX printable ASCII characters, no space; else -EINVAL. */
int lease_holder_check(const char *holder, struct wd_err *err);

/* A claim's row: the generation (> 0) and the ms left. 0, or -EINVAL. Pure. */
int lease_parse_claim(const char *generation_text, const char *remaining_text, uint64_t *generation,
                      int64_t *remaining_ms);

/* The status of lease `name` with `state` for a task judged `verdict`. Pure. */
void lease_status_compute(const char *name, const struct lease_state *state,
                          const struct fence_verdict *verdict, int64_t now_mono_ms,
                          struct lease_status *out);

/* Record a failed attempt (holder: who the database named, NULL if unknown);
 * lost: the row is not ours from now on. Takes lease->lock. */
void lease_record_failure(struct lease *lease, enum lease_error reason, const char *holder,
                          bool lost, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Record a successful claim: held until held_until (monotonic ms). Takes lease->lock. */
void lease_record_claim(struct lease *lease, uint64_t generation, int64_t held_until);

/* Log a transition (acquired, lost) as lease_status sees it at now_mono_ms. The thread's. */
void lease_log_transition(struct lease *lease, int64_t now_mono_ms);

/* Log a change of the error reason once (lease.error, lease.error_cleared). The thread's. */
void lease_log_error(struct lease *lease);

/* Not writable: true (and *generation) once the row should be released. Takes lease->lock. */
bool lease_release_due(struct lease *lease, uint64_t *generation);

#endif
