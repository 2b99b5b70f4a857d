/*
 * test_emf.c - the EMF renderer (one line, the directive's shape, units,
 * dimension values CloudWatch accepts, the cap), the Service of a task's
 * Group, and FlagAgeSeconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "agent/emf.h"

static struct emf_sample sample(void)
{
	struct emf_sample s;

	memset(&s, 0, sizeof(s));
	s.event = "emf.heartbeat";
	s.timestamp_ms = 1700000000123;
	strcpy(s.region, "us-east-1");
	strcpy(s.cluster, "prod");
	strcpy(s.service, "web");
	strcpy(s.task_arn, "arn:aws:ecs:us-east-1:123456789012:task/prod/abc");
	s.fencing = true;
	s.writable = true;
	s.ready = true;
	s.state = "active";
	strcpy(s.active_region, "us-east-1");
	s.epoch = 42;
	s.flag_age_ms = 1234;
	return s;
}

static json_t *render(const struct emf_sample *s)
{
	char line[EMF_LINE_MAX];
	size_t len = 0;
	json_error_t error;
	json_t *doc;

	assert_int_equal(emf_render(s, line, sizeof(line), &len), 0);
	assert_int_equal(len, strlen(line));
	assert_true(len > 1 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one line */
	doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
	assert_non_null(doc);
	return doc;
}

static void test_directive(void **state)
{
	struct emf_sample s = sample();
	json_t *doc;
	json_t *aws;
	json_t *dir;
	json_t *metrics;
	const char *units[][2] = {{"Writable", "Count"},   {"Ready", "Count"},
	                          {"SplitBrain", "Count"}, {"DemotionPending", "Count"},
	                          {"FlagEpoch", "None"},   {"FlagAgeSeconds", "Seconds"}};

	(void)state;
	doc = render(&s);
	aws = json_object_get(doc, "_aws");
	assert_int_equal(json_integer_value(json_object_get(aws, "Timestamp")), 1700000000123);
	assert_int_equal(json_array_size(json_object_get(aws, "CloudWatchMetrics")), 1);
	dir = json_array_get(json_object_get(aws, "CloudWatchMetrics"), 0);
	assert_string_equal(json_string_value(json_object_get(dir, "Namespace")), "Warden");
	assert_int_equal(json_array_size(json_object_get(dir, "Dimensions")), 2);
	metrics = json_object_get(dir, "Metrics");
	assert_int_equal(json_array_size(metrics), 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *m = json_array_get(metrics, i);

		assert_string_equal(json_string_value(json_object_get(m, "Name")), units[i][0]);
		assert_string_equal(json_string_value(json_object_get(m, "Unit")), units[i][1]);
		assert_true(json_is_number(json_object_get(doc, units[i][0])));
	}
	assert_string_equal(json_string_value(json_object_get(doc, "Region")), "us-east-1");
	assert_string_equal(json_string_value(json_object_get(doc, "Cluster")), "prod");
	assert_string_equal(json_string_value(json_object_get(doc, "Service")), "web");
	assert_int_equal(json_integer_value(json_object_get(doc, "Writable")), 1);
	assert_int_equal(json_integer_value(json_object_get(doc, "SplitBrain")), 0);
	assert_int_equal(json_integer_value(json_object_get(doc, "FlagEpoch")), 42);
	assert_float_equal(json_real_value(json_object_get(doc, "FlagAgeSeconds")), 1.234, 1e-9);
	assert_string_equal(json_string_value(json_object_get(doc, "State")), "active");
	assert_string_equal(json_string_value(json_object_get(doc, "event")), "emf.heartbeat");
	assert_non_null(strstr(json_string_value(json_object_get(doc, "TaskArn")), ":task/prod/"));
	assert_null(json_object_get(doc, "From"));
	json_decref(doc);
}

/* A transition names where it came from; without WARDEN_FLAG the flag's metrics are absent. */
static void test_transition_and_no_flag(void **state)
{
	struct emf_sample s = sample();
	json_t *doc;
	json_t *dir;

	(void)state;
	s.event = "emf.transition";
	s.from_state = "active";
	s.state = "passive";
	s.writable = false;
	s.fencing = false;
	s.task_arn[0] = '\0';
	doc = render(&s);
	dir = json_array_get(json_object_get(json_object_get(doc, "_aws"), "CloudWatchMetrics"), 0);
	assert_int_equal(json_array_size(json_object_get(dir, "Metrics")), 4);
	assert_null(json_object_get(doc, "FlagEpoch"));
	assert_null(json_object_get(doc, "FlagAgeSeconds"));
	assert_null(json_object_get(doc, "TaskArn"));
	assert_string_equal(json_string_value(json_object_get(doc, "From")), "active");
	assert_int_equal(json_integer_value(json_object_get(doc, "Writable")), 0);
	json_decref(doc);
}

/* Dimension values: printable ASCII, never empty or blank, JSON-escaped. */
static void test_dimension_values(void **state)
{
	struct emf_sample s = sample();
	json_t *doc;

	(void)state;
	s.region[0] = '\0';
	strcpy(s.cluster, "   ");
	strcpy(s.service, "w\"eb\x01\xc3\xa9");
	doc = render(&s);
	assert_string_equal(json_string_value(json_object_get(doc, "Region")), "unknown");
	assert_string_equal(json_string_value(json_object_get(doc, "Cluster")), "unknown");
	assert_string_equal(json_string_value(json_object_get(doc, "Service")), "w\"eb???");
	json_decref(doc);
}

/* A line that does not fit is refused whole, never cut. */
static void test_too_small(void **state)
{
	struct emf_sample s = sample();
	char line[300];
	size_t len = 7;

	(void)state;
	assert_int_equal(emf_render(&s, line, sizeof(line), &len), -E2BIG);
	assert_int_equal(len, 0);
	assert_string_equal(line, "");
}

/* The longest dimension values still fit one write. */
static void test_longest_fits(void **state)
{
	struct emf_sample s = sample();
	json_t *doc;

	(void)state;
	memset(s.cluster, 'c', EMF_DIM_VALUE_MAX);
	s.cluster[EMF_DIM_VALUE_MAX] = '\0';
	memset(s.service, 's', EMF_DIM_VALUE_MAX);
	s.service[EMF_DIM_VALUE_MAX] = '\0';
	memset(s.task_arn, 't', AWS_TASK_ARN_MAX);
	s.task_arn[AWS_TASK_ARN_MAX] = '\0';
	s.from_state = "conflict";
	s.epoch = FLAG_EPOCH_MAX;
	doc = render(&s);
	assert_int_equal(strlen(json_string_value(json_object_get(doc, "Cluster"))),
	                 EMF_DIM_VALUE_MAX);
	json_decref(doc);
}

static void test_service_of(void **state)
{
	char out[EMF_DIM_VALUE_MAX + 1];

	(void)state;
	emf_service_of("service:web", out);
	assert_string_equal(out, "web");
	emf_service_of("family:cron", out);
	assert_string_equal(out, "family:cron");
	emf_service_of("service:", out);
	assert_string_equal(out, "service:");
	emf_service_of("", out);
	assert_string_equal(out, "unknown");
}

static void test_flag_age(void **state)
{
	struct fencing_report report;

	(void)state;
	memset(&report, 0, sizeof(report));
	report.now_mono_ms = 100000;
	report.source_count = 3;
	/* No valid read yet: as old as the task. */
	assert_int_equal(emf_flag_age_ms(&report, 1, 40000), 60000);
	report.sources[0].has_value = true;
	report.sources[0].last_ok_sent_mono_ms = 90000;
	report.sources[2].has_value = true;
	report.sources[2].last_ok_sent_mono_ms = 97000;
	assert_int_equal(emf_flag_age_ms(&report, 1, 40000), 3000);  /* the freshest */
	assert_int_equal(emf_flag_age_ms(&report, 2, 40000), 10000); /* the second freshest */
	assert_int_equal(emf_flag_age_ms(&report, 3, 40000), 60000); /* not enough reads */
	assert_int_equal(emf_flag_age_ms(&report, 0, 40000), 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_directive),
	        cmocka_unit_test(test_transition_and_no_flag),
	        cmocka_unit_test(test_dimension_values),
	        cmocka_unit_test(test_too_small),
	        cmocka_unit_test(test_longest_fits),
	        cmocka_unit_test(test_service_of),
	        cmocka_unit_test(test_flag_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
