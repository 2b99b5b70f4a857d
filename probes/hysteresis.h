/*
 * hysteresis.h - rise/fall: turning a stream of check results into up/down.
 *
 * A probe starts PENDING. Its first counted result sets it at once (a
 * success: UP; a failure: DOWN), so a task is ready as soon as its
 * dependencies answer. After that it takes `rise` successes in a row to go
 * from DOWN to UP and `fall` failures in a row to go from UP to DOWN.
 * A failure inside the probe's start_period is not counted: it neither moves
 * the state nor breaks a streak of successes.
 */
#ifndef WARDEN_PROBES_HYSTERESIS_H
#define WARDEN_PROBES_HYSTERESIS_H

#include <stdbool.h>

enum probe_health {
	PROBE_HEALTH_PENDING, /* "pending": no counted result yet */
	PROBE_HEALTH_UP,      /* "up" */
	PROBE_HEALTH_DOWN,    /* "down" */
};

const char *probe_health_str(enum probe_health health);

struct probe_hysteresis {
	enum probe_health health;
	unsigned ok_streak;
	unsigned fail_streak;
};

/*
 * Feed one result. `counted` is false for a failure inside start_period.
 * Returns true when health changed (the caller logs the transition once).
 */
bool hysteresis_update(struct probe_hysteresis *h, bool ok, bool counted, unsigned rise,
                       unsigned fall);

#endif
