/*
 * test_aws_creds.c - the credentials chain: parsing the endpoint's answer
 * (good, missing fields, bad Expiration, hostile), the cache rule, the
 * FULL_URI allow-list, provider creation from an envp array, and refresh
 * timing with the wall clock and the endpoint faked at link seams
 * (clock_wall_ms and curl_deadline_perform wrapped).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "net/curl_deadline.h"
#include "aws/aws.h"
#include "aws/aws_creds.h"

/* WRAP: curl_deadline_perform clock_wall_ms */

#define NOW_MS   INT64_C(1771999411000) /* 2026-02-25T06:03:31Z */
#define MINUTE   INT64_C(60000)
#define SECRET   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN    "IQoJb3JpZ2luX2VjEXAMPLETOKEN/with+chars=="
#define AUTH_TOK "Bearer-authz-token-SECRET"

/* ---- Link seams -------------------------------------------------------------- */

static int64_t fake_now_ms; /* 0: the real clock */

int64_t __real_clock_wall_ms(void);
int64_t __wrap_clock_wall_ms(void);

int64_t __wrap_clock_wall_ms(void)
{
	return fake_now_ms != 0 ? fake_now_ms : __real_clock_wall_ms();
}

static struct {
	enum net_outcome outcome;
	int status;
	char body[2048];
	int calls;
	char url[512];
	char authorization[512]; /* the Authorization line sent, "" when none */
	int delay_ms;            /* how long a fetch takes */
} endpoint;

/* Signalled when a fetch starts (before its delay): a thread is inside it. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started;
} fetch_started = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result);

enum net_outcome __wrap_curl_deadline_perform(struct curl_deadline *cd,
                                              const struct curl_deadline_request *req,
                                              int64_t deadline_mono_ms,
                                              struct curl_deadline_result *result)
{
	(void)cd;
	(void)deadline_mono_ms;
	pthread_mutex_lock(&fetch_started.lock);
	fetch_started.started++;
	pthread_cond_broadcast(&fetch_started.cond);
	pthread_mutex_unlock(&fetch_started.lock);
	if (endpoint.delay_ms > 0)
		usleep((useconds_t)endpoint.delay_ms * 1000);
	endpoint.calls++;
	snprintf(endpoint.url, sizeof(endpoint.url), "%s", req->url);
	endpoint.authorization[0] = '\0';
	for (size_t i = 0; i < req->header_count; i++) {
		if (strncmp(req->headers[i], "Authorization: ", 15) == 0)
			snprintf(endpoint.authorization, sizeof(endpoint.authorization), "%s",
			         req->headers[i]);
	}
	memset(result, 0, sizeof(*result));
	result->outcome = endpoint.outcome;
	result->http_status = endpoint.status;
	if (endpoint.outcome != NET_OK)
		snprintf(result->detail, sizeof(result->detail), "scripted failure");
	else
		assert_int_equal(wd_buf_puts(req->response_body, endpoint.body), 0);
	return endpoint.outcome;
}

/* The endpoint answers 200 with credentials `id` expiring at expires_ms. */
static void endpoint_gives(const char *id, int64_t expires_ms)
{
	char when[32];
	time_t t = (time_t)(expires_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	endpoint.outcome = NET_OK;
	endpoint.status = 200;
	snprintf(endpoint.body, sizeof(endpoint.body),
	         "{\"RoleArn\":\"arn:aws:iam::1:role/r\",\"AccessKeyId\":\"%s\","
	         "\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN "\","
	         "\"Expiration\":\"%s\"}",
	         id, when);
}

static void endpoint_fails(enum net_outcome outcome, int status)
{
	endpoint.outcome = outcome;
	endpoint.status = status;
	snprintf(endpoint.body, sizeof(endpoint.body),
	         "{\"code\":\"InternalError\",\"message\":\"token " AUTH_TOK " refused\"}");
}

/* ---- Parsing ----------------------------------------------------------------- */

static void assert_no_secret(const char *text)
{
	assert_null(strstr(text, SECRET));
	assert_null(strstr(text, TOKEN));
	assert_null(strstr(text, AUTH_TOK));
}

static void test_parse_good(void **state)
{
	static const char body[] = "{\"RoleArn\":\"arn:aws:iam::1:role/r\",\"AccessKeyId\":"
	                           "\"ASIAEXAMPLE\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":"
	                           "\"" TOKEN "\",\"Expiration\":\"2026-02-25T06:03:31Z\"}";
	static const char no_token[] = "{\"AccessKeyId\":\"AKIAEXAMPLE\",\"SecretAccessKey\":"
	                               "\"" SECRET "\",\"Token\":null,\"Expiration\":"
	                               "\"2026-02-25T07:03:31+01:00\"}";
	struct aws_credentials c;
	struct wd_err err;

	(void)state;
	assert_int_equal(aws_creds_parse(body, strlen(body), &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIAEXAMPLE");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, TOKEN);
	assert_true(c.expires);
	assert_int_equal(c.expiration_wall_ms, NOW_MS);
	assert_int_equal(aws_creds_parse(no_token, strlen(no_token), &c, &err), 0);
	assert_string_equal(c.session_token, "");
	assert_int_equal(c.expiration_wall_ms, NOW_MS);
	aws_credentials_clear(&c);
	assert_string_equal(c.secret_access_key, "");
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *body;
		const char *says;
	} cases[] = {
	        {"{\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN "\",\"Expiration\":"
	         "\"2026-02-25T06:03:31Z\"}",
	         "AccessKeyId\" is missing"},
	        {"{\"AccessKeyId\":\"A\",\"Token\":\"" TOKEN "\",\"Expiration\":"
	         "\"2026-02-25T06:03:31Z\"}",
	         "SecretAccessKey\" is missing"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\"}",
	         "Expiration\" is missing"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":"
	         "\"tomorrow " SECRET "\"}",
	         "RFC 3339"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":"
	         "\"2026-02-30T06:03:31Z\"}",
	         "RFC 3339"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":"
	         "1771999411}",
	         "not a string"},
	        {"{\"AccessKeyId\":7,\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":\"x\"}",
	         "not a string"},
	        {"{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"" SECRET "\",\"Expiration\":"
	         "\"2026-02-25T06:03:31Z\"}",
	         "AccessKeyId holds"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\\n\",\"Expiration\":"
	         "\"2026-02-25T06:03:31Z\"}",
	         "SecretAccessKey holds"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\",\"Expiration\":"
	         "\"2026-02-25T06:03:31Z\"}",
	         "SecretAccessKey is empty"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN
	         "\",\"Token\":\"x\",\"Expiration\":\"2026-02-25T06:03:31Z\"}",
	         "duplicate"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\\u0000\",\"Expiration\":"
	         "\"2026-02-25T06:03:31Z\"}",
	         "NUL"},
	        {"[\"" SECRET "\"]", "not a JSON object"},
	        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET, "truncated"},
	        {"<html>" SECRET "</html>", "not JSON"},
	        {"", "empty"},
	};
	char long_secret[1200];
	struct aws_credentials c;
	struct wd_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0x55, sizeof(c));
		assert_int_equal(aws_creds_parse(cases[i].body, strlen(cases[i].body), &c, &err),
		                 -EBADMSG);
		if (strstr(err.msg, cases[i].says) == NULL)
			print_error("case %zu: %s\n", i, err.msg);
		assert_non_null(strstr(err.msg, cases[i].says));
		assert_no_secret(err.msg);
		assert_string_equal(c.secret_access_key, ""); /* cleared on failure */
		assert_false(c.expires);
	}
	/* A raw NUL byte, and a secret over the cap. */
	assert_int_equal(aws_creds_parse("{\"A\0\":1}", 8, &c, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "NUL"));
	memset(long_secret, 0, sizeof(long_secret));
	snprintf(long_secret, sizeof(long_secret),
	         "{\"AccessKeyId\":\"A\",\"Expiration\":\"2026-02-25T06:03:31Z\","
	         "\"SecretAccessKey\":\"%0200d\"}",
	         1);
	assert_int_equal(aws_creds_parse(long_secret, strlen(long_secret), &c, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "longer than 128"));
}

static void test_plan(void **state)
{
	struct aws_credentials c = {.expires = true};

	(void)state;
	assert_int_equal(aws_creds_plan(false, &c, NOW_MS), AWS_CREDS_REFRESH_REQUIRED);
	c.expiration_wall_ms = NOW_MS + 60 * MINUTE;
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_USE_CACHED);
	c.expiration_wall_ms = NOW_MS + 5 * MINUTE;
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_USE_CACHED);
	c.expiration_wall_ms = NOW_MS + 5 * MINUTE - 1;
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_REFRESH_OR_CACHED);
	c.expiration_wall_ms = NOW_MS + 1;
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_REFRESH_OR_CACHED);
	c.expiration_wall_ms = NOW_MS;
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_REFRESH_REQUIRED);
	c.expiration_wall_ms = NOW_MS - MINUTE;
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_REFRESH_REQUIRED);
	c.expires = false; /* environment keys */
	assert_int_equal(aws_creds_plan(true, &c, NOW_MS), AWS_CREDS_USE_CACHED);
}

static void test_full_uri_allow_list(void **state)
{
	static const struct {
		const char *uri;
		bool ok;
	} cases[] = {
	        {"http://127.0.0.1:8080/creds", true},
	        {"http://127.1.2.3/creds", true},
	        {"http://localhost/creds", true},
	        {"http://LOCALHOST:1234/creds", true},
	        {"http://[::1]:8080/creds", true},
	        {"http://169.254.170.2/v2/credentials/x", true},
	        {"http://169.254.170.23/v1/credentials", true},
	        {"http://[fd00:ec2::23]/v1/credentials", true},
	        {"http://[fd00:ec2:0::23]/v1/credentials", true},
	        {"https://creds.example.com/x?token=1", true},
	        {"https://10.0.0.1/x", true},
	        {"http://10.0.0.1/creds", false},
	        {"http://169.254.169.254/latest/meta-data", false},
	        {"http://169.254.170.3/", false},
	        {"http://creds.example.com/", false},
	        {"http://localhost.example.com/", false},
	        {"http://[::2]/", false},
	        {"http://[fd00:ec2::24]/", false},
	        {"http://user:pw@127.0.0.1/", false},
	        {"ftp://127.0.0.1/", false},
	        {"file:///etc/passwd", false},
	        {"127.0.0.1/creds", false},
	        {"", false},
	};
	struct wd_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = aws_creds_check_full_uri(cases[i].uri, &err);

		if ((rc == 0) != cases[i].ok)
			print_error("%s: %d %s\n", cases[i].uri, rc, err.msg);
		assert_int_equal(rc == 0, cases[i].ok);
		if (rc != 0) {
			assert_non_null(strstr(err.msg, "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
			assert_null(strstr(err.msg, "pw"));
		}
	}
}

/* ---- Providers from envp ----------------------------------------------------- */

static void test_provider_new(void **state)
{
	const char *env_keys[] = {"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=" SECRET,
	                          "AWS_SESSION_TOKEN=" TOKEN,
	                          /* the environment wins over the container */
	                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x", NULL};
	const char *half[] = {"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", NULL};
	const char *half2[] = {"AWS_SECRET_ACCESS_KEY=" SECRET, NULL};
	const char *bad_id[] = {"AWS_ACCESS_KEY_ID=AKIA EXAMPLE", "AWS_SECRET_ACCESS_KEY=" SECRET,
	                        NULL};
	const char *relative[] = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x",
	                          "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://10.0.0.1/", NULL};
	const char *bad_relative[] = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=v2/credentials",
	                              NULL};
	const char *bad_full[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://10.0.0.1/creds", NULL};
	const char *bad_token[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1/creds",
	                           "AWS_CONTAINER_AUTHORIZATION_TOKEN=a\r\nX-Injected: 1", NULL};
	const char *none[] = {"AWS_REGION=us-east-1", NULL};
	struct aws_creds_provider *p;
	struct aws_credentials c;
	struct wd_err err;

	(void)state;
	memset(&endpoint, 0, sizeof(endpoint));
	p = aws_creds_provider_new(env_keys, &err);
	assert_non_null(p);
	assert_string_equal(aws_creds_source_str(p), "environment");
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_string_equal(c.access_key_id, "AKIAEXAMPLE");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, TOKEN);
	assert_false(c.expires);
	assert_int_equal(endpoint.calls, 0);
	aws_credentials_clear(&c);
	aws_creds_invalidate(p); /* environment keys stay */
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	aws_creds_provider_free(p);

	assert_null(aws_creds_provider_new(half, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "AWS_SECRET_ACCESS_KEY is not"));
	assert_null(aws_creds_provider_new(half2, &err));
	assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID is not"));
	assert_null(aws_creds_provider_new(bad_id, &err));
	assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));

	p = aws_creds_provider_new(relative, &err);
	assert_non_null(p); /* RELATIVE_URI wins; FULL_URI is not even looked at */
	assert_string_equal(aws_creds_source_str(p), "container");
	aws_creds_provider_free(p);

	assert_null(aws_creds_provider_new(bad_relative, &err));
	assert_non_null(strstr(err.msg, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
	assert_null(aws_creds_provider_new(bad_full, &err));
	assert_non_null(strstr(err.msg, "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
	assert_null(aws_creds_provider_new(bad_token, &err));
	assert_non_null(strstr(err.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	assert_null(strstr(err.msg, "Injected"));
	assert_null(aws_creds_provider_new(none, &err));
	assert_int_equal(err.code, -ENOENT);
	aws_creds_provider_free(NULL);
}

/* ---- Refresh timing --------------------------------------------------------- */

static struct aws_creds_provider *container_provider(const char *const *envp)
{
	struct wd_err err;
	struct aws_creds_provider *p = aws_creds_provider_new(envp, &err);

	assert_non_null(p);
	return p;
}

static void test_refresh_timing(void **state)
{
	const char *envp[] = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/abc",
	                      "AWS_CONTAINER_AUTHORIZATION_TOKEN=" AUTH_TOK, NULL};
	struct aws_creds_provider *p = container_provider(envp);
	struct aws_credentials c;
	struct wd_err err;

	(void)state;
	memset(&endpoint, 0, sizeof(endpoint));
	fake_now_ms = NOW_MS;

	/* First use: fetched. */
	endpoint_gives("ASIAONE", NOW_MS + 60 * MINUTE);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_int_equal(endpoint.calls, 1);
	assert_string_equal(endpoint.url, "http://169.254.170.2/v2/credentials/abc");
	assert_string_equal(endpoint.authorization, "Authorization: " AUTH_TOK);
	assert_string_equal(c.access_key_id, "ASIAONE");
	assert_string_equal(c.session_token, TOKEN);
	assert_int_equal(c.expiration_wall_ms, NOW_MS + 60 * MINUTE);

	/* Cached while more than 5 minutes remain. */
	fake_now_ms = NOW_MS + 55 * MINUTE - 1;
	endpoint_gives("ASIATWO", NOW_MS + 120 * MINUTE);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_int_equal(endpoint.calls, 1);
	assert_string_equal(c.access_key_id, "ASIAONE");

	/* Less than 5 minutes left: refreshed. */
	fake_now_ms = NOW_MS + 56 * MINUTE;
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_int_equal(endpoint.calls, 2);
	assert_string_equal(c.access_key_id, "ASIATWO");

	/* A refresh that fails keeps the cached credentials while they are valid... */
	fake_now_ms = NOW_MS + 117 * MINUTE;
	endpoint_fails(NET_OK, 500);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_int_equal(endpoint.calls, 3);
	assert_string_equal(c.access_key_id, "ASIATWO");
	/* ...and is not tried again at once (AWS_CREDS_RETRY_MS, monotonic). */
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_int_equal(endpoint.calls, 3);
	assert_string_equal(c.access_key_id, "ASIATWO");

	/* Expired and the endpoint still failing: an error, nothing usable. */
	fake_now_ms = NOW_MS + 120 * MINUTE;
	endpoint_fails(NET_TIMEOUT, 0);
	memset(&c, 0x55, sizeof(c));
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -ETIMEDOUT);
	assert_int_equal(endpoint.calls, 4);
	assert_string_equal(c.secret_access_key, "");
	assert_non_null(strstr(err.msg, "timeout"));
	assert_no_secret(err.msg);
	endpoint_fails(NET_OK, 403);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -EIO);
	assert_non_null(strstr(err.msg, "HTTP 403"));
	assert_non_null(strstr(err.msg, "InternalError"));
	assert_no_secret(err.msg); /* the endpoint's message (echoing the token) is dropped */

	/* The endpoint hands out credentials that have already expired. */
	endpoint_gives("ASIAOLD", NOW_MS + 120 * MINUTE - 1);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "expired"));

	/* Garbage from the endpoint. */
	endpoint.outcome = NET_OK;
	endpoint.status = 200;
	snprintf(endpoint.body, sizeof(endpoint.body), "{\"AccessKeyId\":\"" SECRET);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -EBADMSG);
	assert_no_secret(err.msg);

	/* Back to normal; then AWS says "expired" early: invalidate forces a fetch. */
	endpoint_gives("ASIATHREE", NOW_MS + 180 * MINUTE);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIATHREE");
	endpoint_gives("ASIAFOUR", NOW_MS + 180 * MINUTE);
	aws_creds_invalidate(p);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIAFOUR");

	aws_credentials_clear(&c);
	aws_creds_provider_free(p);
	fake_now_ms = 0;
}

static void test_token_file_reread(void **state)
{
	char path[] = "/tmp/warden-test-token-XXXXXX";
	char file_var[128];
	const char *envp[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/creds",
	                      file_var, "AWS_CONTAINER_AUTHORIZATION_TOKEN=env-token-ignored",
	                      NULL};
	struct aws_creds_provider *p;
	struct aws_credentials c;
	struct wd_err err;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(file_var, sizeof(file_var), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s", path);
	p = container_provider(envp);
	memset(&endpoint, 0, sizeof(endpoint));

	f = fopen(path, "w");
	fputs("first-token\n", f);
	fclose(f);
	endpoint_gives("ASIAONE", clock_wall_ms() + 60 * MINUTE);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_string_equal(endpoint.url, "http://127.0.0.1:1/creds");
	assert_string_equal(endpoint.authorization, "Authorization: first-token");

	/* The token rotated: the next fetch reads the file again. */
	f = fopen(path, "w");
	fputs("second-token", f);
	fclose(f);
	aws_creds_invalidate(p);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), 0);
	assert_string_equal(endpoint.authorization, "Authorization: second-token");

	/* A token with a control byte in the middle, an empty one, a missing file. */
	f = fopen(path, "w");
	fputs("bad\x01token", f);
	fclose(f);
	aws_creds_invalidate(p);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
	assert_null(strstr(err.msg, "token"));
	f = fopen(path, "w");
	fclose(f);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	unlink(path);
	assert_int_equal(aws_creds_get(p, clock_mono_ms() + 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cannot open"));
	assert_int_equal(endpoint.calls, 2);

	aws_credentials_clear(&c);
	aws_creds_provider_free(p);
}

struct getter {
	struct aws_creds_provider *p;
	int timeout_ms;
	int rc;
	char key_id[AWS_KEY_ID_MAX + 1];
};

static void *getter_run(void *arg)
{
	struct getter *g = arg;
	struct aws_credentials c;
	struct wd_err err;

	g->rc = aws_creds_get(g->p, clock_mono_ms() + g->timeout_ms, &c, &err);
	snprintf(g->key_id, sizeof(g->key_id), "%s", c.access_key_id);
	aws_credentials_clear(&c);
	return NULL;
}

/*
 * One provider, several threads: one fetch for all; a thread whose deadline
 * passes while another refreshes gets -ETIMEDOUT at its deadline.
 */
static void test_shared_between_threads(void **state)
{
	const char *envp[] = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/abc", NULL};
	struct aws_creds_provider *p = container_provider(envp);
	struct getter slow = {.p = p, .timeout_ms = 5000};
	struct getter patient = {.p = p, .timeout_ms = 5000};
	struct getter hasty = {.p = p, .timeout_ms = 50};
	pthread_t threads[3];

	(void)state;
	memset(&endpoint, 0, sizeof(endpoint));
	endpoint_gives("ASIASHARED", clock_wall_ms() + 60 * MINUTE);
	endpoint.delay_ms = 400;
	pthread_mutex_lock(&fetch_started.lock);
	fetch_started.started = 0;
	pthread_mutex_unlock(&fetch_started.lock);
	assert_int_equal(pthread_create(&threads[0], NULL, getter_run, &slow), 0);
	/* The others come once it holds the provider and is fetching. */
	pthread_mutex_lock(&fetch_started.lock);
	while (fetch_started.started == 0)
		pthread_cond_wait(&fetch_started.cond, &fetch_started.lock);
	pthread_mutex_unlock(&fetch_started.lock);
	assert_int_equal(pthread_create(&threads[1], NULL, getter_run, &patient), 0);
	assert_int_equal(pthread_create(&threads[2], NULL, getter_run, &hasty), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(slow.rc, 0);
	assert_int_equal(patient.rc, 0);
	assert_string_equal(slow.key_id, "ASIASHARED");
	assert_string_equal(patient.key_id, "ASIASHARED");
	assert_int_equal(hasty.rc, -ETIMEDOUT);
	assert_string_equal(hasty.key_id, "");
	assert_int_equal(endpoint.calls, 1);
	endpoint.delay_ms = 0;
	aws_creds_provider_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_good),
	        cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test(test_plan),
	        cmocka_unit_test(test_full_uri_allow_list),
	        cmocka_unit_test(test_provider_new),
	        cmocka_unit_test(test_refresh_timing),
	        cmocka_unit_test(test_token_file_reread),
	        cmocka_unit_test(test_shared_between_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
