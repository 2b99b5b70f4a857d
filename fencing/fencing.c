#include "fencing/fencing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "fencing/decision.h"
#include "fencing/fence_file.h"

#define FENCING_FILE_MAX (64 * 1024) /* the fence file's JSON */

struct fencing {
	struct fencing_config config;
	const struct fencing_config *cfg; /* &config */
	struct decision_config decision;  /* the role check's part of config */
	struct wd_state *state;
	struct fencing_renderer renderer;
	struct fence *fence;       /* NULL without WARDEN_FLAG */
	struct flag_loop *flags;   /* NULL without WARDEN_FLAG */
	struct lease *lease;       /* NULL without WARDEN_SINGLETON */
	pthread_mutex_t file_lock; /* one writer of the fence file at a time */
	pthread_mutex_t lock;      /* guards everything below */
	bool forced;
	/* what the last tick saw, for transitions and the fence file */
	enum fence_state state_seen;
	bool writable_seen;
	bool split_brain_seen;
	bool demotion_pending_seen;
	uint64_t epoch_seen;
	char region_seen[FLAG_REGION_MAX + 1];
	int64_t until_seen;
	int64_t since_wall_ms;
	uint64_t transitions;
	bool file_dirty; /* the fence file needs writing (a change, or the last write failed) */
	char file_error[WD_ERR_MSG_MAX];
	void (*on_transition)(void *arg, const struct fencing_transition *t);
	void *on_transition_arg;
};

/* A read was recorded: report a transition it caused at once, not at the next tick. */
static void on_read(void *arg)
{
	fencing_tick(arg);
}

struct fencing *fencing_new(const struct fencing_config *cfg, char *const *envp,
                            struct wd_state *state, const struct fencing_renderer *renderer,
                            struct wd_err *err)
{
	struct fencing *fencing = calloc(1, sizeof(*fencing));

	if (fencing == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	fencing->config = *cfg;
	fencing->cfg = &fencing->config;
	fencing->decision =
	        (struct decision_config){.probes = cfg->probes, .probe_count = cfg->probe_count};
	fencing->state = state;
	fencing->renderer = *renderer;
	pthread_mutex_init(&fencing->lock, NULL);
	pthread_mutex_init(&fencing->file_lock, NULL);
	fencing->state_seen = FENCE_UNKNOWN;
	fencing->since_wall_ms = clock_wall_ms();
	fencing->file_dirty = true;
	if (cfg->flag_count == 0)
		return fencing;
	fencing->fence = fence_new(
	        &(struct fence_config){.ttl_ms = cfg->flag_ttl_ms,
	                               .on_stale_hold = cfg->on_stale_hold,
	                               .source_count = cfg->flag_count,
	                               .quorum = cfg->flag_quorum,
	                               .split_brain_after_ms = cfg->split_brain_after_ms});
	if (fencing->fence == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	fencing->flags =
	        flag_loop_new(&(struct flag_loop_config){.flags = cfg->flags,
	                                                 .flag_count = cfg->flag_count,
	                                                 .flag_interval_ms = cfg->flag_interval_ms,
	                                                 .flag_timeout_ms = cfg->flag_timeout_ms,
	                                                 .flag_ttl_ms = cfg->flag_ttl_ms},
	                      envp, fencing->fence, state, err);
	if (fencing->flags == NULL)
		goto fail;
	flag_loop_on_read(fencing->flags, on_read, fencing);
	return fencing;
fail:
	fencing_free(fencing);
	return NULL;
}

/* The lease's view of the verdict. */
static void lease_decide(void *arg, int64_t now_mono_ms, struct fence_verdict *out)
{
	fencing_verdict(arg, now_mono_ms, out);
}

/* The lease holder: this task, as "<host name>/<pid>" (unique per Fargate task ENI). */
static void task_holder(char *out, size_t size)
{
	char host[LEASE_HOLDER_MAX - 16] = "unknown";

	gethostname(host, sizeof(host) - 1);
	snprintf(out, size, "%s/%d", host, (int)getpid());
}

int fencing_start(struct fencing *fencing, struct wd_err *err)
{
	const struct fencing_config *cfg = fencing->cfg;
	int rc;

	if (fencing->flags != NULL) {
		rc = flag_loop_start(fencing->flags);
		if (rc < 0)
			return wd_err_set(err, rc, "cannot start the flag readers");
	}
	if (cfg->singleton[0] != '\0') {
		char holder[LEASE_HOLDER_MAX + 1];
		ssize_t probe =
		        probe_config_index(cfg->probes, cfg->probe_count, cfg->singleton_probe);

		task_holder(holder, sizeof(holder));
		fencing->lease = lease_new(
		        cfg->singleton, holder, cfg->singleton_ttl_ms,
		        probe < 0 ? NULL : &cfg->probes[probe],
		        &(struct lease_fence_view){.arg = fencing, .decide = lease_decide}, err);
		if (fencing->lease == NULL)
			return -EINVAL;
		rc = lease_start(fencing->lease);
		if (rc < 0)
			return wd_err_set(err, rc, "cannot start the lease");
	}
	return 0;
}

void fencing_free(struct fencing *fencing)
{
	if (fencing == NULL)
		return;
	lease_free(fencing->lease); /* releases it: the next holder need not wait the TTL */
	flag_loop_free(fencing->flags);
	fence_free(fencing->fence);
	pthread_mutex_destroy(&fencing->file_lock);
	pthread_mutex_destroy(&fencing->lock);
	free(fencing);
}

void fencing_on_transition(struct fencing *fencing,
                           void (*on_transition)(void *arg, const struct fencing_transition *t),
                           void *arg)
{
	fencing->on_transition = on_transition;
	fencing->on_transition_arg = arg;
}

void fencing_drain(struct fencing *fencing)
{
	if (fencing->lease != NULL)
		lease_drain(fencing->lease);
}

void fencing_region(struct fencing *fencing, char out[FLAG_REGION_MAX + 1])
{
	out[0] = '\0';
	if (fencing->flags != NULL)
		flag_loop_region(fencing->flags, out);
}

void fencing_verdict(struct fencing *fencing, int64_t now_mono_ms, struct fence_verdict *out)
{
	decision_verdict(&fencing->decision, fencing->state, fencing->fence, now_mono_ms, out);
}

void fencing_force(struct fencing *fencing, bool forced)
{
	struct log_line line;

	pthread_mutex_lock(&fencing->lock);
	fencing->forced = forced;
	pthread_mutex_unlock(&fencing->lock);
	if (fencing->fence != NULL)
		fence_set_forced(fencing->fence, forced);
	log_begin(&line, LOG_WARN, forced ? "fence.forced" : "fence.unforced");
	log_end(&line, forced ? "an operator fenced this task"
	                      : "an operator lifted the fence (it never makes a passive or stale "
	                        "task writable)");
	fencing_tick(fencing); /* log the transition now */
}

void fencing_report(struct fencing *fencing, struct fencing_report *out)
{
	const struct fencing_config *cfg = fencing->cfg;

	memset(out, 0, sizeof(*out));
	out->now_mono_ms = clock_mono_ms();
	out->now_wall_ms = clock_wall_ms();
	out->enabled = fencing->fence != NULL;
	fencing_verdict(fencing, out->now_mono_ms, &out->verdict);
	out->ttl_ms = cfg->flag_ttl_ms;
	fence_timing(cfg->flag_interval_ms, cfg->flag_timeout_ms, cfg->flag_ttl_ms,
	             cfg->on_stale_hold, &out->timing);
	pthread_mutex_lock(&fencing->lock);
	out->since_wall_ms = fencing->since_wall_ms;
	out->transitions = fencing->transitions;
	out->forced = fencing->forced;
	pthread_mutex_unlock(&fencing->lock);
	if (fencing->lease != NULL) {
		out->has_lease = true;
		lease_status(fencing->lease, out->now_mono_ms, &out->lease);
	}
	if (fencing->flags == NULL)
		return;
	flag_loop_region(fencing->flags, out->region);
	out->source_count = cfg->flag_count;
	for (size_t i = 0; i < cfg->flag_count; i++)
		flag_loop_status(fencing->flags, i, &out->sources[i]);
}

static void log_transition(const struct fence_verdict *verdict, enum fence_state from,
                           bool was_writable, const char *region)
{
	struct log_line line;

	log_begin(&line, verdict->writable && verdict->state == FENCE_ACTIVE ? LOG_INFO : LOG_WARN,
	          "fence.transition");
	log_str(&line, "from", fence_state_str(from));
	log_str(&line, "to", fence_state_str(verdict->state));
	log_bool(&line, "writable", verdict->writable);
	log_bool(&line, "was_writable", was_writable);
	log_str(&line, "reason", verdict->reason);
	log_str(&line, "region", region);
	if (verdict->active_region[0])
		log_str(&line, "active_region", verdict->active_region);
	log_int(&line, "epoch", (int64_t)verdict->epoch);
	log_end(&line, "fence %s -> %s (%s)", fence_state_str(from),
	        fence_state_str(verdict->state), verdict->writable ? "writable" : "not writable");
}

static void log_split_brain(const struct fence_verdict *verdict, bool raised)
{
	struct log_line line;

	log_begin(&line, raised ? LOG_ERROR : LOG_INFO, "fence.split_brain");
	log_bool(&line, "split_brain", raised);
	log_str(&line, "active_region", verdict->active_region);
	log_int(&line, "epoch", (int64_t)verdict->epoch);
	log_end(&line, raised ? "SPLIT BRAIN: this region is passive but its database is a writer"
	                      : "split brain alarm cleared");
}

/*
 * Passive while the database is still a writer, inside the window a correct
 * failover needs to demote it: worth a line (once), never a page.
 */
static void log_demotion_pending(const struct fence_verdict *verdict, bool pending,
                                 int64_t window_ms)
{
	struct log_line line;

	log_begin(&line, pending ? LOG_WARN : LOG_INFO, "fence.demotion_pending");
	log_bool(&line, "demotion_pending", pending);
	log_str(&line, "active_region", verdict->active_region);
	log_int(&line, "epoch", (int64_t)verdict->epoch);
	if (pending) {
		log_int(&line, "split_brain_after_ms", window_ms);
		log_end(&line,
		        "this region is passive and its database is still a writer: waiting "
		        "for the failover to demote it (split-brain alarm after %lld ms)",
		        (long long)window_ms);
	} else {
		log_end(&line, "demotion no longer pending");
	}
}

/* Rewrite the fence file from a fresh report. Called without the lock. */
static void write_fence_file(struct fencing *fencing)
{
	struct fencing_report *report = malloc(sizeof(*report));
	struct wd_err err = {0};
	struct wd_buf buf;
	bool failed;

	wd_buf_init(&buf, FENCING_FILE_MAX);
	pthread_mutex_lock(&fencing->file_lock); /* ticks run on several threads */
	if (report == NULL) {
		wd_err_set(&err, -ENOMEM, "out of memory");
	} else {
		fencing_report(fencing, report);
		if (fencing->renderer.render(fencing->renderer.arg, report, &buf) < 0 ||
		    wd_buf_puts(&buf, "\n") < 0)
			wd_err_set(&err, -E2BIG, "document too large");
		else
			fence_file_write(fencing->cfg->fence_file, buf.data, buf.len, &err);
	}
	failed = err.msg[0] != '\0';
	pthread_mutex_lock(&fencing->lock);
	fencing->file_dirty = failed;
	if (failed && strcmp(err.msg, fencing->file_error) != 0)
		log_msg(LOG_ERROR, "fence.file", "cannot write WARDEN_FENCE_FILE: %s", err.msg);
	snprintf(fencing->file_error, sizeof(fencing->file_error), "%s", failed ? err.msg : "");
	pthread_mutex_unlock(&fencing->lock);
	pthread_mutex_unlock(&fencing->file_lock);
	wd_buf_free(&buf);
	free(report);
}

void fencing_tick(struct fencing *fencing)
{
	struct fence_verdict verdict;
	char region[FLAG_REGION_MAX + 1] = "";
	struct fencing_transition transition;
	bool changed = false;
	bool write_file;

	fencing_verdict(fencing, clock_mono_ms(), &verdict);
	if (fencing->flags != NULL)
		flag_loop_region(fencing->flags, region);
	pthread_mutex_lock(&fencing->lock);
	if (verdict.state != fencing->state_seen || verdict.writable != fencing->writable_seen) {
		log_transition(&verdict, fencing->state_seen, fencing->writable_seen, region);
		fencing->transitions++;
		fencing->since_wall_ms = clock_wall_ms();
		transition = (struct fencing_transition){.from = fencing->state_seen,
		                                         .was_writable = fencing->writable_seen,
		                                         .verdict = verdict,
		                                         .at_wall_ms = fencing->since_wall_ms,
		                                         .seq = fencing->transitions};
		changed = true;
		fencing->file_dirty = true;
	}
	if (verdict.demotion_pending != fencing->demotion_pending_seen) {
		/* Pending, then the alarm: the error line says it all. */
		if (verdict.demotion_pending || !verdict.split_brain)
			log_demotion_pending(&verdict, verdict.demotion_pending,
			                     fencing->cfg->split_brain_after_ms);
		fencing->file_dirty = true;
	}
	if (verdict.split_brain != fencing->split_brain_seen) {
		log_split_brain(&verdict, verdict.split_brain);
		fencing->file_dirty = true;
	}
	if (verdict.epoch != fencing->epoch_seen ||
	    strcmp(verdict.active_region, fencing->region_seen) != 0 ||
	    verdict.writable_until_mono_ms != fencing->until_seen)
		fencing->file_dirty = true;
	fencing->state_seen = verdict.state;
	fencing->writable_seen = verdict.writable;
	fencing->split_brain_seen = verdict.split_brain;
	fencing->demotion_pending_seen = verdict.demotion_pending;
	fencing->epoch_seen = verdict.epoch;
	memcpy(fencing->region_seen, verdict.active_region, sizeof(fencing->region_seen));
	fencing->until_seen = verdict.writable_until_mono_ms;
	write_file = fencing->file_dirty && fencing->cfg->fence_file[0] != '\0';
	pthread_mutex_unlock(&fencing->lock);
	if (write_file)
		write_fence_file(fencing);
	if (changed && fencing->on_transition != NULL)
		fencing->on_transition(fencing->on_transition_arg, &transition);
}
