/*
 * clock.h - the two clocks warden uses.
 *
 * CLOCK_MONOTONIC for every interval, timeout, deadline and TTL; wall time
 * only for timestamps that people read (logs, "time" fields) and for SigV4.
 */
#ifndef WARDEN_CLOCK_H
#define WARDEN_CLOCK_H

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

#endif
