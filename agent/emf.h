/*
 * emf.h - the failover metrics, natively in CloudWatch: CloudWatch Embedded
 * Metric Format (EMF) lines on stdout (WARDEN_EMF=on), which the awslogs
 * driver turns into metrics without an agent or a scraper (DESIGN.md,
 * "Observability").
 *
 * One line per heartbeat (every WARDEN_EMF_INTERVAL, on a fixed schedule so
 * that a period of that length holds one heartbeat per task) and one per
 * fence transition, in namespace `Warden`, with the dimension sets
 * [Region] and [Region, Cluster, Service] and the metrics Writable, Ready,
 * SplitBrain, DemotionPending (Count), FlagEpoch (None) and FlagAgeSeconds
 * (Seconds); the task ARN, the state, the epoch (FlagEpoch) and the event
 * are plain members, for Logs Insights. Lines go through the one log writer
 * (a single write each), so they never interleave with the JSON log lines.
 *
 * Cluster and Service come from the ECS task metadata (`/task`): Cluster is
 * the cluster's name, Service the name in Group "service:NAME"; a task not
 * run by a service keeps its Group as is ("family:cron"). They are learned
 * on a thread with a few bounded attempts; until then (and off ECS) they are
 * "unknown". Region: AWS_REGION / AWS_DEFAULT_REGION, else the TaskARN's,
 * else the flag loop's, else "unknown".
 *
 * The renderer is pure (emf_render); the handle only samples and writes.
 */
#ifndef WARDEN_AGENT_EMF_H
#define WARDEN_AGENT_EMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/limits.h"
#include "probes/probe.h"
#include "probes/state.h"
#include "aws/aws.h"
#include "fencing/fencing.h"

#define EMF_NAMESPACE     "Warden"
#define EMF_DIM_VALUE_MAX AWS_TASK_NAME_MAX /* CloudWatch allows 1024; ECS names are <= 255 */
#define EMF_UNKNOWN       "unknown"         /* a dimension not known (yet) */
#define EMF_LINE_MAX      WD_LOG_LINE_MAX   /* one write: never interleaves (EMF allows 1 MB) */

/* One EMF document's content. Plain data; strings are copied by the renderer. */
struct emf_sample {
	const char *event;    /* "emf.heartbeat" | "emf.transition" */
	int64_t timestamp_ms; /* wall clock, ms since the epoch */
	char region[EMF_DIM_VALUE_MAX + 1];
	char cluster[EMF_DIM_VALUE_MAX + 1];
	char service[EMF_DIM_VALUE_MAX + 1];
	char task_arn[AWS_TASK_ARN_MAX + 1]; /* "" when not known */
	bool fencing;                        /* WARDEN_FLAG set: FlagEpoch, FlagAgeSeconds */
	bool writable;
	bool ready;
	bool split_brain;
	bool demotion_pending;
	const char *state;      /* fence_state_str() */
	const char *from_state; /* transitions: the state before; NULL for a heartbeat */
	char active_region[FLAG_REGION_MAX + 1];
	uint64_t epoch;
	int64_t flag_age_ms;
};

/*
 * Render sample as one EMF line (JSON + '\n') into out[size]; *len gets its
 * length. A dimension value is made what CloudWatch accepts: printable
 * ASCII ('?' for any other byte), "unknown" when empty or blank. Returns 0,
 * or -E2BIG when the line does not fit (out is then "").
 */
int emf_render(const struct emf_sample *sample, char *out, size_t size, size_t *len);

/*
 * The Service dimension of a task: NAME for Group "service:NAME", the Group
 * as is for any other ("family:cron", a task run by RunTask), "unknown" when
 * there is none. out is at least EMF_DIM_VALUE_MAX + 1 bytes.
 */
void emf_service_of(const char *group, char out[EMF_DIM_VALUE_MAX + 1]);

/*
 * FlagAgeSeconds, in ms: how long ago the request of the needed-th freshest
 * valid read was sent (needed: how many sources the verdict needs; 1 while
 * the highest epoch among whatever is readable decides). With fewer valid
 * reads than needed: now - start_mono_ms (the task has lacked them since it
 * started, at most). Pure.
 */
int64_t emf_flag_age_ms(const struct fencing_report *report, size_t needed, int64_t start_mono_ms);

/* What the handle needs of the config. Plain data; probes are borrowed. */
struct emf_config {
	int64_t interval_ms;               /* WARDEN_EMF_INTERVAL */
	const struct probe_config *probes; /* for Ready: the /readyz rule */
	size_t probe_count;
};

struct emf;

/*
 * Set up EMF output (no I/O, no thread yet) and hook fencing's transitions:
 * call before fencing_start(). envp: the environment (AWS_REGION,
 * ECS_CONTAINER_METADATA_URI_V4), copied. cfg is copied; what it points to,
 * fencing and state must outlive the handle. NULL with err on allocation
 * failure.
 */
struct emf *emf_new(const struct emf_config *cfg, char *const *envp, struct fencing *fencing,
                    struct wd_state *state, struct wd_err *err);
/*
 * Start learning the task metadata on a thread (a few attempts, each bounded,
 * with back-off; never blocks the caller). 0 or -errno.
 */
int emf_start(struct emf *emf);
/* Write a heartbeat when one is due. The main thread, every FENCING_TICK_MS. */
void emf_tick(struct emf *emf);
/* Stop the thread (waits for an attempt in flight, at most its deadline), free. NULL: no-op. */
void emf_free(struct emf *emf);

#endif
