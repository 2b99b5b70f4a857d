/*
 * aws.h - what every AWS call of warden shares, without an AWS SDK: the one
 * outcome enum, reading AWS_* settings from an explicit environment array,
 * the region and endpoint chains, the error shape of the JSON protocols, and
 * the clock-skew rule.
 *
 * Pure functions except aws_region_resolve(), which may ask the ECS task
 * metadata endpoint (bounded by a deadline). Nothing here calls getenv():
 * callers pass the environment (main passes environ, tests their own array).
 */
#ifndef WARDEN_AWS_AWS_H
#define WARDEN_AWS_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/buf.h"
#include "net/curl_deadline.h"
#include "lib/err.h"
#include "lib/limits.h"
#include "net/outcome.h"

#define AWS_ERROR_TYPE_MAX    64  /* a sanitized error type, "ThrottlingException" */
#define AWS_ERROR_MESSAGE_MAX 128 /* a sanitized error message (cut with "...") */
#define AWS_REQUEST_ID_MAX    WD_HTTP_HEADER_VALUE_MAX
#define AWS_SKEW_LIMIT_MS     (5 * 60 * 1000) /* AWS refuses signatures further off than this */
#define AWS_ENDPOINT_URL_MAX  WD_URI_MAX
#define AWS_SERVICE_MAX       32

/*
 * The result of one AWS call: one enum, one to-text function, used in logs,
 * /status and the `result` label of warden_flag_reads_total.
 */
enum aws_outcome {
	AWS_OK,           /* "ok" */
	AWS_THROTTLED,    /* "throttled": ThrottlingException, HTTP 429... (back off) */
	AWS_SERVER_ERROR, /* "server_error": HTTP 5xx (back off) */
	AWS_TIMEOUT,      /* "timeout": no complete answer before the deadline */
	AWS_NETWORK,      /* "network": refused, reset, unreachable, closed mid-reply */
	AWS_DNS,          /* "dns": the endpoint's name did not resolve */
	AWS_TLS,          /* "tls": handshake or certificate verification failed */
	AWS_AUTH,         /* "auth": credentials or signature refused, access denied */
	AWS_NOT_FOUND,    /* "not_found": ParameterNotFound, ParameterVersionNotFound */
	AWS_BAD_REPLY,    /* "bad_reply": garbage, truncated, NUL, too large, missing fields */
	AWS_CREDENTIALS,  /* "credentials": no usable credentials to sign with */
	AWS_CLIENT_ERROR, /* "client_error": any other 4xx (ValidationException...) */
	AWS_INTERNAL,     /* "internal": warden itself failed (out of memory, bad input) */
	AWS_OUTCOME_COUNT
};

/* The outcome's text; "unknown" for a value out of range. Never NULL. */
const char *aws_outcome_str(enum aws_outcome outcome);

/* The AWS outcome of a transfer that failed below HTTP (curl_deadline's outcome). */
enum aws_outcome aws_outcome_from_transfer(enum net_outcome outcome);

/*
 * The value of `name` in envp (a NULL-terminated "NAME=value" array, like
 * environ; NULL means empty), or NULL when it is absent or empty. The first
 * occurrence wins, as with getenv(). The pointer is into envp.
 */
const char *aws_env_get(const char *const *envp, const char *name);

/*
 * Parse len bytes of JSON (an object or an array; a duplicate member is
 * refused, so that no two readers can see two different values) for `what`
 * (e.g. "ssm: the answer"). Returns the document (the caller json_decref()s
 * it), or NULL with err = code and "<what> holds a NUL byte" or "<what> is
 * not JSON: <reason> (line L column C)". The reason is jansson's error code
 * in words, never its text, which may quote the input (a secret).
 */
json_t *aws_json_load(const char *body, size_t len, const char *what, int code, struct wd_err *err);

/* Zero a buffer that held secrets (all its memory) and empty it; keeps the memory. */
void aws_buf_wipe(struct wd_buf *buf);

/*
 * GET req->url with client before deadline_mono_ms, the answer into
 * req->response_body (emptied first); req->method is set to "GET", the rest
 * of req is the caller's. Returns 0 for HTTP 200 with the body within its
 * cap; -ETIMEDOUT when the deadline passed; -EIO when the transfer failed or
 * the status is not 200 (*status says which, the body holds the answer);
 * -EBADMSG when the body passed its cap. err says what, prefixed with `what`
 * ("task metadata"). Blocks up to the deadline.
 */
int aws_http_get(struct curl_deadline *client, struct curl_deadline_request *req,
                 int64_t deadline_mono_ms, const char *what, int *status, struct wd_err *err);

/* ---- Region --------------------------------------------------------------- */

#define AWS_REGION_MAX 32 /* "ap-southeast-4", "us-gov-west-1": well inside */

/*
 * Check a region name: the shape of a real AWS region,
 * ^[a-z]{2}(-[a-z]+)+-[0-9]+$ (us-east-1, us-gov-west-1, eu-central-2), at
 * most AWS_REGION_MAX characters. The one region validator: flag values,
 * ?region= of an ssm: source, AWS_REGION / AWS_DEFAULT_REGION and the task
 * ARN all use it (flag_region_check is this). Returns 0 or -EINVAL with err
 * (never quoting the text).
 */
int aws_region_check(const char *region, struct wd_err *err);

/*
 * The region from the environment: AWS_REGION, else AWS_DEFAULT_REGION,
 * checked with aws_region_check(). Returns 0 with out filled, -ENOENT when
 * neither is set, -EINVAL (err names the variable) when the value is bad.
 */
int aws_region_from_env(const char *const *envp, char out[AWS_REGION_MAX + 1], struct wd_err *err);

/*
 * The region of an ARN ("arn:<partition>:<service>:<region>:..."). 0, or
 * -EINVAL with err.
 */
int aws_region_from_arn(const char *arn, char out[AWS_REGION_MAX + 1], struct wd_err *err);

/*
 * The region of the task from an ECS task metadata v4 `/task` document
 * (JSON with "TaskARN"). 0, or -EINVAL with err (never quoting more than
 * a short sanitized piece of the body).
 */
int aws_region_from_task_json(const char *body, size_t len, char out[AWS_REGION_MAX + 1],
                              struct wd_err *err);

/*
 * The whole chain: aws_region_from_env(), else GET
 * $ECS_CONTAINER_METADATA_URI_V4/task before deadline_mono_ms and take the
 * region of its TaskARN. Returns 0 with out filled; -ENOENT when nothing
 * names a region; -EINVAL for a bad value; -ETIMEDOUT / -EIO when the
 * metadata endpoint did not answer in time or answered badly. err says
 * which. Blocks up to the deadline (only when it asks the endpoint).
 */
int aws_region_resolve(const char *const *envp, int64_t deadline_mono_ms,
                       char out[AWS_REGION_MAX + 1], struct wd_err *err);

/* ---- Task metadata -------------------------------------------------------- */

#define AWS_TASK_ARN_MAX  256 /* a task ARN: arn:aws:ecs:<region>:<acct>:task/<cluster>/<id> */
#define AWS_TASK_NAME_MAX 255 /* an ECS cluster, service or family name */

/*
 * What warden takes from an ECS task metadata v4 `/task` document. Plain
 * data; "" for a member the document does not have (or that is too long or
 * not a string).
 */
struct aws_task_metadata {
	char task_arn[AWS_TASK_ARN_MAX + 1];
	char region[AWS_REGION_MAX + 1];     /* of the TaskARN */
	char cluster[AWS_TASK_NAME_MAX + 1]; /* the name: "Cluster" may be an ARN or a name */
	char group[AWS_TASK_NAME_MAX + 1];   /* "Group": "service:NAME", "family:NAME" */
	char family[AWS_TASK_NAME_MAX + 1];  /* "Family" */
};

/*
 * Parse a `/task` document (len bytes). TaskARN is required (its region
 * too); Cluster, Group and Family are optional. Returns 0, or -EINVAL with
 * err (never quoting more than a short sanitized piece of the body).
 */
int aws_task_metadata_parse(const char *body, size_t len, struct aws_task_metadata *out,
                            struct wd_err *err);

/*
 * GET $ECS_CONTAINER_METADATA_URI_V4/task before deadline_mono_ms and parse
 * it: the one task metadata client (the region chain uses it too). Returns
 * 0 with out filled; -ENOENT when the variable is not set; -EINVAL for a
 * bad URI; -ETIMEDOUT / -EIO when the endpoint did not answer in time or
 * answered badly. Blocks up to the deadline.
 */
int aws_task_metadata_get(const char *const *envp, int64_t deadline_mono_ms,
                          struct aws_task_metadata *out, struct wd_err *err);

/* ---- Endpoint ------------------------------------------------------------- */

/* An endpoint URL taken apart for a request. Plain data. */
struct aws_endpoint {
	char url[AWS_ENDPOINT_URL_MAX + 1];  /* what curl is given: scheme://host[:port]/path */
	char host[WD_HOST_MAX + 3];          /* the Host header: host[:port], IPv6 in [] */
	char path[AWS_ENDPOINT_URL_MAX + 1]; /* the request path ("/" when the URL has none) */
	bool https;
};

/*
 * Take an endpoint URL apart: http:// or https://, a host, an optional port
 * and path; no userinfo, query or fragment. A default port (80 for http, 443
 * for https) is left out of the Host header, as curl does. 0, or -EINVAL
 * with err.
 */
int aws_endpoint_parse(const char *url, struct aws_endpoint *out, struct wd_err *err);

/*
 * The endpoint of `service` ("ssm"): `override` (a flag source's
 * &endpoint=) when not NULL or "", else AWS_ENDPOINT_URL_<SERVICE> (the
 * service name upper-cased), else AWS_ENDPOINT_URL, else
 * https://<service>.<region>.amazonaws.com. Validated with
 * aws_endpoint_parse(). 0, or -EINVAL with err naming the variable.
 */
int aws_endpoint_for(const char *const *envp, const char *service, const char *override,
                     const char *region, struct aws_endpoint *out, struct wd_err *err);

/* ---- Errors --------------------------------------------------------------- */

/* An error answer of an awsJson service, sanitized: safe to log. Plain data. */
struct aws_error {
	char type[AWS_ERROR_TYPE_MAX + 1];       /* "ParameterNotFound"; "" when none */
	char message[AWS_ERROR_MESSAGE_MAX + 1]; /* first line, printable ASCII, bounded */
};

/*
 * Sanitize an error type as the SDKs do: cut at the first ':', keep what
 * follows the last '#' ("com.amazonaws.ssm#ParameterNotFound:http://..." ->
 * "ParameterNotFound"). The result must be 1..AWS_ERROR_TYPE_MAX of
 * [A-Za-z0-9_.-], else out is "". Reads at most len bytes of raw.
 */
void aws_error_type_sanitize(const char *raw, size_t len, char out[AWS_ERROR_TYPE_MAX + 1]);

/*
 * Parse an error body {"__type": "...", "message"|"Message": "..."} (also
 * "code"/"Code" for the type, as the credentials endpoints send it); when it
 * names no type, `type_header` (x-amzn-ErrorType, may be NULL) is used. A
 * body that is not such JSON leaves out empty but for what the header gave.
 * A message that quotes the signed request (which would hold the session
 * token) is withheld. Never fails; never reads past len.
 */
void aws_error_parse(const char *body, size_t len, const char *type_header, struct aws_error *out);

/*
 * Classify a non-2xx answer by its status and sanitized type: throttled
 * (throttling types, 429), not_found, auth (signature, token, access
 * types, 401, 403), server_error (5xx), client_error (other 4xx), else
 * bad_reply (1xx, 3xx).
 */
enum aws_outcome aws_error_classify(int http_status, const char *type);

/* ---- Time ------------------------------------------------------------------ */

/*
 * True for the error types that may mean our clock is off (the SDKs' list):
 * RequestTimeTooSkewed, InvalidSignatureException, SignatureDoesNotMatch,
 * RequestExpired, RequestInTheFuture, AuthFailure.
 */
bool aws_is_skew_error(const char *type);

/*
 * The clock-skew rule: given the response's Date header (RFC 7231), our wall
 * clock and the offset currently added to it for signing, decide whether to
 * correct. Returns 1 with *new_offset_ms = server time - local_wall_ms when
 * the server's time differs from ours (corrected) by more than
 * AWS_SKEW_LIMIT_MS; 0 when it does not (nothing to correct); -EINVAL when
 * the Date header is missing or not a date.
 */
int aws_skew_check(const char *date_header, int64_t local_wall_ms, int64_t offset_ms,
                   int64_t *new_offset_ms);

/*
 * Parse an RFC 3339 timestamp ("2026-02-25T06:03:31Z", fractions and
 * +hh:mm offsets allowed; 't'/'z' too) into ms since the epoch. 0, or
 * -EINVAL (also outside years 1970..9999). Reads at most len bytes.
 */
int aws_parse_rfc3339(const char *text, size_t len, int64_t *wall_ms);

#endif
