/*
 * fencing.h - the fencing side of the agent, behind one handle: the fence
 * (fence.h), the flag readers (flag_loop.h), the role check (decision.h),
 * the transition log and the fence file, and the singleton lease
 * (WARDEN_SINGLETON). The write-fencing proxy (WARDEN_PROXY_LISTEN) sits
 * above fencing/: agent/ runs it, with fencing_verdict() as its view.
 *
 * Without WARDEN_FLAG the handle still exists and reports `unknown`, never
 * writable, so callers need no special case.
 *
 * Transitions: fencing_tick(), called by the main thread every
 * FENCING_TICK_MS, computes the verdict, logs one `fence.transition` event
 * per change of state or writability (with from, to, reason, region,
 * epoch), raises and clears the split-brain alarm, and rewrites the fence
 * file when the verdict changed. The verdict itself is computed whenever
 * asked; the tick only reports it.
 */
#ifndef WARDEN_FENCING_FENCING_H
#define WARDEN_FENCING_FENCING_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "probes/state.h"
#include "fencing/decision.h"
#include "fencing/fence.h"
#include "fencing/flag_loop.h"
#include "fencing/lease.h"

#define FENCING_TICK_MS 100

/* Everything /fence, /status and /metrics show of fencing, at one instant. Plain data. */
struct fencing_report {
	bool enabled; /* WARDEN_FLAG is set */
	struct fence_verdict verdict;
	int64_t now_mono_ms;
	int64_t now_wall_ms;
	int64_t since_wall_ms; /* when state or writability last changed */
	uint64_t transitions;
	char region[FLAG_REGION_MAX + 1]; /* this task's; "" until known */
	int64_t ttl_ms;
	struct fence_timing timing;
	bool forced;
	size_t source_count;
	struct flag_source_status sources[FENCE_SOURCES_MAX];
	bool has_lease;
	struct lease_status lease;
};

/*
 * What the handle needs of the config, filled by agent/ from the table.
 * Plain data; the arrays and strings it points to are borrowed.
 */
struct fencing_config {
	const struct flag_source *flags; /* flag_count sources; 0: no WARDEN_FLAG */
	size_t flag_count;
	int64_t flag_interval_ms;          /* WARDEN_FLAG_INTERVAL */
	int64_t flag_timeout_ms;           /* WARDEN_FLAG_TIMEOUT */
	int64_t flag_ttl_ms;               /* WARDEN_FLAG_TTL */
	bool on_stale_hold;                /* WARDEN_ON_STALE=hold */
	size_t flag_quorum;                /* WARDEN_FLAG_QUORUM; 0 = a majority */
	int64_t split_brain_after_ms;      /* WARDEN_SPLIT_BRAIN_AFTER */
	const char *fence_file;            /* WARDEN_FENCE_FILE; "" = none */
	const struct probe_config *probes; /* the role check's and the lease's probes */
	size_t probe_count;
	const char *singleton;       /* WARDEN_SINGLETON; "" = no lease */
	int64_t singleton_ttl_ms;    /* WARDEN_SINGLETON_TTL */
	const char *singleton_probe; /* WARDEN_SINGLETON_PROBE */
};

struct fencing;

/*
 * How the fence file's content is rendered: the /fence JSON, which agent/
 * renders (it sits above fencing/). render appends the document for report
 * to out: 0 or -errno. Called from whichever thread ticks.
 */
struct fencing_renderer {
	void *arg;
	int (*render)(void *arg, const struct fencing_report *report, struct wd_buf *out);
};

/*
 * Set up fencing for cfg (no I/O, no thread yet). envp: the environment for
 * the AWS settings. cfg and renderer are copied; what cfg points to, state
 * and renderer->arg must outlive the handle. NULL with err when a flag source
 * cannot work (no region, no AWS credentials).
 */
struct fencing *fencing_new(const struct fencing_config *cfg, char *const *envp,
                            struct wd_state *state, const struct fencing_renderer *renderer,
                            struct wd_err *err);
/*
 * Start the flag readers, then the lease when configured. 0, or -errno with
 * err.
 */
int fencing_start(struct fencing *fencing, struct wd_err *err);
/* Release the lease, stop the readers, free. NULL is a no-op. */
void fencing_free(struct fencing *fencing);

/* This task's region ("" until known, and without WARDEN_FLAG). Any thread. */
void fencing_region(struct fencing *fencing, char out[FLAG_REGION_MAX + 1]);
/* The verdict now (see decision.h). Any thread; cheap. */
void fencing_verdict(struct fencing *fencing, int64_t now_mono_ms, struct fence_verdict *out);
/* Fill a report of now. Any thread. */
void fencing_report(struct fencing *fencing, struct fencing_report *out);
/* Set or lift the operator fence (POST /admin/fence, /admin/unfence). Any thread. */
void fencing_force(struct fencing *fencing, bool forced);
/*
 * The agent is stopping (SIGTERM): the lease is reported not held at once
 * (so the gate stops the cron) and released only when fencing_free() runs,
 * at the end of the drain. Any thread.
 */
void fencing_drain(struct fencing *fencing);

/* One transition of the fence, as fencing_tick() logs it. Plain data. */
struct fencing_transition {
	enum fence_state from;
	bool was_writable;
	struct fence_verdict verdict; /* the new state and writability, and why */
	int64_t at_wall_ms;           /* when the tick saw it */
	uint64_t seq;                 /* the transition count, this one included */
};

/*
 * Call on_transition(arg, t) after every transition fencing_tick() logs, on
 * the thread that ticked, outside fencing's locks (it may call
 * fencing_report()). Two threads ticking at once may deliver two
 * transitions out of order: seq and at_wall_ms order them. Set before
 * fencing_start() and before the first fencing_tick(); NULL: none.
 */
void fencing_on_transition(struct fencing *fencing,
                           void (*on_transition)(void *arg, const struct fencing_transition *t),
                           void *arg);

/* Log transitions and keep the fence file current. The main thread, every FENCING_TICK_MS. */
void fencing_tick(struct fencing *fencing);

#endif
