/*
 * render.c - the bodies of /readyz, /status and /metrics.
 *
 * Pure functions of (config, a copy of the snapshots): no clock but the wall
 * clock for uptime, no lock, no I/O. Every append goes through a small
 * writer with a sticky error, so a renderer reads like its output and stops
 * at the first -E2BIG/-ENOMEM.
 *
 * Secrets: only probe_config.name, .target (redacted by the loader) and
 * probe_observation.detail (no secret by contract) are ever rendered; uri
 * and password are never read here.
 *
 * Decisions (see DESIGN.md, HTTP endpoints):
 * - componentType is "datastore" for postgres and redis, "component" for
 *   http and tcp.
 * - /readyz/<probe> answers `fail` while draining, like /readyz: a task
 *   that is going away is not ready for anything.
 * - A pending probe has no `time` (and, with details, output "pending").
 */
#include "agent/render.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/duration.h"
#include "lib/version.h"

#define RFC3339_SIZE 32

/* A wd_buf with a sticky error: after the first failure every append is a no-op. */
struct writer {
	struct wd_buf *buf;
	int rc;
};

static void put(struct writer *w, const char *text)
{
	if (w->rc == 0)
		w->rc = wd_buf_puts(w->buf, text);
}

static void putf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct writer *w, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	if (w->rc != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		w->rc = -EINVAL;
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		w->rc = -E2BIG; /* every caller formats short fields only */
		return;
	}
	w->rc = wd_buf_append(w->buf, small, (size_t)n);
}

/* A JSON string, quoted and escaped. */
static void put_json_str(struct writer *w, const char *text)
{
	if (w->rc == 0)
		w->rc = wd_buf_json_str(w->buf, text);
}

/* "key": "value" (key is a literal without quotes to escape). */
static void put_json_field_str(struct writer *w, const char *key, const char *value)
{
	putf(w, "\"%s\":", key);
	put_json_str(w, value);
}

/* A JSON number; NaN and infinities (which JSON has not) become 0. */
static void put_json_number(struct writer *w, double value)
{
	if (!isfinite(value))
		value = 0;
	putf(w, "%.3f", value);
}

static void put_time(struct writer *w, const char *key, int64_t wall_ms)
{
	char when[RFC3339_SIZE];

	clock_format_rfc3339(wall_ms, when, sizeof(when));
	put_json_field_str(w, key, when);
}

static const char *component_type(enum probe_kind kind)
{
	switch (kind) {
	case PROBE_KIND_POSTGRES:
	case PROBE_KIND_REDIS: return "datastore";
	case PROBE_KIND_HTTP:
	case PROBE_KIND_TCP:
	case PROBE_KIND_COUNT: break;
	}
	return "component";
}

/*
 * The human output of a probe, for details only: "pending", the outcome and
 * its detail ("timeout: no answer in 2000ms"), or, for a probe whose last run
 * was fine but whose health is not up yet, "ok, rising 1/2".
 */
static void put_probe_output(struct writer *w, const struct probe_config *cfg,
                             const struct probe_snapshot *snap)
{
	char text[WD_ERR_MSG_MAX + 64];
	const struct probe_observation *last = &snap->last;

	if (!snap->has_result)
		snprintf(text, sizeof(text), "pending: no result yet");
	else if (last->outcome != PROBE_OK && last->detail[0] != '\0')
		snprintf(text, sizeof(text), "%s: %s", probe_outcome_str(last->outcome),
		         last->detail);
	else if (last->outcome != PROBE_OK)
		snprintf(text, sizeof(text), "%s", probe_outcome_str(last->outcome));
	else if (snap->health != PROBE_HEALTH_UP)
		snprintf(text, sizeof(text), "ok, rising %u/%u", snap->ok_streak, cfg->rise);
	else
		text[0] = '\0';
	if (text[0] != '\0') {
		put(w, ",");
		put_json_field_str(w, "output", text);
	}
}

/* "<probe>:responseTime":[{...}] and, with details and a lag, "<probe>:replicationLag". */
static void put_health_checks(struct writer *w, const struct probe_config *cfg,
                              const struct probe_snapshot *snap, enum health_status status,
                              bool details)
{
	char key[WD_PROBE_NAME_MAX + 32];

	snprintf(key, sizeof(key), "%s:responseTime", cfg->name);
	put_json_str(w, key);
	put(w, ":[{");
	put_json_field_str(w, "componentType", component_type(cfg->kind));
	put(w, ",");
	put_json_field_str(w, "status", health_status_str(status));
	if (snap->has_result) {
		put(w, ",");
		put_time(w, "time", snap->last_wall_ms);
	}
	if (details) {
		if (snap->has_result) {
			put(w, ",\"observedValue\":");
			put_json_number(w, (double)snap->last_duration_us / 1000.0);
			put(w, ",\"observedUnit\":\"ms\"");
		}
		put_probe_output(w, cfg, snap);
	}
	put(w, "}]");

	if (!details || !snap->has_result || !snap->last.has_lag)
		return;
	snprintf(key, sizeof(key), "%s:replicationLag", cfg->name);
	put(w, ",");
	put_json_str(w, key);
	put(w, ":[{");
	put_json_field_str(w, "componentType", component_type(cfg->kind));
	put(w, ",");
	put_json_field_str(
	        w, "status",
	        health_status_str(snap->last.outcome == PROBE_LAGGING ? status : HEALTH_PASS));
	put(w, ",");
	put_time(w, "time", snap->last_wall_ms);
	put(w, ",\"observedValue\":");
	put_json_number(w, snap->last.lag_seconds);
	put(w, ",\"observedUnit\":\"s\"}]");
}

int render_health(const struct wd_config *cfg, const struct probe_snapshot *snaps, int only,
                  bool draining, bool details, struct wd_buf *out, enum health_status *status)
{
	struct writer w = {.buf = out, .rc = 0};
	bool first = true;

	if (only >= 0 && (size_t)only >= cfg->probe_count)
		return -EINVAL;
	if (draining)
		*status = HEALTH_FAIL;
	else if (only >= 0)
		*status = health_probe_own_status(&snaps[only]);
	else
		*status = health_overall(cfg, snaps, false);

	put(&w, "{");
	put_json_field_str(&w, "status", health_status_str(*status));
	put(&w, ",\"checks\":{");
	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		if (!first)
			put(&w, ",");
		first = false;
		/* On its own, a probe is judged by its own health (DESIGN.md). */
		put_health_checks(&w, &cfg->probes[i], &snaps[i],
		                  only >= 0 ? health_probe_own_status(&snaps[i])
		                            : health_probe_status(&cfg->probes[i], &snaps[i]),
		                  details);
	}
	put(&w, "}");
	if (details && draining)
		put(&w, ",\"output\":\"draining\"");
	put(&w, "}\n");
	return w.rc;
}

static void put_last(struct writer *w, const struct probe_config *cfg,
                     const struct probe_snapshot *snap, bool details)
{
	const struct probe_observation *last = &snap->last;

	if (!snap->has_result) {
		put(w, "null");
		return;
	}
	put(w, "{");
	put_json_field_str(w, "outcome", probe_outcome_str(last->outcome));
	put(w, ",\"duration_ms\":");
	put_json_number(w, (double)snap->last_duration_us / 1000.0);
	put(w, ",");
	put_time(w, "time", snap->last_wall_ms);
	if (cfg->kind == PROBE_KIND_POSTGRES || cfg->kind == PROBE_KIND_REDIS) {
		put(w, ",");
		put_json_field_str(w, "role", db_role_str(last->role));
	}
	if (last->has_lag) {
		put(w, ",\"lag_seconds\":");
		put_json_number(w, last->lag_seconds);
	}
	if (last->http_status > 0)
		putf(w, ",\"http_status\":%d", last->http_status);
	if (details && last->detail[0] != '\0') {
		put(w, ",");
		put_json_field_str(w, "detail", last->detail);
	}
	put(w, "}");
}

static void put_status_probe(struct writer *w, const struct probe_config *cfg,
                             const struct probe_snapshot *snap, bool details)
{
	put(w, "{");
	put_json_field_str(w, "name", cfg->name);
	put(w, ",");
	put_json_field_str(w, "kind", probe_kind_str(cfg->kind));
	/* The redacted target; at probe level, so that a pending probe shows it too. */
	if (details) {
		put(w, ",");
		put_json_field_str(w, "target", cfg->target);
	}
	putf(w, ",\"critical\":%s", cfg->critical ? "true" : "false");
	put(w, ",");
	put_json_field_str(w, "health", probe_health_str(snap->health));
	put(w, ",");
	put_json_field_str(w, "status", health_status_str(health_probe_status(cfg, snap)));
	put(w, ",");
	put_time(w, "since", snap->since_wall_ms);
	putf(w, ",\"transitions\":%llu", (unsigned long long)snap->transitions);
	putf(w, ",\"streaks\":{\"ok\":%u,\"fail\":%u}", snap->ok_streak, snap->fail_streak);
	put(w, ",\"last\":");
	put_last(w, cfg, snap, details);
	put(w, "}");
}

/* A JSON string or null when text is empty. */
static void put_json_str_or_null(struct writer *w, const char *text)
{
	if (text[0] == '\0')
		put(w, "null");
	else
		put_json_str(w, text);
}

/*
 * The /fence object's members (without the braces). A lease's `error` is the
 * reason it cannot be claimed (lease_error_str, null when none: another
 * holder is no error); with details, /status adds its words (`detail`).
 */
static void put_fence_members(struct writer *w, const struct fencing_report *fence, bool details)
{
	const struct fence_verdict *v = &fence->verdict;
	int64_t for_ms = v->writable ? v->writable_until_mono_ms - fence->now_mono_ms : 0;

	if (for_ms < 0)
		for_ms = 0;
	putf(w, "\"writable\":%s,", v->writable ? "true" : "false");
	put_json_field_str(w, "state", fence_state_str(v->state));
	put(w, ",\"region\":");
	put_json_str_or_null(w, fence->region);
	put(w, ",\"active_region\":");
	put_json_str_or_null(w, v->active_region);
	putf(w, ",\"epoch\":%llu,", (unsigned long long)v->epoch);
	if (v->writable && v->writable_until_mono_ms != INT64_MAX)
		put_time(w, "writable_until", fence->now_wall_ms + for_ms);
	else
		put(w, "\"writable_until\":null");
	putf(w, ",\"writable_for_ms\":%lld",
	     (long long)(v->writable_until_mono_ms == INT64_MAX ? fence->ttl_ms : for_ms));
	putf(w, ",\"ttl_ms\":%lld", (long long)fence->ttl_ms);
	putf(w, ",\"typical_fence_ms\":%lld,", (long long)fence->timing.typical_ms);
	put_json_field_str(w, "reason", v->reason);
	put(w, ",");
	put_time(w, "since", fence->since_wall_ms);
	putf(w, ",\"forced\":%s", fence->forced ? "true" : "false");
	putf(w, ",\"split_brain\":%s", v->split_brain ? "true" : "false");
	putf(w, ",\"demotion_pending\":%s", v->demotion_pending ? "true" : "false");
	/* The quorum (DESIGN.md "The flag"): counted lists sources by 1-based index. */
	putf(w, ",\"quorum\":{\"needed\":%zu,\"met\":%s,\"counted\":[", v->quorum_needed,
	     v->quorum_met ? "true" : "false");
	for (size_t i = 0, n = 0; i < FENCE_SOURCES_MAX; i++) {
		if (v->counted & (1u << i))
			putf(w, "%s%zu", n++ ? "," : "", i + 1);
	}
	put(w, "]}");
	put(w, ",\"leases\":{");
	if (fence->has_lease) {
		const struct lease_status *lease = &fence->lease;

		put_json_str(w, lease->name);
		putf(w, ":{\"held\":%s,\"generation\":%llu,\"holder\":",
		     lease->held ? "true" : "false", (unsigned long long)lease->generation);
		put_json_str_or_null(w, lease->holder);
		putf(w, ",\"expires_in_ms\":%lld,\"error\":", (long long)lease->expires_in_ms);
		if (lease->reason == LEASE_ERROR_NONE)
			put(w, "null");
		else
			put_json_str(w, lease_error_str(lease->reason));
		if (details) {
			put(w, ",\"detail\":");
			put_json_str_or_null(w, lease->error);
		}
		put(w, "}");
	}
	put(w, "}");
}

int render_fence(const struct wd_config *cfg, const struct fencing_report *fence,
                 struct wd_buf *out)
{
	struct writer w = {.buf = out, .rc = 0};

	(void)cfg;
	put(&w, "{");
	put_fence_members(&w, fence, false);
	put(&w, "}");
	return w.rc;
}

/* One flag source in /status; errors and request ids only with details. */
static void put_flag_source(struct writer *w, const struct flag_source *src,
                            const struct flag_source_status *st, int64_t now_mono, bool counts,
                            bool details)
{
	put(w, "{");
	put_json_field_str(w, "source", src->text);
	putf(w, ",\"counts\":%s", counts ? "true" : "false");
	put(w, ",\"result\":");
	put_json_str_or_null(w, st->has_result ? flag_read_result_str(st->result) : "");
	put(w, ",");
	if (st->last_ok_wall_ms != 0) {
		put_time(w, "last_read", st->last_ok_wall_ms);
		putf(w, ",\"age_seconds\":%.3f,",
		     (double)(now_mono - st->last_ok_sent_mono_ms) / 1000.0);
		put_json_field_str(w, "active_region", st->active_region);
		putf(w, ",\"epoch\":%llu,\"version\":%llu", (unsigned long long)st->epoch,
		     (unsigned long long)st->version);
	} else {
		put(w, "\"last_read\":null,\"age_seconds\":null");
	}
	putf(w, ",\"failures_in_row\":%u,\"next_read_in_ms\":%lld", st->failures_in_row,
	     (long long)(st->next_attempt_mono_ms > now_mono ? st->next_attempt_mono_ms - now_mono
	                                                     : 0));
	if (details) {
		put(w, ",\"error\":");
		put_json_str_or_null(w, st->error);
		put(w, ",\"aws_request_id\":");
		put_json_str_or_null(w, st->request_id);
	}
	put(w, "}");
}

/* worst_case_ms, or null when WARDEN_ON_STALE=hold leaves it unbounded. */
static void put_ms_or_null(struct writer *w, const struct fence_timing *timing)
{
	if (timing->unbounded)
		put(w, "null");
	else
		putf(w, "%lld", (long long)timing->worst_case_ms);
}

/* One effector of the safety contract: {"worst_case_ms": N|null, "how": "..."}. */
static void put_effector(struct writer *w, const char *name, const struct fence_timing *timing,
                         const char *how)
{
	putf(w, "\"%s\":{\"worst_case_ms\":", name);
	put_ms_or_null(w, timing);
	put(w, ",");
	put_json_field_str(w, "how", how);
	put(w, "}");
}

/*
 * The safety contract (DESIGN.md): worst_case per configured effector, the
 * typical fence time, the split-brain window and the orchestrator's rule.
 */
static void put_safety_contract(struct writer *w, const struct wd_config *cfg)
{
	struct fence_timing timing;
	char text[32];
	char worst[32];
	char rule[320];

	fence_timing(cfg->flag_interval_ms, cfg->flag_timeout_ms, cfg->flag_ttl_ms,
	             cfg->on_stale_hold, &timing);
	if (timing.unbounded)
		snprintf(worst, sizeof(worst), "unbounded");
	else
		duration_format(timing.worst_case_ms, worst, sizeof(worst));
	put(w, "{");
	put_json_field_str(w, "worst_case", worst);
	put(w, ",\"worst_case_ms\":");
	put_ms_or_null(w, &timing);
	duration_format(timing.typical_ms, text, sizeof(text));
	put(w, ",");
	put_json_field_str(w, "typical_fence", text);
	putf(w, ",\"typical_fence_ms\":%lld,\"effectors\":{", (long long)timing.typical_ms);
	if (cfg->proxy_listen[0] != '\0') {
		put_effector(w, "proxy", &timing,
		             "refuses writes once not writable and cuts writes still in flight at "
		             "writable_until");
		put(w, ",");
	}
	put_effector(w, "gate", &timing,
	             "warden gate has its child dead by writable_until: SIGTERM by "
	             "writable_until - grace, SIGKILL at it");
	if (cfg->singleton[0] != '\0') {
		put(w, ",");
		put_effector(w, "lease", &timing,
		             "reported held only while writable and never past writable_until; "
		             "then the row is released in the database (else it expires "
		             "singleton_ttl after its last renewal)");
	}
	put(w, "}");
	duration_format(cfg->split_brain_after_ms, text, sizeof(text));
	put(w, ",");
	put_json_field_str(w, "split_brain_after", text);
	putf(w, ",\"split_brain_after_ms\":%lld,", (long long)cfg->split_brain_after_ms);
	if (timing.unbounded)
		snprintf(rule, sizeof(rule),
		         "none: WARDEN_ON_STALE=hold keeps a task that cannot read the flag "
		         "writable; before promoting the other region's database or starting its "
		         "cron, confirm every task of this region fenced (Sum(Writable) = 0) or "
		         "stop them");
	else
		snprintf(rule, sizeof(rule),
		         "t = when warden flag set confirmed the new epoch on a quorum: promote "
		         "the other region's database or start its cron only after t + %s "
		         "(worst_case); warden flag set --wait waits exactly that",
		         worst);
	put_json_field_str(w, "rule", rule);
	put(w, "}");
}

int render_safety_contract(const struct wd_config *cfg, struct wd_buf *out)
{
	struct writer w = {.buf = out, .rc = 0};

	put_safety_contract(&w, cfg);
	return w.rc;
}

static void put_status_fence(struct writer *w, const struct wd_config *cfg,
                             const struct fencing_report *fence, bool details)
{
	char typical[32];
	char worst[32];

	put(w, ",\"fence\":{");
	put_fence_members(w, fence, details);
	putf(w, ",\"enabled\":%s,\"transitions\":%llu}", fence->enabled ? "true" : "false",
	     (unsigned long long)fence->transitions);
	if (!fence->enabled)
		return;
	put(w, ",\"flag\":[");
	for (size_t i = 0; i < fence->source_count; i++) {
		if (i > 0)
			put(w, ",");
		put_flag_source(w, &cfg->flags[i], &fence->sources[i], fence->now_mono_ms,
		                (fence->verdict.counted & (1u << i)) != 0, details);
	}
	put(w, "]");
	duration_format(fence->timing.typical_ms, typical, sizeof(typical));
	if (fence->timing.unbounded)
		snprintf(worst, sizeof(worst), "unbounded");
	else
		duration_format(fence->timing.worst_case_ms, worst, sizeof(worst));
	put(w, ",\"timing_contract\":{");
	put_json_field_str(w, "typical_fence", typical);
	putf(w, ",\"typical_fence_ms\":%lld,", (long long)fence->timing.typical_ms);
	put_json_field_str(w, "worst_case_fence", worst);
	put(w, ",\"worst_case_fence_ms\":");
	put_ms_or_null(w, &fence->timing);
	put(w, "},\"safety_contract\":");
	put_safety_contract(w, cfg);
}

int render_status(const struct wd_config *cfg, const struct probe_snapshot *snaps, bool draining,
                  bool details, int64_t started_wall_ms, const struct fencing_report *fence,
                  struct wd_buf *out)
{
	struct writer w = {.buf = out, .rc = 0};
	enum health_status status = health_overall(cfg, snaps, draining);
	int64_t uptime_ms = clock_wall_ms() - started_wall_ms;

	put(&w, "{");
	put_json_field_str(&w, "version", version_str());
	putf(&w, ",\"uptime_seconds\":%lld", (long long)(uptime_ms > 0 ? uptime_ms / 1000 : 0));
	putf(&w, ",\"ready\":%s", status != HEALTH_FAIL ? "true" : "false");
	put(&w, ",");
	put_json_field_str(&w, "status", health_status_str(status));
	putf(&w, ",\"draining\":%s", draining ? "true" : "false");
	put(&w, ",\"probes\":[");
	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (i > 0)
			put(&w, ",");
		put_status_probe(&w, &cfg->probes[i], &snaps[i], details);
	}
	put(&w, "]");
	if (fence != NULL)
		put_status_fence(&w, cfg, fence, details);
	put(&w, ",\"config\":{");
	put_json_field_str(&w, "listen", cfg->listen);
	putf(&w, ",\"probes\":%zu", cfg->probe_count);
	put(&w, ",");
	put_json_field_str(&w, "expose_details", expose_details_str(cfg->expose_details));
	putf(&w, ",\"drain_seconds\":%lld", (long long)(cfg->drain_ms / 1000));
	putf(&w, ",\"http_threads\":%u", cfg->http_threads);
	put(&w, "}}\n");
	return w.rc;
}

/* A label value escaped per the text format: \\, \" and \n. */
static void put_label_value(struct writer *w, const char *value)
{
	put(w, "\"");
	for (const char *p = value; *p != '\0' && w->rc == 0; p++) {
		size_t plain = strcspn(p, "\\\"\n");

		if (plain > 0) {
			w->rc = wd_buf_append(w->buf, p, plain);
			p += plain - 1;
			continue;
		}
		put(w, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
	}
	put(w, "\"");
}

static void put_family(struct writer *w, const char *name, const char *type, const char *help)
{
	putf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{probe="x"} (the caller adds the value) */
static void put_probe_series(struct writer *w, const char *name, const char *probe)
{
	putf(w, "%s{probe=", name);
	put_label_value(w, probe);
	put(w, "}");
}

static void put_histogram(struct writer *w, const struct probe_config *cfg,
                          const struct probe_snapshot *snap)
{
	static const double bounds[WD_DURATION_BUCKET_COUNT] = {WD_DURATION_BUCKETS};
	uint64_t cumulative = 0;
	uint64_t total = 0;

	for (int o = 0; o < PROBE_OUTCOME_COUNT; o++)
		total += snap->checks[o];
	for (int b = 0; b < WD_DURATION_BUCKET_COUNT; b++) {
		cumulative += snap->duration_buckets[b];
		put(w, "warden_probe_duration_seconds_bucket{probe=");
		put_label_value(w, cfg->name);
		putf(w, ",le=\"%g\"} %llu\n", bounds[b], (unsigned long long)cumulative);
	}
	/* +Inf is every check; never below the last bucket, even if counters disagree. */
	if (total < cumulative)
		total = cumulative;
	put(w, "warden_probe_duration_seconds_bucket{probe=");
	put_label_value(w, cfg->name);
	putf(w, ",le=\"+Inf\"} %llu\n", (unsigned long long)total);
	put_probe_series(w, "warden_probe_duration_seconds_sum", cfg->name);
	putf(w, " %.9g\n", isfinite(snap->duration_sum_seconds) ? snap->duration_sum_seconds : 0.0);
	put_probe_series(w, "warden_probe_duration_seconds_count", cfg->name);
	putf(w, " %llu\n", (unsigned long long)total);
}

/* The fencing metric families (DESIGN.md, Observability). */
static void put_fence_metrics(struct writer *w, const struct wd_config *cfg,
                              const struct fencing_report *fence)
{
	const struct fence_verdict *v = &fence->verdict;

	put_family(w, "warden_writable", "gauge", "1 when this task may write now, else 0.");
	putf(w, "warden_writable %d\n", v->writable ? 1 : 0);
	put_family(w, "warden_fence_state", "gauge", "1 for the fence's current state.");
	for (int s = 0; s < FENCE_STATE_COUNT; s++)
		putf(w, "warden_fence_state{state=\"%s\"} %d\n",
		     fence_state_str((enum fence_state)s), v->state == (enum fence_state)s ? 1 : 0);
	put_family(w, "warden_fence_transitions_total", "counter",
	           "Changes of the fence's state or writability.");
	putf(w, "warden_fence_transitions_total %llu\n", (unsigned long long)fence->transitions);
	put_family(w, "warden_flag_epoch", "gauge", "The epoch of the winning flag read.");
	putf(w, "warden_flag_epoch %llu\n", (unsigned long long)v->epoch);
	put_family(w, "warden_split_brain", "gauge",
	           "1 while this region is passive but its database is a writer.");
	putf(w, "warden_split_brain %d\n", v->split_brain ? 1 : 0);
	if (fence->has_lease) {
		put_family(w, "warden_lease_held", "gauge", "1 while this task holds the lease.");
		put(w, "warden_lease_held{name=");
		put_label_value(w, fence->lease.name);
		putf(w, "} %d\n", fence->lease.held ? 1 : 0);
		put_family(w, "warden_lease_generation", "gauge",
		           "The lease generation (fencing token) of this task's last claim.");
		put(w, "warden_lease_generation{name=");
		put_label_value(w, fence->lease.name);
		putf(w, "} %llu\n", (unsigned long long)fence->lease.generation);
		put_family(w, "warden_lease_errors_total", "counter",
		           "Attempts that could not claim the lease for a reason other than "
		           "another holder, by reason.");
		for (int r = LEASE_ERROR_NONE + 1; r < LEASE_ERROR_COUNT; r++) {
			put(w, "warden_lease_errors_total{name=");
			put_label_value(w, fence->lease.name);
			putf(w, ",reason=\"%s\"} %llu\n", lease_error_str((enum lease_error)r),
			     (unsigned long long)fence->lease.errors[r]);
		}
	}
	if (!fence->enabled)
		return;
	put_family(w, "warden_flag_age_seconds", "gauge",
	           "Time since the request of the source's last valid read was sent.");
	for (size_t i = 0; i < fence->source_count; i++) {
		const struct flag_source_status *st = &fence->sources[i];

		if (st->last_ok_wall_ms == 0)
			continue;
		put(w, "warden_flag_age_seconds{source=");
		put_label_value(w, cfg->flags[i].text);
		putf(w, "} %.3f\n",
		     (double)(fence->now_mono_ms - st->last_ok_sent_mono_ms) / 1000.0);
	}
	put_family(w, "warden_flag_reads_total", "counter", "Flag reads by source and result.");
	for (size_t i = 0; i < fence->source_count; i++) {
		const struct flag_source_status *st = &fence->sources[i];

		for (int r = 0; r < FLAG_READ_RESULT_COUNT; r++) {
			if (st->reads[r] == 0)
				continue;
			put(w, "warden_flag_reads_total{source=");
			put_label_value(w, cfg->flags[i].text);
			put(w, ",result=");
			put_label_value(w, flag_read_result_str((enum flag_read_result)r));
			putf(w, "} %llu\n", (unsigned long long)st->reads[r]);
		}
	}
}

int render_metrics(const struct wd_config *cfg, const struct probe_snapshot *snaps, bool draining,
                   const struct fencing_report *fence, struct wd_buf *out)
{
	struct writer w = {.buf = out, .rc = 0};
	enum health_status status = health_overall(cfg, snaps, draining);
	size_t n = cfg->probe_count;

	put_family(&w, "warden_build_info", "gauge", "Always 1, labelled with warden's version.");
	put(&w, "warden_build_info{version=");
	put_label_value(&w, version_str());
	put(&w, "} 1\n");

	put_family(&w, "warden_ready", "gauge", "1 when /readyz answers 200, else 0.");
	putf(&w, "warden_ready %d\n", status != HEALTH_FAIL ? 1 : 0);

	put_family(&w, "warden_draining", "gauge", "1 once SIGTERM started the drain.");
	putf(&w, "warden_draining %d\n", draining ? 1 : 0);

	put_family(&w, "warden_probe_up", "gauge",
	           "1 when the probe is up after rise/fall, else 0.");
	for (size_t i = 0; i < n; i++) {
		put_probe_series(&w, "warden_probe_up", cfg->probes[i].name);
		putf(&w, " %d\n", snaps[i].health == PROBE_HEALTH_UP ? 1 : 0);
	}

	put_family(&w, "warden_probe_duration_seconds", "histogram", "Duration of probe runs.");
	for (size_t i = 0; i < n; i++)
		put_histogram(&w, &cfg->probes[i], &snaps[i]);

	put_family(&w, "warden_probe_transitions_total", "counter",
	           "Health changes of the probe (pending to up or down included).");
	for (size_t i = 0; i < n; i++) {
		put_probe_series(&w, "warden_probe_transitions_total", cfg->probes[i].name);
		putf(&w, " %llu\n", (unsigned long long)snaps[i].transitions);
	}

	put_family(&w, "warden_probe_checks_total", "counter", "Probe runs by outcome.");
	for (size_t i = 0; i < n; i++) {
		for (int o = 0; o < PROBE_OUTCOME_COUNT; o++) {
			if (o != PROBE_OK && snaps[i].checks[o] == 0)
				continue;
			put(&w, "warden_probe_checks_total{probe=");
			put_label_value(&w, cfg->probes[i].name);
			put(&w, ",result=");
			put_label_value(&w, probe_outcome_str((enum probe_outcome)o));
			putf(&w, "} %llu\n", (unsigned long long)snaps[i].checks[o]);
		}
	}

	put_family(&w, "warden_db_replication_lag_seconds", "gauge",
	           "Replica lag seen by the probe's last run.");
	for (size_t i = 0; i < n; i++) {
		if (!snaps[i].has_result || !snaps[i].last.has_lag)
			continue;
		put_probe_series(&w, "warden_db_replication_lag_seconds", cfg->probes[i].name);
		putf(&w, " %.9g\n",
		     isfinite(snaps[i].last.lag_seconds) ? snaps[i].last.lag_seconds : 0.0);
	}
	if (fence != NULL)
		put_fence_metrics(&w, cfg, fence);
	return w.rc;
}

int render_proxy_metrics(const struct proxy_stats *proxy, struct wd_buf *out)
{
	struct writer w = {.buf = out, .rc = 0};

	put_family(&w, "warden_proxy_requests_total", "counter",
	           "Requests through the write-fencing proxy, by what came of them.");
	for (int r = 0; r < PROXY_RESULT_COUNT; r++)
		putf(&w, "warden_proxy_requests_total{result=\"%s\"} %llu\n",
		     proxy_result_str((enum proxy_result)r),
		     (unsigned long long)proxy->requests[r]);
	put_family(&w, "warden_proxy_connections_open", "gauge", "Open client connections.");
	putf(&w, "warden_proxy_connections_open %llu\n",
	     (unsigned long long)proxy->connections_open);
	put_family(&w, "warden_proxy_tunnels_open", "gauge", "Open WebSocket tunnels.");
	putf(&w, "warden_proxy_tunnels_open %llu\n", (unsigned long long)proxy->tunnels_open);
	put_family(&w, "warden_proxy_closed_on_fence_total", "counter",
	           "Idle connections and tunnels closed when the task stopped being writable.");
	putf(&w, "warden_proxy_closed_on_fence_total %llu\n",
	     (unsigned long long)proxy->closed_on_fence);
	put_family(&w, "warden_proxy_cut_at_deadline_total", "counter",
	           "Writes still streaming and tunnels cut at writable_until.");
	putf(&w, "warden_proxy_cut_at_deadline_total %llu\n",
	     (unsigned long long)proxy->cut_at_deadline);
	return w.rc;
}
