/*
 * check.c - `warden check [URL]`: one GET with a deadline, for ECS healthCheck.
 */
#include "agent/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "lib/clock.h"
#include "net/curl_deadline.h"

int check_run(const char *url, int64_t timeout_ms)
{
	struct wd_err err = {0};
	struct curl_deadline *client = curl_deadline_new(&err);
	struct curl_deadline_request req = {.url = url, .method = "GET", .discard_max = 64 * 1024};
	struct curl_deadline_result result;
	int rc = 1;

	if (client == NULL) {
		fprintf(stderr, "warden check: %s\n", err.msg);
		return 1;
	}
	if (curl_deadline_perform(client, &req, clock_mono_ms() + timeout_ms, &result) != NET_OK) {
		fprintf(stderr, "warden check: %s: %s\n", url, result.detail);
		goto out;
	}
	if (result.http_status < 200 || result.http_status > 299) {
		fprintf(stderr, "warden check: %s: HTTP %d\n", url, result.http_status);
		goto out;
	}
	rc = 0;
out:
	curl_deadline_free(client);
	return rc;
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
