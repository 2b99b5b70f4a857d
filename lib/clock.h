/*
 * clock.h - the two clocks warden uses.
 *
 * CLOCK_MONOTONIC for every interval, timeout, deadline and TTL; wall time
 * only for timestamps that people read (logs, "time" fields) and for SigV4.
 */
#ifndef WARDEN_CLOCK_H
#define WARDEN_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds / microseconds since an arbitrary origin. */
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);

/* Wall-clock milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

/*
 * Format wall-clock ms as RFC 3339 UTC with milliseconds
 * ("2026-11-26T05:02:36.123Z") into buf (at least 25 bytes).
 */
void clock_format_rfc3339(int64_t wall_ms, char *buf, size_t size);

/*
 * Milliseconds left until deadline_mono_ms, clamped to [0, INT32_MAX]:
 * the value to hand to poll().
 */
int clock_ms_until(int64_t deadline_mono_ms);

/*
 * Sleep until the monotonic clock reads deadline_mono_ms (at once when it
 * has passed); a signal does not cut the sleep short. Blocks the caller.
 */
void clock_sleep_until(int64_t deadline_mono_ms);

/* Sleep ms milliseconds of the monotonic clock (clock_sleep_until). Blocks. */
void clock_sleep_ms(int64_t ms);

/*
 * Initialise cond so that its timed waits run on CLOCK_MONOTONIC, like every
 * wait in warden. Returns 0 or an errno value (as pthread_cond_init).
 */
int clock_cond_init(pthread_cond_t *cond);

/*
 * Wait on cond (mutex held, as for pthread_cond_wait) until it is signalled
 * or deadline_mono_ms passes. Returns true when the deadline has passed. The
 * caller re-checks its own condition either way.
 */
bool clock_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t deadline_mono_ms);

#endif
