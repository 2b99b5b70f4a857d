/*
 * aws.c - the outcome enum, environment, region, endpoint, error and clock
 * rules that every AWS call of warden shares (see aws.h).
 */
#include "aws/aws.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "net/curl_deadline.h"
#include "net/uri.h"

static const char *const aws_outcome_names[AWS_OUTCOME_COUNT] = {
        [AWS_OK] = "ok",
        [AWS_THROTTLED] = "throttled",
        [AWS_SERVER_ERROR] = "server_error",
        [AWS_TIMEOUT] = "timeout",
        [AWS_NETWORK] = "network",
        [AWS_DNS] = "dns",
        [AWS_TLS] = "tls",
        [AWS_AUTH] = "auth",
        [AWS_NOT_FOUND] = "not_found",
        [AWS_BAD_REPLY] = "bad_reply",
        [AWS_CREDENTIALS] = "credentials",
        [AWS_CLIENT_ERROR] = "client_error",
        [AWS_INTERNAL] = "internal",
};

const char *aws_outcome_str(enum aws_outcome outcome)
{
	if ((unsigned)outcome >= AWS_OUTCOME_COUNT)
		return "unknown";
	return aws_outcome_names[outcome];
}

enum aws_outcome aws_outcome_from_transfer(enum net_outcome outcome)
{
	switch (outcome) {
	case NET_OK: return AWS_OK;
	case NET_TIMEOUT: return AWS_TIMEOUT;
	case NET_DNS: return AWS_DNS;
	case NET_TLS: return AWS_TLS;
	case NET_AUTH: return AWS_AUTH;
	case NET_BAD_REPLY: return AWS_BAD_REPLY;
	case NET_REFUSED:
	case NET_NETWORK: return AWS_NETWORK;
	default: return AWS_INTERNAL;
	}
}

const char *aws_env_get(const char *const *envp, const char *name)
{
	size_t len = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++) {
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return (*envp)[len + 1] != '\0' ? *envp + len + 1 : NULL;
	}
	return NULL;
}

static const char *aws_json_reason(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory: return "out of memory";
	case json_error_stack_overflow: return "nested too deep";
	case json_error_invalid_utf8: return "invalid UTF-8";
	case json_error_premature_end_of_input: return "truncated";
	case json_error_end_of_input_expected: return "data after the end";
	case json_error_wrong_type: return "neither an object nor an array";
	case json_error_null_character: return "an escaped NUL (\\u0000)";
	case json_error_null_byte_in_key: return "a NUL in a member name";
	case json_error_duplicate_key: return "a duplicate member";
	case json_error_numeric_overflow: return "a number out of range";
	default: return "invalid syntax";
	}
}

json_t *aws_json_load(const char *body, size_t len, const char *what, int code, struct wd_err *err)
{
	json_error_t jerr;
	json_t *root;

	if (body == NULL)
		body = "";
	if (len == 0) {
		wd_err_set(err, code, "%s is empty", what);
		return NULL;
	}
	if (memchr(body, '\0', len) != NULL) {
		wd_err_set(err, code, "%s holds a NUL byte", what);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		wd_err_set(err, code, "%s is not JSON: %s (line %d column %d)", what,
		           aws_json_reason(&jerr), jerr.line, jerr.column);
	return root;
}

/* ---- Time ------------------------------------------------------------------ */

/* n decimal digits at text[*pos]; advances *pos. 0 or -1. */
static int take_digits(const char *text, size_t len, size_t *pos, int n, int *out)
{
	int value = 0;

	if (*pos + (size_t)n > len)
		return -1;
	for (int i = 0; i < n; i++) {
		char c = text[*pos + (size_t)i];

		if (c < '0' || c > '9')
			return -1;
		value = value * 10 + (c - '0');
	}
	*pos += (size_t)n;
	*out = value;
	return 0;
}

static int take_char(const char *text, size_t len, size_t *pos, const char *accept)
{
	if (*pos >= len || text[*pos] == '\0' || strchr(accept, text[*pos]) == NULL)
		return -1;
	(*pos)++;
	return 0;
}

static bool is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a valid civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* Check a date and time and turn it into ms since the epoch. */
static int civil_to_ms(int year, int month, int day, int hour, int minute, int second, int64_t *out)
{
	if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 ||
	    day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60)
		return -EINVAL;
	if (second == 60) /* a leap second: its instant is the next second's, near enough */
		second = 59;
	*out = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60000 +
	       (int64_t)second * 1000;
	return 0;
}

int aws_parse_rfc3339(const char *text, size_t len, int64_t *wall_ms)
{
	int year, month, day, hour, minute, second;
	int64_t ms = 0;
	int64_t base;
	size_t pos = 0;

	if (take_digits(text, len, &pos, 4, &year) != 0 || take_char(text, len, &pos, "-") != 0 ||
	    take_digits(text, len, &pos, 2, &month) != 0 || take_char(text, len, &pos, "-") != 0 ||
	    take_digits(text, len, &pos, 2, &day) != 0 || take_char(text, len, &pos, "Tt") != 0 ||
	    take_digits(text, len, &pos, 2, &hour) != 0 || take_char(text, len, &pos, ":") != 0 ||
	    take_digits(text, len, &pos, 2, &minute) != 0 || take_char(text, len, &pos, ":") != 0 ||
	    take_digits(text, len, &pos, 2, &second) != 0)
		return -EINVAL;
	if (take_char(text, len, &pos, ".") == 0) {
		int digits = 0;

		while (pos < len && text[pos] >= '0' && text[pos] <= '9') {
			if (digits < 3)
				ms = ms * 10 + (text[pos] - '0');
			digits++;
			pos++;
		}
		if (digits == 0 || digits > 9)
			return -EINVAL;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (civil_to_ms(year, month, day, hour, minute, second, &base) != 0)
		return -EINVAL;
	base += ms;
	if (take_char(text, len, &pos, "Zz") != 0) {
		int sign = pos < len && text[pos] == '-' ? -1 : 1;
		int off_h, off_m;

		if (take_char(text, len, &pos, "+-") != 0 ||
		    take_digits(text, len, &pos, 2, &off_h) != 0 ||
		    take_char(text, len, &pos, ":") != 0 ||
		    take_digits(text, len, &pos, 2, &off_m) != 0 || off_h > 23 || off_m > 59)
			return -EINVAL;
		base -= sign * ((int64_t)off_h * 60 + off_m) * 60000;
	}
	if (pos != len || base < 0)
		return -EINVAL;
	*wall_ms = base;
	return 0;
}

/* An HTTP date in IMF-fixdate form, "Sun, 06 Nov 1994 08:49:37 GMT" (all AWS sends). */
static int parse_http_date(const char *text, int64_t *wall_ms)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	size_t len = strlen(text);
	int day, year, hour, minute, second;
	int month = 0;
	size_t pos = 5;

	if (len != 29 || text[3] != ',' || text[4] != ' ')
		return -EINVAL;
	if (take_digits(text, len, &pos, 2, &day) != 0 || take_char(text, len, &pos, " ") != 0)
		return -EINVAL;
	for (int i = 0; i < 12; i++) {
		if (memcmp(text + pos, months + 3 * i, 3) == 0)
			month = i + 1;
	}
	pos += 3;
	if (month == 0 || take_char(text, len, &pos, " ") != 0 ||
	    take_digits(text, len, &pos, 4, &year) != 0 || take_char(text, len, &pos, " ") != 0 ||
	    take_digits(text, len, &pos, 2, &hour) != 0 || take_char(text, len, &pos, ":") != 0 ||
	    take_digits(text, len, &pos, 2, &minute) != 0 || take_char(text, len, &pos, ":") != 0 ||
	    take_digits(text, len, &pos, 2, &second) != 0 || strcmp(text + pos, " GMT") != 0)
		return -EINVAL;
	return civil_to_ms(year, month, day, hour, minute, second, wall_ms);
}

static bool type_in(const char *type, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(type, *list) == 0)
			return true;
	}
	return false;
}

static const char *const aws_skew_types[] = {
        "RequestTimeTooSkewed",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "RequestExpired",
        "RequestInTheFuture",
        "AuthFailure",
        NULL,
};

bool aws_is_skew_error(const char *type)
{
	return type != NULL && type_in(type, aws_skew_types);
}

int aws_skew_check(const char *date_header, int64_t local_wall_ms, int64_t offset_ms,
                   int64_t *new_offset_ms)
{
	int64_t server_ms;
	int64_t diff;

	if (date_header == NULL || parse_http_date(date_header, &server_ms) != 0)
		return -EINVAL;
	diff = server_ms - (local_wall_ms + offset_ms);
	if (diff <= AWS_SKEW_LIMIT_MS && diff >= -AWS_SKEW_LIMIT_MS)
		return 0;
	*new_offset_ms = server_ms - local_wall_ms;
	return 1;
}

/* ---- Errors --------------------------------------------------------------- */

void aws_error_type_sanitize(const char *raw, size_t len, char out[AWS_ERROR_TYPE_MAX + 1])
{
	const char *end;
	const char *hash;
	size_t n;

	out[0] = '\0';
	if (raw == NULL)
		return;
	end = memchr(raw, ':', len);
	if (end == NULL)
		end = raw + len;
	for (hash = end; hash > raw && hash[-1] != '#'; hash--)
		;
	n = (size_t)(end - hash);
	if (n == 0 || n > AWS_ERROR_TYPE_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)hash[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return;
	}
	memcpy(out, hash, n);
	out[n] = '\0';
}

/* A string member of obj (the first name present), or NULL. */
static const char *json_member_str(json_t *obj, const char *a, const char *b)
{
	json_t *value = json_object_get(obj, a);

	if (value == NULL && b != NULL)
		value = json_object_get(obj, b);
	return json_is_string(value) ? json_string_value(value) : NULL;
}

void aws_error_parse(const char *body, size_t len, const char *type_header, struct aws_error *out)
{
	json_t *root = NULL;
	const char *type;
	const char *message;

	memset(out, 0, sizeof(*out));
	if (body != NULL && len > 0)
		root = aws_json_load(body, len, "error", -EBADMSG, NULL);
	if (json_is_object(root)) {
		type = json_member_str(root, "__type", NULL);
		if (type == NULL)
			type = json_member_str(root, "code", "Code");
		if (type != NULL)
			aws_error_type_sanitize(type, strlen(type), out->type);
		message = json_member_str(root, "message", "Message");
		if (message != NULL)
			wd_err_quote_n(message, strcspn(message, "\r\n"), out->message,
			               sizeof(out->message));
		/* A signature error may quote the canonical request, token included. */
		if (strcasestr(out->message, "security-token") != NULL ||
		    strcasestr(out->message, "Credential=") != NULL)
			snprintf(out->message, sizeof(out->message),
			         "(withheld: it quotes the signed request)");
	}
	json_decref(root);
	if (out->type[0] == '\0' && type_header != NULL)
		aws_error_type_sanitize(type_header, strlen(type_header), out->type);
}

static const char *const aws_throttle_types[] = {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        NULL,
};

static const char *const aws_not_found_types[] = {
        "ParameterNotFound",
        "ParameterVersionNotFound",
        NULL,
};

static const char *const aws_auth_types[] = {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "MissingAuthenticationToken",
        "AccessDeniedException",
        "AccessDenied",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "RequestExpired",
        "RequestTimeTooSkewed",
        "RequestInTheFuture",
        "AuthFailure",
        "NotAuthorized",
        "UnauthorizedOperation",
        NULL,
};

enum aws_outcome aws_error_classify(int http_status, const char *type)
{
	if (type == NULL)
		type = "";
	if (http_status == 429 || type_in(type, aws_throttle_types))
		return AWS_THROTTLED;
	if (type_in(type, aws_not_found_types))
		return AWS_NOT_FOUND;
	if (type_in(type, aws_auth_types))
		return AWS_AUTH;
	if (http_status >= 500 && http_status <= 599)
		return AWS_SERVER_ERROR;
	if (http_status == 401 || http_status == 403)
		return AWS_AUTH;
	if (http_status >= 400 && http_status <= 499)
		return AWS_CLIENT_ERROR;
	return AWS_BAD_REPLY;
}

void aws_buf_wipe(struct wd_buf *buf)
{
	if (buf->data != NULL)
		explicit_bzero(buf->data, buf->cap);
	wd_buf_reset(buf);
}

int aws_http_get(struct curl_deadline *client, struct curl_deadline_request *req,
                 int64_t deadline_mono_ms, const char *what, int *status, struct wd_err *err)
{
	struct curl_deadline_result result;

	req->method = "GET";
	aws_buf_wipe(req->response_body);
	*status = 0;
	if (curl_deadline_perform(client, req, deadline_mono_ms, &result) != NET_OK)
		return wd_err_set(err, result.outcome == NET_TIMEOUT ? -ETIMEDOUT : -EIO,
		                  "%s: %s: %s", what, net_outcome_str(result.outcome),
		                  result.detail);
	*status = result.http_status;
	if (result.body_too_large)
		return wd_err_set(err, -EBADMSG, "%s: answer larger than %zu bytes", what,
		                  req->response_body->max);
	if (result.http_status != 200)
		return wd_err_set(err, -EIO, "%s: HTTP %d", what, result.http_status);
	return 0;
}

/* ---- Region --------------------------------------------------------------- */

/* The length of the run of characters of one class starting at p. */
static size_t region_run(const char *p, int (*is_class)(int))
{
	size_t n = 0;

	while (p[n] != '\0' && is_class((unsigned char)p[n]))
		n++;
	return n;
}

static int region_is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static int region_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

int aws_region_check(const char *region, struct wd_err *err)
{
	size_t len = strlen(region);
	size_t words = 0;
	const char *p = region;

	if (len == 0)
		return wd_err_set(err, -EINVAL, "empty region");
	if (len > AWS_REGION_MAX)
		return wd_err_set(err, -EINVAL, "region longer than %d characters", AWS_REGION_MAX);
	/* ^[a-z]{2}(-[a-z]+)+-[0-9]+$ */
	if (region_run(p, region_is_lower) != 2)
		goto bad;
	p += 2;
	while (p[0] == '-' && region_run(p + 1, region_is_lower) > 0) {
		p += 1 + region_run(p + 1, region_is_lower);
		words++;
	}
	if (words == 0 || p[0] != '-' || region_run(p + 1, region_is_digit) == 0)
		goto bad;
	p += 1 + region_run(p + 1, region_is_digit);
	if (p[0] != '\0')
		goto bad;
	return 0;
bad:
	return wd_err_set(err, -EINVAL,
	                  "bad region name (want an AWS region such as us-east-1 or "
	                  "us-gov-west-1)");
}

int aws_region_from_env(const char *const *envp, char out[AWS_REGION_MAX + 1], struct wd_err *err)
{
	static const char *const names[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *value = aws_env_get(envp, names[i]);

		if (value == NULL)
			continue;
		if (aws_region_check(value, err) != 0) {
			wd_err_prefix(err, "%s", names[i]);
			return -EINVAL;
		}
		snprintf(out, AWS_REGION_MAX + 1, "%s", value);
		return 0;
	}
	return wd_err_set(err, -ENOENT, "neither AWS_REGION nor AWS_DEFAULT_REGION is set");
}

int aws_region_from_arn(const char *arn, char out[AWS_REGION_MAX + 1], struct wd_err *err)
{
	char region[AWS_REGION_MAX + 1];
	const char *field = arn;
	const char *end;

	if (strncmp(arn, "arn:", 4) != 0)
		return wd_err_set(err, -EINVAL, "not an ARN (no \"arn:\" prefix)");
	for (int i = 0; i < 3; i++) {
		field = strchr(field, ':');
		if (field == NULL)
			return wd_err_set(err, -EINVAL, "ARN has no region field");
		field++;
	}
	end = strchr(field, ':');
	if (end == NULL)
		return wd_err_set(err, -EINVAL, "ARN has no account field");
	if ((size_t)(end - field) > AWS_REGION_MAX || end == field)
		return wd_err_set(err, -EINVAL, "ARN region is empty or longer than %d bytes",
		                  AWS_REGION_MAX);
	memcpy(region, field, (size_t)(end - field));
	region[end - field] = '\0';
	if (aws_region_check(region, err) != 0) {
		wd_err_prefix(err, "ARN region");
		return -EINVAL;
	}
	memcpy(out, region, sizeof(region));
	return 0;
}

/* Copy a string member of obj into out[size] when present and it fits; else "". */
static void copy_member(json_t *obj, const char *name, char *out, size_t size)
{
	const char *value = json_member_str(obj, name, NULL);

	out[0] = '\0';
	if (value != NULL && strlen(value) < size)
		memcpy(out, value, strlen(value) + 1);
}

int aws_task_metadata_parse(const char *body, size_t len, struct aws_task_metadata *out,
                            struct wd_err *err)
{
	json_t *root = aws_json_load(body, len, "task metadata", -EINVAL, err);
	const char *arn;
	const char *slash;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return -EINVAL;
	arn = json_is_object(root) ? json_member_str(root, "TaskARN", NULL) : NULL;
	if (arn == NULL) {
		rc = wd_err_set(err, -EINVAL, "task metadata has no string \"TaskARN\"");
		goto out;
	}
	if (strlen(arn) > AWS_TASK_ARN_MAX) {
		rc = wd_err_set(err, -EINVAL, "task metadata TaskARN is longer than %d bytes",
		                AWS_TASK_ARN_MAX);
		goto out;
	}
	if ((rc = aws_region_from_arn(arn, out->region, err)) != 0) {
		wd_err_prefix(err, "task metadata TaskARN");
		goto out;
	}
	copy_member(root, "TaskARN", out->task_arn, sizeof(out->task_arn));
	copy_member(root, "Cluster", out->cluster, sizeof(out->cluster));
	copy_member(root, "Group", out->group, sizeof(out->group));
	copy_member(root, "Family", out->family, sizeof(out->family));
	/* "arn:aws:ecs:<region>:<acct>:cluster/NAME" (Fargate) or "NAME" (EC2). */
	slash = strncmp(out->cluster, "arn:", 4) == 0 ? strchr(out->cluster, '/') : NULL;
	if (slash != NULL)
		memmove(out->cluster, slash + 1, strlen(slash + 1) + 1);
out:
	json_decref(root);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int aws_region_from_task_json(const char *body, size_t len, char out[AWS_REGION_MAX + 1],
                              struct wd_err *err)
{
	struct aws_task_metadata task;
	int rc = aws_task_metadata_parse(body, len, &task, err);

	if (rc == 0)
		memcpy(out, task.region, sizeof(task.region));
	return rc;
}

int aws_task_metadata_get(const char *const *envp, int64_t deadline_mono_ms,
                          struct aws_task_metadata *out, struct wd_err *err)
{
	const char *base = aws_env_get(envp, "ECS_CONTAINER_METADATA_URI_V4");
	struct curl_deadline_request req;
	struct curl_deadline *client = NULL;
	struct aws_endpoint endpoint;
	char url[AWS_ENDPOINT_URL_MAX + 1];
	size_t len;
	struct wd_buf body;
	int status;
	int rc;

	memset(out, 0, sizeof(*out));
	if (base == NULL)
		return wd_err_set(err, -ENOENT, "not on ECS (no ECS_CONTAINER_METADATA_URI_V4)");
	len = strlen(base);
	wd_buf_init(&body, WD_AWS_METADATA_MAX);
	while (len > 0 && base[len - 1] == '/')
		len--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s/task", (int)len, base) >= sizeof(url)) {
		rc = wd_err_set(err, -EINVAL, "ECS_CONTAINER_METADATA_URI_V4 is too long");
		goto out;
	}
	if ((rc = aws_endpoint_parse(url, &endpoint, err)) != 0) {
		wd_err_prefix(err, "ECS_CONTAINER_METADATA_URI_V4");
		goto out;
	}
	client = curl_deadline_new(err);
	if (client == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.url = endpoint.url;
	req.response_body = &body;
	rc = aws_http_get(client, &req, deadline_mono_ms, "task metadata", &status, err);
	if (rc == -EBADMSG)
		rc = -EIO;
	if (rc == 0 && aws_task_metadata_parse(body.data, body.len, out, err) != 0)
		rc = -EIO;
out:
	curl_deadline_free(client);
	wd_buf_free(&body);
	return rc;
}

int aws_region_resolve(const char *const *envp, int64_t deadline_mono_ms,
                       char out[AWS_REGION_MAX + 1], struct wd_err *err)
{
	struct aws_task_metadata task;
	int rc = aws_region_from_env(envp, out, err);

	if (rc != -ENOENT)
		return rc;
	if (aws_env_get(envp, "ECS_CONTAINER_METADATA_URI_V4") == NULL)
		return wd_err_set(err, -ENOENT,
		                  "no region: set AWS_REGION (or AWS_DEFAULT_REGION), or run on "
		                  "ECS (ECS_CONTAINER_METADATA_URI_V4)");
	rc = aws_task_metadata_get(envp, deadline_mono_ms, &task, err);
	if (rc == 0)
		memcpy(out, task.region, sizeof(task.region));
	return rc;
}

/* ---- Endpoint ------------------------------------------------------------- */

int aws_endpoint_parse(const char *url, struct aws_endpoint *out, struct wd_err *err)
{
	struct wd_uri *uri = NULL;
	bool v6;
	int default_port;
	int n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (strchr(url, '#') != NULL)
		return wd_err_set(err, -EINVAL, "an endpoint URL has no fragment");
	uri = calloc(1, sizeof(*uri));
	if (uri == NULL)
		return wd_err_set(err, -ENOMEM, "out of memory");
	if ((rc = uri_parse(url, uri, err)) != 0)
		goto out;
	if (strcmp(uri->scheme, "http") != 0 && strcmp(uri->scheme, "https") != 0) {
		rc = wd_err_set(err, -EINVAL, "scheme must be https:// or http://");
		goto out;
	}
	if (uri->user[0] != '\0' || uri->has_password) {
		rc = wd_err_set(err, -EINVAL, "an endpoint URL takes no user or password");
		goto out;
	}
	if (uri->query[0] != '\0' || strchr(url, '?') != NULL) {
		rc = wd_err_set(err, -EINVAL, "an endpoint URL takes no query");
		goto out;
	}
	if (uri->host[0] == '\0') {
		rc = wd_err_set(err, -EINVAL, "the endpoint URL has no host");
		goto out;
	}
	out->https = strcmp(uri->scheme, "https") == 0;
	default_port = out->https ? 443 : 80;
	v6 = strchr(uri->host, ':') != NULL;
	snprintf(out->path, sizeof(out->path), "%s", uri->path[0] != '\0' ? uri->path : "/");
	n = snprintf(out->host, sizeof(out->host), "%s%s%s", v6 ? "[" : "", uri->host,
	             v6 ? "]" : "");
	if (uri->port != 0 && uri->port != default_port)
		n = snprintf(out->host + n, sizeof(out->host) - (size_t)n, ":%d", uri->port);
	n = snprintf(out->url, sizeof(out->url), "%s://%s%s", uri->scheme, out->host, out->path);
	if (n < 0 || (size_t)n >= sizeof(out->url)) {
		rc = wd_err_set(err, -EINVAL, "the endpoint URL is too long");
		goto out;
	}
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	free(uri);
	return rc;
}

int aws_endpoint_for(const char *const *envp, const char *service, const char *override,
                     const char *region, struct aws_endpoint *out, struct wd_err *err)
{
	char name[sizeof("AWS_ENDPOINT_URL_") + AWS_SERVICE_MAX];
	char url[AWS_ENDPOINT_URL_MAX + 1];
	const char *source = "endpoint";
	const char *value = NULL;
	size_t len = strlen(service);

	if (len == 0 || len > AWS_SERVICE_MAX)
		return wd_err_set(err, -EINVAL, "bad service name");
	snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)service[i];

		name[17 + i] = c == ' ' || c == '-' ? '_' : (char)toupper(c);
	}
	name[17 + len] = '\0';
	if (override != NULL && override[0] != '\0') {
		value = override;
	} else if ((value = aws_env_get(envp, name)) != NULL) {
		source = name;
	} else if ((value = aws_env_get(envp, "AWS_ENDPOINT_URL")) != NULL) {
		source = "AWS_ENDPOINT_URL";
	} else {
		if (region == NULL || aws_region_check(region, err) != 0)
			return wd_err_set(err, -EINVAL, "no endpoint: no valid region");
		snprintf(url, sizeof(url), "https://%s.%s.amazonaws.com", service, region);
		value = url;
	}
	if (aws_endpoint_parse(value, out, err) != 0) {
		wd_err_prefix(err, "%s", source);
		return -EINVAL;
	}
	return 0;
}
