/*
 * test_aws.c - what every AWS call shares: outcome texts, the environment
 * array, the region chain (the task metadata call scripted through a wrapped
 * curl_deadline_perform), the endpoint chain, error parsing and
 * classification, the clock-skew rule and RFC 3339.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "net/curl_deadline.h"
#include "aws/aws.h"

/* WRAP: curl_deadline_perform */

static void test_outcome_str(void **state)
{
	(void)state;
	assert_string_equal(aws_outcome_str(AWS_OK), "ok");
	assert_string_equal(aws_outcome_str(AWS_SERVER_ERROR), "server_error");
	assert_string_equal(aws_outcome_str(AWS_NOT_FOUND), "not_found");
	assert_string_equal(aws_outcome_str(AWS_CLIENT_ERROR), "client_error");
	assert_string_equal(aws_outcome_str(AWS_OUTCOME_COUNT), "unknown");
	assert_string_equal(aws_outcome_str((enum aws_outcome) - 1), "unknown");
	for (int i = 0; i < AWS_OUTCOME_COUNT; i++) {
		assert_string_not_equal(aws_outcome_str((enum aws_outcome)i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(aws_outcome_str((enum aws_outcome)i),
			                        aws_outcome_str((enum aws_outcome)j));
	}
	assert_int_equal(aws_outcome_from_transfer(NET_REFUSED), AWS_NETWORK);
	assert_int_equal(aws_outcome_from_transfer(NET_TIMEOUT), AWS_TIMEOUT);
	assert_int_equal(aws_outcome_from_transfer(NET_DNS), AWS_DNS);
	assert_int_equal(aws_outcome_from_transfer(NET_TLS), AWS_TLS);
	assert_int_equal(aws_outcome_from_transfer(NET_INTERNAL), AWS_INTERNAL);
}

static void test_env_get(void **state)
{
	const char *envp[] = {"AWS_REGIONX=no",    "AWS_REGION=us-west-2",
	                      "AWS_REGION=second", "EMPTY=",
	                      "NOEQUALS",          NULL};

	(void)state;
	assert_string_equal(aws_env_get(envp, "AWS_REGION"), "us-west-2");
	assert_null(aws_env_get(envp, "AWS_REGIO"));
	assert_null(aws_env_get(envp, "EMPTY"));
	assert_null(aws_env_get(envp, "NOEQUALS"));
	assert_null(aws_env_get(NULL, "AWS_REGION"));
}

static void test_region_check(void **state)
{
	struct wd_err err;

	(void)state;
	assert_int_equal(aws_region_check("us-east-1", &err), 0);
	assert_int_equal(aws_region_check("us-gov-west-1", &err), 0);
	assert_int_equal(aws_region_check("", &err), -EINVAL);
	assert_int_equal(aws_region_check("US-EAST-1", &err), -EINVAL);
	assert_int_equal(aws_region_check("1us-east", &err), -EINVAL);
	assert_int_equal(aws_region_check("us-east-", &err), -EINVAL);
	assert_int_equal(aws_region_check("us_east_1", &err), -EINVAL);
	assert_int_equal(aws_region_check("garbage", &err), -EINVAL);
	assert_int_equal(aws_region_check("us-east", &err), -EINVAL);
	assert_int_equal(aws_region_check("us-1", &err), -EINVAL);
	/* AWS_REGION_MAX (32) characters of the right shape pass; one more does not. */
	assert_int_equal(aws_region_check("ab-cdefghijklmnopqrstuvwxyzabc-1", &err), 0);
	assert_int_equal(aws_region_check("ab-cdefghijklmnopqrstuvwxyzabcd-1", &err), -EINVAL);
}

static void test_region_from_env(void **state)
{
	const char *both[] = {"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=us-west-2", NULL};
	const char *fallback[] = {"AWS_REGION=", "AWS_DEFAULT_REGION=eu-west-1", NULL};
	const char *bad[] = {"AWS_REGION=US_EAST_1", "AWS_DEFAULT_REGION=eu-west-1", NULL};
	const char *none[] = {"HOME=/", NULL};
	char region[AWS_REGION_MAX + 1];
	struct wd_err err;

	(void)state;
	assert_int_equal(aws_region_from_env(both, region, &err), 0);
	assert_string_equal(region, "us-west-2");
	assert_int_equal(aws_region_from_env(fallback, region, &err), 0);
	assert_string_equal(region, "eu-west-1");
	assert_int_equal(aws_region_from_env(bad, region, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "AWS_REGION"));
	assert_int_equal(aws_region_from_env(none, region, &err), -ENOENT);
	/* A lowercase word is not a region, in either variable. */
	assert_int_equal(
	        aws_region_from_env((const char *[]){"AWS_REGION=garbage", NULL}, region, &err),
	        -EINVAL);
	assert_non_null(strstr(err.msg, "AWS_REGION"));
	assert_int_equal(aws_region_from_env((const char *[]){"AWS_DEFAULT_REGION=useast", NULL},
	                                     region, &err),
	                 -EINVAL);
	assert_non_null(strstr(err.msg, "AWS_DEFAULT_REGION"));
}

static void test_region_from_arn(void **state)
{
	static const struct {
		const char *arn;
		const char *region; /* NULL: refused */
	} cases[] = {
	        {"arn:aws:ecs:us-east-1:123456789012:task/warden-test/0123abcd", "us-east-1"},
	        {"arn:aws-cn:ecs:cn-north-1:123456789012:task/c/1", "cn-north-1"},
	        {"arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task/1", "us-gov-west-1"},
	        {"arn:aws:ecs::123456789012:task/1", NULL},
	        {"arn:aws:ecs:US-EAST-1:1:task/1", NULL},
	        {"arn:aws:ecs:garbage:1:task/1", NULL},
	        {"arn:aws:ecs:us-east:1:task/1", NULL},
	        {"arn:aws:ecs:us-east-1", NULL},
	        {"arn:aws", NULL},
	        {"aws:ecs:us-east-1:1:task/1", NULL},
	        {"arn:aws:ecs:a-very-long-region-name-longer-than-32:1:task", NULL},
	        {"", NULL},
	};
	char region[AWS_REGION_MAX + 1];
	struct wd_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = aws_region_from_arn(cases[i].arn, region, &err);

		if (cases[i].region != NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(region, cases[i].region);
		} else {
			assert_int_equal(rc, -EINVAL);
		}
	}
}

static void test_region_from_task_json(void **state)
{
	static const char good[] = "{\"Cluster\":\"arn:aws:ecs:us-west-2:1:cluster/c\","
	                           "\"TaskARN\":\"arn:aws:ecs:us-west-2:1:task/c/1\"}";
	char region[AWS_REGION_MAX + 1];
	struct wd_err err;

	(void)state;
	assert_int_equal(aws_region_from_task_json(good, strlen(good), region, &err), 0);
	assert_string_equal(region, "us-west-2");
	assert_int_equal(aws_region_from_task_json("{}", 2, region, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "TaskARN"));
	assert_int_equal(aws_region_from_task_json("{\"TaskARN\":5}", 13, region, &err), -EINVAL);
	assert_int_equal(aws_region_from_task_json("nope", 4, region, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not JSON"));
	assert_int_equal(
	        aws_region_from_task_json("{\"TaskARN\":\"arn:aws:ecs:x\0\"}", 27, region, &err),
	        -EINVAL);
	assert_non_null(strstr(err.msg, "NUL"));
}

/* What EMF takes from /task: the cluster's name (from an ARN or as is), Group, Family. */
static void test_task_metadata_parse(void **state)
{
	static const char fargate[] =
	        "{\"Cluster\":\"arn:aws:ecs:eu-west-1:1:cluster/prod\",\"Group\":\"service:web\","
	        "\"Family\":\"web\",\"TaskARN\":\"arn:aws:ecs:eu-west-1:1:task/prod/9f\"}";
	static const char ec2[] = "{\"Cluster\":\"default\",\"Group\":7,"
	                          "\"TaskARN\":\"arn:aws:ecs:eu-west-1:1:task/9f\"}";
	struct aws_task_metadata task;
	struct wd_err err;

	(void)state;
	assert_int_equal(aws_task_metadata_parse(fargate, strlen(fargate), &task, &err), 0);
	assert_string_equal(task.region, "eu-west-1");
	assert_string_equal(task.cluster, "prod");
	assert_string_equal(task.group, "service:web");
	assert_string_equal(task.family, "web");
	assert_string_equal(task.task_arn, "arn:aws:ecs:eu-west-1:1:task/prod/9f");
	assert_int_equal(aws_task_metadata_parse(ec2, strlen(ec2), &task, &err), 0);
	assert_string_equal(task.cluster, "default");
	assert_string_equal(task.group, ""); /* not a string: absent */
	assert_string_equal(task.family, "");
	assert_int_equal(aws_task_metadata_parse("{\"Cluster\":\"c\"}", 15, &task, &err), -EINVAL);
	assert_string_equal(task.cluster, ""); /* nothing half-filled */
}

/* A TaskARN that does not fit is refused, never accepted as an empty one (found by fuzzing). */
static void test_task_metadata_long_arn(void **state)
{
	char body[AWS_TASK_ARN_MAX + 64];
	struct aws_task_metadata task;
	struct wd_err err;
	int n = snprintf(body, sizeof(body), "{\"TaskARN\":\"arn:aws:ecs:us-east-1:1:task/%0*d\"}",
	                 AWS_TASK_ARN_MAX, 7);

	(void)state;
	assert_true(n > 0 && (size_t)n < sizeof(body));
	assert_int_equal(aws_task_metadata_parse(body, (size_t)n, &task, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer than"));
	assert_string_equal(task.task_arn, "");
}

/* ---- The task metadata endpoint, scripted ---------------------------------- */

static struct {
	enum net_outcome outcome;
	int status;
	const char *body;
	char url[512];
	int calls;
} meta;

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result);

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result)
{
	(void)cd;
	(void)deadline_mono_ms;
	meta.calls++;
	snprintf(meta.url, sizeof(meta.url), "%s", req->url);
	memset(result, 0, sizeof(*result));
	result->outcome = meta.outcome;
	result->http_status = meta.status;
	if (meta.outcome != NET_OK)
		snprintf(result->detail, sizeof(result->detail), "scripted");
	else if (meta.body != NULL)
		assert_int_equal(wd_buf_puts(req->response_body, meta.body), 0);
	return meta.outcome;
}

static void test_region_resolve(void **state)
{
	const char *env_region[] = {"AWS_REGION=ap-southeast-2",
	                            "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/abc",
	                            NULL};
	const char *ecs[] = {"ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/abc/", NULL};
	const char *ecs_bad[] = {"ECS_CONTAINER_METADATA_URI_V4=ftp://x/v4", NULL};
	const char *none[] = {NULL};
	char region[AWS_REGION_MAX + 1];
	struct wd_err err;

	(void)state;
	memset(&meta, 0, sizeof(meta));
	assert_int_equal(aws_region_resolve(env_region, clock_mono_ms() + 1000, region, &err), 0);
	assert_string_equal(region, "ap-southeast-2");
	assert_int_equal(meta.calls, 0); /* the environment wins; no request */

	meta.outcome = NET_OK;
	meta.status = 200;
	meta.body = "{\"TaskARN\":\"arn:aws:ecs:eu-central-1:1:task/c/1\"}";
	assert_int_equal(aws_region_resolve(ecs, clock_mono_ms() + 1000, region, &err), 0);
	assert_string_equal(region, "eu-central-1");
	assert_string_equal(meta.url, "http://169.254.170.2/v4/abc/task");

	meta.status = 500;
	assert_int_equal(aws_region_resolve(ecs, clock_mono_ms() + 1000, region, &err), -EIO);
	assert_non_null(strstr(err.msg, "HTTP 500"));

	meta.status = 200;
	meta.body = "{\"TaskARN\":\"garbage\"}";
	assert_int_equal(aws_region_resolve(ecs, clock_mono_ms() + 1000, region, &err), -EIO);

	meta.outcome = NET_TIMEOUT;
	assert_int_equal(aws_region_resolve(ecs, clock_mono_ms() + 1000, region, &err), -ETIMEDOUT);
	assert_int_equal(aws_region_resolve(ecs_bad, clock_mono_ms() + 1000, region, &err),
	                 -EINVAL);
	assert_non_null(strstr(err.msg, "ECS_CONTAINER_METADATA_URI_V4"));
	assert_int_equal(aws_region_resolve(none, clock_mono_ms() + 1000, region, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "AWS_REGION"));
}

/* ---- Endpoint ------------------------------------------------------------- */

static void test_endpoint_for(void **state)
{
	const char *none[] = {NULL};
	const char *generic[] = {"AWS_ENDPOINT_URL=http://127.0.0.1:4566", NULL};
	const char *both[] = {
	        "AWS_ENDPOINT_URL=http://127.0.0.1:4566",
	        "AWS_ENDPOINT_URL_SSM=https://vpce-1.ssm.us-east-1.vpce.amazonaws.com", NULL};
	const char *bad[] = {"AWS_ENDPOINT_URL_SSM=https://user:pw@ssm.example.com", NULL};
	struct aws_endpoint ep;
	struct wd_err err;

	(void)state;
	assert_int_equal(aws_endpoint_for(none, "ssm", NULL, "eu-west-1", &ep, &err), 0);
	assert_string_equal(ep.url, "https://ssm.eu-west-1.amazonaws.com/");
	assert_string_equal(ep.host, "ssm.eu-west-1.amazonaws.com");
	assert_string_equal(ep.path, "/");
	assert_true(ep.https);

	assert_int_equal(aws_endpoint_for(generic, "ssm", NULL, "eu-west-1", &ep, &err), 0);
	assert_string_equal(ep.url, "http://127.0.0.1:4566/");
	assert_string_equal(ep.host, "127.0.0.1:4566");
	assert_false(ep.https);

	assert_int_equal(aws_endpoint_for(both, "ssm", NULL, "eu-west-1", &ep, &err), 0);
	assert_string_equal(ep.host, "vpce-1.ssm.us-east-1.vpce.amazonaws.com");

	/* A flag source's &endpoint= wins over everything. */
	assert_int_equal(
	        aws_endpoint_for(both, "ssm", "https://[::1]:8443/base", "eu-west-1", &ep, &err),
	        0);
	assert_string_equal(ep.url, "https://[::1]:8443/base");
	assert_string_equal(ep.host, "[::1]:8443");
	assert_string_equal(ep.path, "/base");
	assert_int_equal(aws_endpoint_for(both, "ssm", "", "eu-west-1", &ep, &err), 0);
	assert_string_equal(ep.host, "vpce-1.ssm.us-east-1.vpce.amazonaws.com");

	/* A default port stays out of the Host header. */
	assert_int_equal(
	        aws_endpoint_for(none, "ssm", "https://ssm.example.com:443", NULL, &ep, &err), 0);
	assert_string_equal(ep.host, "ssm.example.com");

	assert_int_equal(aws_endpoint_for(bad, "ssm", NULL, "eu-west-1", &ep, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "AWS_ENDPOINT_URL_SSM"));
	assert_null(strstr(err.msg, "pw"));
	assert_int_equal(aws_endpoint_for(none, "ssm", "https://x/?a=b", NULL, &ep, &err), -EINVAL);
	assert_int_equal(aws_endpoint_for(none, "ssm", "https://x/#f", NULL, &ep, &err), -EINVAL);
	assert_int_equal(aws_endpoint_for(none, "ssm", "ftp://x/", NULL, &ep, &err), -EINVAL);
	assert_int_equal(aws_endpoint_for(none, "ssm", "not a url", NULL, &ep, &err), -EINVAL);
	assert_int_equal(aws_endpoint_for(none, "ssm", NULL, NULL, &ep, &err), -EINVAL);
	assert_int_equal(aws_endpoint_for(none, "ssm", NULL, "Bad_Region", &ep, &err), -EINVAL);
}

/* ---- Errors --------------------------------------------------------------- */

static void test_error_type_sanitize(void **state)
{
	static const struct {
		const char *raw;
		const char *want;
	} cases[] = {
	        {"ParameterNotFound", "ParameterNotFound"},
	        {"com.amazonaws.ssm#ParameterNotFound", "ParameterNotFound"},
	        {"ParameterNotFound:http://internal.amazon.com/coral/com.amazonaws.ssm/",
	         "ParameterNotFound"},
	        {"com.amazon.coral.service#UnrecognizedClientException:http://internal.amazon.com/"
	         "coral/com.amazon.coral.service/",
	         "UnrecognizedClientException"},
	        {"a#b#ThrottlingException", "ThrottlingException"},
	        {"Foo:bar#Baz", "Foo"},
	        {"#", ""},
	        {"Foo#", ""},
	        {":Foo", ""},
	        {"", ""},
	        {"Bad Type", ""},
	        {"Bad\nType", ""},
	        {"Type\"<script>", ""},
	        {"A1234567890123456789012345678901234567890123456789012345678901234", ""},
	        {"A123456789012345678901234567890123456789012345678901234567890123",
	         "A123456789012345678901234567890123456789012345678901234567890123"},
	};
	char out[AWS_ERROR_TYPE_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		aws_error_type_sanitize(cases[i].raw, strlen(cases[i].raw), out);
		assert_string_equal(out, cases[i].want);
	}
	aws_error_type_sanitize(NULL, 0, out);
	assert_string_equal(out, "");
	/* Only len bytes are read. */
	aws_error_type_sanitize("ThrottlingExceptionXYZ", 19, out);
	assert_string_equal(out, "ThrottlingException");
}

/* The body's length counted, not typed. */
#define PARSE_ERROR(body, header, out) aws_error_parse(body, sizeof(body) - 1, header, out)

static void test_error_parse(void **state)
{
	static const char sig[] =
	        "{\"__type\":\"InvalidSignatureException\",\"message\":\"The request signature we "
	        "calculated does not match the signature you provided.\\n\\nThe Canonical String "
	        "for this request should have been\\n'POST\\n/\\n\\nhost:x\\n"
	        "x-amz-security-token:SECRETTOKEN\\n'\"}";
	static const char quoted[] = "{\"__type\":\"X\",\"message\":\"bad x-amz-security-token: "
	                             "SECRETTOKEN\"}";
	char long_body[600];
	struct aws_error e;

	(void)state;
	PARSE_ERROR("{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}", NULL, &e);
	assert_string_equal(e.type, "ThrottlingException");
	assert_string_equal(e.message, "Rate exceeded");

	PARSE_ERROR("{\"__type\":\"com.amazonaws.ssm#InternalServerError\",\"Message\":\"x\"}",
	            NULL, &e);
	assert_string_equal(e.type, "InternalServerError");
	assert_string_equal(e.message, "x");

	/* The credentials endpoint's shape. */
	PARSE_ERROR("{\"code\":\"AccessDenied\",\"message\":\"no\"}", NULL, &e);
	assert_string_equal(e.type, "AccessDenied");

	/* No body type: the x-amzn-ErrorType header. */
	PARSE_ERROR("{}", "ThrottlingException:http://internal.amazon.com/coral/x/", &e);
	assert_string_equal(e.type, "ThrottlingException");
	PARSE_ERROR("<html>", "ServiceUnavailable", &e);
	assert_string_equal(e.type, "ServiceUnavailable");
	assert_string_equal(e.message, "");

	/* Garbage, NUL, wrong types: empty, never a crash. */
	PARSE_ERROR("garbage", NULL, &e);
	assert_string_equal(e.type, "");
	PARSE_ERROR("{\"__type\":\"A\0B\"}", NULL, &e);
	assert_string_equal(e.type, "");
	PARSE_ERROR("{\"__type\":5,\"message\":[1]}", NULL, &e);
	assert_string_equal(e.type, "");
	assert_string_equal(e.message, "");
	aws_error_parse(NULL, 0, NULL, &e);
	assert_string_equal(e.type, "");

	/* Only the first line; the canonical request (with the token) never. */
	aws_error_parse(sig, strlen(sig), NULL, &e);
	assert_string_equal(e.type, "InvalidSignatureException");
	assert_string_equal(e.message, "The request signature we calculated does not match the "
	                               "signature you provided.");
	assert_null(strstr(e.message, "SECRETTOKEN"));
	aws_error_parse(quoted, strlen(quoted), NULL, &e);
	assert_null(strstr(e.message, "SECRETTOKEN"));
	assert_non_null(strstr(e.message, "withheld"));

	/* Control and non-ASCII bytes replaced; long messages cut with "...". */
	PARSE_ERROR("{\"__type\":\"X\",\"message\":\"a\\tb\\u00e9c\\u001b[31m\"}", NULL, &e);
	assert_string_equal(e.message, "a?b??c?[31m");
	snprintf(long_body, sizeof(long_body), "{\"__type\":\"X\",\"message\":\"%0500d\"}", 7);
	aws_error_parse(long_body, strlen(long_body), NULL, &e);
	assert_int_equal(strlen(e.message), AWS_ERROR_MESSAGE_MAX);
	assert_string_equal(e.message + AWS_ERROR_MESSAGE_MAX - 3, "...");
}

static void test_error_classify(void **state)
{
	static const struct {
		int status;
		const char *type;
		enum aws_outcome want;
	} cases[] = {
	        {400, "ThrottlingException", AWS_THROTTLED},
	        {400, "TooManyRequestsException", AWS_THROTTLED},
	        {429, "", AWS_THROTTLED},
	        {500, "InternalServerError", AWS_SERVER_ERROR},
	        {503, "", AWS_SERVER_ERROR},
	        {503, "ThrottlingException", AWS_THROTTLED},
	        {400, "ParameterNotFound", AWS_NOT_FOUND},
	        {400, "ParameterVersionNotFound", AWS_NOT_FOUND},
	        {400, "UnrecognizedClientException", AWS_AUTH},
	        {400, "InvalidSignatureException", AWS_AUTH},
	        {403, "SignatureDoesNotMatch", AWS_AUTH},
	        {400, "AccessDeniedException", AWS_AUTH},
	        {400, "ExpiredTokenException", AWS_AUTH},
	        {400, "MissingAuthenticationTokenException", AWS_AUTH},
	        {400, "IncompleteSignatureException", AWS_AUTH},
	        {403, "", AWS_AUTH},
	        {401, "", AWS_AUTH},
	        {400, "ValidationException", AWS_CLIENT_ERROR},
	        {400, "", AWS_CLIENT_ERROR},
	        {404, "", AWS_CLIENT_ERROR},
	        {302, "", AWS_BAD_REPLY},
	        {100, "", AWS_BAD_REPLY},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(aws_error_classify(cases[i].status, cases[i].type), cases[i].want);
	assert_int_equal(aws_error_classify(400, NULL), AWS_CLIENT_ERROR);
}

/* ---- Time ------------------------------------------------------------------ */

static void test_skew_rule(void **state)
{
	/* 1771999411 = Wed, 25 Feb 2026 06:03:31 GMT */
	static const char date[] = "Wed, 25 Feb 2026 06:03:31 GMT";
	const int64_t server = INT64_C(1771999411000);
	int64_t offset = 12345;

	(void)state;
	assert_true(aws_is_skew_error("RequestTimeTooSkewed"));
	assert_true(aws_is_skew_error("InvalidSignatureException"));
	assert_true(aws_is_skew_error("SignatureDoesNotMatch"));
	assert_true(aws_is_skew_error("RequestExpired"));
	assert_true(aws_is_skew_error("RequestInTheFuture"));
	assert_true(aws_is_skew_error("AuthFailure"));
	assert_false(aws_is_skew_error("UnrecognizedClientException"));
	assert_false(aws_is_skew_error(""));
	assert_false(aws_is_skew_error(NULL));

	/* We are 15 minutes behind: correct by +15 min. */
	assert_int_equal(aws_skew_check(date, server - 900000, 0, &offset), 1);
	assert_int_equal(offset, 900000);
	/* We are 20 minutes ahead. */
	assert_int_equal(aws_skew_check(date, server + 1200000, 0, &offset), 1);
	assert_int_equal(offset, -1200000);
	/* Within 5 minutes either way: nothing to correct. */
	offset = 7;
	assert_int_equal(aws_skew_check(date, server - 299000, 0, &offset), 0);
	assert_int_equal(aws_skew_check(date, server + 300000, 0, &offset), 0);
	assert_int_equal(offset, 7);
	/* Already corrected: the offset counts. */
	assert_int_equal(aws_skew_check(date, server - 900000, 900000, &offset), 0);
	/* A correction that went stale (our clock was fixed): back to about 0. */
	assert_int_equal(aws_skew_check(date, server, 900000, &offset), 1);
	assert_int_equal(offset, 0);
	/* Bad dates. */
	assert_int_equal(aws_skew_check(NULL, server, 0, &offset), -EINVAL);
	assert_int_equal(aws_skew_check("", server, 0, &offset), -EINVAL);
	assert_int_equal(aws_skew_check("Wed, 25 Feb 2026 06:03:31 UTC", server, 0, &offset),
	                 -EINVAL);
	assert_int_equal(aws_skew_check("Wed, 30 Feb 2026 06:03:31 GMT", server, 0, &offset),
	                 -EINVAL);
	assert_int_equal(aws_skew_check("Wed, 25 Foo 2026 06:03:31 GMT", server, 0, &offset),
	                 -EINVAL);
	assert_int_equal(aws_skew_check("Wed, 25 Feb 2026 24:03:31 GMT", server, 0, &offset),
	                 -EINVAL);
	assert_int_equal(aws_skew_check("Wednesday, 25-Feb-26 06:03:31 GMT", server, 0, &offset),
	                 -EINVAL);
}

static void test_rfc3339(void **state)
{
	static const struct {
		const char *text;
		int64_t want; /* -1: refused */
	} cases[] = {
	        {"2026-02-25T06:03:31Z", INT64_C(1771999411000)},
	        {"2026-02-25t06:03:31z", INT64_C(1771999411000)},
	        {"2026-02-25T06:03:31.5Z", INT64_C(1771999411500)},
	        {"2026-02-25T06:03:31.123456789Z", INT64_C(1771999411123)},
	        {"2026-02-25T07:03:31+01:00", INT64_C(1771999411000)},
	        {"2026-02-25T01:03:31-05:00", INT64_C(1771999411000)},
	        {"2024-02-29T23:59:59Z", INT64_C(1709251199000)},
	        {"1970-01-01T00:00:00Z", 0},
	        {"2026-02-25T06:03:60Z", INT64_C(1771999439000)},
	        {"2023-02-29T00:00:00Z", -1},
	        {"2026-13-01T00:00:00Z", -1},
	        {"2026-00-01T00:00:00Z", -1},
	        {"2026-02-25T06:03:31", -1},
	        {"2026-02-25 06:03:31Z", -1},
	        {"2026-02-25T06:03:31.Z", -1},
	        {"2026-02-25T06:03:31.1234567890Z", -1},
	        {"2026-02-25T06:03:31Zjunk", -1},
	        {"2026-02-25T06:03:31+1:00", -1},
	        {"2026-02-25T06:03:31+24:00", -1},
	        {"1969-12-31T23:59:59Z", -1},
	        {"1970-01-01T00:00:00+01:00", -1},
	        {"+2026-02-25T06:03:31Z", -1},
	        {"", -1},
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = aws_parse_rfc3339(cases[i].text, strlen(cases[i].text), &ms);

		if (cases[i].want < 0) {
			if (rc != -EINVAL)
				print_error("accepted %s\n", cases[i].text);
			assert_int_equal(rc, -EINVAL);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(ms, cases[i].want);
		}
	}
	/* Only len bytes are read. */
	assert_int_equal(aws_parse_rfc3339("2026-02-25T06:03:31Zxx", 20, &ms), 0);
	assert_int_equal(ms, INT64_C(1771999411000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_outcome_str),
	        cmocka_unit_test(test_env_get),
	        cmocka_unit_test(test_region_check),
	        cmocka_unit_test(test_region_from_env),
	        cmocka_unit_test(test_region_from_arn),
	        cmocka_unit_test(test_region_from_task_json),
	        cmocka_unit_test(test_task_metadata_parse),
	        cmocka_unit_test(test_task_metadata_long_arn),
	        cmocka_unit_test(test_region_resolve),
	        cmocka_unit_test(test_endpoint_for),
	        cmocka_unit_test(test_error_type_sanitize),
	        cmocka_unit_test(test_error_parse),
	        cmocka_unit_test(test_error_classify),
	        cmocka_unit_test(test_skew_rule),
	        cmocka_unit_test(test_rfc3339),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
