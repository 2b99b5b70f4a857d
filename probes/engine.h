/*
 * engine.h - runs every configured probe in the background.
 *
 * Each probe has its own thread and its own schedule (interval, from the start
 * of one run to the start of the next), so a slow probe never delays another.
 * A run is bounded by the probe's timeout (the kind's run() honours the
 * deadline); results go through rise/fall and are published to the state;
 * every health transition is logged once, as event "probe.transition".
 */
#ifndef WARDEN_PROBES_ENGINE_H
#define WARDEN_PROBES_ENGINE_H

#include <stddef.h>

#include "lib/err.h"
#include "probes/probe.h"
#include "probes/state.h"

/* What the engine runs, filled by agent/ from the config. Plain data. */
struct probe_engine_config {
	const struct probe_config *probes; /* probe_count probes, borrowed */
	size_t probe_count;
};

struct probe_engine;

/*
 * Create the probes of cfg (no I/O yet); cfg is read here, the probes it
 * points to and state must outlive the engine. Registers one /livez loop
 * per probe. Returns NULL with err.
 */
struct probe_engine *probe_engine_new(const struct probe_engine_config *cfg, struct wd_state *state,
                                      struct wd_err *err);
/* Start the threads. Returns 0 or -errno. */
int probe_engine_start(struct probe_engine *engine);
/* Stop and join the threads; each stops within its probe's timeout. Idempotent. */
void probe_engine_stop(struct probe_engine *engine);
/* Stop if running, then free. NULL is a no-op. */
void probe_engine_free(struct probe_engine *engine);

#endif
