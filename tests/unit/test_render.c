/*
 * test_render.c - the /readyz, /status and /metrics bodies, built from a
 * hand-filled config and hand-made snapshots, parsed back (jansson for JSON,
 * line matching for the Prometheus text) and checked field by field; and the
 * two promises of the renderers: no details without `details`, and never a
 * secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "agent/config.h"
#include "agent/render.h"
#include "probes/state.h"
#include "lib/version.h"

#define BODY_MAX  (1 << 20)
#define PASSWORD  "Sup3rS3cretPw"
#define T_WALL_MS INT64_C(1795669356123) /* 2026-11-26T05:02:36.123Z */
#define T_RFC3339 "2026-11-26T05:02:36.123Z"
#define IDX_CACHE 0
#define IDX_DB    1
#define IDX_WEB   2
#define PROBES    3

struct fixture {
	struct wd_config *cfg;
	struct probe_snapshot snaps[WD_PROBES_MAX];
	struct wd_buf out;
};

static void add_probe(struct wd_config *cfg, const char *name, enum probe_kind kind,
                      const char *uri, const char *target, bool critical)
{
	struct probe_config *probe = &cfg->probes[cfg->probe_count++];

	snprintf(probe->name, sizeof(probe->name), "%s", name);
	probe->kind = kind;
	snprintf(probe->uri, sizeof(probe->uri), "%s", uri);
	snprintf(probe->target, sizeof(probe->target), "%s", target);
	probe->critical = critical;
	probe->interval_ms = 5000;
	probe->timeout_ms = 2000;
	probe->rise = 2;
	probe->fall = 3;
	probe->expect_status_min = 200;
	probe->expect_status_max = 399;
	probe->max_lag_ms = -1;
}

/*
 * cache: redis, not critical, DOWN after a timeout (password in uri and in
 *        the password field).
 * db:    postgres reader, critical, UP, 1.5 s of lag (password in uri).
 * web:   http, critical, UP, status 200.
 */
static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct probe_snapshot *snap;

	assert_non_null(fx);
	fx->cfg = calloc(1, sizeof(*fx->cfg));
	assert_non_null(fx->cfg);
	snprintf(fx->cfg->listen, sizeof(fx->cfg->listen), "127.0.0.1:8089");
	snprintf(fx->cfg->listen_host, sizeof(fx->cfg->listen_host), "127.0.0.1");
	fx->cfg->listen_port = 8089;
	fx->cfg->drain_ms = 10000;
	fx->cfg->expose_details = EXPOSE_LOOPBACK;
	fx->cfg->http_threads = 2;
	add_probe(fx->cfg, "cache", PROBE_KIND_REDIS, "redis://default:" PASSWORD "@cache:6379/0",
	          "redis://default:***@cache:6379/0", false);
	snprintf(fx->cfg->probes[IDX_CACHE].password, sizeof(fx->cfg->probes[0].password), "%s",
	         PASSWORD);
	add_probe(fx->cfg, "db", PROBE_KIND_POSTGRES,
	          "postgres://app:" PASSWORD "@db:5432/app?sslmode=require",
	          "postgres://app:***@db:5432/app?sslmode=require", true);
	add_probe(fx->cfg, "web", PROBE_KIND_HTTP, "http://web:3000/health",
	          "http://web:3000/health", true);

	snap = &fx->snaps[IDX_CACHE];
	snap->health = PROBE_HEALTH_DOWN;
	snap->since_wall_ms = T_WALL_MS - 60000;
	snap->transitions = 2;
	snap->fail_streak = 3;
	snap->has_result = true;
	snap->last.outcome = PROBE_TIMEOUT;
	snprintf(snap->last.detail, sizeof(snap->last.detail), "no answer in 2000ms");
	snap->last.role = DB_ROLE_UNKNOWN;
	snap->last_duration_us = 2000400;
	snap->last_wall_ms = T_WALL_MS;
	snap->checks[PROBE_OK] = 5;
	snap->checks[PROBE_TIMEOUT] = 3;
	snap->duration_buckets[0] = 5;  /* <= 1 ms */
	snap->duration_buckets[11] = 3; /* <= 5 s */
	snap->duration_sum_seconds = 6.005;

	snap = &fx->snaps[IDX_DB];
	snap->health = PROBE_HEALTH_UP;
	snap->since_wall_ms = T_WALL_MS - 120000;
	snap->transitions = 1;
	snap->ok_streak = 2;
	snap->has_result = true;
	snap->last.outcome = PROBE_OK;
	snap->last.role = DB_ROLE_READER;
	snap->last.has_lag = true;
	snap->last.lag_seconds = 1.5;
	snap->last_duration_us = 1234;
	snap->last_wall_ms = T_WALL_MS;
	snap->checks[PROBE_OK] = 10;
	snap->duration_buckets[0] = 2; /* <= 1 ms */
	snap->duration_buckets[1] = 7; /* <= 2.5 ms */
	snap->duration_buckets[3] = 1; /* <= 10 ms */
	snap->duration_sum_seconds = 0.0201;

	snap = &fx->snaps[IDX_WEB];
	snap->health = PROBE_HEALTH_UP;
	snap->since_wall_ms = T_WALL_MS - 120000;
	snap->transitions = 1;
	snap->ok_streak = 2;
	snap->has_result = true;
	snap->last.outcome = PROBE_OK;
	snap->last.http_status = 200;
	snap->last_duration_us = 3000;
	snap->last_wall_ms = T_WALL_MS;
	snap->checks[PROBE_OK] = 4;
	snap->duration_buckets[2] = 4;
	snap->duration_sum_seconds = 0.012;

	wd_buf_init(&fx->out, BODY_MAX);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	wd_buf_free(&fx->out);
	free(fx->cfg);
	free(fx);
	return 0;
}

static json_t *parse(const struct wd_buf *buf)
{
	json_error_t error;
	json_t *doc;

	assert_non_null(buf->data);
	doc = json_loads(buf->data, 0, &error);
	if (doc == NULL)
		fail_msg("invalid JSON (%s at %d): %s", error.text, error.position, buf->data);
	return doc;
}

static const char *get_str(json_t *obj, const char *key)
{
	json_t *value = json_object_get(obj, key);

	if (!json_is_string(value))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(value);
}

/* The one entry of checks[key] (an array of one object). */
static json_t *check_entry(json_t *doc, const char *key)
{
	json_t *array = json_object_get(json_object_get(doc, "checks"), key);

	if (!json_is_array(array) || json_array_size(array) != 1)
		fail_msg("checks[\"%s\"] is not an array of one", key);
	return json_array_get(array, 0);
}

static void assert_no_secret(const struct wd_buf *buf)
{
	if (buf->data != NULL && strstr(buf->data, PASSWORD) != NULL)
		fail_msg("the password leaked: %s", buf->data);
}

static void test_health_summary_without_details(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_PASS;
	json_t *doc;
	json_t *entry;

	assert_int_equal(render_health(fx->cfg, fx->snaps, -1, false, false, &fx->out, &status), 0);
	assert_int_equal(status, HEALTH_WARN); /* cache is down but not critical */
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "warn");
	assert_int_equal(json_object_size(json_object_get(doc, "checks")), PROBES);

	entry = check_entry(doc, "cache:responseTime");
	assert_string_equal(get_str(entry, "componentType"), "datastore");
	assert_string_equal(get_str(entry, "status"), "warn");
	assert_string_equal(get_str(entry, "time"), T_RFC3339);
	assert_int_equal(json_object_size(entry), 3);

	entry = check_entry(doc, "db:responseTime");
	assert_string_equal(get_str(entry, "componentType"), "datastore");
	assert_string_equal(get_str(entry, "status"), "pass");
	assert_int_equal(json_object_size(entry), 3);

	entry = check_entry(doc, "web:responseTime");
	assert_string_equal(get_str(entry, "componentType"), "component");
	assert_string_equal(get_str(entry, "status"), "pass");

	/* Only status fields: no output, no value, no lag check, no target. */
	assert_null(json_object_get(json_object_get(doc, "checks"), "db:replicationLag"));
	assert_null(strstr(fx->out.data, "output"));
	assert_null(strstr(fx->out.data, "observedValue"));
	assert_null(strstr(fx->out.data, "no answer"));
	assert_null(strstr(fx->out.data, "cache:6379"));
	assert_no_secret(&fx->out);
	json_decref(doc);
}

static void test_health_with_details(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_PASS;
	json_t *doc;
	json_t *entry;

	assert_int_equal(render_health(fx->cfg, fx->snaps, -1, false, true, &fx->out, &status), 0);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "warn");
	assert_null(json_object_get(doc, "output")); /* not draining */

	entry = check_entry(doc, "cache:responseTime");
	assert_string_equal(get_str(entry, "output"), "timeout: no answer in 2000ms");
	assert_string_equal(get_str(entry, "observedUnit"), "ms");
	assert_float_equal(json_number_value(json_object_get(entry, "observedValue")), 2000.4,
	                   0.001);

	entry = check_entry(doc, "db:responseTime");
	assert_null(json_object_get(entry, "output")); /* up and ok: nothing to say */
	assert_float_equal(json_number_value(json_object_get(entry, "observedValue")), 1.234,
	                   0.001);

	entry = check_entry(doc, "db:replicationLag");
	assert_string_equal(get_str(entry, "componentType"), "datastore");
	assert_string_equal(get_str(entry, "status"), "pass");
	assert_string_equal(get_str(entry, "observedUnit"), "s");
	assert_string_equal(get_str(entry, "time"), T_RFC3339);
	assert_float_equal(json_number_value(json_object_get(entry, "observedValue")), 1.5, 0.001);

	assert_null(json_object_get(json_object_get(doc, "checks"), "web:replicationLag"));
	assert_no_secret(&fx->out);
	json_decref(doc);
}

static void test_health_lagging_reader(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_PASS;
	json_t *doc;

	fx->snaps[IDX_DB].health = PROBE_HEALTH_DOWN;
	fx->snaps[IDX_DB].last.outcome = PROBE_LAGGING;
	fx->snaps[IDX_DB].last.lag_seconds = 42;
	snprintf(fx->snaps[IDX_DB].last.detail, sizeof(fx->snaps[IDX_DB].last.detail),
	         "lag 42s above max_lag 30s");
	assert_int_equal(render_health(fx->cfg, fx->snaps, IDX_DB, false, true, &fx->out, &status),
	                 0);
	assert_int_equal(status, HEALTH_FAIL);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "fail");
	assert_string_equal(get_str(check_entry(doc, "db:replicationLag"), "status"), "fail");
	assert_string_equal(get_str(check_entry(doc, "db:responseTime"), "output"),
	                    "lagging: lag 42s above max_lag 30s");
	json_decref(doc);
}

static void test_health_one_probe(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_FAIL;
	json_t *doc;

	assert_int_equal(
	        render_health(fx->cfg, fx->snaps, IDX_WEB, false, false, &fx->out, &status), 0);
	assert_int_equal(status, HEALTH_PASS);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "pass");
	assert_int_equal(json_object_size(json_object_get(doc, "checks")), 1);
	assert_non_null(check_entry(doc, "web:responseTime"));
	json_decref(doc);

	wd_buf_reset(&fx->out);
	/* cache is down and not critical: on its own it fails, body and check alike. */
	assert_int_equal(
	        render_health(fx->cfg, fx->snaps, IDX_CACHE, false, false, &fx->out, &status), 0);
	assert_int_equal(status, HEALTH_FAIL);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "fail");
	assert_string_equal(get_str(check_entry(doc, "cache:responseTime"), "status"), "fail");
	json_decref(doc);

	wd_buf_reset(&fx->out);
	assert_int_equal(render_health(fx->cfg, fx->snaps, PROBES, false, false, &fx->out, &status),
	                 -EINVAL);
}

static void test_health_pending_probe(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_PASS;
	json_t *doc;
	json_t *entry;

	memset(&fx->snaps[IDX_WEB], 0, sizeof(fx->snaps[IDX_WEB]));
	fx->snaps[IDX_WEB].health = PROBE_HEALTH_PENDING;
	fx->snaps[IDX_WEB].since_wall_ms = T_WALL_MS;
	assert_int_equal(render_health(fx->cfg, fx->snaps, -1, false, true, &fx->out, &status), 0);
	assert_int_equal(status, HEALTH_FAIL); /* a critical probe not up yet */
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "fail");
	entry = check_entry(doc, "web:responseTime");
	assert_string_equal(get_str(entry, "status"), "fail");
	assert_null(json_object_get(entry, "time"));
	assert_null(json_object_get(entry, "observedValue"));
	assert_string_equal(get_str(entry, "output"), "pending: no result yet");
	json_decref(doc);
}

static void test_health_draining(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_PASS;
	json_t *doc;

	assert_int_equal(render_health(fx->cfg, fx->snaps, -1, true, false, &fx->out, &status), 0);
	assert_int_equal(status, HEALTH_FAIL);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "fail");
	assert_null(json_object_get(doc, "output")); /* no details */
	json_decref(doc);

	wd_buf_reset(&fx->out);
	assert_int_equal(render_health(fx->cfg, fx->snaps, IDX_WEB, true, true, &fx->out, &status),
	                 0);
	assert_int_equal(status, HEALTH_FAIL);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "output"), "draining");
	json_decref(doc);
}

static void test_health_no_probes(void **state)
{
	struct fixture *fx = *state;
	enum health_status status = HEALTH_FAIL;
	json_t *doc;

	fx->cfg->probe_count = 0;
	assert_int_equal(render_health(fx->cfg, fx->snaps, -1, false, true, &fx->out, &status), 0);
	assert_int_equal(status, HEALTH_PASS);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "status"), "pass");
	assert_int_equal(json_object_size(json_object_get(doc, "checks")), 0);
	json_decref(doc);
}

static json_t *status_probe(json_t *doc, const char *name)
{
	json_t *probes = json_object_get(doc, "probes");
	size_t i;
	json_t *probe;

	json_array_foreach(probes, i, probe)
	{
		if (strcmp(get_str(probe, "name"), name) == 0)
			return probe;
	}
	fail_msg("no probe %s in /status", name);
	return NULL;
}

static void test_status_fields(void **state)
{
	struct fixture *fx = *state;
	json_t *doc;
	json_t *probe;
	json_t *last;
	json_t *config;

	assert_int_equal(render_status(fx->cfg, fx->snaps, false, false, clock_wall_ms() - 90500,
	                               NULL, &fx->out),
	                 0);
	doc = parse(&fx->out);
	assert_string_equal(get_str(doc, "version"), version_str());
	assert_true(json_integer_value(json_object_get(doc, "uptime_seconds")) >= 90);
	assert_true(json_is_true(json_object_get(doc, "ready")));
	assert_string_equal(get_str(doc, "status"), "warn");
	assert_true(json_is_false(json_object_get(doc, "draining")));
	assert_int_equal(json_array_size(json_object_get(doc, "probes")), PROBES);

	probe = status_probe(doc, "db");
	assert_string_equal(get_str(probe, "kind"), "postgres");
	assert_true(json_is_true(json_object_get(probe, "critical")));
	assert_string_equal(get_str(probe, "health"), "up");
	assert_string_equal(get_str(probe, "since"), "2026-11-26T05:00:36.123Z");
	assert_int_equal(json_integer_value(json_object_get(probe, "transitions")), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(probe, "streaks"), "ok")), 2);
	last = json_object_get(probe, "last");
	assert_string_equal(get_str(last, "outcome"), "ok");
	assert_string_equal(get_str(last, "time"), T_RFC3339);
	assert_string_equal(get_str(last, "role"), "reader");
	assert_float_equal(json_number_value(json_object_get(last, "duration_ms")), 1.234, 0.001);
	assert_float_equal(json_number_value(json_object_get(last, "lag_seconds")), 1.5, 0.001);
	assert_null(json_object_get(last, "http_status"));

	probe = status_probe(doc, "web");
	last = json_object_get(probe, "last");
	assert_int_equal(json_integer_value(json_object_get(last, "http_status")), 200);
	assert_null(json_object_get(last, "role"));
	assert_null(json_object_get(last, "lag_seconds"));

	probe = status_probe(doc, "cache");
	assert_true(json_is_false(json_object_get(probe, "critical")));
	assert_string_equal(get_str(probe, "health"), "down");
	assert_string_equal(get_str(json_object_get(probe, "last"), "outcome"), "timeout");

	config = json_object_get(doc, "config");
	assert_string_equal(get_str(config, "listen"), "127.0.0.1:8089");
	assert_int_equal(json_integer_value(json_object_get(config, "probes")), PROBES);
	assert_string_equal(get_str(config, "expose_details"), "loopback");
	assert_int_equal(json_integer_value(json_object_get(config, "drain_seconds")), 10);

	/* Without details: no target, no detail text. */
	assert_null(strstr(fx->out.data, "\"target\""));
	assert_null(strstr(fx->out.data, "\"detail\""));
	assert_null(strstr(fx->out.data, "no answer"));
	assert_no_secret(&fx->out);
	json_decref(doc);
}

static void test_status_details_and_pending(void **state)
{
	struct fixture *fx = *state;
	json_t *doc;
	json_t *probe;

	memset(&fx->snaps[IDX_WEB], 0, sizeof(fx->snaps[IDX_WEB]));
	fx->snaps[IDX_WEB].health = PROBE_HEALTH_PENDING;
	fx->snaps[IDX_WEB].since_wall_ms = T_WALL_MS;
	assert_int_equal(
	        render_status(fx->cfg, fx->snaps, true, true, clock_wall_ms(), NULL, &fx->out), 0);
	doc = parse(&fx->out);
	assert_true(json_is_false(json_object_get(doc, "ready")));
	assert_true(json_is_true(json_object_get(doc, "draining")));
	assert_string_equal(get_str(doc, "status"), "fail");

	probe = status_probe(doc, "cache");
	assert_string_equal(get_str(probe, "target"), "redis://default:***@cache:6379/0");
	assert_string_equal(get_str(json_object_get(probe, "last"), "detail"),
	                    "no answer in 2000ms");
	probe = status_probe(doc, "db");
	assert_string_equal(get_str(probe, "target"),
	                    "postgres://app:***@db:5432/app?sslmode=require");
	probe = status_probe(doc, "web");
	assert_string_equal(get_str(probe, "health"), "pending");
	assert_true(json_is_null(json_object_get(probe, "last")));
	assert_string_equal(get_str(probe, "target"), "http://web:3000/health");
	assert_no_secret(&fx->out);
	json_decref(doc);
}

/* Every body, with and without details, draining or not: never the password. */
static void test_no_secret_anywhere(void **state)
{
	struct fixture *fx = *state;
	enum health_status status;

	for (int details = 0; details <= 1; details++) {
		for (int draining = 0; draining <= 1; draining++) {
			for (int only = -1; only < PROBES; only++) {
				wd_buf_reset(&fx->out);
				assert_int_equal(render_health(fx->cfg, fx->snaps, only, draining,
				                               details, &fx->out, &status),
				                 0);
				assert_no_secret(&fx->out);
			}
			wd_buf_reset(&fx->out);
			assert_int_equal(render_status(fx->cfg, fx->snaps, draining, details, 0,
			                               NULL, &fx->out),
			                 0);
			assert_no_secret(&fx->out);
			wd_buf_reset(&fx->out);
			assert_int_equal(
			        render_metrics(fx->cfg, fx->snaps, draining, NULL, &fx->out), 0);
			assert_no_secret(&fx->out);
		}
	}
}

/* Whether the body holds `line` as a whole line. */
static bool has_line(const char *body, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = body; (p = strstr(p, line)) != NULL; p++) {
		if ((p == body || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void assert_line(const char *body, const char *line)
{
	if (!has_line(body, line))
		fail_msg("no line \"%s\" in:\n%s", line, body);
}

static void test_metrics_lines(void **state)
{
	struct fixture *fx = *state;
	const char *body;
	char line[128];

	assert_int_equal(render_metrics(fx->cfg, fx->snaps, false, NULL, &fx->out), 0);
	body = fx->out.data;

	snprintf(line, sizeof(line), "warden_build_info{version=\"%s\"} 1", version_str());
	assert_line(body, line);
	assert_line(body, "# TYPE warden_build_info gauge");
	assert_line(body, "warden_ready 1");
	assert_line(body, "warden_draining 0");
	assert_line(body, "# TYPE warden_probe_up gauge");
	assert_line(body, "warden_probe_up{probe=\"cache\"} 0");
	assert_line(body, "warden_probe_up{probe=\"db\"} 1");
	assert_line(body, "warden_probe_up{probe=\"web\"} 1");
	assert_line(body, "# TYPE warden_probe_transitions_total counter");
	assert_line(body, "warden_probe_transitions_total{probe=\"cache\"} 2");
	assert_line(body, "# TYPE warden_probe_checks_total counter");
	assert_line(body, "warden_probe_checks_total{probe=\"cache\",result=\"ok\"} 5");
	assert_line(body, "warden_probe_checks_total{probe=\"cache\",result=\"timeout\"} 3");
	assert_line(body, "warden_probe_checks_total{probe=\"db\",result=\"ok\"} 10");
	assert_null(strstr(body, "result=\"refused\"")); /* zero counts are left out */
	assert_null(strstr(body, "probe=\"db\",result=\"timeout\""));
	assert_line(body, "# TYPE warden_db_replication_lag_seconds gauge");
	assert_line(body, "warden_db_replication_lag_seconds{probe=\"db\"} 1.5");
	assert_null(strstr(body, "warden_db_replication_lag_seconds{probe=\"web\"}"));

	/* Every family has HELP and TYPE. */
	assert_non_null(strstr(body, "# HELP warden_probe_duration_seconds "));
	assert_line(body, "# TYPE warden_probe_duration_seconds histogram");
}

static void test_metrics_histogram_cumulative(void **state)
{
	struct fixture *fx = *state;
	const char *body;

	assert_int_equal(render_metrics(fx->cfg, fx->snaps, false, NULL, &fx->out), 0);
	body = fx->out.data;
	/* db: 2 <= 1ms, 7 in (1ms, 2.5ms], 1 in (5ms, 10ms] */
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"db\",le=\"0.001\"} 2");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"db\",le=\"0.0025\"} 9");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"db\",le=\"0.005\"} 9");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"db\",le=\"0.01\"} 10");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"db\",le=\"10\"} 10");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"db\",le=\"+Inf\"} 10");
	assert_line(body, "warden_probe_duration_seconds_count{probe=\"db\"} 10");
	assert_line(body, "warden_probe_duration_seconds_sum{probe=\"db\"} 0.0201");
	/* cache: 5 fast, 3 near 2 s; +Inf counts every check */
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"cache\",le=\"2.5\"} 5");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"cache\",le=\"5\"} 8");
	assert_line(body, "warden_probe_duration_seconds_bucket{probe=\"cache\",le=\"+Inf\"} 8");
	assert_line(body, "warden_probe_duration_seconds_count{probe=\"cache\"} 8");
}

static void test_metrics_draining_and_escaping(void **state)
{
	struct fixture *fx = *state;
	const char *body;

	/* Names are [a-z0-9_] by config; the renderer escapes anyway. */
	snprintf(fx->cfg->probes[IDX_WEB].name, sizeof(fx->cfg->probes[IDX_WEB].name),
	         "a\"b\\c\nd");
	assert_int_equal(render_metrics(fx->cfg, fx->snaps, true, NULL, &fx->out), 0);
	body = fx->out.data;
	assert_line(body, "warden_ready 0");
	assert_line(body, "warden_draining 1");
	assert_line(body, "warden_probe_up{probe=\"a\\\"b\\\\c\\nd\"} 1");
	assert_line(body, "warden_probe_checks_total{probe=\"a\\\"b\\\\c\\nd\",result=\"ok\"} 4");
}

static void test_metrics_no_probes(void **state)
{
	struct fixture *fx = *state;

	fx->cfg->probe_count = 0;
	assert_int_equal(render_metrics(fx->cfg, fx->snaps, false, NULL, &fx->out), 0);
	assert_line(fx->out.data, "warden_ready 1");
	assert_null(strstr(fx->out.data, "probe=\""));
	assert_line(fx->out.data, "# TYPE warden_probe_up gauge");
}

/* The proxy's families: every result labelled (zeros included), the gauges, the counter. */
static void test_proxy_metrics(void **state)
{
	struct fixture *fx = *state;
	struct proxy_stats stats = {.connections_open = 3,
	                            .tunnels_open = 1,
	                            .closed_on_fence = 2,
	                            .cut_at_deadline = 4};

	stats.requests[PROXY_FENCED] = 7;
	assert_int_equal(render_proxy_metrics(&stats, &fx->out), 0);
	assert_line(fx->out.data, "# TYPE warden_proxy_requests_total counter");
	assert_line(fx->out.data, "warden_proxy_requests_total{result=\"fenced\"} 7");
	assert_line(fx->out.data, "warden_proxy_requests_total{result=\"forwarded\"} 0");
	assert_line(fx->out.data, "warden_proxy_requests_total{result=\"websocket\"} 0");
	assert_line(fx->out.data, "warden_proxy_connections_open 3");
	assert_line(fx->out.data, "warden_proxy_tunnels_open 1");
	assert_line(fx->out.data, "# TYPE warden_proxy_closed_on_fence_total counter");
	assert_line(fx->out.data, "warden_proxy_closed_on_fence_total 2");
	assert_line(fx->out.data, "# TYPE warden_proxy_cut_at_deadline_total counter");
	assert_line(fx->out.data, "warden_proxy_cut_at_deadline_total 4");
}

/* A body past its cap is an error, never a cut. */
static void test_cap_is_an_error(void **state)
{
	struct fixture *fx = *state;
	enum health_status status;
	struct wd_buf small;

	wd_buf_init(&small, 64);
	assert_int_equal(render_health(fx->cfg, fx->snaps, -1, false, true, &small, &status),
	                 -E2BIG);
	wd_buf_reset(&small);
	assert_int_equal(render_status(fx->cfg, fx->snaps, false, true, 0, NULL, &small), -E2BIG);
	wd_buf_reset(&small);
	assert_int_equal(render_metrics(fx->cfg, fx->snaps, false, NULL, &small), -E2BIG);
	wd_buf_free(&small);
}

/* A passive task, its database still a writer, and a lease it cannot claim. */
static void fence_report(struct fencing_report *r)
{
	memset(r, 0, sizeof(*r));
	r->enabled = true;
	r->now_mono_ms = 100000;
	r->now_wall_ms = T_WALL_MS;
	r->since_wall_ms = T_WALL_MS;
	r->ttl_ms = 30000;
	r->timing.typical_ms = 8000;
	r->timing.worst_case_ms = 30000;
	r->verdict.state = FENCE_PASSIVE;
	r->verdict.demotion_pending = true;
	snprintf(r->verdict.active_region, sizeof(r->verdict.active_region), "us-west-2");
	snprintf(r->verdict.reason, sizeof(r->verdict.reason), "active region is us-west-2");
	r->has_lease = true;
	snprintf(r->lease.name, sizeof(r->lease.name), "cron");
	r->lease.reason = LEASE_ERROR_PERMISSION_DENIED;
	r->lease.errors[LEASE_ERROR_PERMISSION_DENIED] = 4;
	snprintf(r->lease.error, sizeof(r->lease.error), "claiming: permission denied");
}

static void test_fence_demotion_pending_and_lease_error(void **state)
{
	struct fixture *fx = *state;
	struct fencing_report r;
	json_t *doc, *lease;

	fence_report(&r);
	assert_int_equal(render_fence(fx->cfg, &r, &fx->out), 0);
	doc = json_loads(fx->out.data, 0, NULL);
	assert_non_null(doc);
	assert_true(json_is_true(json_object_get(doc, "demotion_pending")));
	assert_true(json_is_false(json_object_get(doc, "split_brain")));
	assert_int_equal(json_integer_value(json_object_get(doc, "typical_fence_ms")), 8000);
	lease = json_object_get(json_object_get(doc, "leases"), "cron");
	assert_string_equal(json_string_value(json_object_get(lease, "error")),
	                    "permission_denied");
	assert_null(json_object_get(lease, "detail")); /* words only in /status with details */
	json_decref(doc);

	r.lease.reason = LEASE_ERROR_NONE; /* held by another: no error */
	wd_buf_reset(&fx->out);
	assert_int_equal(render_fence(fx->cfg, &r, &fx->out), 0);
	doc = json_loads(fx->out.data, 0, NULL);
	lease = json_object_get(json_object_get(doc, "leases"), "cron");
	assert_true(json_is_null(json_object_get(lease, "error")));
	json_decref(doc);

	wd_buf_reset(&fx->out);
	assert_int_equal(render_metrics(fx->cfg, fx->snaps, false, &r, &fx->out), 0);
	assert_non_null(strstr(fx->out.data, "warden_lease_errors_total{name=\"cron\","
	                                     "reason=\"permission_denied\"} 4\n"));
	assert_non_null(strstr(fx->out.data, "warden_lease_errors_total{name=\"cron\","
	                                     "reason=\"undefined_table\"} 0\n"));
	assert_non_null(strstr(fx->out.data, "warden_split_brain 0\n"));
}

/* The safety contract in /status: per effector configured; unbounded under hold. */
static void test_status_safety_contract(void **state)
{
	struct fixture *fx = *state;
	struct fencing_report r;
	json_t *doc, *sc, *effectors;

	fx->cfg->flag_interval_ms = 5000;
	fx->cfg->flag_timeout_ms = 2000;
	fx->cfg->flag_ttl_ms = 30000;
	fx->cfg->split_brain_after_ms = 150000;
	snprintf(fx->cfg->singleton, sizeof(fx->cfg->singleton), "cron");
	fence_report(&r);
	r.source_count = 0;
	assert_int_equal(render_status(fx->cfg, fx->snaps, false, true, 0, &r, &fx->out), 0);
	doc = json_loads(fx->out.data, 0, NULL);
	assert_non_null(doc);
	sc = json_object_get(doc, "safety_contract");
	assert_string_equal(json_string_value(json_object_get(sc, "worst_case")), "30s");
	assert_int_equal(json_integer_value(json_object_get(sc, "worst_case_ms")), 30000);
	assert_int_equal(json_integer_value(json_object_get(sc, "typical_fence_ms")), 8000);
	assert_int_equal(json_integer_value(json_object_get(sc, "split_brain_after_ms")), 150000);
	effectors = json_object_get(sc, "effectors");
	assert_int_equal(json_object_size(effectors), 2); /* gate, lease; no proxy */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(effectors, "lease"),
	                                                    "worst_case_ms")),
	                 30000);
	assert_non_null(strstr(json_string_value(json_object_get(sc, "rule")), "t + 30s"));
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(json_object_get(json_object_get(doc, "fence"), "leases"),
	                                "cron"),
	                "detail")),
	        "claiming: permission denied");
	json_decref(doc);

	fx->cfg->on_stale_hold = true;
	wd_buf_reset(&fx->out);
	assert_int_equal(render_safety_contract(fx->cfg, &fx->out), 0);
	doc = json_loads(fx->out.data, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "worst_case")), "unbounded");
	assert_true(json_is_null(json_object_get(doc, "worst_case_ms")));
	assert_true(json_is_null(json_object_get(
	        json_object_get(json_object_get(doc, "effectors"), "gate"), "worst_case_ms")));
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_health_summary_without_details, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_health_with_details, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_health_lagging_reader, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_health_one_probe, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_health_pending_probe, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_health_draining, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_health_no_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_status_fields, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_status_details_and_pending, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_secret_anywhere, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_metrics_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_metrics_histogram_cumulative, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_metrics_draining_and_escaping, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_metrics_no_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_proxy_metrics, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cap_is_an_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fence_demotion_pending_and_lease_error, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_status_safety_contract, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
