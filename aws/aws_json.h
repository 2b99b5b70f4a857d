/*
 * aws_json.h - the AWS JSON-protocol call path that the SSM and CloudWatch
 * clients share: sign a POST (Host, Content-Type, X-Amz-Target) with SigV4
 * at the corrected clock, send it as one request over curl_deadline
 * (capturing Date, x-amzn-RequestId and x-amzn-ErrorType, the answer read
 * up to WD_AWS_RESPONSE_MAX), and judge the answer: a transfer failure,
 * a truncated or too large answer, an error answer (aws_error_parse() +
 * aws_error_classify()), or a 200 answer handed to the caller's parser.
 *
 * Clock skew: the client keeps a signing-clock offset. When AWS answers with
 * a skew error (aws_is_skew_error()) and its Date header differs from our
 * corrected clock by more than AWS_SKEW_LIMIT_MS, the offset is set from
 * Date (logged as aws.clock_skew_corrected) and the request is signed and
 * sent once more, within the same deadline. The offset is kept for later
 * calls. An ExpiredToken answer makes the credentials provider fetch anew.
 *
 * Secrets: the header lines (session token), the signing intermediates and
 * the credentials are wiped after every attempt; the answer buffer is wiped
 * before every attempt and when the client is freed.
 *
 * Threads: a client is used by one thread; aws_json_client_skew_ms() may be
 * read from any. The credentials provider it borrows may be shared.
 */
#ifndef WARDEN_AWS_AWS_JSON_H
#define WARDEN_AWS_AWS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/aws_creds.h"
#include "lib/err.h"

/* What a client needs. Borrowed by aws_json_client_new(): the strings are copied. */
struct aws_json_client_config {
	const char *what;                    /* "ssm": names the client in messages */
	const char *service;                 /* the SigV4 service: "ssm", "monitoring" */
	const char *region;                  /* the signing region */
	const struct aws_endpoint *endpoint; /* aws_endpoint_for(envp, service, ...) */
	struct aws_creds_provider *creds;    /* borrowed: must outlive the client */
	bool prefix_http_errors;             /* "what: HTTP 400 ..." rather than "HTTP 400 ..." */
};

/*
 * One call. Borrowed for the call. parse_ok is given a 200 answer (body
 * NUL-terminated, never NULL) and returns 0, or nonzero with err (then the
 * outcome is AWS_BAD_REPLY with err's message).
 */
struct aws_json_call {
	const char *target;       /* X-Amz-Target: "AmazonSSM.GetParameter" */
	const char *content_type; /* "application/x-amz-json-1.1" */
	const char *body;
	size_t body_len;
	int (*parse_ok)(void *arg, const char *body, size_t len, struct wd_err *err);
	void *parse_arg;
};

/* What a call came to. Plain data, filled whole by aws_json_run(). */
struct aws_json_result {
	enum aws_outcome outcome;
	int http_status;                         /* of the last answer; 0 when none */
	char error_type[AWS_ERROR_TYPE_MAX + 1]; /* sanitized __type; "" when none */
	char message[WD_ERR_MSG_MAX];            /* sanitized, for logs; "" when ok */
	char request_id[AWS_REQUEST_ID_MAX + 1]; /* x-amzn-RequestId; "" when none */
	bool skew_corrected;                     /* the signing clock was corrected */
	int attempts;                            /* requests sent: 0, 1 or 2 */
};

/*
 * Copy the common part of an aws_json_result into a service's public
 * result (ssm_result, cloudwatch_result), whose members of these names
 * have the same types and sizes.
 */
#define AWS_JSON_RESULT_COPY(dst, src)                                                             \
	do {                                                                                       \
		(dst)->outcome = (src)->outcome;                                                   \
		(dst)->http_status = (src)->http_status;                                           \
		_Static_assert(sizeof((dst)->error_type) == sizeof((src)->error_type), "");        \
		_Static_assert(sizeof((dst)->message) == sizeof((src)->message), "");              \
		_Static_assert(sizeof((dst)->request_id) == sizeof((src)->request_id), "");        \
		memcpy((dst)->error_type, (src)->error_type, sizeof((dst)->error_type));           \
		memcpy((dst)->message, (src)->message, sizeof((dst)->message));                    \
		memcpy((dst)->request_id, (src)->request_id, sizeof((dst)->request_id));           \
		(dst)->attempts = (src)->attempts;                                                 \
	} while (0)

struct aws_json_client;

/*
 * A client for one endpoint, region and service. No I/O. NULL with err
 * ("<what>: ..."; -EINVAL for a bad region or endpoint, -ENOMEM). Free with
 * aws_json_client_free().
 */
struct aws_json_client *aws_json_client_new(const struct aws_json_client_config *cfg,
                                            struct wd_err *err);

/* Close the connection, wipe and free c. NULL is a no-op. The provider is not freed. */
void aws_json_client_free(struct aws_json_client *c);

/*
 * Run one call by deadline_mono_ms: credentials, one signed request, and
 * one more after a clock-skew correction. Fills *out whole and returns
 * out->outcome: AWS_CREDENTIALS when no usable credentials could be had;
 * otherwise see enum aws_outcome. Blocks the calling thread up to the
 * deadline.
 */
enum aws_outcome aws_json_run(struct aws_json_client *c, const struct aws_json_call *call,
                              int64_t deadline_mono_ms, struct aws_json_result *out);

/*
 * Set out->outcome and out->message (printf-style, cut to size); returns
 * the outcome. For callers that refuse a call before sending it.
 */
enum aws_outcome aws_json_result_set(struct aws_json_result *out, enum aws_outcome outcome,
                                     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The signing-clock offset in ms (server minus local); 0 until corrected. Any thread. */
int64_t aws_json_client_skew_ms(const struct aws_json_client *c);

#endif
