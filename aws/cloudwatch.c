/*
 * cloudwatch.c - CloudWatch GetMetricData over the AWS JSON call path
 * (aws_json.h; see cloudwatch.h).
 */
#include "aws/cloudwatch.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_json.h"

#define CW_TARGET       "GraniteServiceVersion20100801.GetMetricData"
#define CW_CONTENT_TYPE "application/x-amz-json-1.0"
#define CW_SERVICE      "monitoring"
#define CW_EPOCH_MAX_S  253402300799LL /* 9999-12-31T23:59:59Z */

/* The handle is the aws_json_client itself (struct cloudwatch_client is never defined). */
static struct aws_json_client *cw_json(struct cloudwatch_client *c)
{
	return (struct aws_json_client *)c;
}

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

struct cloudwatch_client *cloudwatch_client_new(const struct cloudwatch_client_config *cfg,
                                                struct wd_err *err)
{
	/* Error answers read "cloudwatch: HTTP 400 ...". */
	struct aws_json_client_config json = {.what = "cloudwatch",
	                                      .service = CW_SERVICE,
	                                      .region = cfg->region,
	                                      .endpoint = cfg->endpoint,
	                                      .creds = cfg->creds,
	                                      .prefix_http_errors = true};

	return (struct cloudwatch_client *)aws_json_client_new(&json, err);
}

void cloudwatch_client_free(struct cloudwatch_client *c)
{
	aws_json_client_free(cw_json(c));
}

static int cw_parse_ok(void *arg, const char *body, size_t len, struct wd_err *err)
{
	return cloudwatch_parse_get_metric_data(body, len, arg, err);
}

enum aws_outcome cloudwatch_get_metric_data(struct cloudwatch_client *c,
                                            const struct cloudwatch_query *q,
                                            int64_t deadline_mono_ms, struct cloudwatch_result *out)
{
	struct aws_json_result res = {0};
	struct wd_err err = {0, ""};
	char *body;

	memset(out, 0, sizeof(*out));
	body = cloudwatch_request_body(q, &err);
	if (body == NULL)
		aws_json_result_set(&res, AWS_INTERNAL, "%s", err.msg);
	else
		aws_json_run(cw_json(c),
		             &(struct aws_json_call){.target = CW_TARGET,
		                                     .content_type = CW_CONTENT_TYPE,
		                                     .body = body,
		                                     .body_len = strlen(body),
		                                     .parse_ok = cw_parse_ok,
		                                     .parse_arg = &out->stats},
		             deadline_mono_ms, &res);
	free(body);
	AWS_JSON_RESULT_COPY(out, &res);
	return out->outcome;
}
