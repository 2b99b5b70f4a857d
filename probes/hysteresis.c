#include "probes/hysteresis.h"

const char *probe_health_str(enum probe_health health)
{
	switch (health) {
	case PROBE_HEALTH_PENDING: return "pending";
	case PROBE_HEALTH_UP: return "up";
	case PROBE_HEALTH_DOWN: return "down";
	}
	return "unknown";
}

static bool move(struct probe_hysteresis *h, enum probe_health to)
{
	if (h->health == to)
		return false;
	h->health = to;
	return true;
}

bool hysteresis_update(struct probe_hysteresis *h, bool ok, bool counted, unsigned rise,
                       unsigned fall)
{
	if (ok) {
		h->fail_streak = 0;
		if (h->ok_streak < rise)
			h->ok_streak++;
		if (h->health == PROBE_HEALTH_PENDING || h->ok_streak >= rise)
			return move(h, PROBE_HEALTH_UP);
		return false;
	}
	if (!counted)
		return false;
	h->ok_streak = 0;
	if (h->fail_streak < fall)
		h->fail_streak++;
	if (h->health == PROBE_HEALTH_PENDING || h->fail_streak >= fall)
		return move(h, PROBE_HEALTH_DOWN);
	return false;
}
