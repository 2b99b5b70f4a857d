/*
 * check.c - `warden check [URL]`: one GET with a deadline, for ECS healthCheck.
 */
#include "agent/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/config.h"

static size_t discard(char *data, size_t size, size_t nmemb, void *user)
{
	(void)data;
	(void)user;
	return size * nmemb;
}

int check_run(const char *url, int64_t timeout_ms)
{
	CURL *curl = curl_easy_init();
	char error[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	int result = 1;

	if (curl == NULL) {
		fprintf(stderr, "warden check: out of memory\n");
		return 1;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		fprintf(stderr, "warden check: %s: %s\n", url,
		        error[0] ? error : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		fprintf(stderr, "warden check: %s: HTTP %ld\n", url, status);
		goto out;
	}
	result = 0;
out:
	curl_easy_cleanup(curl);
	return result;
}

int check_default_url(char *const *envp, char *url, size_t size, struct wd_err *err)
{
	struct wd_config *cfg = malloc(sizeof(*cfg));
	const char *host;
	int rc;

	if (cfg == NULL)
		return wd_err_set(err, -ENOMEM, "out of memory");
	rc = config_load(cfg, envp, err);
	if (rc < 0)
		goto out;
	host = cfg->listen_host;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if ((size_t)snprintf(url, size,
	                     strchr(host, ':') ? "http://[%s]:%d/livez" : "http://%s:%d/livez",
	                     host, cfg->listen_port) >= size)
		rc = wd_err_set(err, -ENAMETOOLONG, "listen address too long for a URL");
out:
	free(cfg);
	return rc;
}
