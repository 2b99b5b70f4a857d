/*
 * curl_deadline.c - one libcurl request that returns by a deadline (see the
 * header for the contract and the policy every request gets).
 */
#include "net/curl_deadline.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "lib/text.h"
#include "net/net.h"

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0"
#endif

/* "host:port:[addr],addr,..." for CURLOPT_RESOLVE. */
#define CD_RESOLVE_MAX (WD_HOST_MAX + 8 + NET_ADDRS_MAX * (INET6_ADDRSTRLEN + 3))

struct curl_deadline {
	CURL *easy;
	CURLM *multi;
	struct curl_slist *resolve;
	char errbuf[CURL_ERROR_SIZE];
	/* The request being performed, for the callbacks. */
	const struct curl_deadline_request *req;
	struct curl_deadline_result *result;
	size_t body_bytes;
	bool body_too_large;
	bool out_of_memory;
	const char *bad_header; /* name of a captured header that was refused */
	bool seen[CURL_DEADLINE_CAPTURE_MAX];
};

/* The URL's host (IPv6 without brackets) and port (the scheme's default when absent). */
struct cd_target {
	char host[WD_HOST_MAX + 1];
	int port;
	bool literal;
};

static bool cd_host_is_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int cd_parse_target(const char *url, struct cd_target *target)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	char *host = NULL;
	char *port = NULL;
	size_t len;
	int rc = -1;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		memmove(host, host + 1, len - 1);
		len -= 2;
	}
	if (len == 0 || len > WD_HOST_MAX)
		goto out;
	memcpy(target->host, host, len + 1);
	target->port = atoi(port);
	target->literal = cd_host_is_literal(target->host);
	rc = target->port > 0 && target->port <= 65535 ? 0 : -1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Append to the body buffer, or count and drop; stop the transfer past the cap. */
static size_t cd_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct curl_deadline *cd = userdata;
	size_t n = size * nmemb;
	int rc;

	if (cd->req->response_body == NULL) {
		cd->body_bytes += n;
		if (cd->body_bytes <= cd->req->discard_max)
			return n;
		cd->body_too_large = true;
		return n == 0 ? 1 : 0; /* anything but n: CURLE_WRITE_ERROR */
	}
	rc = wd_buf_append(cd->req->response_body, data, n);
	if (rc == 0)
		return n;
	if (rc == -E2BIG)
		cd->body_too_large = true;
	else
		cd->out_of_memory = true;
	return n == 0 ? 1 : 0;
}

/* Capture the requested headers of the final response (a new status line starts over). */
static size_t cd_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct curl_deadline *cd = userdata;
	struct curl_deadline_result *result = cd->result;
	size_t n = size * nmemb;
	const char *colon;
	size_t name_len;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		for (size_t i = 0; i < cd->req->capture_count; i++) {
			result->captured[i][0] = '\0';
			cd->seen[i] = false;
		}
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	name_len = (size_t)(colon - data);
	for (size_t i = 0; i < cd->req->capture_count; i++) {
		const char *name = cd->req->capture[i];
		const char *value = colon + 1;
		size_t len = n - name_len - 1;

		if (cd->seen[i] || strlen(name) != name_len ||
		    strncasecmp(name, data, name_len) != 0)
			continue;
		while (len > 0 && (*value == ' ' || *value == '\t')) {
			value++;
			len--;
		}
		while (len > 0 && strchr(" \t\r\n", value[len - 1]) != NULL)
			len--;
		if (len > WD_HTTP_HEADER_VALUE_MAX || !text_is_field_value(value, len)) {
			cd->bad_header = name;
			return n == 0 ? 1 : 0;
		}
		memcpy(result->captured[i], value, len);
		result->captured[i][len] = '\0';
		cd->seen[i] = true;
	}
	return n;
}

void curl_deadline_free(struct curl_deadline *cd)
{
	if (cd == NULL)
		return;
	if (cd->easy != NULL)
		curl_easy_cleanup(cd->easy);
	if (cd->multi != NULL)
		curl_multi_cleanup(cd->multi);
	curl_slist_free_all(cd->resolve);
	free(cd);
}

int curl_deadline_policy(CURL *easy)
{
	CURLcode rc = CURLE_OK;

#define CD_POLICY(opt, val)                                                                        \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(easy, opt, val);                                     \
	} while (0)
	CD_POLICY(CURLOPT_PROTOCOLS_STR, "http,https");
	CD_POLICY(CURLOPT_FOLLOWLOCATION, 0L);
	CD_POLICY(CURLOPT_NOSIGNAL, 1L);
	CD_POLICY(CURLOPT_QUICK_EXIT, 1L);
	CD_POLICY(CURLOPT_PROXY, "");
	CD_POLICY(CURLOPT_SSL_VERIFYPEER, 1L);
	CD_POLICY(CURLOPT_SSL_VERIFYHOST, 2L);
	CD_POLICY(CURLOPT_USERAGENT, "warden/" WARDEN_VERSION);
	CD_POLICY(CURLOPT_TCP_NODELAY, 1L);
#undef CD_POLICY
	return (int)rc;
}

struct curl_deadline *curl_deadline_new(struct wd_err *err)
{
	struct curl_deadline *cd = calloc(1, sizeof(*cd));
	CURLcode rc = CURLE_OK;
	CURL *easy;

	if (cd == NULL) {
		wd_err_set(err, -ENOMEM, "http client: out of memory");
		return NULL;
	}
	cd->multi = curl_multi_init();
	cd->easy = easy = curl_easy_init();
	if (cd->multi == NULL || easy == NULL) {
		wd_err_set(err, -ENOMEM, "http client: curl init failed");
		goto fail;
	}
#define CD_SETOPT(opt, val)                                                                        \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(easy, opt, val);                                     \
	} while (0)
	rc = curl_deadline_policy(easy);
	CD_SETOPT(CURLOPT_WRITEFUNCTION, cd_write);
	CD_SETOPT(CURLOPT_WRITEDATA, cd);
	CD_SETOPT(CURLOPT_HEADERFUNCTION, cd_header);
	CD_SETOPT(CURLOPT_HEADERDATA, cd);
	CD_SETOPT(CURLOPT_ERRORBUFFER, cd->errbuf);
#undef CD_SETOPT
	if (rc != CURLE_OK) {
		wd_err_set(err, -EINVAL, "http client: curl: %s", curl_easy_strerror(rc));
		goto fail;
	}
	return cd;
fail:
	curl_deadline_free(cd);
	return NULL;
}

static enum net_outcome cd_set(struct curl_deadline_result *result, enum net_outcome outcome,
                               const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum net_outcome cd_set(struct curl_deadline_result *result, enum net_outcome outcome,
                               const char *fmt, ...)
{
	result->outcome = outcome;
	WD_ERR_FORMAT_ARGS(result->detail, sizeof(result->detail), fmt);
	return outcome;
}

/* Resolve the host ourselves and give curl the addresses. 0, or -1 with result set. */
static int cd_resolve(struct curl_deadline *cd, const struct cd_target *target,
                      int64_t deadline_mono_ms, struct curl_deadline_result *result)
{
	struct net_status obs = {.outcome = NET_OK};
	struct net_addr addrs[NET_ADDRS_MAX];
	char entry[CD_RESOLVE_MAX];
	struct curl_slist *list;
	size_t len;
	int count;

	count = net_resolve(target->host, target->port, deadline_mono_ms, addrs, &obs);
	if (count <= 0) {
		cd_set(result, obs.outcome, "%s", obs.detail);
		return -1;
	}
	len = (size_t)snprintf(entry, sizeof(entry), "%s:%d:", target->host, target->port);
	for (int i = 0; i < count && len < sizeof(entry); i++) {
		char text[INET6_ADDRSTRLEN] = "";
		const void *in;

		if (addrs[i].sa.ss_family == AF_INET6)
			in = &((const struct sockaddr_in6 *)&addrs[i].sa)->sin6_addr;
		else
			in = &((const struct sockaddr_in *)&addrs[i].sa)->sin_addr;
		inet_ntop(addrs[i].sa.ss_family, in, text, sizeof(text));
		len += (size_t)snprintf(entry + len, sizeof(entry) - len,
		                        addrs[i].sa.ss_family == AF_INET6 ? "%s[%s]" : "%s%s",
		                        i > 0 ? "," : "", text);
	}
	/* Replaces the cached entry of host:port (curl >= 7.63 replaces on add). */
	list = curl_slist_append(NULL, entry);
	if (list == NULL) {
		cd_set(result, NET_INTERNAL, "out of memory");
		return -1;
	}
	curl_slist_free_all(cd->resolve);
	cd->resolve = list;
	if (curl_easy_setopt(cd->easy, CURLOPT_RESOLVE, cd->resolve) != CURLE_OK) {
		cd_set(result, NET_INTERNAL, "curl refused the resolved addresses");
		return -1;
	}
	return 0;
}

/*
 * A short reason for people: curl's error buffer, else its generic text. A
 * message that quotes one of the request's hidden strings is not used.
 */
static const char *cd_reason(const struct curl_deadline *cd, CURLcode code)
{
	if (cd->errbuf[0] == '\0')
		return curl_easy_strerror(code);
	for (size_t i = 0; i < cd->req->hide_count; i++) {
		const char *hidden = cd->req->hide[i];

		if (hidden != NULL && hidden[0] != '\0' && strstr(cd->errbuf, hidden) != NULL)
			return curl_easy_strerror(code);
	}
	return cd->errbuf;
}

/* Map a failed transfer to an outcome. */
static void cd_fail(struct curl_deadline *cd, CURLcode code, struct curl_deadline_result *result)
{
	const char *reason = cd_reason(cd, code);
	long os_errno = 0;

	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST: cd_set(result, NET_DNS, "%s", reason); return;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(cd->easy, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ECONNREFUSED)
			cd_set(result, NET_REFUSED, "%s", reason);
		else if (os_errno == ETIMEDOUT)
			cd_set(result, NET_TIMEOUT, "%s", reason);
		else
			cd_set(result, NET_NETWORK, "%s", reason);
		return;
	case CURLE_OPERATION_TIMEDOUT: cd_set(result, NET_TIMEOUT, "%s", reason); return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED: cd_set(result, NET_TLS, "%s", reason); return;
	case CURLE_LOGIN_DENIED: cd_set(result, NET_AUTH, "%s", reason); return;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_TOO_MANY_REDIRECTS: cd_set(result, NET_BAD_REPLY, "%s", reason); return;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION: cd_set(result, NET_INTERNAL, "%s", reason); return;
	case CURLE_PARTIAL_FILE:
		result->truncated = true;
		cd_set(result, NET_NETWORK, "%s", reason);
		return;
	default:
		/* RECV_ERROR, SEND_ERROR, GOT_NOTHING, HTTP2... */
		cd_set(result, NET_NETWORK, "%s", reason);
		return;
	}
}

/* Set the per-request options. 0, or -1 with result set. */
static int cd_prepare(struct curl_deadline *cd, const struct curl_deadline_request *req,
                      struct curl_slist **headers, struct curl_deadline_result *result)
{
	bool post = req->method != NULL && strcmp(req->method, "POST") == 0;
	CURLcode rc = CURLE_OK;
	CURL *easy = cd->easy;

	if (req->method != NULL && !post && strcmp(req->method, "GET") != 0) {
		cd_set(result, NET_INTERNAL, "unsupported method %.16s", req->method);
		return -1;
	}
	if (req->header_count > CURL_DEADLINE_HEADERS_MAX ||
	    req->capture_count > CURL_DEADLINE_CAPTURE_MAX ||
	    req->hide_count > CURL_DEADLINE_HIDE_MAX) {
		cd_set(result, NET_INTERNAL, "too many headers in a request");
		return -1;
	}
	for (size_t i = 0; i < req->header_count; i++) {
		struct curl_slist *list;

		/* No CR or LF: a header value can never smuggle another header. */
		if (strpbrk(req->headers[i], "\r\n") != NULL) {
			cd_set(result, NET_INTERNAL, "a request header holds CR or LF");
			return -1;
		}
		list = curl_slist_append(*headers, req->headers[i]);
		if (list == NULL)
			goto nomem;
		*headers = list;
	}
	if (post) {
		/* No "Expect: 100-continue" round trip. */
		struct curl_slist *list = curl_slist_append(*headers, "Expect:");

		if (list == NULL)
			goto nomem;
		*headers = list;
	}
#define CD_SETOPT(opt, val)                                                                        \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(easy, opt, val);                                     \
	} while (0)
	CD_SETOPT(CURLOPT_URL, req->url);
	if (post) {
		CD_SETOPT(CURLOPT_POST, 1L);
		CD_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		CD_SETOPT(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
	} else {
		CD_SETOPT(CURLOPT_HTTPGET, 1L);
	}
	CD_SETOPT(CURLOPT_HTTPHEADER, *headers);
	CD_SETOPT(CURLOPT_FRESH_CONNECT, req->one_request ? 1L : 0L);
	CD_SETOPT(CURLOPT_FORBID_REUSE, req->one_request ? 1L : 0L);
	CD_SETOPT(CURLOPT_USERNAME, req->username);
	CD_SETOPT(CURLOPT_PASSWORD, req->password);
#undef CD_SETOPT
	if (rc != CURLE_OK) {
		cd_set(result, NET_INTERNAL, "curl: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
nomem:
	cd_set(result, NET_INTERNAL, "out of memory");
	return -1;
}

/* Judge a transfer that ended (result is its CURLcode). */
static void cd_finish(struct curl_deadline *cd, CURLcode code, struct curl_deadline_result *result)
{
	long status = 0;

	curl_easy_getinfo(cd->easy, CURLINFO_RESPONSE_CODE, &status);
	result->http_status = (int)status;
	if (cd->bad_header != NULL) {
		cd_set(result, NET_BAD_REPLY,
		       "response header %s is longer than %d bytes or holds control bytes",
		       cd->bad_header, WD_HTTP_HEADER_VALUE_MAX);
		return;
	}
	if (cd->out_of_memory) {
		cd_set(result, NET_INTERNAL, "out of memory for the response body");
		return;
	}
	if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && cd->body_too_large)) {
		result->outcome = NET_OK;
		result->detail[0] = '\0';
		result->body_too_large = cd->body_too_large;
		return;
	}
	cd_fail(cd, code, result);
}

enum net_outcome curl_deadline_perform(struct curl_deadline *cd,
                                       const struct curl_deadline_request *req,
                                       int64_t deadline_mono_ms,
                                       struct curl_deadline_result *result)
{
	struct curl_slist *headers = NULL;
	int64_t started = clock_mono_ms();
	struct cd_target target;
	CURLcode code = CURLE_OK;
	bool finished = false;
	bool added = false;
	int running = 1;
	int left;

	memset(result, 0, sizeof(*result));
	result->outcome = NET_INTERNAL;
	cd->req = req;
	cd->result = result;
	cd->errbuf[0] = '\0';
	cd->body_bytes = 0;
	cd->body_too_large = false;
	cd->out_of_memory = false;
	cd->bad_header = NULL;
	memset(cd->seen, 0, sizeof(cd->seen));

	if (req->url == NULL || cd_parse_target(req->url, &target) != 0) {
		cd_set(result, NET_INTERNAL, "not an http(s) URL with a host");
		goto out;
	}
	if (clock_ms_until(deadline_mono_ms) == 0) {
		cd_set(result, NET_TIMEOUT, "no time left");
		goto out;
	}
	if (!target.literal && cd_resolve(cd, &target, deadline_mono_ms, result) != 0)
		goto out;
	left = clock_ms_until(deadline_mono_ms);
	if (left == 0) {
		cd_set(result, NET_TIMEOUT, "no time left after resolving");
		goto out;
	}
	if (cd_prepare(cd, req, &headers, result) != 0)
		goto out;
	/* curl's own clock only as a second line (a little later than ours):
	 * the loop below ends the request at the deadline. */
	curl_easy_setopt(cd->easy, CURLOPT_TIMEOUT_MS, (long)left + 100);
	curl_easy_setopt(cd->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)left + 100);
	if (curl_multi_add_handle(cd->multi, cd->easy) != CURLM_OK) {
		cd_set(result, NET_INTERNAL, "curl_multi_add_handle failed");
		goto out;
	}
	added = true;
	for (;;) {
		CURLMcode mc = curl_multi_perform(cd->multi, &running);
		CURLMsg *msg;
		int queued;

		if (mc != CURLM_OK) {
			cd_set(result, NET_INTERNAL, "curl: %s", curl_multi_strerror(mc));
			goto out;
		}
		while ((msg = curl_multi_info_read(cd->multi, &queued)) != NULL) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == cd->easy) {
				finished = true;
				code = msg->data.result;
			}
		}
		if (finished || running == 0)
			break;
		left = clock_ms_until(deadline_mono_ms);
		if (left == 0)
			break;
		mc = curl_multi_poll(cd->multi, NULL, 0, left, NULL);
		if (mc != CURLM_OK) {
			cd_set(result, NET_INTERNAL, "curl: %s", curl_multi_strerror(mc));
			goto out;
		}
	}
	if (!finished)
		cd_set(result, NET_TIMEOUT, "no complete answer within %lld ms",
		       (long long)(clock_mono_ms() - started));
	else
		cd_finish(cd, code, result);
out:
	/* An unfinished transfer closes its connection here; a finished one
	 * leaves it in the multi handle's cache for the next request. */
	if (added)
		curl_multi_remove_handle(cd->multi, cd->easy);
	curl_easy_setopt(cd->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(cd->easy, CURLOPT_PASSWORD, NULL);
	curl_slist_free_all(headers);
	cd->req = NULL;
	cd->result = NULL;
	result->elapsed_ms = clock_mono_ms() - started;
	return result->outcome;
}
