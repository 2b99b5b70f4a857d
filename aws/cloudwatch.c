/*
 * cloudwatch.c - CloudWatch GetMetricData over curl_deadline, signed with
 * sigv4 (see cloudwatch.h).
 */
#include "aws/cloudwatch.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "net/curl_deadline.h"

#define CW_TARGET           "GraniteServiceVersion20100801.GetMetricData"
#define CW_CONTENT_TYPE     "application/x-amz-json-1.0"
#define CW_SERVICE          "monitoring"
#define CW_HEADER_LINES_MAX (SIGV4_TOKEN_MAX + SIGV4_AUTHORIZATION_MAX + 4 * 1024)
#define CW_EPOCH_MAX_S      253402300799LL /* 9999-12-31T23:59:59Z */

enum { CW_CAPTURE_DATE, CW_CAPTURE_REQUEST_ID, CW_CAPTURE_ERROR_TYPE, CW_CAPTURE_COUNT };

struct cloudwatch_client {
	struct curl_deadline *http;
	struct aws_creds_provider *creds;
	struct aws_endpoint endpoint;
	char region[AWS_REGION_MAX + 1];
	int64_t skew_ms;
	struct wd_buf response; /* WD_AWS_RESPONSE_MAX */
	struct wd_buf lines;    /* the request's header lines; holds the token: zeroed after */
	struct sigv4_result signature;
};

static int cw_name_check(const char *what, const char *name, struct wd_err *err)
{
	size_t len = name != NULL ? strnlen(name, CLOUDWATCH_NAME_MAX + 1) : 0;

	if (len == 0 || len > CLOUDWATCH_NAME_MAX)
		return wd_err_set(err, -EINVAL, "cloudwatch: %s is empty or longer than %d bytes",
		                  what, CLOUDWATCH_NAME_MAX);
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return wd_err_set(err, -EINVAL,
			                  "cloudwatch: %s holds a byte that is not printable ASCII",
			                  what);
	return 0;
}

static bool cw_period_ok(int64_t period_s)
{
	if (period_s == 1 || period_s == 5 || period_s == 10 || period_s == 20 || period_s == 30)
		return true;
	return period_s >= 60 && period_s <= CLOUDWATCH_PERIOD_MAX && period_s % 60 == 0;
}

static json_t *cw_query_json(const struct cloudwatch_query *q, json_t *dims, const char *id,
                             const char *stat)
{
	return json_pack("{s:s, s:{s:{s:s, s:s, s:O}, s:I, s:s}, s:b}", "Id", id, "MetricStat",
	                 "Metric", "Namespace", q->namespace_, "MetricName", q->metric_name,
	                 "Dimensions", dims, "Period", (json_int_t)q->period_s, "Stat", stat,
	                 "ReturnData", 1);
}

char *cloudwatch_request_body(const struct cloudwatch_query *q, struct wd_err *err)
{
	json_t *dims = NULL;
	json_t *doc = NULL;
	char *text = NULL;

	if (cw_name_check("the namespace", q->namespace_, err) != 0 ||
	    cw_name_check("the metric name", q->metric_name, err) != 0)
		goto out;
	if (q->dimension_count > CLOUDWATCH_DIMENSIONS_MAX ||
	    (q->dimension_count > 0 && q->dimensions == NULL)) {
		wd_err_set(err, -EINVAL, "cloudwatch: more than %d dimensions",
		           CLOUDWATCH_DIMENSIONS_MAX);
		goto out;
	}
	if (!cw_period_ok(q->period_s)) {
		wd_err_set(err, -EINVAL,
		           "cloudwatch: the period must be 1, 5, 10, 20, 30 or a multiple of 60 "
		           "seconds up to %d",
		           CLOUDWATCH_PERIOD_MAX);
		goto out;
	}
	if (q->start_s < 0 || q->end_s <= q->start_s || q->end_s > CW_EPOCH_MAX_S) {
		wd_err_set(err, -EINVAL, "cloudwatch: the window is empty or out of range");
		goto out;
	}
	dims = json_array();
	if (dims == NULL)
		goto oom;
	for (size_t i = 0; i < q->dimension_count; i++) {
		const struct cloudwatch_dimension *d = &q->dimensions[i];

		if (cw_name_check("a dimension name", d->name, err) != 0 ||
		    cw_name_check("a dimension value", d->value, err) != 0)
			goto out;
		if (json_array_append_new(
		            dims, json_pack("{s:s, s:s}", "Name", d->name, "Value", d->value)) != 0)
			goto oom;
	}
	doc = json_pack("{s:[o, o], s:I, s:I, s:s}", "MetricDataQueries",
	                cw_query_json(q, dims, "sum", "Sum"),
	                cw_query_json(q, dims, "count", "SampleCount"), "StartTime",
	                (json_int_t)q->start_s, "EndTime", (json_int_t)q->end_s, "ScanBy",
	                "TimestampAscending");
	if (doc == NULL)
		goto oom;
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto oom;
	goto out;
oom:
	wd_err_set(err, -ENOMEM, "cloudwatch: out of memory");
out:
	json_decref(dims);
	json_decref(doc);
	return text;
}

/* Add one result's Values to *total; *points = how many. 0 or -EBADMSG with err. */
static int cw_parse_result(json_t *result, const char *id, double *total, size_t *points,
                           bool *partial, struct wd_err *err)
{
	json_t *stamps = json_object_get(result, "Timestamps");
	json_t *values = json_object_get(result, "Values");
	json_t *status = json_object_get(result, "StatusCode");
	const char *code = json_string_value(status);
	size_t n;

	if (status != NULL && code == NULL)
		return wd_err_set(err, -EBADMSG,
		                  "cloudwatch: result %s: StatusCode is not a string", id);
	if (code != NULL && strcmp(code, "PartialData") == 0) {
		*partial = true;
	} else if (code != NULL && strcmp(code, "Complete") != 0) {
		char safe[AWS_ERROR_TYPE_MAX + 1];

		aws_error_type_sanitize(code, strlen(code), safe);
		return wd_err_set(err, -EBADMSG, "cloudwatch: result %s: StatusCode %s", id,
		                  safe[0] != '\0' ? safe : "(not a code)");
	}
	if ((values != NULL && !json_is_array(values)) ||
	    (stamps != NULL && !json_is_array(stamps)))
		return wd_err_set(err, -EBADMSG,
		                  "cloudwatch: result %s: Values or Timestamps "
		                  "is not a list",
		                  id);
	n = json_array_size(values);
	if (n != json_array_size(stamps))
		return wd_err_set(err, -EBADMSG,
		                  "cloudwatch: result %s: %zu Values but %zu Timestamps", id, n,
		                  json_array_size(stamps));
	if (n > CLOUDWATCH_POINTS_MAX)
		return wd_err_set(err, -EBADMSG, "cloudwatch: result %s: more than %d datapoints",
		                  id, CLOUDWATCH_POINTS_MAX);
	*total = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(values, i);

		if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
		    !json_is_number(json_array_get(stamps, i)))
			return wd_err_set(err, -EBADMSG,
			                  "cloudwatch: result %s: datapoint %zu is not a number",
			                  id, i + 1);
		*total += json_number_value(v);
	}
	*points = n;
	return 0;
}

int cloudwatch_parse_get_metric_data(const char *body, size_t len, struct cloudwatch_stats *out,
                                     struct wd_err *err)
{
	json_t *root;
	json_t *results;
	bool seen_sum = false;
	bool seen_count = false;
	size_t sum_points = 0;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	root = aws_json_load(body, len, "cloudwatch: the answer", rc, err);
	if (root == NULL)
		return rc;
	results = json_is_object(root) ? json_object_get(root, "MetricDataResults") : NULL;
	if (!json_is_array(results)) {
		wd_err_set(err, rc, "cloudwatch: the answer's MetricDataResults is %s",
		           results != NULL ? "not a list" : "missing");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(results); i++) {
		json_t *result = json_array_get(results, i);
		const char *id = json_string_value(json_object_get(result, "Id"));

		if (!json_is_object(result) || id == NULL) {
			wd_err_set(err, rc, "cloudwatch: result %zu has no Id", i + 1);
			goto out;
		}
		if (strcmp(id, "sum") == 0 && !seen_sum) {
			seen_sum = true;
			if (cw_parse_result(result, "sum", &out->sum, &sum_points, &out->partial,
			                    err) != 0)
				goto out;
		} else if (strcmp(id, "count") == 0 && !seen_count) {
			seen_count = true;
			if (cw_parse_result(result, "count", &out->sample_count, &out->points,
			                    &out->partial, err) != 0)
				goto out;
		} else {
			wd_err_set(err, rc,
			           "cloudwatch: result %zu has an unexpected or repeated Id",
			           i + 1);
			goto out;
		}
	}
	if (!seen_sum || !seen_count) {
		wd_err_set(err, rc, "cloudwatch: the answer has no \"%s\" result",
		           seen_sum ? "count" : "sum");
		goto out;
	}
	if (out->sample_count < 0 || out->sum < 0) {
		wd_err_set(err, rc, "cloudwatch: a negative Sum or SampleCount");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	json_decref(root);
	return rc;
}

static void cw_wipe_signature(struct sigv4_result *res)
{
	aws_buf_wipe(&res->canonical_request);
	aws_buf_wipe(&res->string_to_sign);
	sigv4_result_free(res);
	sigv4_result_init(res);
}

struct cloudwatch_client *cloudwatch_client_new(const struct cloudwatch_client_config *cfg,
                                                struct wd_err *err)
{
	struct cloudwatch_client *c;

	if (cfg->region == NULL || aws_region_check(cfg->region, err) != 0) {
		wd_err_prefix(err, "cloudwatch: region");
		return NULL;
	}
	if (cfg->endpoint == NULL || cfg->endpoint->url[0] == '\0' || cfg->creds == NULL) {
		wd_err_set(err, -EINVAL, "cloudwatch: no endpoint or no credentials provider");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		wd_err_set(err, -ENOMEM, "cloudwatch: out of memory");
		return NULL;
	}
	c->creds = cfg->creds;
	c->endpoint = *cfg->endpoint;
	snprintf(c->region, sizeof(c->region), "%s", cfg->region);
	wd_buf_init(&c->response, WD_AWS_RESPONSE_MAX);
	wd_buf_init(&c->lines, CW_HEADER_LINES_MAX);
	sigv4_result_init(&c->signature);
	c->http = curl_deadline_new(err);
	if (c->http == NULL) {
		wd_err_prefix(err, "cloudwatch");
		cloudwatch_client_free(c);
		return NULL;
	}
	return c;
}

void cloudwatch_client_free(struct cloudwatch_client *c)
{
	if (c == NULL)
		return;
	curl_deadline_free(c->http);
	aws_buf_wipe(&c->response);
	wd_buf_free(&c->response);
	aws_buf_wipe(&c->lines);
	wd_buf_free(&c->lines);
	cw_wipe_signature(&c->signature);
	free(c);
}

static enum aws_outcome cw_set(struct cloudwatch_result *out, enum aws_outcome outcome,
                               const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum aws_outcome cw_set(struct cloudwatch_result *out, enum aws_outcome outcome,
                               const char *fmt, ...)
{
	out->outcome = outcome;
	WD_ERR_FORMAT_ARGS(out->message, sizeof(out->message), fmt);
	return outcome;
}

/* Sign at the corrected clock; every header a "Name: value" line in c->lines. */
static int cw_sign(struct cloudwatch_client *c, const struct aws_credentials *creds,
                   const char *body, size_t body_len, const char *line[CURL_DEADLINE_HEADERS_MAX],
                   struct cloudwatch_result *out)
{
	struct sigv4_header headers[3] = {
	        {"Host", c->endpoint.host},
	        {"Content-Type", CW_CONTENT_TYPE},
	        {"X-Amz-Target", CW_TARGET},
	};
	struct sigv4_header added[SIGV4_ADDED_HEADERS_MAX];
	size_t offsets[3 + SIGV4_ADDED_HEADERS_MAX];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	struct sigv4_request req = {
	        .method = "POST",
	        .path = c->endpoint.path,
	        .headers = headers,
	        .header_count = 3,
	        .body = body,
	        .body_len = body_len,
	};
	struct sigv4_params params = {
	        .credentials = {creds->access_key_id, creds->secret_access_key,
	                        creds->session_token},
	        .region = c->region,
	        .service = CW_SERVICE,
	        .amz_date = amz_date,
	        .token_mode = SIGV4_TOKEN_SIGNED,
	};
	struct wd_err err = {0, ""};
	size_t n_added;
	size_t n = 0;

	if (sigv4_format_amz_date(clock_wall_ms() + c->skew_ms, amz_date, sizeof(amz_date)) != 0) {
		cw_set(out, AWS_INTERNAL, "cloudwatch: the signing clock is out of range");
		return -1;
	}
	if (sigv4_sign(&req, &params, &c->signature, &err) != 0) {
		cw_set(out, err.code == -ENOMEM ? AWS_INTERNAL : AWS_CREDENTIALS, "%s", err.msg);
		return -1;
	}
	n_added = sigv4_headers_to_add(&c->signature, added);
	aws_buf_wipe(&c->lines);
	for (size_t i = 0; i < 3 + n_added; i++) {
		const struct sigv4_header *h = i < 3 ? &headers[i] : &added[i - 3];

		offsets[n++] = c->lines.len;
		if (wd_buf_printf(&c->lines, "%s: %s", h->name, h->value) != 0 ||
		    wd_buf_append(&c->lines, "", 1) != 0) {
			cw_set(out, AWS_INTERNAL, "cloudwatch: request headers too large");
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		line[i] = c->lines.data + offsets[i];
	return (int)n;
}

static enum aws_outcome cw_attempt(struct cloudwatch_client *c, const struct aws_credentials *creds,
                                   const char *body, int64_t deadline_mono_ms,
                                   struct cloudwatch_result *out,
                                   char date[WD_HTTP_HEADER_VALUE_MAX + 1])
{
	static const char *const capture[CW_CAPTURE_COUNT] = {
	        [CW_CAPTURE_DATE] = "Date",
	        [CW_CAPTURE_REQUEST_ID] = "x-amzn-RequestId",
	        [CW_CAPTURE_ERROR_TYPE] = "x-amzn-ErrorType",
	};
	const char *lines[CURL_DEADLINE_HEADERS_MAX];
	struct curl_deadline_result result;
	struct curl_deadline_request req;
	struct aws_error aws_err;
	struct wd_err err = {0, ""};
	size_t body_len = strlen(body);
	int count;

	out->http_status = 0;
	out->error_type[0] = '\0';
	out->request_id[0] = '\0';
	date[0] = '\0';
	count = cw_sign(c, creds, body, body_len, lines, out);
	if (count < 0)
		return out->outcome;
	memset(&req, 0, sizeof(req));
	req.url = c->endpoint.url;
	req.method = "POST";
	req.one_request = true;
	req.body = body;
	req.body_len = body_len;
	req.headers = lines;
	req.header_count = (size_t)count;
	req.response_body = &c->response;
	req.capture = capture;
	req.capture_count = CW_CAPTURE_COUNT;
	aws_buf_wipe(&c->response);
	out->attempts++;
	curl_deadline_perform(c->http, &req, deadline_mono_ms, &result);
	aws_buf_wipe(&c->lines);
	cw_wipe_signature(&c->signature);
	out->http_status = result.http_status;
	snprintf(out->request_id, sizeof(out->request_id), "%s",
	         result.captured[CW_CAPTURE_REQUEST_ID]);
	snprintf(date, WD_HTTP_HEADER_VALUE_MAX + 1, "%s", result.captured[CW_CAPTURE_DATE]);
	if (result.outcome != NET_OK) {
		if (result.truncated)
			return cw_set(out, AWS_BAD_REPLY, "cloudwatch: truncated answer: %s",
			              result.detail);
		return cw_set(out, aws_outcome_from_transfer(result.outcome), "cloudwatch: %s",
		              result.detail);
	}
	if (result.body_too_large)
		return cw_set(out, AWS_BAD_REPLY,
		              "cloudwatch: answer larger than %d bytes (HTTP %d)",
		              WD_AWS_RESPONSE_MAX, result.http_status);
	if (result.http_status == 200) {
		if (cloudwatch_parse_get_metric_data(c->response.data != NULL ? c->response.data
		                                                              : "",
		                                     c->response.len, &out->stats, &err) != 0)
			return cw_set(out, AWS_BAD_REPLY, "%s", err.msg);
		out->outcome = AWS_OK;
		out->message[0] = '\0';
		return AWS_OK;
	}
	aws_error_parse(c->response.data, c->response.len,
	                result.captured[CW_CAPTURE_ERROR_TYPE][0] != '\0'
	                        ? result.captured[CW_CAPTURE_ERROR_TYPE]
	                        : NULL,
	                &aws_err);
	memcpy(out->error_type, aws_err.type, sizeof(out->error_type));
	return cw_set(out, aws_error_classify(result.http_status, aws_err.type),
	              "cloudwatch: HTTP %d %s%s%s", result.http_status,
	              aws_err.type[0] != '\0' ? aws_err.type : "(no type)",
	              aws_err.message[0] != '\0' ? ": " : "", aws_err.message);
}

enum aws_outcome cloudwatch_get_metric_data(struct cloudwatch_client *c,
                                            const struct cloudwatch_query *q,
                                            int64_t deadline_mono_ms, struct cloudwatch_result *out)
{
	char date[WD_HTTP_HEADER_VALUE_MAX + 1];
	struct aws_credentials *creds = NULL;
	struct wd_err err = {0, ""};
	enum aws_outcome outcome;
	char *body;

	memset(out, 0, sizeof(*out));
	body = cloudwatch_request_body(q, &err);
	if (body == NULL) {
		outcome = cw_set(out, AWS_INTERNAL, "%s", err.msg);
		goto out;
	}
	creds = malloc(sizeof(*creds));
	if (creds == NULL) {
		outcome = cw_set(out, AWS_INTERNAL, "cloudwatch: out of memory");
		goto out;
	}
	if (aws_creds_get(c->creds, deadline_mono_ms, creds, &err) != 0) {
		outcome = cw_set(out, AWS_CREDENTIALS, "%s", err.msg);
		goto out;
	}
	outcome = cw_attempt(c, creds, body, deadline_mono_ms, out, date);
	if (outcome == AWS_AUTH && aws_is_skew_error(out->error_type)) {
		int64_t new_ms = c->skew_ms;

		if (aws_skew_check(date, clock_wall_ms(), c->skew_ms, &new_ms) == 1) {
			c->skew_ms = new_ms;
			outcome = cw_attempt(c, creds, body, deadline_mono_ms, out, date);
		}
	}
	if (outcome == AWS_AUTH && (strcmp(out->error_type, "ExpiredTokenException") == 0 ||
	                            strcmp(out->error_type, "ExpiredToken") == 0))
		aws_creds_invalidate(c->creds);
out:
	if (creds != NULL)
		aws_credentials_clear(creds);
	free(creds);
	free(body);
	return outcome;
}
