/* test_cloudwatch.c - GetMetricData request building and answer parsing (aws/cloudwatch.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "aws/cloudwatch.h"

static const struct cloudwatch_dimension region_dim[] = {{"Region", "us-east-1"}};

static struct cloudwatch_query good_query(void)
{
	return (struct cloudwatch_query){
	        .namespace_ = "Warden",
	        .metric_name = "Writable",
	        .dimensions = region_dim,
	        .dimension_count = 1,
	        .period_s = 5,
	        .start_s = 1700000000,
	        .end_s = 1700000005,
	};
}

static void test_request_body(void **state)
{
	struct cloudwatch_query q = good_query();
	struct wd_err err = {0, ""};
	char *body = cloudwatch_request_body(&q, &err);
	json_t *doc;
	json_t *queries;

	(void)state;
	assert_non_null(body);
	doc = json_loads(body, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "StartTime")), 1700000000);
	assert_int_equal(json_integer_value(json_object_get(doc, "EndTime")), 1700000005);
	queries = json_object_get(doc, "MetricDataQueries");
	assert_int_equal(json_array_size(queries), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(queries, 0), "Id")),
	                    "sum");
	{
		json_t *stat = json_object_get(json_array_get(queries, 1), "MetricStat");
		json_t *metric = json_object_get(stat, "Metric");
		json_t *dim = json_array_get(json_object_get(metric, "Dimensions"), 0);

		assert_string_equal(json_string_value(json_object_get(stat, "Stat")),
		                    "SampleCount");
		assert_int_equal(json_integer_value(json_object_get(stat, "Period")), 5);
		assert_string_equal(json_string_value(json_object_get(metric, "Namespace")),
		                    "Warden");
		assert_string_equal(json_string_value(json_object_get(metric, "MetricName")),
		                    "Writable");
		assert_string_equal(json_string_value(json_object_get(dim, "Name")), "Region");
		assert_string_equal(json_string_value(json_object_get(dim, "Value")), "us-east-1");
	}
	json_decref(doc);
	free(body);
}

static void test_request_bad_input(void **state)
{
	struct wd_err err = {0, ""};
	struct cloudwatch_query q;
	struct cloudwatch_dimension bad_dim[] = {{"Region", "us-east-1\n"}};
	char long_name[CLOUDWATCH_NAME_MAX + 2];

	(void)state;
	q = good_query();
	q.period_s = 7; /* not a period CloudWatch accepts */
	assert_null(cloudwatch_request_body(&q, &err));
	assert_int_equal(err.code, -EINVAL);
	q = good_query();
	q.period_s = 120;
	q.end_s = 1700000120;
	free(cloudwatch_request_body(&q, &err)); /* a multiple of 60 is fine */
	q = good_query();
	q.end_s = q.start_s;
	assert_null(cloudwatch_request_body(&q, &err));
	q = good_query();
	q.dimensions = bad_dim;
	assert_null(cloudwatch_request_body(&q, &err));
	q = good_query();
	q.dimension_count = CLOUDWATCH_DIMENSIONS_MAX + 1;
	assert_null(cloudwatch_request_body(&q, &err));
	q = good_query();
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	q.metric_name = long_name;
	assert_null(cloudwatch_request_body(&q, &err));
	q.metric_name = "";
	assert_null(cloudwatch_request_body(&q, &err));
}

static int parse(const char *text, struct cloudwatch_stats *out, struct wd_err *err)
{
	return cloudwatch_parse_get_metric_data(text, strlen(text), out, err);
}

static void test_parse_answer(void **state)
{
	struct cloudwatch_stats s;
	struct wd_err err = {0, ""};

	(void)state;
	assert_int_equal(
	        parse("{\"MetricDataResults\":["
	              "{\"Id\":\"count\",\"Label\":\"Writable\",\"Timestamps\":[1700000000,"
	              "1700000005],\"Values\":[2.0,1],\"StatusCode\":\"Complete\"},"
	              "{\"Id\":\"sum\",\"Timestamps\":[1700000000,1700000005],"
	              "\"Values\":[0,1.0],\"StatusCode\":\"PartialData\"}],"
	              "\"Messages\":[]}",
	              &s, &err),
	        0);
	assert_true(s.sample_count == 3.0);
	assert_true(s.sum == 1.0);
	assert_int_equal(s.points, 2);
	assert_true(s.partial);
	/* No data at all: zero points, not an error. */
	assert_int_equal(parse("{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[],"
	                       "\"Values\":[],\"StatusCode\":\"Complete\"},{\"Id\":\"count\","
	                       "\"Timestamps\":[],\"Values\":[],\"StatusCode\":\"Complete\"}]}",
	                       &s, &err),
	                 0);
	assert_int_equal(s.points, 0);
	assert_true(s.sample_count == 0.0);
}

static void test_parse_bad_answers(void **state)
{
	static const char *const bad[] = {
	        "",
	        "not json",
	        "[]",
	        "{}",
	        "{\"MetricDataResults\":{}}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[],\"Values\":[]}]}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[1],\"Values\":[]},"
	        "{\"Id\":\"count\",\"Timestamps\":[],\"Values\":[]}]}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[1],\"Values\":[\"1\"]},"
	        "{\"Id\":\"count\",\"Timestamps\":[],\"Values\":[]}]}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[],\"Values\":[],"
	        "\"StatusCode\":\"Forbidden\"},{\"Id\":\"count\",\"Timestamps\":[],\"Values\":[]}]"
	        "}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[],\"Values\":[]},"
	        "{\"Id\":\"sum\",\"Timestamps\":[],\"Values\":[]}]}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[1],\"Values\":[-1]},"
	        "{\"Id\":\"count\",\"Timestamps\":[],\"Values\":[]}]}",
	        "{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[],\"Values\":[]},"
	        "{\"Id\":\"count\",\"Timestamps\":[],\"Values\":[]}],"
	        "\"MetricDataResults\":[]}",
	};
	struct cloudwatch_stats s;
	struct wd_err err = {0, ""};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.code = 0;
		assert_int_equal(parse(bad[i], &s, &err), -EBADMSG);
		assert_int_equal(err.code, -EBADMSG);
		assert_true(err.msg[0] != '\0');
		assert_int_equal(s.points, 0);
	}
	/* A NUL byte inside: refused, not read as a shorter document. */
	assert_int_equal(cloudwatch_parse_get_metric_data("{}\0{}", 5, &s, &err), -EBADMSG);
}

static void test_parse_too_many_points(void **state)
{
	struct cloudwatch_stats s;
	struct wd_err err = {0, ""};
	json_t *stamps = json_array();
	json_t *values = json_array();
	json_t *doc;
	char *text;

	(void)state;
	for (int i = 0; i <= CLOUDWATCH_POINTS_MAX; i++) {
		json_array_append_new(stamps, json_integer(1700000000 + i));
		json_array_append_new(values, json_integer(0));
	}
	doc = json_pack("{s:[{s:s, s:o, s:o}, {s:s, s:[], s:[]}]}", "MetricDataResults", "Id",
	                "sum", "Timestamps", stamps, "Values", values, "Id", "count", "Timestamps",
	                "Values");
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_non_null(text);
	assert_int_equal(parse(text, &s, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "datapoints"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_body),
	        cmocka_unit_test(test_request_bad_input),
	        cmocka_unit_test(test_parse_answer),
	        cmocka_unit_test(test_parse_bad_answers),
	        cmocka_unit_test(test_parse_too_many_points),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
