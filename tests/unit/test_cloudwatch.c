/*
 * test_cloudwatch.c - GetMetricData request building and answer parsing
 * (aws/cloudwatch.c), and the client over a scripted transport: what it
 * sends and signs, how it judges answers, the clock-skew retry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "aws/cloudwatch.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "net/curl_deadline.h"

/* WRAP: curl_deadline_perform */

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

/* ---- The client over a scripted transport --------------------------------- */

/* One scripted answer: the status, the body, and the Date "@+N" (our clock + N s). */
struct canned {
	int status;
	const char *body;
	int64_t date_offset_s;
	const char *request_id;
};

static struct {
	const struct canned *answers;
	size_t count;
	size_t calls;
	char headers[8][1024];
	size_t header_count;
} script;

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result);

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result)
{
	const struct canned *answer;

	(void)cd;
	(void)deadline_mono_ms;
	assert_true(script.calls < script.count);
	assert_true(req->one_request);
	answer = &script.answers[script.calls++];
	script.header_count = req->header_count < 8 ? req->header_count : 8;
	for (size_t i = 0; i < script.header_count; i++)
		snprintf(script.headers[i], sizeof(script.headers[i]), "%s", req->headers[i]);
	memset(result, 0, sizeof(*result));
	result->outcome = NET_OK;
	result->http_status = answer->status;
	assert_int_equal(wd_buf_puts(req->response_body, answer->body), 0);
	for (size_t i = 0; i < req->capture_count; i++) {
		if (strcasecmp(req->capture[i], "Date") == 0) {
			time_t t = (time_t)(clock_wall_ms() / 1000 + answer->date_offset_s);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(result->captured[i], sizeof(result->captured[i]),
			         "%a, %d %b %Y %H:%M:%S GMT", &tm);
		}
		if (strcasecmp(req->capture[i], "x-amzn-RequestId") == 0)
			snprintf(result->captured[i], sizeof(result->captured[i]), "%s",
			         answer->request_id);
	}
	return result->outcome;
}

static bool sent_header(const char *prefix)
{
	for (size_t i = 0; i < script.header_count; i++)
		if (strncmp(script.headers[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

#define CW_OK_BODY                                                                                 \
	"{\"MetricDataResults\":[{\"Id\":\"sum\",\"Timestamps\":[1700000000],\"Values\":[1],"      \
	"\"StatusCode\":\"Complete\"},{\"Id\":\"count\",\"Timestamps\":[1700000000],"              \
	"\"Values\":[4],\"StatusCode\":\"Complete\"}]}"

/* Run one GetMetricData against the script; the log lines go to *log_text (malloc'd). */
static enum aws_outcome scripted_call(const struct canned *answers, size_t count,
                                      struct cloudwatch_result *res, char **log_text)
{
	const char *envp[] = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
	                      "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	                      "AWS_SESSION_TOKEN=SESSIONTOKENEXAMPLE", NULL};
	struct cloudwatch_query q = good_query();
	struct aws_endpoint endpoint;
	struct cloudwatch_client_config cfg = {.region = "us-east-1", .endpoint = &endpoint};
	struct cloudwatch_client *c;
	struct wd_err err = {0, ""};
	enum aws_outcome outcome;
	FILE *log = tmpfile();
	long size;

	assert_non_null(log);
	memset(&script, 0, sizeof(script));
	script.answers = answers;
	script.count = count;
	cfg.creds = aws_creds_provider_new(envp, &err);
	assert_non_null(cfg.creds);
	assert_int_equal(aws_endpoint_for(envp, "monitoring", NULL, "us-east-1", &endpoint, &err),
	                 0);
	c = cloudwatch_client_new(&cfg, &err);
	assert_non_null(c);
	log_set_fd(fileno(log));
	outcome = cloudwatch_get_metric_data(c, &q, clock_mono_ms() + 2000, res);
	log_set_fd(2);
	cloudwatch_client_free(c);
	aws_creds_provider_free(cfg.creds);
	size = ftell(log);
	assert_true(size >= 0);
	*log_text = calloc(1, (size_t)size + 1);
	assert_non_null(*log_text);
	rewind(log);
	assert_int_equal(fread(*log_text, 1, (size_t)size, log), (size_t)size);
	fclose(log);
	return outcome;
}

static void test_client_request(void **state)
{
	static const struct canned answers[] = {{200, CW_OK_BODY, 0, "r1"}};
	struct cloudwatch_result res;
	char *log_text;

	(void)state;
	assert_int_equal(scripted_call(answers, 1, &res, &log_text), AWS_OK);
	assert_int_equal(res.attempts, 1);
	assert_string_equal(res.request_id, "r1");
	assert_string_equal(res.message, "");
	assert_true(res.stats.sum == 1.0 && res.stats.sample_count == 4.0);
	assert_true(sent_header("Content-Type: application/x-amz-json-1.0"));
	assert_true(sent_header("X-Amz-Target: GraniteServiceVersion20100801.GetMetricData"));
	assert_true(sent_header("X-Amz-Security-Token: SESSIONTOKENEXAMPLE"));
	for (size_t i = 0; i < script.header_count; i++)
		if (strncmp(script.headers[i], "Authorization: ", 15) == 0)
			assert_non_null(
			        strstr(script.headers[i], "/us-east-1/monitoring/aws4_request"));
	assert_true(sent_header("Authorization: "));
	free(log_text);
}

static void test_client_error_answers(void **state)
{
	static const struct canned refused[] = {
	        {400, "{\"__type\":\"InvalidParameterValue\",\"message\":\"bad period\"}", 0,
	         "r1"}};
	static const struct canned garbage[] = {{200, "{\"MetricDataResults\":[]}", 0, "r2"}};
	struct cloudwatch_result res;
	char *log_text;

	(void)state;
	assert_int_equal(scripted_call(refused, 1, &res, &log_text), AWS_CLIENT_ERROR);
	assert_int_equal(res.http_status, 400);
	assert_string_equal(res.error_type, "InvalidParameterValue");
	assert_string_equal(res.message, "cloudwatch: HTTP 400 InvalidParameterValue: bad period");
	free(log_text);
	assert_int_equal(scripted_call(garbage, 1, &res, &log_text), AWS_BAD_REPLY);
	assert_int_equal(res.attempts, 1);
	free(log_text);
}

/* A skew error with a far-off Date: corrected, logged, retried once within the deadline. */
static void test_client_skew_retry(void **state)
{
	static const struct canned answers[] = {
	        {400,
	         "{\"__type\":\"InvalidSignatureException\",\"message\":\"Signature expired\"}",
	         900, "r1"},
	        {200, CW_OK_BODY, 900, "r2"},
	};
	struct cloudwatch_result res;
	char *log_text;

	(void)state;
	assert_int_equal(scripted_call(answers, 2, &res, &log_text), AWS_OK);
	assert_int_equal(res.attempts, 2);
	assert_string_equal(res.request_id, "r2");
	assert_non_null(strstr(log_text, "aws.clock_skew_corrected"));
	assert_null(strstr(log_text, "SESSIONTOKENEXAMPLE"));
	free(log_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_body),
	        cmocka_unit_test(test_request_bad_input),
	        cmocka_unit_test(test_parse_answer),
	        cmocka_unit_test(test_parse_bad_answers),
	        cmocka_unit_test(test_parse_too_many_points),
	        cmocka_unit_test(test_client_request),
	        cmocka_unit_test(test_client_error_answers),
	        cmocka_unit_test(test_client_skew_retry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
