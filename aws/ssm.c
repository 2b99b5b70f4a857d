/*
 * ssm.c - SSM GetParameter over curl_deadline, signed with sigv4 (see ssm.h).
 */
#include "aws/ssm.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/text.h"
#include "net/curl_deadline.h"
#include "lib/log.h"
#include "aws/sigv4.h"

#define SSM_TARGET_GET_PARAMETER "AmazonSSM.GetParameter"
#define SSM_TARGET_PUT_PARAMETER "AmazonSSM.PutParameter"
#define SSM_CONTENT_TYPE         "application/x-amz-json-1.1"
/* The request's header lines: three of ours, three from the signer (the token is the big one). */
#define SSM_HEADER_LINES_MAX (SIGV4_TOKEN_MAX + SIGV4_AUTHORIZATION_MAX + 4 * 1024)

/* The response headers captured, in this order. */
enum { SSM_CAPTURE_DATE, SSM_CAPTURE_REQUEST_ID, SSM_CAPTURE_ERROR_TYPE, SSM_CAPTURE_COUNT };

struct ssm_client {
	struct curl_deadline *http;
	struct aws_creds_provider *creds;
	struct aws_endpoint endpoint;
	char region[AWS_REGION_MAX + 1];
	_Atomic int64_t skew_ms;
	struct wd_buf response; /* WD_AWS_RESPONSE_MAX */
	struct wd_buf lines;    /* the request's header lines; holds the token: zeroed after */
	struct sigv4_result signature;
};

int ssm_name_check(const char *name, struct wd_err *err)
{
	size_t len = strnlen(name, SSM_NAME_MAX + 1);
	ssize_t bad;

	if (len == 0)
		return wd_err_set(err, -EINVAL, "ssm: empty parameter name");
	if (len > SSM_NAME_MAX)
		return wd_err_set(err, -EINVAL, "ssm: parameter name longer than %d bytes",
		                  SSM_NAME_MAX);
	bad = text_find_unprintable(name, len);
	if (bad >= 0)
		return wd_err_set(err, -EINVAL,
		                  "ssm: parameter name holds a space, control or non-ASCII byte "
		                  "at %zd",
		                  bad);
	return 0;
}

static bool ssm_type_ok(const char *type)
{
	return strcmp(type, "String") == 0 || strcmp(type, "StringList") == 0 ||
	       strcmp(type, "SecureString") == 0;
}

int ssm_parse_get_parameter(const char *body, size_t len, const char *requested_name,
                            struct ssm_parameter *out, struct wd_err *err)
{
	json_t *root = NULL;
	json_t *param;
	json_t *value;
	json_t *version;
	json_t *type;
	json_t *name;
	json_int_t number;
	size_t value_len;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	root = aws_json_load(body, len, "ssm: the answer", rc, err);
	if (root == NULL)
		goto out;
	param = json_is_object(root) ? json_object_get(root, "Parameter") : NULL;
	if (!json_is_object(param)) {
		wd_err_set(err, rc, "ssm: the answer has no \"Parameter\" object");
		goto out;
	}
	value = json_object_get(param, "Value");
	version = json_object_get(param, "Version");
	type = json_object_get(param, "Type");
	name = json_object_get(param, "Name");
	if (!json_is_string(value)) {
		wd_err_set(err, rc, "ssm: Parameter.Value is %s",
		           value ? "not a string" : "missing");
		goto out;
	}
	if (!json_is_integer(version)) {
		wd_err_set(err, rc, "ssm: Parameter.Version is %s",
		           version ? "not an integer" : "missing");
		goto out;
	}
	if (!json_is_string(type) || !ssm_type_ok(json_string_value(type))) {
		wd_err_set(err, rc, "ssm: Parameter.Type is %s",
		           type ? "not String, StringList or SecureString" : "missing");
		goto out;
	}
	if (!json_is_string(name)) {
		wd_err_set(err, rc, "ssm: Parameter.Name is %s", name ? "not a string" : "missing");
		goto out;
	}
	if (requested_name != NULL && strchr(requested_name, ':') == NULL &&
	    strcmp(json_string_value(name), requested_name) != 0) {
		wd_err_set(err, rc, "ssm: the answer is about another parameter");
		goto out;
	}
	number = json_integer_value(version);
	if (number < 1 || (uint64_t)number > SSM_VERSION_MAX) {
		wd_err_set(err, rc, "ssm: Parameter.Version is outside 1..%llu",
		           (unsigned long long)SSM_VERSION_MAX);
		goto out;
	}
	value_len = json_string_length(value);
	if (value_len == 0 || value_len > SSM_VALUE_MAX) {
		wd_err_set(err, rc, "ssm: Parameter.Value is empty or longer than %d bytes",
		           SSM_VALUE_MAX);
		goto out;
	}
	/* jansson refuses \u0000 (no JSON_ALLOW_NUL), but say so if that ever changes. */
	if (memchr(json_string_value(value), '\0', value_len) != NULL) {
		wd_err_set(err, rc, "ssm: Parameter.Value holds a NUL byte");
		goto out;
	}
	memcpy(out->value, json_string_value(value), value_len);
	out->value[value_len] = '\0';
	out->value_len = value_len;
	out->version = (uint64_t)number;
	snprintf(out->type, sizeof(out->type), "%s", json_string_value(type));
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

struct ssm_client *ssm_client_new(const struct ssm_client_config *cfg, struct wd_err *err)
{
	struct ssm_client *c;

	if (cfg->region == NULL || aws_region_check(cfg->region, err) != 0) {
		wd_err_prefix(err, "ssm: region");
		return NULL;
	}
	if (cfg->endpoint == NULL || cfg->endpoint->url[0] == '\0' || cfg->creds == NULL) {
		wd_err_set(err, -EINVAL, "ssm: no endpoint or no credentials provider");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		wd_err_set(err, -ENOMEM, "ssm: out of memory");
		return NULL;
	}
	c->creds = cfg->creds;
	c->endpoint = *cfg->endpoint;
	snprintf(c->region, sizeof(c->region), "%s", cfg->region);
	atomic_init(&c->skew_ms, 0);
	wd_buf_init(&c->response, WD_AWS_RESPONSE_MAX);
	wd_buf_init(&c->lines, SSM_HEADER_LINES_MAX);
	sigv4_result_init(&c->signature);
	c->http = curl_deadline_new(err);
	if (c->http == NULL) {
		wd_err_prefix(err, "ssm");
		ssm_client_free(c);
		return NULL;
	}
	return c;
}

/* Forget what signing left behind: the canonical request quotes the session token. */
static void ssm_wipe_signature(struct sigv4_result *res)
{
	aws_buf_wipe(&res->canonical_request);
	aws_buf_wipe(&res->string_to_sign);
	sigv4_result_free(res);
	sigv4_result_init(res);
}

void ssm_client_free(struct ssm_client *c)
{
	if (c == NULL)
		return;
	curl_deadline_free(c->http);
	aws_buf_wipe(&c->response);
	wd_buf_free(&c->response);
	aws_buf_wipe(&c->lines);
	wd_buf_free(&c->lines);
	ssm_wipe_signature(&c->signature);
	free(c);
}

int64_t ssm_client_skew_ms(const struct ssm_client *c)
{
	return atomic_load(&((struct ssm_client *)c)->skew_ms);
}

static enum aws_outcome ssm_set(struct ssm_result *out, enum aws_outcome outcome, const char *fmt,
                                ...) __attribute__((format(printf, 3, 4)));

static enum aws_outcome ssm_set(struct ssm_result *out, enum aws_outcome outcome, const char *fmt,
                                ...)
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
static int ssm_sign(struct ssm_client *c, const struct aws_credentials *creds, const char *target,
                    const char *body, size_t body_len, const char *line[CURL_DEADLINE_HEADERS_MAX],
                    struct ssm_result *out)
{
	struct sigv4_header headers[3] = {
	        {"Host", c->endpoint.host},
	        {"Content-Type", SSM_CONTENT_TYPE},
	        {"X-Amz-Target", target},
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
	        .service = "ssm",
	        .amz_date = amz_date,
	        .token_mode = SIGV4_TOKEN_SIGNED,
	};
	struct wd_err err = {0, ""};
	size_t n_added;
	size_t n = 0;

	if (sigv4_format_amz_date(clock_wall_ms() + atomic_load(&c->skew_ms), amz_date,
	                          sizeof(amz_date)) != 0) {
		ssm_set(out, AWS_INTERNAL, "ssm: the signing clock is out of range");
		return -1;
	}
	if (sigv4_sign(&req, &params, &c->signature, &err) != 0) {
		ssm_set(out, err.code == -ENOMEM ? AWS_INTERNAL : AWS_CREDENTIALS, "%s", err.msg);
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
			ssm_set(out, AWS_INTERNAL, "ssm: request headers too large");
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		line[i] = c->lines.data + offsets[i];
	return (int)n;
}

/* One call: which operation, on which parameter, with which body. */
struct ssm_call {
	const char *target; /* SSM_TARGET_* */
	const char *name;
	const char *body;
	size_t body_len;
};

/* One signed request and its answer, judged. */
static enum aws_outcome ssm_attempt(struct ssm_client *c, const struct aws_credentials *creds,
                                    const struct ssm_call *call, int64_t deadline_mono_ms,
                                    struct ssm_result *out, char date[WD_HTTP_HEADER_VALUE_MAX + 1])
{
	const char *body = call->body;
	size_t body_len = call->body_len;
	static const char *const capture[SSM_CAPTURE_COUNT] = {
	        [SSM_CAPTURE_DATE] = "Date",
	        [SSM_CAPTURE_REQUEST_ID] = "x-amzn-RequestId",
	        [SSM_CAPTURE_ERROR_TYPE] = "x-amzn-ErrorType",
	};
	const char *lines[CURL_DEADLINE_HEADERS_MAX];
	struct curl_deadline_result result;
	struct curl_deadline_request req;
	struct aws_error aws_err;
	struct wd_err err = {0, ""};
	int count;

	out->http_status = 0;
	out->error_type[0] = '\0';
	out->request_id[0] = '\0';
	date[0] = '\0';
	count = ssm_sign(c, creds, call->target, body, body_len, lines, out);
	if (count < 0)
		return out->outcome;
	memset(&req, 0, sizeof(req));
	req.url = c->endpoint.url;
	req.method = "POST";
	req.one_request = true; /* an SSM call is one request: the quota counts them */
	req.body = body;
	req.body_len = body_len;
	req.headers = lines;
	req.header_count = (size_t)count;
	req.response_body = &c->response;
	req.capture = capture;
	req.capture_count = SSM_CAPTURE_COUNT;
	aws_buf_wipe(&c->response);
	out->attempts++;
	curl_deadline_perform(c->http, &req, deadline_mono_ms, &result);
	aws_buf_wipe(&c->lines);
	ssm_wipe_signature(&c->signature);
	out->http_status = result.http_status;
	snprintf(out->request_id, sizeof(out->request_id), "%s",
	         result.captured[SSM_CAPTURE_REQUEST_ID]);
	snprintf(date, WD_HTTP_HEADER_VALUE_MAX + 1, "%s", result.captured[SSM_CAPTURE_DATE]);
	if (result.outcome != NET_OK) {
		if (result.truncated)
			return ssm_set(out, AWS_BAD_REPLY, "ssm: truncated answer: %s",
			               result.detail);
		return ssm_set(out, aws_outcome_from_transfer(result.outcome), "ssm: %s",
		               result.detail);
	}
	if (result.body_too_large)
		return ssm_set(out, AWS_BAD_REPLY, "ssm: answer larger than %d bytes (HTTP %d)",
		               WD_AWS_RESPONSE_MAX, result.http_status);
	if (result.http_status == 200) {
		const char *answer = c->response.data != NULL ? c->response.data : "";
		int rc = strcmp(call->target, SSM_TARGET_PUT_PARAMETER) == 0
		                 ? ssm_parse_put_parameter(answer, c->response.len, &out->version,
		                                           &err)
		                 : ssm_parse_get_parameter(answer, c->response.len, call->name,
		                                           &out->parameter, &err);

		if (rc != 0)
			return ssm_set(out, AWS_BAD_REPLY, "%s", err.msg);
		out->outcome = AWS_OK;
		out->message[0] = '\0';
		return AWS_OK;
	}
	aws_error_parse(c->response.data, c->response.len,
	                result.captured[SSM_CAPTURE_ERROR_TYPE][0] != '\0'
	                        ? result.captured[SSM_CAPTURE_ERROR_TYPE]
	                        : NULL,
	                &aws_err);
	memcpy(out->error_type, aws_err.type, sizeof(out->error_type));
	return ssm_set(out, aws_error_classify(result.http_status, aws_err.type), "HTTP %d %s%s%s",
	               result.http_status, aws_err.type[0] != '\0' ? aws_err.type : "(no type)",
	               aws_err.message[0] != '\0' ? ": " : "", aws_err.message);
}

/* The request body: {"Name":"...","WithDecryption":true}, the name JSON-escaped. */
static char *ssm_request_body(const char *name)
{
	json_t *doc = json_pack("{s:s, s:b}", "Name", name, "WithDecryption", 1);
	char *text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

/* The PutParameter body: {"Name","Value","Type":"String","Overwrite":b}. */
static char *ssm_put_request_body(const char *name, const char *value, bool overwrite)
{
	json_t *doc = json_pack("{s:s, s:s, s:s, s:b}", "Name", name, "Value", value, "Type",
	                        "String", "Overwrite", overwrite ? 1 : 0);
	char *text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

static void ssm_log_skew(const struct ssm_client *c, int64_t old_ms, int64_t new_ms,
                         const struct ssm_result *out)
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

/*
 * Run one call: credentials, one signed request, and once more after a
 * clock-skew correction, all within the deadline. body is the caller's.
 */
static enum aws_outcome ssm_run(struct ssm_client *c, const struct ssm_call *call,
                                int64_t deadline_mono_ms, struct ssm_result *out)
{
	char date[WD_HTTP_HEADER_VALUE_MAX + 1];
	struct aws_credentials *creds = malloc(sizeof(struct aws_credentials));
	struct wd_err err = {0, ""};
	enum aws_outcome outcome;

	if (creds == NULL) {
		outcome = ssm_set(out, AWS_INTERNAL, "ssm: out of memory");
		goto out;
	}
	if (aws_creds_get(c->creds, deadline_mono_ms, creds, &err) != 0) {
		outcome = ssm_set(out, AWS_CREDENTIALS, "%s", err.msg);
		goto out;
	}
	outcome = ssm_attempt(c, creds, call, deadline_mono_ms, out, date);
	if (outcome == AWS_AUTH && aws_is_skew_error(out->error_type)) {
		int64_t old_ms = atomic_load(&c->skew_ms);
		int64_t new_ms = old_ms;

		if (aws_skew_check(date, clock_wall_ms(), old_ms, &new_ms) == 1) {
			atomic_store(&c->skew_ms, new_ms);
			out->skew_corrected = true;
			ssm_log_skew(c, old_ms, new_ms, out);
			outcome = ssm_attempt(c, creds, call, deadline_mono_ms, out, date);
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

enum aws_outcome ssm_get_parameter(struct ssm_client *c, const char *name, int64_t deadline_mono_ms,
                                   struct ssm_result *out)
{
	struct wd_err err = {0, ""};
	char *body = NULL;
	enum aws_outcome outcome;

	memset(out, 0, sizeof(*out));
	if (ssm_name_check(name, &err) != 0) {
		outcome = ssm_set(out, AWS_INTERNAL, "%s", err.msg);
		goto out;
	}
	body = ssm_request_body(name);
	if (body == NULL) {
		outcome = ssm_set(out, AWS_INTERNAL, "ssm: out of memory");
		goto out;
	}
	outcome = ssm_run(c,
	                  &(struct ssm_call){.target = SSM_TARGET_GET_PARAMETER,
	                                     .name = name,
	                                     .body = body,
	                                     .body_len = strlen(body)},
	                  deadline_mono_ms, out);
out:
	free(body);
	return outcome;
}

int ssm_parse_put_parameter(const char *body, size_t len, uint64_t *version, struct wd_err *err)
{
	json_t *root;
	json_t *number;
	json_int_t value;
	int rc = -EBADMSG;

	*version = 0;
	root = aws_json_load(body, len, "ssm: the answer", rc, err);
	if (root == NULL)
		return rc;
	number = json_is_object(root) ? json_object_get(root, "Version") : NULL;
	if (!json_is_integer(number)) {
		wd_err_set(err, rc, "ssm: the answer's Version is %s",
		           number ? "not an integer" : "missing");
		goto out;
	}
	value = json_integer_value(number);
	if (value < 1 || (uint64_t)value > SSM_VERSION_MAX) {
		wd_err_set(err, rc, "ssm: the answer's Version is outside 1..%llu",
		           (unsigned long long)SSM_VERSION_MAX);
		goto out;
	}
	*version = (uint64_t)value;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

enum aws_outcome ssm_put_parameter(struct ssm_client *c, const char *name, const char *value,
                                   bool overwrite, int64_t deadline_mono_ms, struct ssm_result *out)
{
	struct wd_err err = {0, ""};
	char *body = NULL;
	size_t value_len = value != NULL ? strnlen(value, SSM_VALUE_MAX + 1) : 0;
	enum aws_outcome outcome;

	memset(out, 0, sizeof(*out));
	if (ssm_name_check(name, &err) != 0 || strchr(name, ':') != NULL) {
		outcome = ssm_set(out, AWS_INTERNAL, "%s",
		                  err.msg[0] ? err.msg : "ssm: PutParameter wants a plain name");
		goto out;
	}
	if (value_len == 0 || value_len > SSM_VALUE_MAX) {
		outcome = ssm_set(out, AWS_INTERNAL,
		                  "ssm: the value is empty or longer than %d bytes", SSM_VALUE_MAX);
		goto out;
	}
	body = ssm_put_request_body(name, value, overwrite);
	if (body == NULL) {
		outcome =
		        ssm_set(out, AWS_INTERNAL, "ssm: the value is not UTF-8, or out of memory");
		goto out;
	}
	outcome = ssm_run(c,
	                  &(struct ssm_call){.target = SSM_TARGET_PUT_PARAMETER,
	                                     .name = name,
	                                     .body = body,
	                                     .body_len = strlen(body)},
	                  deadline_mono_ms, out);
out:
	if (body != NULL)
		explicit_bzero(body, strlen(body)); /* a value may be a secret */
	free(body);
	return outcome;
}
