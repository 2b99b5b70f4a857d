/*
 * http.c - the http probe: GET the target with libcurl; up when the status is
 * in the `expect` range (default 200-399).
 *
 * One CURL easy handle and one CURLM multi handle per probe, kept across runs:
 * the multi handle owns the connection cache, so a keep-alive connection is
 * reused by the next run. A run adds the easy handle to the multi handle and
 * drives it with curl_multi_perform / curl_multi_poll against the deadline,
 * then removes it; removing an unfinished transfer closes its connection, so
 * a half-read response never reaches the next run.
 *
 * Name resolution never happens inside curl: the run resolves the host with
 * net_resolve() (getaddrinfo_a, bounded by the deadline, same `dns` outcome
 * as the other kinds) and hands the addresses to curl with CURLOPT_RESOLVE.
 * (Debian's libcurl 7.88.1 has the threaded resolver, CURL_VERSION_ASYNCHDNS,
 * but removing a handle whose lookup is still running joins the resolver
 * thread unless CURLOPT_QUICK_EXIT is set; we set it too, as a second line.)
 * Literal addresses never reach a resolver.
 *
 * Credentials from the URI's userinfo (the password replaced by
 * WARDEN_PROBE_<NAME>_PASSWORD when set) go through CURLOPT_USERNAME /
 * CURLOPT_PASSWORD; the URL given to curl has no userinfo, so no curl message
 * can quote a password. No redirect is followed, no proxy is used (a health
 * probe talks to its target), TLS peers are verified against the system CA
 * store. The body is read and dropped, never stored: past
 * WD_HTTP_PROBE_BODY_MAX bytes the transfer stops (the status is already
 * known) and the connection is closed.
 */
#include "probes/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/clock.h"
#include "probes/net.h"

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0"
#endif

/* "host:port:[addr],addr,..." for CURLOPT_RESOLVE. */
#define HTTP_RESOLVE_MAX (WD_HOST_MAX + 8 + NET_ADDRS_MAX * (INET6_ADDRSTRLEN + 3))

struct http_probe {
	CURL *easy;
	CURLM *multi;
	struct curl_slist *resolve;
	char url[WD_URI_MAX + 1];   /* scheme://host:port/path?query, no userinfo */
	char query[WD_URI_MAX + 1]; /* the URL's query, to keep it out of details */
	char host[WD_HOST_MAX + 1];
	int port;
	bool host_is_literal;
	int status_min;
	int status_max;
	size_t body_bytes; /* of the current run, read and dropped */
	bool body_too_long;
	char errbuf[CURL_ERROR_SIZE];
	char username[sizeof(((struct wd_uri *)0)->user)];
	char password[WD_SECRET_MAX + 1];
};

static bool host_is_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int http_validate(const struct probe_config *cfg, struct wd_err *err)
{
	const struct wd_uri *uri = &cfg->parsed;

	if (strcmp(uri->scheme, "http") != 0 && strcmp(uri->scheme, "https") != 0)
		return wd_err_set(err, -EINVAL,
		                  "http probe: scheme must be http:// or https://, not %s://",
		                  uri->scheme);
	if (uri->host[0] == '\0')
		return wd_err_set(err, -EINVAL, "http probe: the URI has no host");
	if (cfg->expect_status_min < 100 || cfg->expect_status_max > 599 ||
	    cfg->expect_status_min > cfg->expect_status_max)
		return wd_err_set(err, -EINVAL, "http probe: bad expect range %d-%d (want 100-599)",
		                  cfg->expect_status_min, cfg->expect_status_max);
	return 0;
}

/* Read and drop the body; stop the transfer past WD_HTTP_PROBE_BODY_MAX. */
static size_t http_discard_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http_probe *http = userdata;
	size_t n = size * nmemb;

	(void)data;
	http->body_bytes += n;
	if (http->body_bytes > WD_HTTP_PROBE_BODY_MAX) {
		http->body_too_long = true;
		return n == 0 ? 1 : 0; /* anything but n: CURLE_WRITE_ERROR */
	}
	return n;
}

/* The URL without userinfo: scheme://host[:port]path[?query]. */
static int http_build_url(const struct wd_uri *uri, char *out, size_t size)
{
	bool v6 = strchr(uri->host, ':') != NULL;
	char port[8] = "";
	int n;

	if (uri->port != 0)
		snprintf(port, sizeof(port), ":%d", uri->port);
	n = snprintf(out, size, "%s://%s%s%s%s%s%s%s", uri->scheme, v6 ? "[" : "", uri->host,
	             v6 ? "]" : "", port, uri->path, uri->query[0] ? "?" : "", uri->query);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void http_destroy(void *ctx)
{
	struct http_probe *http = ctx;

	if (http == NULL)
		return;
	if (http->multi != NULL && http->easy != NULL)
		curl_multi_remove_handle(http->multi, http->easy);
	if (http->easy != NULL)
		curl_easy_cleanup(http->easy);
	if (http->multi != NULL)
		curl_multi_cleanup(http->multi);
	curl_slist_free_all(http->resolve);
	explicit_bzero(http->password, sizeof(http->password));
	free(http);
}

static void *http_create(const struct probe_config *cfg, struct wd_err *err)
{
	const struct wd_uri *uri = &cfg->parsed;
	struct http_probe *http;
	CURL *easy;
	CURLcode rc = CURLE_OK;

	if (http_validate(cfg, err) != 0)
		return NULL;
	http = calloc(1, sizeof(*http));
	if (http == NULL) {
		wd_err_set(err, -ENOMEM, "http probe: out of memory");
		return NULL;
	}
	if (http_build_url(uri, http->url, sizeof(http->url)) != 0) {
		wd_err_set(err, -EINVAL, "http probe: the URI is too long");
		goto fail;
	}
	snprintf(http->host, sizeof(http->host), "%s", uri->host);
	snprintf(http->query, sizeof(http->query), "%s", uri->query);
	http->port = uri->port != 0 ? uri->port : strcmp(uri->scheme, "https") == 0 ? 443 : 80;
	http->host_is_literal = host_is_literal(uri->host);
	http->status_min = cfg->expect_status_min;
	http->status_max = cfg->expect_status_max;
	snprintf(http->username, sizeof(http->username), "%s", uri->user);
	snprintf(http->password, sizeof(http->password), "%s",
	         cfg->password[0] != '\0' ? cfg->password : uri->password);

	http->multi = curl_multi_init();
	http->easy = easy = curl_easy_init();
	if (http->multi == NULL || easy == NULL) {
		wd_err_set(err, -ENOMEM, "http probe: curl init failed");
		goto fail;
	}
#define HTTP_SETOPT(opt, val)                                                                      \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(easy, opt, val);                                     \
	} while (0)
	HTTP_SETOPT(CURLOPT_URL, http->url);
	HTTP_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(CURLOPT_HTTPGET, 1L);
	HTTP_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(CURLOPT_QUICK_EXIT, 1L);
	HTTP_SETOPT(CURLOPT_PROXY, "");
	HTTP_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	HTTP_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	HTTP_SETOPT(CURLOPT_USERAGENT, "warden/" WARDEN_VERSION);
	HTTP_SETOPT(CURLOPT_WRITEFUNCTION, http_discard_body);
	HTTP_SETOPT(CURLOPT_WRITEDATA, http);
	HTTP_SETOPT(CURLOPT_ERRORBUFFER, http->errbuf);
	HTTP_SETOPT(CURLOPT_TCP_NODELAY, 1L);
	if (http->username[0] != '\0' || http->password[0] != '\0') {
		HTTP_SETOPT(CURLOPT_USERNAME, http->username);
		HTTP_SETOPT(CURLOPT_PASSWORD, http->password);
	}
#undef HTTP_SETOPT
	if (rc != CURLE_OK) {
		wd_err_set(err, -EINVAL, "http probe: curl: %s", curl_easy_strerror(rc));
		goto fail;
	}
	return http;
fail:
	http_destroy(http);
	return NULL;
}

/* Resolve the host ourselves and give curl the addresses. 0, or -1 with obs. */
static int http_resolve(struct http_probe *http, int64_t deadline_mono_ms,
                        struct probe_observation *obs)
{
	struct net_addr addrs[NET_ADDRS_MAX];
	char entry[HTTP_RESOLVE_MAX];
	struct curl_slist *list;
	size_t len;
	int count;

	count = net_resolve(http->host, http->port, deadline_mono_ms, addrs, obs);
	if (count <= 0)
		return -1;
	len = (size_t)snprintf(entry, sizeof(entry), "%s:%d:", http->host, http->port);
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
		probe_fail(obs, PROBE_INTERNAL, "out of memory");
		return -1;
	}
	curl_slist_free_all(http->resolve);
	http->resolve = list;
	if (curl_easy_setopt(http->easy, CURLOPT_RESOLVE, http->resolve) != CURLE_OK) {
		probe_fail(obs, PROBE_INTERNAL, "curl refused the resolved addresses");
		return -1;
	}
	return 0;
}

/*
 * A short reason for people: curl's error buffer, else its generic text. The
 * URL curl knows has no userinfo, but its query may hold a token: a message
 * that quotes the query (or, by any path, the password) is not used.
 */
static const char *http_reason(const struct http_probe *http, CURLcode code)
{
	if (http->errbuf[0] == '\0')
		return curl_easy_strerror(code);
	if (http->query[0] != '\0' && strstr(http->errbuf, http->query) != NULL)
		return curl_easy_strerror(code);
	if (http->password[0] != '\0' && strstr(http->errbuf, http->password) != NULL)
		return curl_easy_strerror(code);
	return http->errbuf;
}

/* Map a failed transfer to an outcome. */
static void http_fail(struct http_probe *http, CURLcode code, struct probe_observation *obs)
{
	long os_errno = 0;

	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		probe_fail(obs, PROBE_DNS, "%s", http_reason(http, code));
		return;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(http->easy, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ECONNREFUSED)
			probe_fail(obs, PROBE_REFUSED, "%s", http_reason(http, code));
		else if (os_errno == ETIMEDOUT)
			probe_fail(obs, PROBE_TIMEOUT, "%s", http_reason(http, code));
		else
			probe_fail(obs, PROBE_NETWORK, "%s", http_reason(http, code));
		return;
	case CURLE_OPERATION_TIMEDOUT:
		probe_fail(obs, PROBE_TIMEOUT, "%s", http_reason(http, code));
		return;
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
	case CURLE_USE_SSL_FAILED:
		probe_fail(obs, PROBE_TLS, "%s", http_reason(http, code));
		return;
	case CURLE_LOGIN_DENIED: probe_fail(obs, PROBE_AUTH, "%s", http_reason(http, code)); return;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_TOO_MANY_REDIRECTS:
		probe_fail(obs, PROBE_BAD_REPLY, "%s", http_reason(http, code));
		return;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
		probe_fail(obs, PROBE_INTERNAL, "%s", http_reason(http, code));
		return;
	default:
		/* RECV_ERROR, SEND_ERROR, GOT_NOTHING, PARTIAL_FILE, HTTP2... */
		probe_fail(obs, PROBE_NETWORK, "%s", http_reason(http, code));
		return;
	}
}

/* Judge a finished (or cut) transfer by its status. */
static void http_judge_status(struct http_probe *http, struct probe_observation *obs)
{
	long status = 0;

	curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &status);
	obs->http_status = (int)status;
	if (status >= http->status_min && status <= http->status_max) {
		obs->outcome = PROBE_OK;
		obs->detail[0] = '\0';
		return;
	}
	if (http->status_min == http->status_max)
		probe_fail(obs, PROBE_HTTP_STATUS, "HTTP %ld (want %d)", status, http->status_min);
	else
		probe_fail(obs, PROBE_HTTP_STATUS, "HTTP %ld (want %d-%d)", status,
		           http->status_min, http->status_max);
}

static void http_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct http_probe *http = ctx;
	int64_t started = clock_mono_ms();
	bool finished = false;
	CURLcode result = CURLE_OK;
	int running = 1;
	int left;

	left = clock_ms_until(deadline_mono_ms);
	if (left == 0) {
		probe_fail(obs, PROBE_TIMEOUT, "no time left");
		return;
	}
	if (!http->host_is_literal && http_resolve(http, deadline_mono_ms, obs) != 0)
		return;
	left = clock_ms_until(deadline_mono_ms);
	if (left == 0) {
		probe_fail(obs, PROBE_TIMEOUT, "no time left after resolving");
		return;
	}
	http->errbuf[0] = '\0';
	http->body_bytes = 0;
	http->body_too_long = false;
	/* curl's own clock only as a second line (a little later than ours):
	 * the loop below ends the run at the deadline. */
	curl_easy_setopt(http->easy, CURLOPT_TIMEOUT_MS, (long)left + 100);
	curl_easy_setopt(http->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)left + 100);
	if (curl_multi_add_handle(http->multi, http->easy) != CURLM_OK) {
		probe_fail(obs, PROBE_INTERNAL, "curl_multi_add_handle failed");
		return;
	}
	for (;;) {
		CURLMcode mc = curl_multi_perform(http->multi, &running);
		CURLMsg *msg;
		int queued;

		if (mc != CURLM_OK) {
			probe_fail(obs, PROBE_INTERNAL, "curl: %s", curl_multi_strerror(mc));
			goto out;
		}
		while ((msg = curl_multi_info_read(http->multi, &queued)) != NULL) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == http->easy) {
				finished = true;
				result = msg->data.result;
			}
		}
		if (finished || running == 0)
			break;
		left = clock_ms_until(deadline_mono_ms);
		if (left == 0)
			break;
		mc = curl_multi_poll(http->multi, NULL, 0, left, NULL);
		if (mc != CURLM_OK) {
			probe_fail(obs, PROBE_INTERNAL, "curl: %s", curl_multi_strerror(mc));
			goto out;
		}
	}
	if (!finished) {
		probe_fail(obs, PROBE_TIMEOUT, "no complete answer within %lld ms",
		           (long long)(clock_mono_ms() - started));
		goto out;
	}
	if (result == CURLE_OK || (result == CURLE_WRITE_ERROR && http->body_too_long))
		http_judge_status(http, obs);
	else
		http_fail(http, result, obs);
out:
	/* An unfinished transfer closes its connection here; a finished one
	 * leaves it in the multi handle's cache for the next run. */
	curl_multi_remove_handle(http->multi, http->easy);
}

const struct probe_ops probe_http_ops = {
        .kind = PROBE_KIND_HTTP,
        .validate = http_validate,
        .create = http_create,
        .run = http_run,
        .destroy = http_destroy,
};
