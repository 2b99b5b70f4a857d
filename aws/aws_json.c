/*
 * aws_json.c - the AWS JSON-protocol call path over curl_deadline, signed
 * with sigv4 (see aws_json.h).
 */
#include "aws/aws_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "net/curl_deadline.h"

/* The request's header lines: three of ours, three from the signer (the token is the big one). */
#define AWS_JSON_HEADER_LINES_MAX (SIGV4_TOKEN_MAX + SIGV4_AUTHORIZATION_MAX + 4 * 1024)
#define AWS_JSON_WHAT_MAX         32

/* The response headers captured, in this order. */
enum {
	AWS_JSON_CAPTURE_DATE,
	AWS_JSON_CAPTURE_REQUEST_ID,
	AWS_JSON_CAPTURE_ERROR_TYPE,
	AWS_JSON_CAPTURE_COUNT
};

struct aws_json_client {
	struct curl_deadline *http;
	struct aws_creds_provider *creds;
	struct aws_endpoint endpoint;
	char region[AWS_REGION_MAX + 1];
	char service[AWS_SERVICE_MAX + 1];
	char what[AWS_JSON_WHAT_MAX + 1];
	bool prefix_http_errors;
	_Atomic int64_t skew_ms;
	struct wd_buf response; /* WD_AWS_RESPONSE_MAX */
	struct wd_buf lines;    /* the request's header lines; holds the token: zeroed after */
	struct sigv4_result signature;
};

struct aws_json_client *aws_json_client_new(const struct aws_json_client_config *cfg,
                                            struct wd_err *err)
{
	const char *what = cfg->what != NULL ? cfg->what : "aws";
	struct aws_json_client *c;

	if (cfg->region == NULL || aws_region_check(cfg->region, err) != 0) {
		wd_err_prefix(err, "%s: region", what);
		return NULL;
	}
	if (cfg->endpoint == NULL || cfg->endpoint->url[0] == '\0' || cfg->creds == NULL) {
		wd_err_set(err, -EINVAL, "%s: no endpoint or no credentials provider", what);
		return NULL;
	}
	if (cfg->service == NULL || cfg->service[0] == '\0' ||
	    strlen(cfg->service) > AWS_SERVICE_MAX || strlen(what) > AWS_JSON_WHAT_MAX) {
		wd_err_set(err, -EINVAL, "%s: no service, or a name too long", what);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		wd_err_set(err, -ENOMEM, "%s: out of memory", what);
		return NULL;
	}
	c->creds = cfg->creds;
	c->endpoint = *cfg->endpoint;
	snprintf(c->region, sizeof(c->region), "%s", cfg->region);
	snprintf(c->service, sizeof(c->service), "%s", cfg->service);
	snprintf(c->what, sizeof(c->what), "%s", what);
	c->prefix_http_errors = cfg->prefix_http_errors;
	atomic_init(&c->skew_ms, 0);
	wd_buf_init(&c->response, WD_AWS_RESPONSE_MAX);
	wd_buf_init(&c->lines, AWS_JSON_HEADER_LINES_MAX);
	sigv4_result_init(&c->signature);
	c->http = curl_deadline_new(err);
	if (c->http == NULL) {
		wd_err_prefix(err, "%s", what);
		aws_json_client_free(c);
		return NULL;
	}
	return c;
}

/* Forget what signing left behind: the canonical request quotes the session token. */
static void aws_json_wipe_signature(struct sigv4_result *res)
{
	aws_buf_wipe(&res->canonical_request);
	aws_buf_wipe(&res->string_to_sign);
	sigv4_result_free(res);
	sigv4_result_init(res);
}

void aws_json_client_free(struct aws_json_client *c)
{
	if (c == NULL)
		return;
	curl_deadline_free(c->http);
	aws_buf_wipe(&c->response);
	wd_buf_free(&c->response);
	aws_buf_wipe(&c->lines);
	wd_buf_free(&c->lines);
	aws_json_wipe_signature(&c->signature);
	free(c);
}

int64_t aws_json_client_skew_ms(const struct aws_json_client *c)
{
	return atomic_load(&((struct aws_json_client *)c)->skew_ms);
}

enum aws_outcome aws_json_result_set(struct aws_json_result *out, enum aws_outcome outcome,
                                     const char *fmt, ...)
{
	out->outcome = outcome;
	WD_ERR_FORMAT_ARGS(out->message, sizeof(out->message), fmt);
	return outcome;
}

/*
 * Sign the request at the corrected clock and turn every header into a
 * "Name: value" line in c->lines; line[] points into it. Returns the number
 * of lines, or -1 with out set.
 */
static int aws_json_sign(struct aws_json_client *c, const struct aws_credentials *creds,
                         const struct aws_json_call *call,
                         const char *line[CURL_DEADLINE_HEADERS_MAX], struct aws_json_result *out)
{
	struct sigv4_header headers[3] = {
	        {"Host", c->endpoint.host},
	        {"Content-Type", call->content_type},
	        {"X-Amz-Target", call->target},
	};
	struct sigv4_header added[SIGV4_ADDED_HEADERS_MAX];
	size_t offsets[3 + SIGV4_ADDED_HEADERS_MAX];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	struct sigv4_request req = {
	        .method = "POST",
	        .path = c->endpoint.path,
	        .headers = headers,
	        .header_count = 3,
	        .body = call->body,
	        .body_len = call->body_len,
	};
	struct sigv4_params params = {
	        .credentials = {creds->access_key_id, creds->secret_access_key,
	                        creds->session_token},
	        .region = c->region,
	        .service = c->service,
	        .amz_date = amz_date,
	        .token_mode = SIGV4_TOKEN_SIGNED,
	};
	struct wd_err err = {0, ""};
	size_t n_added;
	size_t n = 0;

	if (sigv4_format_amz_date(clock_wall_ms() + atomic_load(&c->skew_ms), amz_date,
	                          sizeof(amz_date)) != 0) {
		aws_json_result_set(out, AWS_INTERNAL, "%s: the signing clock is out of range",
		                    c->what);
		return -1;
	}
	if (sigv4_sign(&req, &params, &c->signature, &err) != 0) {
		aws_json_result_set(out, err.code == -ENOMEM ? AWS_INTERNAL : AWS_CREDENTIALS, "%s",
		                    err.msg);
		return -1;
	}
	n_added = sigv4_headers_to_add(&c->signature, added);
	aws_buf_wipe(&c->lines);
	for (size_t i = 0; i < 3 + n_added; i++) {
		const struct sigv4_header *h = i < 3 ? &headers[i] : &added[i - 3];

		offsets[n++] = c->lines.len;
		/* Each line keeps its NUL: the next one starts after it. */
		if (wd_buf_printf(&c->lines, "%s: %s", h->name, h->value) != 0 ||
		    wd_buf_append(&c->lines, "", 1) != 0) {
			aws_json_result_set(out, AWS_INTERNAL, "%s: request headers too large",
			                    c->what);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		line[i] = c->lines.data + offsets[i];
	return (int)n;
}

/* One signed request and its answer, judged. */
static enum aws_outcome aws_json_attempt(struct aws_json_client *c,
                                         const struct aws_credentials *creds,
                                         const struct aws_json_call *call, int64_t deadline_mono_ms,
                                         struct aws_json_result *out,
                                         char date[WD_HTTP_HEADER_VALUE_MAX + 1])
{
	static const char *const capture[AWS_JSON_CAPTURE_COUNT] = {
	        [AWS_JSON_CAPTURE_DATE] = "Date",
	        [AWS_JSON_CAPTURE_REQUEST_ID] = "x-amzn-RequestId",
	        [AWS_JSON_CAPTURE_ERROR_TYPE] = "x-amzn-ErrorType",
	};
	const char *lines[CURL_DEADLINE_HEADERS_MAX];
	struct curl_deadline_result result;
	struct curl_deadline_request req;
	struct aws_error aws_err;
	struct wd_err err = {0, ""};
	const char *type_header;
	int count;

	out->http_status = 0;
	out->error_type[0] = '\0';
	out->request_id[0] = '\0';
	date[0] = '\0';
	count = aws_json_sign(c, creds, call, lines, out);
	if (count < 0)
		return out->outcome;
	memset(&req, 0, sizeof(req));
	req.url = c->endpoint.url;
	req.method = "POST";
	req.one_request = true; /* an AWS call is one request: the quota counts them */
	req.body = call->body;
	req.body_len = call->body_len;
	req.headers = lines;
	req.header_count = (size_t)count;
	req.response_body = &c->response;
	req.capture = capture;
	req.capture_count = AWS_JSON_CAPTURE_COUNT;
	aws_buf_wipe(&c->response);
	out->attempts++;
	curl_deadline_perform(c->http, &req, deadline_mono_ms, &result);
	aws_buf_wipe(&c->lines);
	aws_json_wipe_signature(&c->signature);
	out->http_status = result.http_status;
	snprintf(out->request_id, sizeof(out->request_id), "%s",
	         result.captured[AWS_JSON_CAPTURE_REQUEST_ID]);
	snprintf(date, WD_HTTP_HEADER_VALUE_MAX + 1, "%s", result.captured[AWS_JSON_CAPTURE_DATE]);
	if (result.outcome != NET_OK) {
		if (result.truncated)
			return aws_json_result_set(out, AWS_BAD_REPLY, "%s: truncated answer: %s",
			                           c->what, result.detail);
		return aws_json_result_set(out, aws_outcome_from_transfer(result.outcome), "%s: %s",
		                           c->what, result.detail);
	}
	if (result.body_too_large)
		return aws_json_result_set(out, AWS_BAD_REPLY,
		                           "%s: answer larger than %d bytes (HTTP %d)", c->what,
		                           WD_AWS_RESPONSE_MAX, result.http_status);
	if (result.http_status == 200) {
		if (call->parse_ok(call->parse_arg,
		                   c->response.data != NULL ? c->response.data : "",
		                   c->response.len, &err) != 0)
			return aws_json_result_set(out, AWS_BAD_REPLY, "%s", err.msg);
		out->outcome = AWS_OK;
		out->message[0] = '\0';
		return AWS_OK;
	}
	type_header = result.captured[AWS_JSON_CAPTURE_ERROR_TYPE];
	aws_error_parse(c->response.data, c->response.len,
	                type_header[0] != '\0' ? type_header : NULL, &aws_err);
	memcpy(out->error_type, aws_err.type, sizeof(out->error_type));
	return aws_json_result_set(out, aws_error_classify(result.http_status, aws_err.type),
	                           "%s%sHTTP %d %s%s%s", c->prefix_http_errors ? c->what : "",
	                           c->prefix_http_errors ? ": " : "", result.http_status,
	                           aws_err.type[0] != '\0' ? aws_err.type : "(no type)",
	                           aws_err.message[0] != '\0' ? ": " : "", aws_err.message);
}

static void aws_json_log_skew(const struct aws_json_client *c, int64_t old_ms, int64_t new_ms,
                              const struct aws_json_result *out)
{
	struct log_line line;

	log_begin(&line, LOG_WARN, "aws.clock_skew_corrected");
	log_str(&line, "region", c->region);
	log_str(&line, "error", out->error_type);
	log_str(&line, "aws_request_id", out->request_id);
	log_int(&line, "old_skew_ms", old_ms);
	log_int(&line, "skew_ms", new_ms);
	log_end(&line, "AWS says our clock is off by %lld ms; signing with the corrected clock",
	        (long long)new_ms);
}

enum aws_outcome aws_json_run(struct aws_json_client *c, const struct aws_json_call *call,
                              int64_t deadline_mono_ms, struct aws_json_result *out)
{
	char date[WD_HTTP_HEADER_VALUE_MAX + 1];
	struct aws_credentials *creds = malloc(sizeof(struct aws_credentials));
	struct wd_err err = {0, ""};
	enum aws_outcome outcome;

	memset(out, 0, sizeof(*out));
	if (creds == NULL) {
		outcome = aws_json_result_set(out, AWS_INTERNAL, "%s: out of memory", c->what);
		goto out;
	}
	if (aws_creds_get(c->creds, deadline_mono_ms, creds, &err) != 0) {
		outcome = aws_json_result_set(out, AWS_CREDENTIALS, "%s", err.msg);
		goto out;
	}
	outcome = aws_json_attempt(c, creds, call, deadline_mono_ms, out, date);
	if (outcome == AWS_AUTH && aws_is_skew_error(out->error_type)) {
		int64_t old_ms = atomic_load(&c->skew_ms);
		int64_t new_ms = old_ms;

		if (aws_skew_check(date, clock_wall_ms(), old_ms, &new_ms) == 1) {
			atomic_store(&c->skew_ms, new_ms);
			out->skew_corrected = true;
			aws_json_log_skew(c, old_ms, new_ms, out);
			outcome = aws_json_attempt(c, creds, call, deadline_mono_ms, out, date);
		}
	}
	if (outcome == AWS_AUTH && (strcmp(out->error_type, "ExpiredTokenException") == 0 ||
	                            strcmp(out->error_type, "ExpiredToken") == 0))
		aws_creds_invalidate(c->creds); /* AWS says so before Expiration: fetch anew */
out:
	if (creds != NULL)
		aws_credentials_clear(creds);
	free(creds);
	return outcome;
}
