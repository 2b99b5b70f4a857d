/*
 * test_ssm.c - the SSM client.
 *
 * - ssm_parse_get_parameter() against the golden files in
 *   tests/data/ssm/<case>/{input,expected} (hostile ones included);
 * - the client with a scripted transport (curl_deadline_perform wrapped):
 *   what it sends and signs, how it judges answers, the clock-skew retry;
 * - the client against the fake AWS (tests/fakes/fake_aws.py), for every
 *   fault it injects; skipped unless WARDEN_FAKE_AWS_URL is set, e.g.
 *     /usr/bin/python3 tests/fakes/fake_aws.py --port 0 --auth-token tok &
 *     WARDEN_FAKE_AWS_URL=http://127.0.0.1:$PORT WARDEN_FAKE_AWS_TOKEN=tok \
 *         build/tests/test_ssm
 *
 * WARDEN_UPDATE_GOLDEN=1 rewrites the expected files (review the diff!).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "net/curl_deadline.h"
#include "aws/aws.h"
#include "aws/aws_creds.h"
#include "aws/ssm.h"

/* WRAP: curl_deadline_perform */

#define PARAM_NAME "/platform/prod/active-region"

/* ---- Golden files ---------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct wd_buf buf;
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	wd_buf_init(&buf, 64 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(wd_buf_append(&buf, chunk, n), 0);
	fclose(f);
	if (buf.data == NULL)
		assert_int_equal(wd_buf_append(&buf, "", 0), 0);
	*len = buf.len;
	return wd_buf_take(&buf);
}

/* What the parser made of an input, as the expected file spells it. */
static void golden_render(const char *input, size_t len, struct wd_buf *out)
{
	struct ssm_parameter param;
	struct wd_err err = {0, ""};

	if (ssm_parse_get_parameter(input, len, PARAM_NAME, &param, &err) != 0) {
		assert_int_equal(err.code, -EBADMSG);
		assert_int_equal(wd_buf_printf(out, "error %s\n", err.msg), 0);
		return;
	}
	assert_int_equal(wd_buf_printf(out, "ok\ntype %s\nversion %llu\nvalue_len %zu\nvalue ",
	                               param.type, (unsigned long long)param.version,
	                               param.value_len),
	                 0);
	for (size_t i = 0; i < param.value_len; i++) {
		unsigned char c = (unsigned char)param.value[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			assert_int_equal(wd_buf_append(out, &param.value[i], 1), 0);
		else
			assert_int_equal(wd_buf_printf(out, "\\x%02x", c), 0);
	}
	assert_int_equal(wd_buf_puts(out, "\n"), 0);
}

static void test_golden(void **state)
{
	const char *data = getenv("WARDEN_TEST_DATA");
	bool update = getenv("WARDEN_UPDATE_GOLDEN") != NULL;
	char dir[1024];
	struct dirent *entry;
	int cases = 0;
	int failed = 0;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ssm", data != NULL ? data : "tests/data");
	d = opendir(dir);
	assert_non_null(d);
	while ((entry = readdir(d)) != NULL) {
		char path[1400];
		struct wd_buf actual;
		char *input;
		char *expected;
		size_t input_len;
		size_t expected_len;

		if (entry->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/input", dir, entry->d_name);
		input = read_file(path, &input_len);
		assert_non_null(input);
		wd_buf_init(&actual, 1 << 20);
		golden_render(input, input_len, &actual);
		snprintf(path, sizeof(path), "%s/%s/expected", dir, entry->d_name);
		if (update) {
			FILE *f = fopen(path, "wb");

			assert_non_null(f);
			fwrite(actual.data, 1, actual.len, f);
			fclose(f);
		}
		expected = read_file(path, &expected_len);
		if (expected == NULL || expected_len != actual.len ||
		    memcmp(expected, actual.data, actual.len) != 0) {
			print_error("golden %s: expected\n%s\ngot\n%s\n", entry->d_name,
			            expected != NULL ? expected : "(no expected file)",
			            actual.data);
			failed++;
		}
		cases++;
		free(expected);
		free(input);
		wd_buf_free(&actual);
	}
	closedir(d);
	assert_true(cases >= 40);
	assert_int_equal(failed, 0);
}

static void test_name_check(void **state)
{
	char long_name[SSM_NAME_MAX + 2];
	struct wd_err err;

	(void)state;
	assert_int_equal(ssm_name_check("/platform/prod/active-region", &err), 0);
	assert_int_equal(ssm_name_check("active-region:3", &err), 0);
	assert_int_equal(
	        ssm_name_check("arn:aws:ssm:us-east-1:123456789012:parameter/platform/x", &err), 0);
	assert_int_equal(ssm_name_check("", &err), -EINVAL);
	assert_int_equal(ssm_name_check("/a b", &err), -EINVAL);
	assert_int_equal(ssm_name_check("/a\n", &err), -EINVAL);
	assert_int_equal(ssm_name_check("/r\xc3\xa9gion", &err), -EINVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(ssm_name_check(long_name, &err), -EINVAL);
	long_name[SSM_NAME_MAX] = '\0';
	assert_int_equal(ssm_name_check(long_name, &err), 0);
}

/* ---- A scripted transport -------------------------------------------------- */

/* One canned answer of the scripted transport. */
struct canned {
	enum net_outcome outcome;
	int status;
	const char *body;
	const char *date;       /* "" for none; "@+900" = our clock + 900 s */
	const char *request_id; /* "" for none */
	bool truncated;
	bool too_large;
};

static struct {
	bool active; /* false: the real transport (fake AWS tests) */
	const struct canned *answers;
	size_t count;
	size_t calls;
	char url[512];
	char body[1024];
	char headers[8][1024];
	char amz_date[2][SIGV4_AMZ_DATE_LEN + 1];
	size_t header_count;
} script;

enum net_outcome __real_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result);
enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result);

/* An HTTP date `seconds` from now, IMF-fixdate. */
static void http_date(int64_t seconds, char *out, size_t size)
{
	time_t t = (time_t)(clock_wall_ms() / 1000 + seconds);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result)
{
	const struct canned *answer;

	if (!script.active)
		return __real_curl_deadline_perform(cd, req, deadline_mono_ms, result);
	assert_true(script.calls < script.count);
	answer = &script.answers[script.calls];
	snprintf(script.url, sizeof(script.url), "%s", req->url);
	snprintf(script.body, sizeof(script.body), "%.*s", (int)req->body_len,
	         (const char *)req->body);
	script.header_count = req->header_count < 8 ? req->header_count : 8;
	for (size_t i = 0; i < script.header_count; i++) {
		snprintf(script.headers[i], sizeof(script.headers[i]), "%s", req->headers[i]);
		if (strncmp(req->headers[i], "X-Amz-Date: ", 12) == 0 && script.calls < 2)
			snprintf(script.amz_date[script.calls], SIGV4_AMZ_DATE_LEN + 1, "%s",
			         req->headers[i] + 12);
	}
	script.calls++;
	memset(result, 0, sizeof(*result));
	result->outcome = answer->outcome;
	result->http_status = answer->status;
	result->truncated = answer->truncated;
	result->body_too_large = answer->too_large;
	if (answer->outcome != NET_OK)
		snprintf(result->detail, sizeof(result->detail), "scripted failure");
	if (answer->body != NULL && req->response_body != NULL)
		assert_int_equal(wd_buf_puts(req->response_body, answer->body), 0);
	for (size_t i = 0; i < req->capture_count; i++) {
		if (strcasecmp(req->capture[i], "Date") == 0 && answer->date != NULL) {
			if (answer->date[0] == '@')
				http_date(atoll(answer->date + 1), result->captured[i],
				          sizeof(result->captured[i]));
			else
				snprintf(result->captured[i], sizeof(result->captured[i]), "%s",
				         answer->date);
		}
		if (strcasecmp(req->capture[i], "x-amzn-RequestId") == 0 &&
		    answer->request_id != NULL)
			snprintf(result->captured[i], sizeof(result->captured[i]), "%s",
			         answer->request_id);
	}
	(void)cd;
	(void)deadline_mono_ms;
	return result->outcome;
}

static void script_run(const struct canned *answers, size_t count)
{
	memset(&script, 0, sizeof(script));
	script.active = true;
	script.answers = answers;
	script.count = count;
}

#define OK_BODY                                                                                    \
	"{\"Parameter\":{\"Name\":\"" PARAM_NAME "\",\"Type\":\"String\",\"Value\":\"us-east-1\"," \
	"\"Version\":5}}"

struct scripted_client {
	struct aws_creds_provider *creds;
	struct ssm_client *ssm;
};

static void scripted_client(struct scripted_client *sc, const char *endpoint_url)
{
	const char *envp[] = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
	                      "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	                      "AWS_SESSION_TOKEN=SESSIONTOKENEXAMPLE", NULL};
	struct aws_endpoint endpoint;
	struct ssm_client_config cfg = {.region = "us-east-1", .endpoint = &endpoint};
	struct wd_err err;

	sc->creds = aws_creds_provider_new(envp, &err);
	assert_non_null(sc->creds);
	assert_int_equal(aws_endpoint_for(envp, "ssm", endpoint_url, "us-east-1", &endpoint, &err),
	                 0);
	cfg.creds = sc->creds;
	sc->ssm = ssm_client_new(&cfg, &err);
	assert_non_null(sc->ssm);
}

static void scripted_free(struct scripted_client *sc)
{
	ssm_client_free(sc->ssm);
	aws_creds_provider_free(sc->creds);
	script.active = false;
}

static bool sent_header(const char *line)
{
	for (size_t i = 0; i < script.header_count; i++) {
		if (strcmp(script.headers[i], line) == 0)
			return true;
	}
	return false;
}

static bool sent_header_prefix(const char *prefix)
{
	for (size_t i = 0; i < script.header_count; i++) {
		if (strncmp(script.headers[i], prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

static void test_request_shape_and_ok(void **state)
{
	static const struct canned answers[] = {
	        {NET_OK, 200, OK_BODY, "@0", "req-1", false, false},
	};
	struct scripted_client sc;
	struct ssm_result res;

	(void)state;
	script_run(answers, 1);
	scripted_client(&sc, NULL);
	assert_int_equal(ssm_get_parameter(sc.ssm, PARAM_NAME, clock_mono_ms() + 2000, &res),
	                 AWS_OK);
	assert_string_equal(script.url, "https://ssm.us-east-1.amazonaws.com/");
	assert_string_equal(script.body, "{\"Name\":\"" PARAM_NAME "\",\"WithDecryption\":true}");
	assert_true(sent_header("Host: ssm.us-east-1.amazonaws.com"));
	assert_true(sent_header("Content-Type: application/x-amz-json-1.1"));
	assert_true(sent_header("X-Amz-Target: AmazonSSM.GetParameter"));
	assert_true(sent_header("X-Amz-Security-Token: SESSIONTOKENEXAMPLE"));
	assert_true(sent_header_prefix("X-Amz-Date: "));
	assert_true(sent_header_prefix("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	assert_true(sent_header_prefix("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	assert_int_equal(res.attempts, 1);
	assert_int_equal(res.http_status, 200);
	assert_string_equal(res.request_id, "req-1");
	assert_string_equal(res.parameter.value, "us-east-1");
	assert_int_equal(res.parameter.version, 5);
	assert_false(res.skew_corrected);
	scripted_free(&sc);
}

static void test_name_is_json_escaped(void **state)
{
	static const struct canned answers[] = {
	        {NET_OK, 400, "{\"__type\":\"ValidationException\"}", "@0", "", false, false},
	};
	struct scripted_client sc;
	struct ssm_result res;

	(void)state;
	script_run(answers, 1);
	scripted_client(&sc, "http://127.0.0.1:9/");
	assert_int_equal(ssm_get_parameter(sc.ssm, "/a\"b\\c", clock_mono_ms() + 2000, &res),
	                 AWS_CLIENT_ERROR);
	assert_string_equal(script.body, "{\"Name\":\"/a\\\"b\\\\c\",\"WithDecryption\":true}");
	assert_string_equal(script.url, "http://127.0.0.1:9/");
	assert_true(sent_header("Host: 127.0.0.1:9"));
	assert_string_equal(res.error_type, "ValidationException");
	/* A bad name never reaches the transport. */
	script.calls = 0;
	assert_int_equal(ssm_get_parameter(sc.ssm, "bad name", clock_mono_ms() + 2000, &res),
	                 AWS_INTERNAL);
	assert_int_equal(script.calls, 0);
	scripted_free(&sc);
}

static void test_answers_judged(void **state)
{
	static const struct {
		struct canned answer;
		enum aws_outcome want;
		const char *type;
	} cases[] = {
	        {{NET_OK, 400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}",
	          "@0", "r", false, false},
	         AWS_THROTTLED,
	         "ThrottlingException"},
	        {{NET_OK, 500, "{\"__type\":\"InternalServerError\",\"Message\":\"oops\"}", "@0",
	          "r", false, false},
	         AWS_SERVER_ERROR,
	         "InternalServerError"},
	        {{NET_OK, 503, "<html>", "@0", "", false, false}, AWS_SERVER_ERROR, ""},
	        {{NET_OK, 400, "{\"__type\":\"com.amazonaws.ssm#ParameterNotFound\"}", "@0", "r",
	          false, false},
	         AWS_NOT_FOUND,
	         "ParameterNotFound"},
	        {{NET_OK, 400,
	          "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
	          "\"message\":"
	          "\"The security token included in the request is invalid.\"}",
	          "@0", "r", false, false},
	         AWS_AUTH,
	         "UnrecognizedClientException"},
	        {{NET_OK, 400, "{\"__type\":\"AccessDeniedException\"}", "@0", "r", false, false},
	         AWS_AUTH,
	         "AccessDeniedException"},
	        {{NET_OK, 400, "{\"__type\":\"ValidationException\"}", "@0", "r", false, false},
	         AWS_CLIENT_ERROR,
	         "ValidationException"},
	        {{NET_OK, 200, "not json", "@0", "r", false, false}, AWS_BAD_REPLY, ""},
	        {{NET_OK, 200, "{\"Parameter\":{\"Name\":\"" PARAM_NAME "\"", "@0", "r", true,
	          false},
	         AWS_BAD_REPLY,
	         ""},
	        {{NET_OK, 200, "", "@0", "r", false, true}, AWS_BAD_REPLY, ""},
	        {{NET_NETWORK, 0, NULL, "", "", true, false}, AWS_BAD_REPLY, ""},
	        {{NET_TIMEOUT, 0, NULL, "", "", false, false}, AWS_TIMEOUT, ""},
	        {{NET_REFUSED, 0, NULL, "", "", false, false}, AWS_NETWORK, ""},
	        {{NET_DNS, 0, NULL, "", "", false, false}, AWS_DNS, ""},
	        {{NET_TLS, 0, NULL, "", "", false, false}, AWS_TLS, ""},
	        {{NET_OK, 302, "", "@0", "", false, false}, AWS_BAD_REPLY, ""},
	};
	struct scripted_client sc;
	struct ssm_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		script_run(&cases[i].answer, 1);
		scripted_client(&sc, NULL);
		ssm_get_parameter(sc.ssm, PARAM_NAME, clock_mono_ms() + 2000, &res);
		if (res.outcome != cases[i].want)
			print_error("case %zu: %s (%s)\n", i, aws_outcome_str(res.outcome),
			            res.message);
		assert_int_equal(res.outcome, cases[i].want);
		assert_string_equal(res.error_type, cases[i].type);
		assert_int_equal(res.attempts, 1);
		assert_false(res.skew_corrected);
		assert_true(res.message[0] != '\0');
		scripted_free(&sc);
	}
}

static void test_put_request_shape_and_ok(void **state)
{
	static const struct canned answers[] = {
	        {NET_OK, 200, "{\"Version\":8,\"Tier\":\"Standard\"}", "@0", "req-p", false, false},
	};
	struct scripted_client sc;
	struct ssm_result res;

	(void)state;
	script_run(answers, 1);
	scripted_client(&sc, NULL);
	assert_int_equal(ssm_put_parameter(sc.ssm, PARAM_NAME, "{\"active_region\":\"us-west-2\"}",
	                                   true, clock_mono_ms() + 2000, &res),
	                 AWS_OK);
	assert_string_equal(script.body,
	                    "{\"Name\":\"" PARAM_NAME
	                    "\",\"Value\":\"{\\\"active_region\\\":\\\"us-west-2\\\"}\","
	                    "\"Type\":\"String\",\"Overwrite\":true}");
	assert_true(sent_header("X-Amz-Target: AmazonSSM.PutParameter"));
	assert_true(sent_header("Content-Type: application/x-amz-json-1.1"));
	assert_true(sent_header("X-Amz-Security-Token: SESSIONTOKENEXAMPLE"));
	assert_true(sent_header_prefix("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	assert_int_equal(res.attempts, 1);
	assert_int_equal(res.version, 8);
	assert_string_equal(res.request_id, "req-p");
	scripted_free(&sc);
}

static void test_put_answers_judged(void **state)
{
	static const struct {
		struct canned answers[2];
		size_t count;
		enum aws_outcome want;
		int attempts;
	} cases[] = {
	        {{{NET_OK, 200, "{\"Tier\":\"Standard\"}", "@0", "r", false, false}},
	         1,
	         AWS_BAD_REPLY,
	         1},
	        {{{NET_OK, 200, "{\"Version\":0}", "@0", "r", false, false}}, 1, AWS_BAD_REPLY, 1},
	        {{{NET_OK, 200, "[]", "@0", "r", false, false}}, 1, AWS_BAD_REPLY, 1},
	        {{{NET_OK, 400, "{\"__type\":\"ThrottlingException\"}", "@0", "r", false, false}},
	         1,
	         AWS_THROTTLED,
	         1},
	        {{{NET_OK, 400, "{\"__type\":\"AccessDeniedException\"}", "@0", "r", false, false}},
	         1,
	         AWS_AUTH,
	         1},
	        {{{NET_OK, 400, "{\"__type\":\"ParameterAlreadyExists\"}", "@0", "r", false,
	           false}},
	         1,
	         AWS_CLIENT_ERROR,
	         1},
	        {{{NET_TIMEOUT, 0, NULL, "", "", false, false}}, 1, AWS_TIMEOUT, 1},
	        /* Skew: corrected from Date and sent once more. */
	        {{{NET_OK, 400, "{\"__type\":\"InvalidSignatureException\"}", "@900", "r1", false,
	           false},
	          {NET_OK, 200, "{\"Version\":3}", "@900", "r2", false, false}},
	         2,
	         AWS_OK,
	         2},
	};
	struct scripted_client sc;
	struct ssm_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		script_run(cases[i].answers, cases[i].count);
		scripted_client(&sc, NULL);
		ssm_put_parameter(sc.ssm, PARAM_NAME, "us-west-2", true, clock_mono_ms() + 2000,
		                  &res);
		if (res.outcome != cases[i].want)
			print_error("case %zu: %s (%s)\n", i, aws_outcome_str(res.outcome),
			            res.message);
		assert_int_equal(res.outcome, cases[i].want);
		assert_int_equal(res.attempts, cases[i].attempts);
		assert_int_equal(script.calls, cases[i].count);
		scripted_free(&sc);
	}
	/* Bad input never reaches the transport, and the value is never quoted. */
	script_run(NULL, 0);
	scripted_client(&sc, NULL);
	assert_int_equal(
	        ssm_put_parameter(sc.ssm, PARAM_NAME ":3", "x", true, clock_mono_ms() + 2000, &res),
	        AWS_INTERNAL);
	assert_int_equal(
	        ssm_put_parameter(sc.ssm, PARAM_NAME, "", true, clock_mono_ms() + 2000, &res),
	        AWS_INTERNAL);
	assert_int_equal(ssm_put_parameter(sc.ssm, PARAM_NAME, "s3cr3t\xff", true,
	                                   clock_mono_ms() + 2000, &res),
	                 AWS_INTERNAL);
	assert_null(strstr(res.message, "s3cr3t"));
	assert_int_equal(script.calls, 0);
	scripted_free(&sc);
}

/* The signed X-Amz-Date of attempt i, in seconds since the epoch. */
static int64_t sent_date(int i)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(script.amz_date[i], "%Y%m%dT%H%M%SZ", &tm));
	return (int64_t)timegm(&tm);
}

static void test_skew_corrected_and_retried_once(void **state)
{
	static const struct canned answers[] = {
	        {NET_OK, 400,
	         "{\"__type\":\"InvalidSignatureException\",\"message\":\"Signature expired: "
	         "20150830T123600Z is now earlier than 20150830T124600Z (20150830T125100Z - 5 "
	         "min.)\"}",
	         "@900", "r1", false, false},
	        {NET_OK, 200, OK_BODY, "@900", "r2", false, false},
	        {NET_OK, 200, OK_BODY, "@900", "r3", false, false},
	};
	struct scripted_client sc;
	struct ssm_result res;
	int64_t skew;

	(void)state;
	script_run(answers, 3);
	scripted_client(&sc, NULL);
	assert_int_equal(ssm_client_skew_ms(sc.ssm), 0);
	assert_int_equal(ssm_get_parameter(sc.ssm, PARAM_NAME, clock_mono_ms() + 2000, &res),
	                 AWS_OK);
	assert_true(res.skew_corrected);
	assert_int_equal(res.attempts, 2);
	assert_string_equal(res.request_id, "r2");
	skew = ssm_client_skew_ms(sc.ssm);
	assert_true(skew > 895 * 1000 && skew < 905 * 1000);
	/* The retry was signed with the corrected clock. */
	assert_true(sent_date(1) - sent_date(0) > 890 && sent_date(1) - sent_date(0) < 910);
	/* The offset is kept: the next call needs one request. */
	assert_int_equal(ssm_get_parameter(sc.ssm, PARAM_NAME, clock_mono_ms() + 2000, &res),
	                 AWS_OK);
	assert_int_equal(res.attempts, 1);
	assert_false(res.skew_corrected);
	scripted_free(&sc);
}

static void test_skew_not_corrected(void **state)
{
	static const struct {
		struct canned answers[2];
		size_t count;
		size_t calls;
		enum aws_outcome want;
	} cases[] = {
	        /* A signature mismatch with a good clock: auth, no retry. */
	        {{{NET_OK, 400, "{\"__type\":\"InvalidSignatureException\"}", "@60", "", false,
	           false}},
	         1,
	         1,
	         AWS_AUTH},
	        /* A skew error without a Date: nothing to correct from. */
	        {{{NET_OK, 400, "{\"__type\":\"RequestExpired\"}", "", "", false, false}},
	         1,
	         1,
	         AWS_AUTH},
	        /* A garbage Date. */
	        {{{NET_OK, 400, "{\"__type\":\"SignatureDoesNotMatch\"}", "yesterday", "", false,
	           false}},
	         1,
	         1,
	         AWS_AUTH},
	        /* Not a skew error, though Date is far off. */
	        {{{NET_OK, 400, "{\"__type\":\"UnrecognizedClientException\"}", "@3600", "", false,
	           false}},
	         1,
	         1,
	         AWS_AUTH},
	        /* Retried once only: a second skew error is final. */
	        {{{NET_OK, 400, "{\"__type\":\"RequestTimeTooSkewed\"}", "@-3600", "", false,
	           false},
	          {NET_OK, 400, "{\"__type\":\"RequestTimeTooSkewed\"}", "@3600", "", false,
	           false}},
	         2,
	         2,
	         AWS_AUTH},
	};
	struct scripted_client sc;
	struct ssm_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		script_run(cases[i].answers, cases[i].count);
		scripted_client(&sc, NULL);
		assert_int_equal(
		        ssm_get_parameter(sc.ssm, PARAM_NAME, clock_mono_ms() + 2000, &res),
		        cases[i].want);
		assert_int_equal(script.calls, cases[i].calls);
		assert_int_equal(res.attempts, (int)cases[i].calls);
		assert_int_equal(res.skew_corrected, cases[i].calls == 2);
		scripted_free(&sc);
	}
}

static void test_no_credentials(void **state)
{
	const char *envp[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9/creds", NULL};
	static const struct canned answers[] = {
	        {NET_REFUSED, 0, NULL, "", "", false, false},
	};
	struct aws_endpoint endpoint;
	struct ssm_client_config cfg = {.region = "us-east-1", .endpoint = &endpoint};
	struct ssm_client *ssm;
	struct ssm_result res;
	struct wd_err err;

	(void)state;
	script_run(answers, 1);
	cfg.creds = aws_creds_provider_new(envp, &err);
	assert_non_null(cfg.creds);
	assert_int_equal(aws_endpoint_for(envp, "ssm", NULL, "us-east-1", &endpoint, &err), 0);
	ssm = ssm_client_new(&cfg, &err);
	assert_non_null(ssm);
	assert_int_equal(ssm_get_parameter(ssm, PARAM_NAME, clock_mono_ms() + 2000, &res),
	                 AWS_CREDENTIALS);
	assert_int_equal(res.attempts, 0);
	assert_non_null(strstr(res.message, "credentials endpoint"));
	ssm_client_free(ssm);
	aws_creds_provider_free(cfg.creds);
	script.active = false;
}

/* ---- Against the fake AWS ---------------------------------------------------- */

#define FAKE_PARAM "/platform/test/active-region"

static const char *fake_url(void)
{
	return getenv("WARDEN_FAKE_AWS_URL");
}

static size_t fake_sink(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct wd_buf *buf = userdata;

	return wd_buf_append(buf, data, size * nmemb) == 0 ? size * nmemb : 0;
}

/* One control call to the fake; returns the HTTP status (the body is dropped). */
static long fake_control(const char *method, const char *path, const char *json)
{
	char url[512];
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	struct wd_buf body;
	CURL *easy = curl_easy_init();
	long status = 0;

	wd_buf_init(&body, 1 << 20);
	snprintf(url, sizeof(url), "%s/_fake/%s", fake_url(), path);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, fake_sink);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	if (json != NULL)
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, json);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	wd_buf_free(&body);
	return status;
}

struct fake_env {
	char creds_uri[600];
	char token[300];
	char endpoint[600];
	char meta[600];
	const char *envp[8];
};

static void fake_env(struct fake_env *fe)
{
	size_t n = 0;

	snprintf(fe->creds_uri, sizeof(fe->creds_uri),
	         "AWS_CONTAINER_CREDENTIALS_FULL_URI=%s/creds/warden-task", fake_url());
	snprintf(fe->endpoint, sizeof(fe->endpoint), "AWS_ENDPOINT_URL_SSM=%s", fake_url());
	snprintf(fe->meta, sizeof(fe->meta), "ECS_CONTAINER_METADATA_URI_V4=%s/meta", fake_url());
	fe->envp[n++] = fe->creds_uri;
	fe->envp[n++] = fe->endpoint;
	fe->envp[n++] = fe->meta;
	if (getenv("WARDEN_FAKE_AWS_TOKEN") != NULL) {
		snprintf(fe->token, sizeof(fe->token), "AWS_CONTAINER_AUTHORIZATION_TOKEN=%s",
		         getenv("WARDEN_FAKE_AWS_TOKEN"));
		fe->envp[n++] = fe->token;
	}
	fe->envp[n] = NULL;
}

struct fake_client {
	struct fake_env env;
	char region[AWS_REGION_MAX + 1];
	struct aws_endpoint endpoint;
	struct aws_creds_provider *creds;
	struct ssm_client *ssm;
};

static void fake_client(struct fake_client *fc)
{
	struct ssm_client_config cfg = {.region = fc->region, .endpoint = &fc->endpoint};
	struct wd_err err;

	fake_env(&fc->env);
	/* The region comes from the task metadata: no AWS_REGION in this envp. */
	assert_int_equal(aws_region_resolve(fc->env.envp, clock_mono_ms() + 2000, fc->region, &err),
	                 0);
	assert_int_equal(
	        aws_endpoint_for(fc->env.envp, "ssm", NULL, fc->region, &fc->endpoint, &err), 0);
	fc->creds = aws_creds_provider_new(fc->env.envp, &err);
	assert_non_null(fc->creds);
	assert_string_equal(aws_creds_source_str(fc->creds), "container");
	cfg.creds = fc->creds;
	fc->ssm = ssm_client_new(&cfg, &err);
	assert_non_null(fc->ssm);
}

static void fake_client_free(struct fake_client *fc)
{
	ssm_client_free(fc->ssm);
	aws_creds_provider_free(fc->creds);
}

static void report(const char *what, const struct ssm_result *res, int64_t elapsed_ms)
{
	printf("fake-aws %-14s -> %-12s http=%d type=%s attempts=%d skew_corrected=%d "
	       "elapsed_ms=%lld request_id=%s message=%s\n",
	       what, aws_outcome_str(res->outcome), res->http_status,
	       res->error_type[0] ? res->error_type : "-", res->attempts, res->skew_corrected,
	       (long long)elapsed_ms, res->request_id[0] ? res->request_id : "-",
	       res->message[0] ? res->message : "-");
	fflush(stdout);
}

static enum aws_outcome fake_get(struct fake_client *fc, const char *what, int64_t timeout_ms,
                                 struct ssm_result *res)
{
	int64_t started = clock_mono_ms();

	ssm_get_parameter(fc->ssm, FAKE_PARAM, started + timeout_ms, res);
	report(what, res, clock_mono_ms() - started);
	return res->outcome;
}

static void fake_inject(const char *fault, int count, int seconds)
{
	char json[200];

	snprintf(json, sizeof(json), "{\"fault\":\"%s\",\"count\":%d,\"seconds\":%d}", fault, count,
	         seconds);
	assert_int_equal(fake_control("POST", "fault", json), 200);
}

static void test_fake_aws_faults(void **state)
{
	static const struct {
		const char *fault;
		enum aws_outcome want;
	} faults[] = {
	        {"throttle", AWS_THROTTLED}, {"500", AWS_SERVER_ERROR},
	        {"garbage", AWS_BAD_REPLY},  {"truncated", AWS_BAD_REPLY},
	        {"nul", AWS_BAD_REPLY},      {"nul_escaped", AWS_BAD_REPLY},
	        {"huge", AWS_BAD_REPLY},
	};
	struct fake_client fc;
	struct ssm_result res;
	int64_t started;
	char json[400];

	(void)state;
	if (fake_url() == NULL) {
		skip();
		return;
	}
	script.active = false;
	assert_int_equal(fake_control("POST", "reset", "{}"), 200);
	assert_int_equal(fake_control("PUT", "param",
	                              "{\"name\":\"" FAKE_PARAM "\",\"value\":\"us-east-1\"}"),
	                 200);
	fake_client(&fc);
	assert_int_equal(fake_get(&fc, "ok", 2000, &res), AWS_OK);
	assert_string_equal(res.parameter.value, "us-east-1");
	assert_int_equal(res.parameter.version, 1);
	assert_true(res.request_id[0] != '\0');

	/* PutParameter: Version + 1 on every overwrite, read back by GetParameter. */
	assert_int_equal(ssm_put_parameter(fc.ssm, FAKE_PARAM,
	                                   "{\"active_region\":\"us-west-2\","
	                                   "\"epoch\":9}",
	                                   true, clock_mono_ms() + 2000, &res),
	                 AWS_OK);
	report("put", &res, 0);
	assert_int_equal(res.version, 2);
	assert_int_equal(fake_get(&fc, "after put", 2000, &res), AWS_OK);
	assert_int_equal(res.parameter.version, 2);
	assert_string_equal(res.parameter.value, "{\"active_region\":\"us-west-2\",\"epoch\":9}");
	assert_int_equal(ssm_put_parameter(fc.ssm, FAKE_PARAM, "us-east-1", false,
	                                   clock_mono_ms() + 2000, &res),
	                 AWS_CLIENT_ERROR);
	assert_string_equal(res.error_type, "ParameterAlreadyExists");
	fake_inject("stall", 1, 10);
	started = clock_mono_ms();
	assert_int_equal(
	        ssm_put_parameter(fc.ssm, FAKE_PARAM, "us-east-1", true, started + 1000, &res),
	        AWS_TIMEOUT);
	assert_true(clock_mono_ms() - started < 5000);
	assert_int_equal(fake_control("POST", "clear", "{}"), 200);
	assert_int_equal(fake_control("PUT", "param",
	                              "{\"name\":\"" FAKE_PARAM "\",\"value\":\"us-east-1\"}"),
	                 200);

	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		fake_inject(faults[i].fault, 1, 0);
		assert_int_equal(fake_get(&fc, faults[i].fault, 2000, &res), faults[i].want);
		assert_int_equal(fake_get(&fc, "after", 2000, &res), AWS_OK);
	}

	/*
	 * A closed connection: curl resends a request once on a fresh connection
	 * when a reused one dies before any answer, so one "close" is invisible;
	 * two in a row are a network failure.
	 */
	fake_inject("close", 1, 0);
	assert_int_equal(fake_get(&fc, "close x1", 2000, &res), AWS_OK);
	fake_inject("close", 2, 0);
	assert_int_equal(fake_get(&fc, "close x2", 2000, &res), AWS_NETWORK);
	assert_int_equal(fake_get(&fc, "after", 2000, &res), AWS_OK);

	/* A stalled server: a timeout at the deadline, not at the stall's end. */
	fake_inject("stall", 1, 10);
	started = clock_mono_ms();
	assert_int_equal(fake_get(&fc, "stall", 1000, &res), AWS_TIMEOUT);
	assert_true(clock_mono_ms() - started < 5000);
	assert_int_equal(fake_control("POST", "clear", "{}"), 200);
	assert_int_equal(fake_get(&fc, "after", 2000, &res), AWS_OK);

	/* Not found, plain and coral style. */
	assert_int_equal(
	        ssm_get_parameter(fc.ssm, "/platform/test/missing", clock_mono_ms() + 2000, &res),
	        AWS_NOT_FOUND);
	report("not_found", &res, 0);
	assert_string_equal(res.error_type, "ParameterNotFound");
	assert_int_equal(fake_control("PUT", "config", "{\"error_style\":\"coral\"}"), 200);
	assert_int_equal(
	        ssm_get_parameter(fc.ssm, "/platform/test/missing", clock_mono_ms() + 2000, &res),
	        AWS_NOT_FOUND);
	report("not_found/coral", &res, 0);
	assert_string_equal(res.error_type, "ParameterNotFound");
	fake_inject("throttle", 1, 0);
	assert_int_equal(fake_get(&fc, "throttle/coral", 2000, &res), AWS_THROTTLED);
	assert_string_equal(res.error_type, "ThrottlingException");
	assert_int_equal(fake_control("PUT", "config", "{\"error_style\":\"plain\"}"), 200);

	/* Clock skew, both ways: corrected from Date, retried once. */
	assert_int_equal(fake_control("POST", "fault", "{\"fault\":\"skew\",\"seconds\":900}"),
	                 200);
	assert_int_equal(fake_get(&fc, "skew +900s", 3000, &res), AWS_OK);
	assert_true(res.skew_corrected);
	assert_int_equal(res.attempts, 2);
	assert_int_equal(fake_get(&fc, "skew kept", 3000, &res), AWS_OK);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(fake_control("POST", "clear", "{}"), 200);
	assert_int_equal(fake_get(&fc, "skew back to 0", 3000, &res), AWS_OK);
	assert_true(res.skew_corrected);
	assert_true(ssm_client_skew_ms(fc.ssm) < 10000 && ssm_client_skew_ms(fc.ssm) > -10000);
	assert_int_equal(fake_control("POST", "fault", "{\"fault\":\"skew\",\"seconds\":-1200}"),
	                 200);
	assert_int_equal(fake_get(&fc, "skew -1200s", 3000, &res), AWS_OK);
	assert_true(res.skew_corrected);
	assert_int_equal(fake_control("POST", "clear", "{}"), 200);
	assert_int_equal(fake_get(&fc, "skew back to 0", 3000, &res), AWS_OK);

	/* The fake expires every issued credential: AWS says ExpiredToken, then we refetch. */
	assert_int_equal(fake_control("POST", "expire_creds", "{}"), 200);
	assert_int_equal(fake_get(&fc, "expired (srv)", 2000, &res), AWS_AUTH);
	assert_string_equal(res.error_type, "ExpiredTokenException");
	assert_int_equal(fake_get(&fc, "refetched", 2000, &res), AWS_OK);
	fake_client_free(&fc);

	/* Fresh providers: the endpoint fails, or hands out expired credentials. */
	fake_client(&fc);
	assert_int_equal(fake_control("POST", "fault", "{\"fault\":\"creds_500\",\"count\":1}"),
	                 200);
	assert_int_equal(fake_get(&fc, "creds_500", 2000, &res), AWS_CREDENTIALS);
	assert_int_equal(fake_get(&fc, "after", 2000, &res), AWS_OK);
	fake_client_free(&fc);
	fake_client(&fc);
	assert_int_equal(fake_control("POST", "fault", "{\"fault\":\"expired_creds\",\"count\":1}"),
	                 200);
	assert_int_equal(fake_get(&fc, "expired_creds", 2000, &res), AWS_CREDENTIALS);
	assert_int_equal(fake_get(&fc, "after", 2000, &res), AWS_OK);
	fake_client_free(&fc);

	/* A wrong authorization token for the credentials endpoint. */
	if (getenv("WARDEN_FAKE_AWS_TOKEN") != NULL) {
		assert_int_equal(fake_control("PUT", "config", "{\"auth_token\":\"other\"}"), 200);
		fake_client(&fc);
		assert_int_equal(fake_get(&fc, "bad auth token", 2000, &res), AWS_CREDENTIALS);
		assert_null(strstr(res.message, getenv("WARDEN_FAKE_AWS_TOKEN")));
		fake_client_free(&fc);
		snprintf(json, sizeof(json), "{\"auth_token\":\"%s\"}",
		         getenv("WARDEN_FAKE_AWS_TOKEN"));
		assert_int_equal(fake_control("PUT", "config", json), 200);
	}
	assert_int_equal(fake_control("POST", "reset", "{}"), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden),
	        cmocka_unit_test(test_name_check),
	        cmocka_unit_test(test_request_shape_and_ok),
	        cmocka_unit_test(test_put_request_shape_and_ok),
	        cmocka_unit_test(test_put_answers_judged),
	        cmocka_unit_test(test_name_is_json_escaped),
	        cmocka_unit_test(test_answers_judged),
	        cmocka_unit_test(test_skew_corrected_and_retried_once),
	        cmocka_unit_test(test_skew_not_corrected),
	        cmocka_unit_test(test_no_credentials),
	        cmocka_unit_test(test_fake_aws_faults),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
