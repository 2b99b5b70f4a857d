/*
 * cloudwatch.h - the CloudWatch client: GetMetricData for one metric's Sum
 * and SampleCount over one window (what `warden flag set --verify` asks of
 * the old region).
 *
 * Protocol: AWS JSON 1.0 (POST <endpoint path>, Content-Type
 * application/x-amz-json-1.0, X-Amz-Target
 * GraniteServiceVersion20100801.GetMetricData), which CloudWatch speaks
 * beside the older `query` protocol and which current botocore (the AWS CLI)
 * picks first; timestamps are epoch seconds. Signed with SigV4, service
 * "monitoring", the session token a signed header; HTTPS verified against
 * the system CA store (plain http only when the endpoint URL says so). The
 * answer is read up to WD_AWS_RESPONSE_MAX (beyond: bad_reply); a stalled
 * server is a timeout at the deadline. One retry after a clock-skew
 * correction, within the same deadline, as the SSM client does.
 *
 * Threads: a client is used by one thread; the credentials provider it
 * borrows may be shared.
 */
#ifndef WARDEN_AWS_CLOUDWATCH_H
#define WARDEN_AWS_CLOUDWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "aws/aws_creds.h"
#include "lib/err.h"

#define CLOUDWATCH_NAME_MAX       255  /* a namespace, metric name, dimension name or value */
#define CLOUDWATCH_DIMENSIONS_MAX 30   /* CloudWatch's own limit per metric */
#define CLOUDWATCH_POINTS_MAX     1440 /* datapoints per result accepted in an answer */
#define CLOUDWATCH_PERIOD_MAX     (24 * 3600)

/* One dimension of the metric asked for. Borrowed strings. */
struct cloudwatch_dimension {
	const char *name;
	const char *value;
};

/*
 * What to ask: the metric `metric_name` in `namespace_` with exactly these
 * dimensions, aggregated by `period_s` seconds, over [start_s, end_s)
 * (epoch seconds). Borrowed strings.
 */
struct cloudwatch_query {
	const char *namespace_;
	const char *metric_name;
	const struct cloudwatch_dimension *dimensions;
	size_t dimension_count;
	int64_t period_s; /* 1, 5, 10, 20, 30 or a multiple of 60, up to CLOUDWATCH_PERIOD_MAX */
	int64_t start_s;
	int64_t end_s; /* > start_s */
};

/* Sum and SampleCount over every datapoint of the answer. Plain data. */
struct cloudwatch_stats {
	double sum;          /* of the "sum" result's Values */
	double sample_count; /* of the "count" result's Values */
	size_t points;       /* datapoints in the "count" result (0: no data) */
	bool partial;        /* a result's StatusCode was PartialData */
};

/*
 * Check a query (names 1..CLOUDWATCH_NAME_MAX printable ASCII, at most
 * CLOUDWATCH_DIMENSIONS_MAX dimensions, a period CloudWatch accepts,
 * start < end, both after 1970) and render the GetMetricData body into a
 * malloc'd NUL-terminated string (the caller frees it): two queries, Id
 * "sum" (Stat Sum) and Id "count" (Stat SampleCount). NULL with err
 * (-EINVAL, -ENOMEM). Pure; exported for tests.
 */
char *cloudwatch_request_body(const struct cloudwatch_query *q, struct wd_err *err);

/*
 * Parse a GetMetricData answer {"MetricDataResults": [{"Id", "Timestamps",
 * "Values", "StatusCode"}, ...], "Messages": [...]} (other members
 * ignored): both Ids "sum" and "count" must be there, each with as many
 * Values (finite numbers) as Timestamps, at most CLOUDWATCH_POINTS_MAX; a
 * StatusCode other than Complete or PartialData is an error. 0 with *out,
 * or -EBADMSG with err. Pure; exported for tests and the fuzzer.
 */
int cloudwatch_parse_get_metric_data(const char *body, size_t len, struct cloudwatch_stats *out,
                                     struct wd_err *err);

/* What a client needs. Borrowed by cloudwatch_client_new(): strings are copied. */
struct cloudwatch_client_config {
	const char *region;                  /* the signing region: the old region */
	const struct aws_endpoint *endpoint; /* aws_endpoint_for(envp, "monitoring", ...) */
	struct aws_creds_provider *creds;    /* borrowed: must outlive the client */
};

/* The result of one call. Plain data, filled whole by cloudwatch_get_metric_data(). */
struct cloudwatch_result {
	enum aws_outcome outcome;
	int http_status;                         /* of the last answer; 0 when none */
	char error_type[AWS_ERROR_TYPE_MAX + 1]; /* sanitized __type; "" when none */
	char message[WD_ERR_MSG_MAX];            /* sanitized, for logs; "" when ok */
	char request_id[AWS_REQUEST_ID_MAX + 1]; /* x-amzn-RequestId; "" when none */
	int attempts;                            /* requests sent: 0, 1 or 2 */
	struct cloudwatch_stats stats;           /* when outcome is AWS_OK */
};

struct cloudwatch_client;

/*
 * A client for one endpoint and region. No I/O. NULL with err (-EINVAL,
 * -ENOMEM). Free with cloudwatch_client_free().
 */
struct cloudwatch_client *cloudwatch_client_new(const struct cloudwatch_client_config *cfg,
                                                struct wd_err *err);

/* Close the connection and free c. NULL is a no-op. The provider is not freed. */
void cloudwatch_client_free(struct cloudwatch_client *c);

/*
 * GetMetricData for q, returning by deadline_mono_ms whatever the endpoint
 * does. Fills *out and returns out->outcome: AWS_INTERNAL for a bad query,
 * AWS_CREDENTIALS without usable credentials, AWS_BAD_REPLY for an answer
 * cloudwatch_parse_get_metric_data() refuses; else see enum aws_outcome.
 * Blocks the calling thread up to the deadline.
 */
enum aws_outcome cloudwatch_get_metric_data(struct cloudwatch_client *c,
                                            const struct cloudwatch_query *q,
                                            int64_t deadline_mono_ms,
                                            struct cloudwatch_result *out);

#endif
