/*
 * flag_loop.h - reads the active-region flag from every WARDEN_FLAG source,
 * each source on its own thread, and records every valid read in the fence.
 *
 * A source is read every WARDEN_FLAG_INTERVAL with +-20 % jitter (so that N
 * tasks do not hit SSM in step), each read bounded by WARDEN_FLAG_TIMEOUT.
 * Throttling and server errors back off exponentially with full jitter,
 * never faster than the interval and never slower than max(interval,
 * ttl / 2), so that a source is read again within half a TTL of the store's
 * recovery; the read lease keeps expiring meanwhile,
 * so a source that cannot be read fences the task within the TTL. A read is
 * recorded with the monotonic time its request was SENT (the lease starts
 * then, not when the answer came).
 *
 * Each thread beats a /livez loop while it waits, and at least once per
 * read; a file read that hangs (a dead network volume) stops the beat, and
 * the task is replaced.
 */
#ifndef WARDEN_FENCING_FLAG_LOOP_H
#define WARDEN_FENCING_FLAG_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "probes/state.h"
#include "aws/aws.h"
#include "fencing/fence.h"
#include "fencing/flag_source.h"

/*
 * The result of one flag read: an AWS outcome for an SSM read (the values
 * 0 .. AWS_OUTCOME_COUNT - 1 are enum aws_outcome's, AWS_OK being "ok"; a
 * file read uses "ok", "not_found" and "internal" too), or one of the
 * results of its own below. /status "result" and the `result` label of
 * warden_flag_reads_total are flag_read_result_str() of it.
 */
enum flag_read_result {
	FLAG_READ_OK = AWS_OK,
	FLAG_READ_NOT_FOUND = AWS_NOT_FOUND,
	FLAG_READ_INTERNAL = AWS_INTERNAL,
	FLAG_READ_BAD_VALUE = AWS_OUTCOME_COUNT, /* "bad_value": read, but not a valid flag */
	FLAG_READ_IO_ERROR,                      /* "io_error": a file that cannot be read */
	FLAG_READ_REGION_UNKNOWN,                /* "region_unknown": no region to sign for */
	FLAG_READ_RESULT_COUNT
};

/* The result's text; "unknown" for a value out of range. Never NULL. */
const char *flag_read_result_str(enum flag_read_result result);

/* What one source has done, for /status and metrics. Plain data. */
struct flag_source_status {
	bool has_result;              /* an attempt has finished */
	enum flag_read_result result; /* the last attempt's, when has_result */
	char error[WD_ERR_MSG_MAX];   /* why the last attempt failed; "" when it did not */
	char request_id[AWS_REQUEST_ID_MAX + 1]; /* of the last AWS answer */
	int64_t last_attempt_wall_ms;            /* 0: never */
	int64_t last_ok_wall_ms;                 /* 0: never */
	int64_t last_ok_sent_mono_ms;            /* when the last valid read's request was sent */
	bool has_value;
	char active_region[FLAG_REGION_MAX + 1]; /* of the last valid read */
	uint64_t epoch;                          /* of the last valid read (see fence.h) */
	uint64_t version; /* SSM Version of the last valid read; 0 for a file */
	unsigned failures_in_row;
	int64_t next_attempt_mono_ms;           /* when the next attempt starts */
	uint64_t reads[FLAG_READ_RESULT_COUNT]; /* warden_flag_reads_total{source,result} */
};

/* What the readers read, and how often: filled from the config. Plain data. */
struct flag_loop_config {
	const struct flag_source *flags; /* flag_count sources (WARDEN_FLAG), borrowed */
	size_t flag_count;
	int64_t flag_interval_ms; /* WARDEN_FLAG_INTERVAL */
	int64_t flag_timeout_ms;  /* WARDEN_FLAG_TIMEOUT */
	int64_t flag_ttl_ms;      /* WARDEN_FLAG_TTL: caps the back-off at max(interval, ttl/2) */
};

struct flag_loop;

/*
 * Prepare one reader per source of cfg (no I/O): this task's region from
 * AWS_REGION / AWS_DEFAULT_REGION (set into the fence at once), else from
 * ECS task metadata later; AWS credentials when a source is ssm:. envp is a
 * NULL-terminated environment, read here and not kept. cfg is copied; the
 * sources it points to, fence and state must outlive the loop. Returns NULL with err when the
 * region can never be known or AWS credentials are missing or bad.
 */
struct flag_loop *flag_loop_new(const struct flag_loop_config *cfg, char *const *envp,
                                struct fence *fence, struct wd_state *state, struct wd_err *err);
/*
 * Call on_read(arg) on the reader's thread after every attempt has been
 * recorded (the fencing handle logs transitions at once with it). Set
 * before flag_loop_start().
 */
void flag_loop_on_read(struct flag_loop *loop, void (*on_read)(void *arg), void *arg);

/* Start the threads. 0 or -errno. */
int flag_loop_start(struct flag_loop *loop);
/* Stop and join the threads (each stops within the flag timeout), free. NULL is a no-op. */
void flag_loop_free(struct flag_loop *loop);

/* Copy source i's status. */
void flag_loop_status(struct flag_loop *loop, size_t i, struct flag_source_status *out);
/* This task's region, "" until known. */
void flag_loop_region(struct flag_loop *loop, char out[FLAG_REGION_MAX + 1]);

/*
 * The delay before the next attempt: the interval with +-20 % jitter after a
 * success or an ordinary failure; after `failures` throttled or 5xx answers
 * in a row, full jitter over [interval, min(interval x 2^failures, cap)]
 * with cap = max(interval, ttl / 2) (DESIGN.md "Knobs"). `random` is
 * uniform in [0, 1). Pure.
 */
int64_t flag_loop_delay_ms(int64_t interval_ms, int64_t ttl_ms, unsigned backoff_failures,
                           double random);

#endif
