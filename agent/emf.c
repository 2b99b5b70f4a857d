#include "agent/emf.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/health.h"
#include "lib/clock.h"
#include "lib/log.h"

#define EMF_META_ATTEMPTS   5    /* task metadata: tries before Cluster/Service stay unknown */
#define EMF_META_TIMEOUT_MS 2000 /* each try's deadline */
#define EMF_META_BACKOFF_MS 250  /* before the second try; doubles */

/* The metrics, in the order written; the first four always, the flag's with WARDEN_FLAG. */
static const struct {
	const char *name;
	const char *unit;
} emf_metrics[] = {
        {"Writable", "Count"},        {"Ready", "Count"},    {"SplitBrain", "Count"},
        {"DemotionPending", "Count"}, {"FlagEpoch", "None"}, {"FlagAgeSeconds", "Seconds"},
};
#define EMF_METRICS_ALWAYS 4
#define EMF_METRIC_COUNT   (sizeof(emf_metrics) / sizeof(emf_metrics[0]))

/* The EMF specification's limits per directive, and ours within them. */
_Static_assert(EMF_METRIC_COUNT <= 100, "EMF allows at most 100 metrics per directive");
_Static_assert(EMF_LINE_MAX < 1024 * 1024, "an EMF document is below 1 MB");

/* ---- rendering (pure) ---------------------------------------------------- */

struct emf_writer {
	char *out;
	size_t size;
	size_t len;
	bool full;
};

static void put(struct emf_writer *w, const char *text)
{
	size_t n = strlen(text);

	if (w->full || w->len + n >= w->size) {
		w->full = true;
		return;
	}
	memcpy(w->out + w->len, text, n + 1);
	w->len += n;
}

static void putf(struct emf_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct emf_writer *w, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		w->full = true;
		return;
	}
	put(w, text);
}

/* "key":"value" with value JSON-escaped. */
static void put_str(struct emf_writer *w, const char *key, const char *value)
{
	if (w->full)
		return;
	putf(w, ",\"%s\":\"", key);
	if (!w->full && log_json_escape(w->out, w->size, &w->len, value) < 0)
		w->full = true;
	put(w, "\"");
}

/* A dimension value CloudWatch takes: printable ASCII, not blank, at most max bytes. */
static void dim_value(const char *in, char out[EMF_DIM_VALUE_MAX + 1])
{
	size_t n = 0;
	bool blank = true;

	for (const unsigned char *p = (const unsigned char *)in; *p && n < EMF_DIM_VALUE_MAX; p++) {
		out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
		if (*p != ' ')
			blank = false;
	}
	out[n] = '\0';
	if (blank)
		snprintf(out, EMF_DIM_VALUE_MAX + 1, "%s", EMF_UNKNOWN);
}

int emf_render(const struct emf_sample *s, char *out, size_t size, size_t *len)
{
	struct emf_writer w = {.out = out, .size = size};
	char value[EMF_DIM_VALUE_MAX + 1];
	char ts[32];
	size_t metrics = s->fencing ? EMF_METRIC_COUNT : EMF_METRICS_ALWAYS;

	if (size > 0)
		out[0] = '\0';
	putf(&w, "{\"_aws\":{\"Timestamp\":%lld,\"CloudWatchMetrics\":[{\"Namespace\":\"%s\"",
	     (long long)s->timestamp_ms, EMF_NAMESPACE);
	put(&w,
	    ",\"Dimensions\":[[\"Region\"],[\"Region\",\"Cluster\",\"Service\"]],\"Metrics\":[");
	for (size_t i = 0; i < metrics; i++)
		putf(&w, "%s{\"Name\":\"%s\",\"Unit\":\"%s\"}", i ? "," : "", emf_metrics[i].name,
		     emf_metrics[i].unit);
	put(&w, "]}]}");
	dim_value(s->region, value);
	put_str(&w, "Region", value);
	dim_value(s->cluster, value);
	put_str(&w, "Cluster", value);
	dim_value(s->service, value);
	put_str(&w, "Service", value);
	putf(&w, ",\"Writable\":%d,\"Ready\":%d,\"SplitBrain\":%d,\"DemotionPending\":%d",
	     s->writable ? 1 : 0, s->ready ? 1 : 0, s->split_brain ? 1 : 0,
	     s->demotion_pending ? 1 : 0);
	if (s->fencing) {
		putf(&w, ",\"FlagEpoch\":%llu", (unsigned long long)s->epoch);
		putf(&w, ",\"FlagAgeSeconds\":%lld.%03lld", (long long)(s->flag_age_ms / 1000),
		     (long long)(s->flag_age_ms % 1000));
	}
	/* Plain members: what Logs Insights lists (the writers, their epoch and state). */
	clock_format_rfc3339(s->timestamp_ms, ts, sizeof(ts));
	put_str(&w, "ts", ts);
	put_str(&w, "level", "info");
	put_str(&w, "event", s->event);
	put_str(&w, "msg", s->from_state != NULL ? "EMF: fence transition" : "EMF: heartbeat");
	if (s->task_arn[0] != '\0')
		put_str(&w, "TaskArn", s->task_arn);
	put_str(&w, "State", s->state);
	if (s->from_state != NULL)
		put_str(&w, "From", s->from_state);
	if (s->active_region[0] != '\0')
		put_str(&w, "ActiveRegion", s->active_region);
	put(&w, "}\n");
	if (w.full) {
		if (size > 0)
			out[0] = '\0';
		*len = 0;
		return -E2BIG;
	}
	*len = w.len;
	return 0;
}

void emf_service_of(const char *group, char out[EMF_DIM_VALUE_MAX + 1])
{
	static const char prefix[] = "service:";

	if (strncmp(group, prefix, sizeof(prefix) - 1) == 0 && group[sizeof(prefix) - 1] != '\0')
		group += sizeof(prefix) - 1;
	snprintf(out, EMF_DIM_VALUE_MAX + 1, "%s", group[0] != '\0' ? group : EMF_UNKNOWN);
}

int64_t emf_flag_age_ms(const struct fencing_report *report, size_t needed, int64_t start_mono_ms)
{
	int64_t sent[FENCE_SOURCES_MAX];
	size_t valid = 0;

	if (needed == 0)
		needed = 1;
	for (size_t i = 0; i < report->source_count && i < FENCE_SOURCES_MAX; i++) {
		const struct flag_source_status *st = &report->sources[i];
		size_t at = valid++;

		if (!st->has_value) {
			valid--;
			continue;
		}
		/* Insert in descending order of sent time: freshest first. */
		while (at > 0 && sent[at - 1] < st->last_ok_sent_mono_ms) {
			sent[at] = sent[at - 1];
			at--;
		}
		sent[at] = st->last_ok_sent_mono_ms;
	}
	if (valid < needed)
		return report->now_mono_ms > start_mono_ms ? report->now_mono_ms - start_mono_ms
		                                           : 0;
	return report->now_mono_ms > sent[needed - 1] ? report->now_mono_ms - sent[needed - 1] : 0;
}

/* ---- the handle ---------------------------------------------------------- */

#define EMF_ENV_MAX 4

struct emf {
	struct emf_config config;
	struct fencing *fencing;
	struct wd_state *state;
	struct probe_snapshot *snaps;  /* probe_count, for Ready; guarded by lock */
	struct fencing_report *report; /* guarded by lock */
	char *env[EMF_ENV_MAX + 1];    /* owned copies: the metadata URI, the region variables */
	int64_t start_mono_ms;
	int64_t next_beat_mono_ms; /* the main thread's */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* guards everything below, and one line at a time */
	pthread_cond_t wake;
	bool stopping;
	char region[EMF_DIM_VALUE_MAX + 1]; /* "" until known */
	char cluster[EMF_DIM_VALUE_MAX + 1];
	char service[EMF_DIM_VALUE_MAX + 1];
	char task_arn[AWS_TASK_ARN_MAX + 1];
	int last_error; /* of the last line that could not be written; logged once */
};

static const char *const *emf_env(const struct emf *emf)
{
	return (const char *const *)emf->env;
}

/* Fill, render and write one line. Called with emf->lock held. */
static void emit_locked(struct emf *emf, const char *event, const struct fencing_transition *t)
{
	struct fencing_report *report = emf->report;
	const struct fence_verdict *v;
	struct emf_sample sample;
	char line[EMF_LINE_MAX];
	size_t len = 0;
	int rc;

	memset(&sample, 0, sizeof(sample));
	fencing_report(emf->fencing, report);
	wd_state_read_all(emf->state, emf->snaps);
	v = t != NULL ? &t->verdict : &report->verdict;
	sample.event = event;
	sample.timestamp_ms = t != NULL ? t->at_wall_ms : report->now_wall_ms;
	if (emf->region[0] != '\0')
		memcpy(sample.region, emf->region, sizeof(emf->region));
	else
		snprintf(sample.region, sizeof(sample.region), "%s", report->region);
	memcpy(sample.cluster, emf->cluster, sizeof(emf->cluster));
	memcpy(sample.service, emf->service, sizeof(emf->service));
	memcpy(sample.task_arn, emf->task_arn, sizeof(emf->task_arn));
	sample.fencing = report->enabled;
	sample.writable = v->writable;
	sample.ready = health_overall_of(emf->config.probes, emf->config.probe_count, emf->snaps,
	                                 wd_state_draining(emf->state)) != HEALTH_FAIL;
	sample.split_brain = v->split_brain;
	sample.demotion_pending = v->demotion_pending;
	sample.state = fence_state_str(v->state);
	sample.from_state = t != NULL ? fence_state_str(t->from) : NULL;
	memcpy(sample.active_region, v->active_region, sizeof(sample.active_region));
	sample.epoch = v->epoch;
	/* 1: the highest epoch among whatever is readable decides (no quorum count yet). */
	sample.flag_age_ms = emf_flag_age_ms(report, 1, emf->start_mono_ms);
	rc = emf_render(&sample, line, sizeof(line), &len);
	if (rc == 0)
		rc = log_write_line(line, len);
	if (rc < 0 && rc != emf->last_error)
		log_msg(LOG_ERROR, "emf.error", "cannot write an EMF line: %s", strerror(-rc));
	emf->last_error = rc < 0 ? rc : 0;
}

/* fencing's transition hook: one line per transition, on the thread that ticked. */
static void on_transition(void *arg, const struct fencing_transition *t)
{
	struct emf *emf = arg;

	pthread_mutex_lock(&emf->lock);
	emit_locked(emf, "emf.transition", t);
	pthread_mutex_unlock(&emf->lock);
}

/* Keep the variables the metadata lookup needs. */
static int copy_env(struct emf *emf, char *const *envp, struct wd_err *err)
{
	static const char *const names[] = {
	        "ECS_CONTAINER_METADATA_URI_V4=", "AWS_REGION=", "AWS_DEFAULT_REGION="};
	size_t kept = 0;

	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
			if (strncmp(envp[i], names[n], strlen(names[n])) != 0)
				continue;
			emf->env[kept] = strdup(envp[i]);
			if (emf->env[kept] == NULL)
				return wd_err_set(err, -ENOMEM, "out of memory");
			kept++;
			break;
		}
	}
	emf->env[kept] = NULL;
	return 0;
}

struct emf *emf_new(const struct emf_config *cfg, char *const *envp, struct fencing *fencing,
                    struct wd_state *state, struct wd_err *err)
{
	struct emf *emf = calloc(1, sizeof(*emf));
	char region[AWS_REGION_MAX + 1];
	struct wd_err ignored = {0};

	if (emf == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	emf->config = *cfg;
	emf->fencing = fencing;
	emf->state = state;
	pthread_mutex_init(&emf->lock, NULL);
	clock_cond_init(&emf->wake);
	emf->snaps = calloc(cfg->probe_count ? cfg->probe_count : 1, sizeof(*emf->snaps));
	emf->report = malloc(sizeof(*emf->report));
	if (emf->snaps == NULL || emf->report == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (copy_env(emf, envp, err) < 0)
		goto fail;
	if (aws_region_from_env(emf_env(emf), region, &ignored) == 0)
		memcpy(emf->region, region, sizeof(region));
	snprintf(emf->cluster, sizeof(emf->cluster), "%s", EMF_UNKNOWN);
	snprintf(emf->service, sizeof(emf->service), "%s", EMF_UNKNOWN);
	emf->start_mono_ms = clock_mono_ms();
	emf->next_beat_mono_ms = emf->start_mono_ms + cfg->interval_ms;
	fencing_on_transition(fencing, on_transition, emf);
	return emf;
fail:
	emf_free(emf);
	return NULL;
}

/* Wait ms unless stopping; true when stopping. */
static bool nap(struct emf *emf, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;
	bool stopping;

	pthread_mutex_lock(&emf->lock);
	while (!emf->stopping && clock_mono_ms() < until)
		clock_cond_wait_until(&emf->wake, &emf->lock, until);
	stopping = emf->stopping;
	pthread_mutex_unlock(&emf->lock);
	return stopping;
}

/* Learn Cluster, Service, TaskArn (and the region) from the task metadata. */
static void *metadata_main(void *arg)
{
	struct emf *emf = arg;
	struct aws_task_metadata task;
	struct wd_err err = {0};
	int64_t backoff = EMF_META_BACKOFF_MS;
	struct log_line line;
	bool stopping = false;

	for (int attempt = 1; attempt <= EMF_META_ATTEMPTS; attempt++) {
		memset(&err, 0, sizeof(err));
		if (aws_task_metadata_get(emf_env(emf), clock_mono_ms() + EMF_META_TIMEOUT_MS,
		                          &task, &err) == 0) {
			pthread_mutex_lock(&emf->lock);
			if (emf->region[0] == '\0')
				memcpy(emf->region, task.region, sizeof(task.region));
			if (task.cluster[0] != '\0')
				memcpy(emf->cluster, task.cluster, sizeof(task.cluster));
			emf_service_of(task.group, emf->service);
			memcpy(emf->task_arn, task.task_arn, sizeof(task.task_arn));
			log_begin(&line, LOG_INFO, "emf.dimensions");
			log_str(&line, "region", emf->region);
			log_str(&line, "cluster", emf->cluster);
			log_str(&line, "service", emf->service);
			log_end(&line, "EMF dimensions from task metadata");
			pthread_mutex_unlock(&emf->lock);
			return NULL;
		}
		if (attempt == EMF_META_ATTEMPTS || (stopping = nap(emf, backoff)))
			break;
		backoff *= 2;
	}
	if (!stopping)
		log_msg(LOG_WARN, "emf.dimensions",
		        "task metadata unreadable after %d attempts, Cluster and Service stay "
		        "\"unknown\": %s",
		        EMF_META_ATTEMPTS, err.msg);
	return NULL;
}

int emf_start(struct emf *emf)
{
	int rc;

	if (aws_env_get(emf_env(emf), "ECS_CONTAINER_METADATA_URI_V4") == NULL) {
		log_msg(LOG_INFO, "emf.dimensions",
		        "not on ECS (no ECS_CONTAINER_METADATA_URI_V4): Cluster and Service are "
		        "\"unknown\"");
		return 0;
	}
	rc = pthread_create(&emf->thread, NULL, metadata_main, emf);
	if (rc != 0)
		return -rc;
	emf->running = true;
	return 0;
}

void emf_tick(struct emf *emf)
{
	int64_t now = clock_mono_ms();

	if (now < emf->next_beat_mono_ms)
		return;
	/* A fixed schedule: one heartbeat per interval, not one per interval plus the tick. */
	emf->next_beat_mono_ms += emf->config.interval_ms;
	if (emf->next_beat_mono_ms <= now)
		emf->next_beat_mono_ms = now + emf->config.interval_ms;
	pthread_mutex_lock(&emf->lock);
	emit_locked(emf, "emf.heartbeat", NULL);
	pthread_mutex_unlock(&emf->lock);
}

void emf_free(struct emf *emf)
{
	if (emf == NULL)
		return;
	pthread_mutex_lock(&emf->lock);
	emf->stopping = true;
	pthread_cond_broadcast(&emf->wake);
	pthread_mutex_unlock(&emf->lock);
	if (emf->running)
		pthread_join(emf->thread, NULL);
	for (size_t i = 0; emf->env[i] != NULL; i++)
		free(emf->env[i]);
	pthread_cond_destroy(&emf->wake);
	pthread_mutex_destroy(&emf->lock);
	free(emf->report);
	free(emf->snaps);
	free(emf);
}
