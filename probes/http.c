/*
 * http.c - the http probe: GET the target with libcurl; up when the status is
 * in the `expect` range (default 200-399).
 *
 * The request itself is net/curl_deadline.c: one easy + multi handle per
 * probe, kept across runs (a keep-alive connection is reused by the next
 * run; an unfinished transfer closes its connection), the host resolved with
 * net_resolve() within the deadline (same `dns` outcome as the other kinds)
 * and pinned with CURLOPT_RESOLVE, the run ended at the deadline.
 *
 * Credentials from the URI's userinfo (the password replaced by
 * WARDEN_PROBE_<NAME>_PASSWORD when set) go through CURLOPT_USERNAME /
 * CURLOPT_PASSWORD; the URL given to curl has no userinfo, so no curl message
 * can quote a password. No redirect is followed, no proxy is used (a health
 * probe talks to its target), TLS peers are verified against the system CA
 * store (curl_deadline's policy). The body is read and dropped, never stored: past
 * WD_HTTP_PROBE_BODY_MAX bytes the transfer stops (the status is already
 * known) and the connection is closed.
 */
#include "probes/http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/curl_deadline.h"

struct http_probe {
	struct curl_deadline *client;
	char url[WD_URI_MAX + 1];   /* scheme://host:port/path?query, no userinfo */
	char query[WD_URI_MAX + 1]; /* the URL's query, to keep it out of details */
	int status_min;
	int status_max;
	char username[sizeof(((struct wd_uri *)0)->user)];
	char password[WD_SECRET_MAX + 1];
};

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
	curl_deadline_free(http->client);
	explicit_bzero(http->password, sizeof(http->password));
	free(http);
}

static void *http_create(const struct probe_config *cfg, struct wd_err *err)
{
	const struct wd_uri *uri = &cfg->parsed;
	struct http_probe *http;

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
	snprintf(http->query, sizeof(http->query), "%s", uri->query);
	http->status_min = cfg->expect_status_min;
	http->status_max = cfg->expect_status_max;
	snprintf(http->username, sizeof(http->username), "%s", uri->user);
	snprintf(http->password, sizeof(http->password), "%s",
	         cfg->password[0] != '\0' ? cfg->password : uri->password);
	http->client = curl_deadline_new(err);
	if (http->client == NULL) {
		wd_err_prefix(err, "http probe");
		goto fail;
	}
	return http;
fail:
	http_destroy(http);
	return NULL;
}

/* Judge a response by its status. */
static void http_judge_status(const struct http_probe *http, int status,
                              struct probe_observation *obs)
{
	obs->http_status = status;
	if (status >= http->status_min && status <= http->status_max) {
		obs->outcome = PROBE_OK;
		obs->detail[0] = '\0';
		return;
	}
	if (http->status_min == http->status_max)
		probe_fail(obs, PROBE_HTTP_STATUS, "HTTP %d (want %d)", status, http->status_min);
	else
		probe_fail(obs, PROBE_HTTP_STATUS, "HTTP %d (want %d-%d)", status, http->status_min,
		           http->status_max);
}

static void http_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct http_probe *http = ctx;
	bool has_login = http->username[0] != '\0' || http->password[0] != '\0';
	/* A curl message quoting the query (it may hold a token) or the password is not used. */
	const char *hide[] = {http->query, http->password};
	struct curl_deadline_request req = {
	        .url = http->url,
	        .method = "GET",
	        .username = has_login ? http->username : NULL,
	        .password = has_login ? http->password : NULL,
	        .discard_max = WD_HTTP_PROBE_BODY_MAX, /* the status is known: cut, not fail */
	        .hide = hide,
	        .hide_count = 2,
	};
	struct curl_deadline_result result;

	if (curl_deadline_perform(http->client, &req, deadline_mono_ms, &result) != NET_OK) {
		probe_fail(obs, probe_outcome_from_net(result.outcome), "%s", result.detail);
		return;
	}
	http_judge_status(http, result.http_status, obs);
}

const struct probe_ops probe_http_ops = {
        .kind = PROBE_KIND_HTTP,
        .validate = http_validate,
        .create = http_create,
        .run = http_run,
        .destroy = http_destroy,
};
