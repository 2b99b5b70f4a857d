/*
 * aws_creds.c - the credentials chain: environment, else the ECS container
 * credentials endpoint, cached and refreshed before Expiration (see
 * aws_creds.h for the rules).
 */
#include "aws/aws_creds.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "net/curl_deadline.h"
#include "lib/log.h"
#include "aws/aws.h"

#define CREDS_AUTH_HEADER_MAX (sizeof("Authorization: ") + WD_AWS_TOKEN_FILE_MAX)

enum creds_source {
	CREDS_ENVIRONMENT,
	CREDS_CONTAINER,
};

struct aws_creds_provider {
	pthread_mutex_t lock;
	enum creds_source source;
	/* Container source: where, and how to authorize. */
	char url[WD_URI_MAX + 1];
	char token_file[WD_PATH_MAX + 1];      /* "" when none */
	char token[WD_AWS_TOKEN_FILE_MAX + 1]; /* AWS_CONTAINER_AUTHORIZATION_TOKEN; secret */
	struct curl_deadline *client;
	struct wd_buf body; /* holds secrets between a fetch and its parse; zeroed after */
	/* The cache. */
	bool have_cached;
	struct aws_credentials cached;
	bool retry_wait; /* an optional refresh failed: wait until retry_after_mono_ms */
	int64_t retry_after_mono_ms;
};

void aws_credentials_clear(struct aws_credentials *c)
{
	if (c != NULL)
		explicit_bzero(c, sizeof(*c));
}

enum aws_creds_plan aws_creds_plan(bool have_cached, const struct aws_credentials *cached,
                                   int64_t now_wall_ms)
{
	if (!have_cached)
		return AWS_CREDS_REFRESH_REQUIRED;
	if (!cached->expires)
		return AWS_CREDS_USE_CACHED;
	if (cached->expiration_wall_ms <= now_wall_ms)
		return AWS_CREDS_REFRESH_REQUIRED;
	if (cached->expiration_wall_ms - now_wall_ms < AWS_CREDS_REFRESH_BEFORE_MS)
		return AWS_CREDS_REFRESH_OR_CACHED;
	return AWS_CREDS_USE_CACHED;
}

/* Printable ASCII, no space: what a key id, a secret or a token may hold. */
static bool creds_text_ok(const char *text)
{
	for (; *text != '\0'; text++) {
		if ((unsigned char)*text <= 0x20 || (unsigned char)*text >= 0x7f)
			return false;
	}
	return true;
}

/* No control bytes: what may follow "Authorization: " on a header line. */
static bool creds_header_value_ok(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] == 0x7f)
			return false;
	}
	return true;
}

static bool creds_key_id_ok(const char *id)
{
	if (id[0] == '\0')
		return false;
	for (; *id != '\0'; id++) {
		if (!((*id >= 'A' && *id <= 'Z') || (*id >= 'a' && *id <= 'z') ||
		      (*id >= '0' && *id <= '9') || *id == '.' || *id == '_' || *id == '-'))
			return false;
	}
	return true;
}

/*
 * Copy one credential field into dst[size] after checking it. `what` names it
 * in the message; the value is never quoted. 0 or `code` with err.
 */
static int creds_copy(char *dst, size_t size, const char *value, const char *what, bool key_id,
                      int code, struct wd_err *err)
{
	size_t len = strlen(value);

	if (len == 0)
		return wd_err_set(err, code, "%s is empty", what);
	if (len >= size)
		return wd_err_set(err, code, "%s is longer than %zu bytes", what, size - 1);
	if (key_id ? !creds_key_id_ok(value) : !creds_text_ok(value))
		return wd_err_set(err, code, "%s holds characters it may not hold", what);
	memcpy(dst, value, len + 1);
	return 0;
}

int aws_creds_parse(const char *body, size_t len, struct aws_credentials *out, struct wd_err *err)
{
	static const char *const names[] = {"AccessKeyId", "SecretAccessKey", "Token",
	                                    "Expiration"};
	const char *values[4] = {NULL, NULL, NULL, NULL};
	json_t *root;
	int rc = -EBADMSG;

	aws_credentials_clear(out);
	root = aws_json_load(body, len, "credentials: the answer", rc, err);
	if (root == NULL)
		goto out;
	if (!json_is_object(root)) {
		wd_err_set(err, rc, "credentials: the answer is not a JSON object");
		goto out;
	}
	for (size_t i = 0; i < 4; i++) {
		json_t *value = json_object_get(root, names[i]);

		if (value == NULL || (i == 2 && json_is_null(value)))
			continue;
		if (!json_is_string(value)) {
			wd_err_set(err, rc, "credentials: \"%s\" is not a string", names[i]);
			goto out;
		}
		values[i] = json_string_value(value);
	}
	for (size_t i = 0; i < 4; i++) {
		if (values[i] == NULL && i != 2) {
			wd_err_set(err, rc, "credentials: \"%s\" is missing", names[i]);
			goto out;
		}
	}
	if (creds_copy(out->access_key_id, sizeof(out->access_key_id), values[0],
	               "credentials: AccessKeyId", true, rc, err) != 0 ||
	    creds_copy(out->secret_access_key, sizeof(out->secret_access_key), values[1],
	               "credentials: SecretAccessKey", false, rc, err) != 0)
		goto out;
	if (values[2] != NULL && values[2][0] != '\0' &&
	    creds_copy(out->session_token, sizeof(out->session_token), values[2],
	               "credentials: Token", false, rc, err) != 0)
		goto out;
	if (aws_parse_rfc3339(values[3], strlen(values[3]), &out->expiration_wall_ms) != 0) {
		wd_err_set(err, rc, "credentials: \"Expiration\" is not an RFC 3339 time");
		goto out;
	}
	out->expires = true;
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		aws_credentials_clear(out);
	return rc;
}

/* Is host (brackets removed) one that plain http may be used with? */
static bool creds_http_host_ok(const char *host)
{
	unsigned char v4[4];
	unsigned char v6[16];
	unsigned char want6[16];

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, v4) == 1)
		return v4[0] == 127 || (v4[0] == 169 && v4[1] == 254 && v4[2] == 170 &&
		                        (v4[3] == 2 || v4[3] == 23));
	if (inet_pton(AF_INET6, host, v6) == 1) {
		inet_pton(AF_INET6, "::1", want6);
		if (memcmp(v6, want6, 16) == 0)
			return true;
		inet_pton(AF_INET6, "fd00:ec2::23", want6);
		return memcmp(v6, want6, 16) == 0;
	}
	return false;
}

int aws_creds_check_full_uri(const char *uri, struct wd_err *err)
{
	static const char var[] = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
	CURLU *u = curl_url();
	char *scheme = NULL;
	char *host = NULL;
	char *user = NULL;
	size_t len;
	int rc = -EINVAL;

	if (u == NULL) {
		rc = wd_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (strlen(uri) > WD_URI_MAX) {
		wd_err_set(err, rc, "%s is longer than %d bytes", var, WD_URI_MAX);
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		wd_err_set(err, rc, "%s is not a URL with a host", var);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		wd_err_set(err, rc, "%s may not hold a user or password", var);
		goto out;
	}
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		memmove(host, host + 1, len - 1);
	}
	if (strcmp(scheme, "https") == 0) {
		rc = 0;
	} else if (strcmp(scheme, "http") != 0) {
		wd_err_set(err, rc, "%s must be http:// or https://", var);
	} else if (creds_http_host_ok(host)) {
		rc = 0;
	} else {
		wd_err_set(err, rc,
		           "%s: plain http only to loopback, 169.254.170.2, 169.254.170.23, "
		           "fd00:ec2::23 or localhost (else use https)",
		           var);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

/* The environment source: both halves of the key pair, or neither. */
static int creds_from_env(const char *const *envp, struct aws_credentials *out, bool *found,
                          struct wd_err *err)
{
	const char *id = aws_env_get(envp, "AWS_ACCESS_KEY_ID");
	const char *secret = aws_env_get(envp, "AWS_SECRET_ACCESS_KEY");
	const char *token = aws_env_get(envp, "AWS_SESSION_TOKEN");

	*found = false;
	if (id == NULL && secret == NULL)
		return 0;
	if (id == NULL || secret == NULL)
		return wd_err_set(err, -EINVAL, "%s is set but %s is not",
		                  id != NULL ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		                  id != NULL ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (creds_copy(out->access_key_id, sizeof(out->access_key_id), id, "AWS_ACCESS_KEY_ID",
	               true, -EINVAL, err) != 0 ||
	    creds_copy(out->secret_access_key, sizeof(out->secret_access_key), secret,
	               "AWS_SECRET_ACCESS_KEY", false, -EINVAL, err) != 0 ||
	    (token != NULL && creds_copy(out->session_token, sizeof(out->session_token), token,
	                                 "AWS_SESSION_TOKEN", false, -EINVAL, err) != 0)) {
		aws_credentials_clear(out);
		return -EINVAL;
	}
	out->expires = false;
	*found = true;
	return 0;
}

/* The container source's URL and authorization settings. */
static int creds_container_config(struct aws_creds_provider *p, const char *const *envp,
                                  bool *found, struct wd_err *err)
{
	const char *relative = aws_env_get(envp, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = aws_env_get(envp, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *token_file = aws_env_get(envp, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token = aws_env_get(envp, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	int n;

	*found = false;
	if (relative != NULL) {
		if (relative[0] != '/')
			return wd_err_set(
			        err, -EINVAL,
			        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
		n = snprintf(p->url, sizeof(p->url), "http://" AWS_ECS_CREDENTIALS_HOST "%s",
		             relative);
		if (n < 0 || (size_t)n >= sizeof(p->url))
			return wd_err_set(err, -EINVAL,
			                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
	} else if (full != NULL) {
		if (aws_creds_check_full_uri(full, err) != 0)
			return -EINVAL;
		snprintf(p->url, sizeof(p->url), "%s", full);
	} else {
		return 0;
	}
	if (token_file != NULL) {
		if (strlen(token_file) > WD_PATH_MAX)
			return wd_err_set(err, -EINVAL,
			                  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is too long");
		snprintf(p->token_file, sizeof(p->token_file), "%s", token_file);
	} else if (token != NULL) {
		if (strlen(token) > WD_AWS_TOKEN_FILE_MAX)
			return wd_err_set(
			        err, -EINVAL,
			        "AWS_CONTAINER_AUTHORIZATION_TOKEN is longer than %d bytes",
			        WD_AWS_TOKEN_FILE_MAX);
		if (!creds_header_value_ok(token, strlen(token)))
			return wd_err_set(err, -EINVAL,
			                  "AWS_CONTAINER_AUTHORIZATION_TOKEN holds control bytes");
		snprintf(p->token, sizeof(p->token), "%s", token);
	}
	*found = true;
	return 0;
}

struct aws_creds_provider *aws_creds_provider_new(const char *const *envp, struct wd_err *err)
{
	struct aws_creds_provider *p = calloc(1, sizeof(*p));
	bool found = false;

	if (p == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	wd_buf_init(&p->body, WD_AWS_CREDS_BODY_MAX);
	if (creds_from_env(envp, &p->cached, &found, err) != 0)
		goto fail;
	if (found) {
		p->source = CREDS_ENVIRONMENT;
		p->have_cached = true;
		return p;
	}
	if (creds_container_config(p, envp, &found, err) != 0)
		goto fail;
	if (!found) {
		wd_err_set(err, -ENOENT,
		           "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
		           "or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI");
		goto fail;
	}
	p->source = CREDS_CONTAINER;
	p->client = curl_deadline_new(err);
	if (p->client == NULL)
		goto fail;
	return p;
fail:
	aws_creds_provider_free(p);
	return NULL;
}

void aws_creds_provider_free(struct aws_creds_provider *p)
{
	if (p == NULL)
		return;
	curl_deadline_free(p->client);
	aws_buf_wipe(&p->body);
	wd_buf_free(&p->body);
	aws_credentials_clear(&p->cached);
	explicit_bzero(p->token, sizeof(p->token));
	pthread_mutex_destroy(&p->lock);
	free(p);
}

const char *aws_creds_source_str(const struct aws_creds_provider *p)
{
	return p->source == CREDS_ENVIRONMENT ? "environment" : "container";
}

/*
 * The Authorization header line for the endpoint into line[size] ("" when
 * no token is configured). The token file is read on every call. 0, or
 * -EINVAL with err (never quoting the token).
 */
static int creds_auth_header(const struct aws_creds_provider *p, char *line, size_t size,
                             struct wd_err *err)
{
	static const char var[] = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
	char *token = line + strlen("Authorization: ");
	size_t max = size - strlen("Authorization: ") - 1;
	size_t len = 0;
	int rc;

	line[0] = '\0';
	if (p->token_file[0] == '\0') {
		if (p->token[0] != '\0')
			snprintf(line, size, "Authorization: %s", p->token);
		return 0;
	}
	rc = file_read_small(p->token_file, var, token, max + 1, &len, err);
	if (rc == -EFBIG)
		rc = wd_err_set(err, -EINVAL, "%s is longer than %zu bytes", var, max);
	if (rc != 0) {
		explicit_bzero(line, size);
		if (err != NULL)
			err->code = -EINVAL;
		return -EINVAL;
	}
	memcpy(line, "Authorization: ", strlen("Authorization: "));
	while (len > 0 && strchr(" \t\r\n", token[len - 1]) != NULL)
		len--;
	token[len] = '\0';
	if (!creds_header_value_ok(token, len)) {
		explicit_bzero(line, size);
		return wd_err_set(err, -EINVAL, "%s holds control bytes", var);
	}
	if (len == 0) {
		explicit_bzero(line, size);
		return wd_err_set(err, -EINVAL, "%s is empty", var);
	}
	return 0;
}

/* Fetch fresh credentials from the container endpoint into *out. Called locked. */
static int creds_fetch(struct aws_creds_provider *p, int64_t deadline_mono_ms,
                       struct aws_credentials *out, struct wd_err *err)
{
	char *auth = malloc(CREDS_AUTH_HEADER_MAX);
	const char *headers[2] = {"Accept: application/json", NULL};
	const char *hide[1] = {NULL};
	struct curl_deadline_request req;
	struct aws_error aws_err;
	int status;
	int rc;

	if (auth == NULL)
		return wd_err_set(err, -ENOMEM, "out of memory");
	if ((rc = creds_auth_header(p, auth, CREDS_AUTH_HEADER_MAX, err)) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.url = p->url;
	req.headers = headers;
	req.header_count = 1;
	if (auth[0] != '\0') {
		headers[1] = auth;
		req.header_count = 2;
		hide[0] = auth + strlen("Authorization: ");
		req.hide = hide;
		req.hide_count = 1;
	}
	req.response_body = &p->body;
	rc = aws_http_get(p->client, &req, deadline_mono_ms, "credentials endpoint", &status, err);
	if (rc == -EIO && status != 0) {
		/* Only the code: the endpoint's message might echo what we sent. */
		aws_error_parse(p->body.data, p->body.len, NULL, &aws_err);
		wd_err_set(err, rc, "credentials endpoint: HTTP %d%s%s", status,
		           aws_err.type[0] != '\0' ? " " : "", aws_err.type);
	}
	if (rc == 0)
		rc = aws_creds_parse(p->body.data, p->body.len, out, err);
out:
	aws_buf_wipe(&p->body);
	explicit_bzero(auth, CREDS_AUTH_HEADER_MAX);
	free(auth);
	return rc;
}

/* Lock p, but give up at the deadline. 0 or -ETIMEDOUT. */
static int creds_lock(struct aws_creds_provider *p, int64_t deadline_mono_ms)
{
	struct timespec until = {
	        .tv_sec = (time_t)(deadline_mono_ms / 1000),
	        .tv_nsec = (long)(deadline_mono_ms % 1000) * 1000000L,
	};

	return pthread_mutex_clocklock(&p->lock, CLOCK_MONOTONIC, &until) == 0 ? 0 : -ETIMEDOUT;
}

int aws_creds_get(struct aws_creds_provider *p, int64_t deadline_mono_ms,
                  struct aws_credentials *out, struct wd_err *err)
{
	struct wd_err fetch_err = {0, ""};
	struct aws_credentials *fresh = NULL;
	enum aws_creds_plan plan;
	int64_t now_mono;
	int64_t fetch_deadline = deadline_mono_ms;
	int rc;

	if (creds_lock(p, deadline_mono_ms) != 0) {
		aws_credentials_clear(out);
		return wd_err_set(err, -ETIMEDOUT,
		                  "credentials: deadline passed waiting for another refresh");
	}
	plan = aws_creds_plan(p->have_cached, &p->cached, clock_wall_ms());
	now_mono = clock_mono_ms();
	if (plan == AWS_CREDS_USE_CACHED || p->source == CREDS_ENVIRONMENT ||
	    (plan == AWS_CREDS_REFRESH_OR_CACHED && p->retry_wait &&
	     now_mono < p->retry_after_mono_ms)) {
		memcpy(out, &p->cached, sizeof(*out));
		rc = 0;
		goto out;
	}
	fresh = malloc(sizeof(*fresh));
	if (fresh == NULL) {
		rc = wd_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (plan == AWS_CREDS_REFRESH_OR_CACHED)
		fetch_deadline = now_mono + (deadline_mono_ms - now_mono) / 2;
	rc = creds_fetch(p, fetch_deadline, fresh, &fetch_err);
	if (rc == 0 && aws_creds_plan(true, fresh, clock_wall_ms()) == AWS_CREDS_REFRESH_REQUIRED)
		rc = wd_err_set(&fetch_err, -EBADMSG,
		                "credentials endpoint: the credentials it gave have expired");
	if (rc == 0) {
		memcpy(&p->cached, fresh, sizeof(*fresh));
		p->have_cached = true;
		p->retry_wait = false;
		memcpy(out, fresh, sizeof(*out));
		goto out;
	}
	if (plan == AWS_CREDS_REFRESH_OR_CACHED &&
	    aws_creds_plan(true, &p->cached, clock_wall_ms()) != AWS_CREDS_REFRESH_REQUIRED) {
		struct log_line line;

		log_begin(&line, LOG_WARN, "aws.credentials_refresh_failed");
		log_str(&line, "reason", fetch_err.msg);
		log_int(&line, "expires_in_ms", p->cached.expiration_wall_ms - clock_wall_ms());
		log_end(&line, "credentials refresh failed; the cached ones are still valid");
		p->retry_wait = true;
		p->retry_after_mono_ms = clock_mono_ms() + AWS_CREDS_RETRY_MS;
		memcpy(out, &p->cached, sizeof(*out));
		rc = 0;
		goto out;
	}
	wd_err_set(err, rc, "%s", fetch_err.msg);
out:
	aws_credentials_clear(fresh);
	free(fresh);
	pthread_mutex_unlock(&p->lock);
	if (rc != 0)
		aws_credentials_clear(out);
	return rc;
}

void aws_creds_invalidate(struct aws_creds_provider *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->source == CREDS_CONTAINER) {
		aws_credentials_clear(&p->cached);
		p->have_cached = false;
		p->retry_wait = false;
	}
	pthread_mutex_unlock(&p->lock);
}
