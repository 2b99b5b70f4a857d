/*
 * config.c - warden's configuration, pgbouncer style: one table of settings
 * (env name, JSON key, type, default, bounds, field) drives the defaults, the
 * WARDEN_CONFIG JSON file, the environment and the JSON printout alike.
 * This module holds the table, the setters and the loading; the environment
 * is read in config_env.c, the file in config_json.c, the printout is
 * config_print.c (shared internals: config_internal.h).
 *
 * Load order: the table's defaults, then the file, then the environment (so
 * the environment wins); every value goes through the same setter whatever
 * its source. Probes come from WARDEN_PROBE_<NAME>=<uri>#<options> and from
 * the file's "probes" object; both set options through
 * probe_config_set_option. Validation runs once, at the end.
 */
#include "agent/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/config_internal.h"
#include "agent/render.h"
#include "aws/aws.h"
#include "lib/duration.h"
#include "lib/file.h"
#include "lib/text.h"
#include "fencing/fence.h"
#include "probes/spec.h"
#include "net/uri.h"

/* Digits only, value in [min, max]. Returns 0 or -EINVAL. */
static int config_parse_integer(const char *text, int64_t min, int64_t max, int64_t *out)
{
	int64_t value = 0;

	if (text[0] == '\0')
		return -EINVAL;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		value = value * 10 + (*p - '0');
		if (value > max)
			return -EINVAL;
	}
	if (value < min)
		return -EINVAL;
	*out = value;
	return 0;
}

/*
 * Read the regular file at path, at most max bytes, into a malloc'd buffer
 * (NUL-terminated; *len without the NUL). Returns 0, -errno for an
 * unreadable file, or -EINVAL (not a regular file, too large), with err.
 * Never blocks on a FIFO or a device: those are refused. quote_path: err
 * quotes the path; false for a secret's file, whose "path" may be the secret
 * itself put in the wrong variable (err then says "the file").
 */
static int config_read_file(const char *path, bool quote_path, size_t max, char **out, size_t *len,
                            struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 8];
	char *buf = NULL;
	size_t used = 0;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if (quote_path) {
		char path_quoted[WD_QUOTE_MAX + 4];

		wd_err_quote(path, path_quoted, sizeof(path_quoted));
		snprintf(quoted, sizeof(quoted), "'%s'", path_quoted);
	} else {
		snprintf(quoted, sizeof(quoted), "the file");
	}
	buf = malloc(max + 1);
	if (buf == NULL)
		return wd_err_set(err, -ENOMEM, "out of memory reading %s", quoted);
	rc = file_read_small(path, quoted, buf, max + 1, &used, err);
	if (rc == -EFBIG) { /* too large: a bad value, as a non-regular file is */
		rc = -EINVAL;
		if (err != NULL)
			err->code = rc;
	}
	if (rc != 0)
		goto out;
	*out = buf;
	*len = used;
	buf = NULL;
out:
	if (buf != NULL) {
		explicit_bzero(buf, max + 1);
		free(buf);
	}
	return rc;
}

/* Set a probe's password from [text, text+len). Never quotes it. */
int config_set_password(struct probe_config *probe, const char *text, size_t len,
                        struct wd_err *err)
{
	if (len == 0)
		return wd_err_set(err, -EINVAL, "empty password");
	if (len > WD_SECRET_MAX)
		return wd_err_set(err, -EINVAL, "password longer than %d bytes", WD_SECRET_MAX);
	if (memchr(text, '\0', len) != NULL)
		return wd_err_set(err, -EINVAL, "password holds a NUL byte");
	memcpy(probe->password, text, len);
	probe->password[len] = '\0';
	return 0;
}

/* Read a probe's password from a file: one trailing newline stripped. The path is never quoted. */
int config_read_password(struct probe_config *probe, const char *path, struct wd_err *err)
{
	char *secret = NULL;
	size_t len = 0;
	int rc;

	if (path[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty file name");
	rc = config_read_file(path, false, WD_SECRET_MAX + 1, &secret, &len, err);
	if (rc < 0)
		return rc;
	if (len > 0 && secret[len - 1] == '\n')
		len--;
	rc = config_set_password(probe, secret, len, err);
	if (rc < 0)
		wd_err_prefix(err, "the file");
	explicit_bzero(secret, WD_SECRET_MAX + 1);
	free(secret);
	return rc;
}

/* ---- settings ---------------------------------------------------------- */

/* Set a secret setting from [text, text+len). Never quotes it. */
static int config_set_secret(char *field, const struct setting *row, const char *text, size_t len,
                             struct wd_err *err);
static int config_read_secret(char *field, const struct setting *row, const char *path,
                              struct wd_err *err);

/* ---- the listener ------------------------------------------------------- */

static int config_parse_port(const char *text, int *port)
{
	int64_t value;

	if (strlen(text) > 5 || config_parse_integer(text, 1, 65535, &value) < 0)
		return -EINVAL;
	*port = (int)value;
	return 0;
}

static bool config_is_host_name(const char *host)
{
	if (host[0] == '\0' || host[0] == '-' || host[0] == '.')
		return false;
	for (const char *p = host; *p != '\0'; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

int config_parse_listen(const char *text, char *host, size_t host_size, int *port,
                        struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	char host_text[WD_LISTEN_MAX + 1];
	const char *port_text;
	size_t len;

	if (host_size > 0)
		host[0] = '\0';
	*port = 0;
	if (text == NULL || text[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty listen address (%s)", CONFIG_LISTEN_HINT);
	wd_err_quote(text, quoted, sizeof(quoted));
	len = strnlen(text, WD_LISTEN_MAX + 1);
	if (len > WD_LISTEN_MAX)
		return wd_err_set(err, -EINVAL, "listen address '%s' longer than %d bytes", quoted,
		                  WD_LISTEN_MAX);
	if (strspn(text, "0123456789") == len) {
		snprintf(host_text, sizeof(host_text), "0.0.0.0");
		port_text = text;
	} else if (text[0] == '[') {
		unsigned char bin[16];
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return wd_err_set(err, -EINVAL, "bad listen address '%s' (%s)", quoted,
			                  CONFIG_LISTEN_HINT);
		memcpy(host_text, text + 1, (size_t)(close - text - 1));
		host_text[close - text - 1] = '\0';
		if (inet_pton(AF_INET6, host_text, bin) != 1)
			return wd_err_set(err, -EINVAL, "bad IPv6 address in '%s'", quoted);
		port_text = close + 2;
	} else {
		const char *colon = strrchr(text, ':');

		if (colon == NULL)
			return wd_err_set(err, -EINVAL, "listen address '%s' has no port (%s)",
			                  quoted, CONFIG_LISTEN_HINT);
		if (memchr(text, ':', (size_t)(colon - text)) != NULL)
			return wd_err_set(err, -EINVAL,
			                  "listen address '%s': put an IPv6 address in brackets "
			                  "([::]:8089)",
			                  quoted);
		if (colon == text)
			return wd_err_set(err, -EINVAL,
			                  "listen address '%s' has no host (use 0.0.0.0:PORT or "
			                  "just PORT)",
			                  quoted);
		memcpy(host_text, text, (size_t)(colon - text));
		host_text[colon - text] = '\0';
		if (!config_is_host_name(host_text))
			return wd_err_set(err, -EINVAL, "bad host in listen address '%s'", quoted);
		port_text = colon + 1;
	}
	if (config_parse_port(port_text, port) < 0)
		return wd_err_set(err, -EINVAL, "bad port in listen address '%s' (want 1..65535)",
		                  quoted);
	if (strlen(host_text) > WD_HOST_MAX || strlen(host_text) >= host_size)
		return wd_err_set(err, -EINVAL, "host in listen address '%s' is too long", quoted);
	memcpy(host, host_text, strlen(host_text) + 1);
	return 0;
}

/* ---- the table ---------------------------------------------------------- */

const char *expose_details_str(enum expose_details expose)
{
	switch (expose) {
	case EXPOSE_LOOPBACK: return "loopback";
	case EXPOSE_ALWAYS: return "always";
	case EXPOSE_NEVER: return "never";
	}
	return "unknown";
}

const struct setting config_settings[] = {
        {"WARDEN_CONFIG", NULL, SETTING_PATH, NULL, 0, 0, offsetof(struct wd_config, config_file),
         NULL},
        {"WARDEN_LISTEN", "listen", SETTING_LISTEN, "0.0.0.0:8089", 0, 0,
         offsetof(struct wd_config, listen), NULL},
        {"WARDEN_LOG_LEVEL", "log_level", SETTING_LOG_LEVEL, "info", 0, 0,
         offsetof(struct wd_config, log_level), NULL},
        {"WARDEN_DRAIN_SECONDS", "drain_seconds", SETTING_SECONDS, "10", 0, 3600,
         offsetof(struct wd_config, drain_ms), NULL},
        {"WARDEN_EXPOSE_DETAILS", "expose_details", SETTING_EXPOSE, "loopback", 0, 0,
         offsetof(struct wd_config, expose_details), NULL},
        {"WARDEN_HTTP_THREADS", "http_threads", SETTING_UNSIGNED, "2", 1, 64,
         offsetof(struct wd_config, http_threads), NULL},
        {"WARDEN_HTTP_MAX_CONNECTIONS", "http_max_connections", SETTING_UNSIGNED, "1024", 16,
         100000, offsetof(struct wd_config, http_max_connections), NULL},
        {"WARDEN_HTTP_MAX_CONNECTIONS_PER_IP", "http_max_connections_per_ip", SETTING_UNSIGNED,
         "128", 0, 100000, offsetof(struct wd_config, http_max_connections_per_ip), NULL},
        {"WARDEN_HTTP_IDLE_TIMEOUT", "http_idle_timeout", SETTING_DURATION_S, "10s", 1000,
         3600 * 1000, offsetof(struct wd_config, http_idle_timeout_ms), NULL},
        {"WARDEN_HTTP_HEADER_TIMEOUT", "http_header_timeout", SETTING_DURATION, "10s", 100,
         600 * 1000, offsetof(struct wd_config, http_header_timeout_ms), NULL},
        {"WARDEN_FLAG", "flag", SETTING_FLAG, NULL, 0, 0, offsetof(struct wd_config, flags), NULL},
        {"WARDEN_FLAG_INTERVAL", "flag_interval", SETTING_DURATION, "5s", 100, 3600 * 1000,
         offsetof(struct wd_config, flag_interval_ms), NULL},
        {"WARDEN_FLAG_TIMEOUT", "flag_timeout", SETTING_DURATION, "2s", 100, 60 * 1000,
         offsetof(struct wd_config, flag_timeout_ms), NULL},
        {"WARDEN_FLAG_TTL", "flag_ttl", SETTING_DURATION, "30s", 1000, 3600 * 1000,
         offsetof(struct wd_config, flag_ttl_ms), NULL},
        {"WARDEN_ON_STALE", "on_stale", SETTING_ON_STALE, "fence", 0, 0,
         offsetof(struct wd_config, on_stale_hold), NULL},
        {"WARDEN_FLAG_QUORUM", "flag_quorum", SETTING_NAME, "majority", 0, FENCE_QUORUM_TEXT_MAX,
         offsetof(struct wd_config, flag_quorum), NULL},
        {"WARDEN_SPLIT_BRAIN_AFTER", "split_brain_after", SETTING_DURATION, NULL, 1000,
         24 * 3600 * 1000, offsetof(struct wd_config, split_brain_after_ms), NULL},
        {"WARDEN_ADMIN_TOKEN", "admin_token", SETTING_SECRET, NULL, CONFIG_ADMIN_TOKEN_MIN,
         WD_SECRET_MAX, offsetof(struct wd_config, admin_token), "WARDEN_ADMIN_TOKEN_FILE"},
        {"WARDEN_ADMIN_TOKEN_FILE", "admin_token_file", SETTING_SECRET_FILE, NULL,
         CONFIG_ADMIN_TOKEN_MIN, WD_SECRET_MAX, offsetof(struct wd_config, admin_token),
         "WARDEN_ADMIN_TOKEN"},
        {"WARDEN_FENCE_FILE", "fence_file", SETTING_PATH, NULL, 0, 0,
         offsetof(struct wd_config, fence_file), NULL},
        {"WARDEN_PROXY_LISTEN", "proxy_listen", SETTING_PROXY_LISTEN, NULL, 0, 0,
         offsetof(struct wd_config, proxy_listen), NULL},
        {"WARDEN_PROXY_UPSTREAM", "proxy_upstream", SETTING_UPSTREAM, NULL, 0, 0,
         offsetof(struct wd_config, proxy_upstream), NULL},
        {"WARDEN_PROXY_ALLOW_WHEN_FENCED", "proxy_allow_when_fenced", SETTING_PREFIXES, NULL, 0, 0,
         offsetof(struct wd_config, proxy.allow_when_fenced), NULL},
        {"WARDEN_PROXY_TIMEOUT", "proxy_timeout", SETTING_DURATION, "60s", 100, 3600 * 1000,
         offsetof(struct wd_config, proxy.upstream_timeout_ms), NULL},
        {"WARDEN_PROXY_IDLE_TIMEOUT", "proxy_idle_timeout", SETTING_DURATION, "75s", 1000,
         3600 * 1000, offsetof(struct wd_config, proxy.idle_timeout_ms), NULL},
        {"WARDEN_PROXY_HEADER_TIMEOUT", "proxy_header_timeout", SETTING_DURATION, "10s", 100,
         600 * 1000, offsetof(struct wd_config, proxy.header_timeout_ms), NULL},
        {"WARDEN_PROXY_THREADS", "proxy_threads", SETTING_UNSIGNED, "2", 1, 64,
         offsetof(struct wd_config, proxy.threads), NULL},
        {"WARDEN_PROXY_MAX_CONNECTIONS", "proxy_max_connections", SETTING_UNSIGNED, "4096", 16,
         1000000, offsetof(struct wd_config, proxy.max_connections), NULL},
        {"WARDEN_PROXY_MAX_HEADER_BYTES", "proxy_max_header_bytes", SETTING_SIZE, "16384", 1024,
         1 << 20, offsetof(struct wd_config, proxy.max_header_bytes), NULL},
        {"WARDEN_PROXY_MAX_HEADERS", "proxy_max_headers", SETTING_UNSIGNED, "100", 8, 1000,
         offsetof(struct wd_config, proxy.max_headers), NULL},
        {"WARDEN_PROXY_RETRY_AFTER", "proxy_retry_after", SETTING_INT, "5", 0, 3600,
         offsetof(struct wd_config, proxy.retry_after_s), NULL},
        {"WARDEN_SINGLETON", "singleton", SETTING_NAME, NULL, 0, LEASE_NAME_MAX,
         offsetof(struct wd_config, singleton), NULL},
        {"WARDEN_SINGLETON_TTL", "singleton_ttl", SETTING_DURATION, "15s", 3000, 600 * 1000,
         offsetof(struct wd_config, singleton_ttl_ms), NULL},
        {"WARDEN_SINGLETON_PROBE", "singleton_probe", SETTING_NAME, NULL, 0, WD_PROBE_NAME_MAX,
         offsetof(struct wd_config, singleton_probe), NULL},
        {"WARDEN_EMF", "emf", SETTING_ON_OFF, "off", 0, 0, offsetof(struct wd_config, emf), NULL},
        {"WARDEN_EMF_INTERVAL", "emf_interval", SETTING_DURATION_S, "60s", 1000, 3600 * 1000,
         offsetof(struct wd_config, emf_interval_ms), NULL},
};

const size_t config_setting_count = sizeof(config_settings) / sizeof(config_settings[0]);

_Static_assert(sizeof(config_settings) / sizeof(config_settings[0]) <= CONFIG_SETTINGS_MAX,
               "CONFIG_SETTINGS_MAX is too small for the settings table");

static const char *const expose_names[] = {
        [EXPOSE_LOOPBACK] = "loopback",
        [EXPOSE_ALWAYS] = "always",
        [EXPOSE_NEVER] = "never",
};

static int config_set_secret(char *field, const struct setting *row, const char *text, size_t len,
                             struct wd_err *err)
{
	if (len < (size_t)row->min)
		return wd_err_set(err, -EINVAL, "shorter than %lld characters",
		                  (long long)row->min);
	if (len > (size_t)row->max)
		return wd_err_set(err, -EINVAL, "longer than %lld bytes", (long long)row->max);
	if (memchr(text, '\0', len) != NULL)
		return wd_err_set(err, -EINVAL, "holds a NUL byte");
	memcpy(field, text, len);
	field[len] = '\0';
	return 0;
}

static int config_read_secret(char *field, const struct setting *row, const char *path,
                              struct wd_err *err)
{
	char *secret = NULL;
	size_t len = 0;
	int rc;

	if (path[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty file name");
	rc = config_read_file(path, false, (size_t)row->max + 1, &secret, &len, err);
	if (rc < 0)
		return rc;
	if (len > 0 && secret[len - 1] == '\n')
		len--;
	rc = config_set_secret(field, row, secret, len, err);
	if (rc < 0)
		wd_err_prefix(err, "the file");
	explicit_bzero(secret, (size_t)row->max + 1);
	free(secret);
	return rc;
}

/* WARDEN_PROXY_UPSTREAM: http://host:port, nothing else (the app, next door). */
static int config_set_upstream(struct wd_config *cfg, const char *text, struct wd_err *err)
{
	struct wd_uri uri;

	if (strlen(text) >= sizeof(cfg->proxy_upstream))
		return wd_err_set(err, -EINVAL, "longer than %d bytes", WD_URI_MAX);
	if (uri_parse(text, &uri, err) < 0)
		return -EINVAL;
	if (strcmp(uri.scheme, "http") != 0)
		return wd_err_set(err, -EINVAL,
		                  "want http://host:port (the app; TLS ends at the ALB)");
	if (uri.user[0] != '\0' || uri.has_password || uri.query[0] != '\0' ||
	    (uri.path[0] != '\0' && strcmp(uri.path, "/") != 0))
		return wd_err_set(err, -EINVAL,
		                  "want http://host:port, without a path, query or user");
	snprintf(cfg->proxy.upstream_host, sizeof(cfg->proxy.upstream_host), "%s", uri.host);
	cfg->proxy.upstream_port = uri.port ? uri.port : 80;
	memcpy(cfg->proxy_upstream, text, strlen(text) + 1);
	return 0;
}

/*
 * Set one setting from its text form, whatever the source. Returns 0 or
 * -EINVAL with err (without the setting's name: the caller adds it).
 */
int config_setting_apply(struct wd_config *cfg, const struct setting *row, const char *text,
                         struct wd_err *err)
{
	char *field = (char *)cfg + row->offset;
	char quoted[WD_QUOTE_MAX + 4];
	int64_t value;
	int rc;

	wd_err_quote(text, quoted, sizeof(quoted));
	switch (row->type) {
	case SETTING_PATH:
		if (text[0] == '\0')
			return wd_err_set(err, -EINVAL, "empty file name");
		if (strlen(text) > WD_PATH_MAX)
			return wd_err_set(err, -EINVAL, "file name longer than %d bytes",
			                  WD_PATH_MAX);
		memcpy(field, text, strlen(text) + 1);
		return 0;
	case SETTING_LISTEN:
		rc = config_parse_listen(text, cfg->listen_host, sizeof(cfg->listen_host),
		                         &cfg->listen_port, err);
		if (rc < 0)
			return rc;
		snprintf(cfg->listen, sizeof(cfg->listen),
		         strchr(cfg->listen_host, ':') ? "[%s]:%d" : "%s:%d", cfg->listen_host,
		         cfg->listen_port);
		return 0;
	case SETTING_LOG_LEVEL:
		if (log_level_parse(text, &cfg->log_level) < 0)
			return wd_err_set(err, -EINVAL,
			                  "bad log level '%s' (want debug, info, warn or error)",
			                  quoted);
		return 0;
	case SETTING_EXPOSE:
		for (size_t i = 0; i < sizeof(expose_names) / sizeof(expose_names[0]); i++) {
			if (strcmp(text, expose_names[i]) == 0) {
				cfg->expose_details = (enum expose_details)i;
				return 0;
			}
		}
		return wd_err_set(err, -EINVAL, "bad value '%s' (want loopback, always or never)",
		                  quoted);
	case SETTING_SECONDS:
		if (config_parse_integer(text, row->min, row->max, &value) < 0)
			return wd_err_set(err, -EINVAL,
			                  "want an integer of seconds from %lld to %lld, got '%s'",
			                  (long long)row->min, (long long)row->max, quoted);
		*(int64_t *)(void *)field = value * 1000;
		return 0;
	case SETTING_UNSIGNED:
		if (config_parse_integer(text, row->min, row->max, &value) < 0)
			return wd_err_set(err, -EINVAL,
			                  "want an integer from %lld to %lld, got '%s'",
			                  (long long)row->min, (long long)row->max, quoted);
		*(unsigned *)(void *)field = (unsigned)value;
		return 0;
	case SETTING_DURATION_S:
	case SETTING_DURATION:
		rc = duration_parse(text, &value, err);
		if (rc < 0)
			return rc;
		if (row->type == SETTING_DURATION_S && value % 1000 != 0)
			return wd_err_set(err, -EINVAL, "'%s' is not a whole number of seconds",
			                  quoted);
		if (value < row->min || value > row->max) {
			char min[32];
			char max[32];

			duration_format(row->min, min, sizeof(min));
			duration_format(row->max, max, sizeof(max));
			return wd_err_set(err, -EINVAL, "'%s' out of range (want %s to %s)", quoted,
			                  min, max);
		}
		*(int64_t *)(void *)field = value;
		return 0;
	case SETTING_FLAG:
		rc = flag_source_parse_list(text, cfg->flags, err);
		if (rc < 0)
			return rc;
		cfg->flag_count = (size_t)rc;
		return 0;
	case SETTING_ON_STALE:
		if (strcmp(text, "fence") != 0 && strcmp(text, "hold") != 0)
			return wd_err_set(err, -EINVAL, "bad value '%s' (want fence or hold)",
			                  quoted);
		cfg->on_stale_hold = strcmp(text, "hold") == 0;
		return 0;
	case SETTING_ON_OFF:
		if (strcmp(text, "on") != 0 && strcmp(text, "off") != 0)
			return wd_err_set(err, -EINVAL, "bad value '%s' (want on or off)", quoted);
		*(bool *)(void *)field = strcmp(text, "on") == 0;
		return 0;
	case SETTING_SECRET: return config_set_secret(field, row, text, strlen(text), err);
	case SETTING_SECRET_FILE: return config_read_secret(field, row, text, err);
	case SETTING_PROXY_LISTEN:
		rc = config_parse_listen(text, cfg->proxy.listen_host,
		                         sizeof(cfg->proxy.listen_host), &cfg->proxy.listen_port,
		                         err);
		if (rc < 0)
			return rc;
		snprintf(cfg->proxy_listen, sizeof(cfg->proxy_listen),
		         strchr(cfg->proxy.listen_host, ':') ? "[%s]:%d" : "%s:%d",
		         cfg->proxy.listen_host, cfg->proxy.listen_port);
		return 0;
	case SETTING_UPSTREAM: return config_set_upstream(cfg, text, err);
	case SETTING_PREFIXES: return proxy_config_set_allow(&cfg->proxy, text, err);
	case SETTING_INT:
	case SETTING_SIZE:
		if (config_parse_integer(text, row->min, row->max, &value) < 0)
			return wd_err_set(err, -EINVAL,
			                  "want an integer from %lld to %lld, got '%s'",
			                  (long long)row->min, (long long)row->max, quoted);
		if (row->type == SETTING_INT)
			*(int64_t *)(void *)field = value;
		else
			*(size_t *)(void *)field = (size_t)value;
		return 0;
	case SETTING_NAME:
		if (text[0] == '\0' || strlen(text) > (size_t)row->max ||
		    strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(text))
			return wd_err_set(err, -EINVAL,
			                  "bad name '%s' (want 1 to %lld of a-z 0-9 _ -)", quoted,
			                  (long long)row->max);
		memcpy(field, text, strlen(text) + 1);
		return 0;
	}
	return wd_err_set(err, -EINVAL, "internal error: bad setting type");
}

/*
 * Two rows that set one field (a secret and its _FILE form) may not both be
 * given by one source. set[] says which rows the source gave.
 */
int config_check_twins(const bool *set, bool json, struct wd_err *err)
{
	for (size_t s = 0; s < config_setting_count; s++) {
		if (!set[s] || config_settings[s].twin == NULL)
			continue;
		for (size_t t = s + 1; t < config_setting_count; t++) {
			if (set[t] && strcmp(config_settings[t].env, config_settings[s].twin) == 0)
				return wd_err_set(
				        err, -EINVAL, "%s and %s are both set: use one",
				        json ? config_settings[s].key : config_settings[s].env,
				        json ? config_settings[t].key : config_settings[t].env);
		}
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

struct probe_config *config_find_probe(struct wd_config *cfg, const char *name)
{
	ssize_t i = probe_config_index(cfg->probes, cfg->probe_count, name);

	return i < 0 ? NULL : &cfg->probes[i];
}

static int config_compare_probes(const void *a, const void *b)
{
	return strcmp(((const struct probe_config *)a)->name,
	              ((const struct probe_config *)b)->name);
}

/* The singleton's database: the named postgres probe, or the only one. */
static int config_pick_singleton_probe(struct wd_config *cfg, struct wd_err *err)
{
	const struct probe_config *found = NULL;
	size_t postgres = 0;

	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (cfg->probes[i].kind != PROBE_KIND_POSTGRES)
			continue;
		postgres++;
		if (cfg->singleton_probe[0] == '\0' ||
		    strcmp(cfg->singleton_probe, cfg->probes[i].name) == 0)
			found = &cfg->probes[i];
	}
	if (cfg->singleton_probe[0] != '\0' && found == NULL)
		return wd_err_set(err, -EINVAL,
		                  "WARDEN_SINGLETON_PROBE: no postgres probe named '%s'",
		                  cfg->singleton_probe);
	if (cfg->singleton_probe[0] == '\0' && postgres != 1)
		return wd_err_set(err, -EINVAL,
		                  "WARDEN_SINGLETON needs a postgres probe: %s (name it in "
		                  "WARDEN_SINGLETON_PROBE)",
		                  postgres == 0 ? "there is none" : "there are several");
	snprintf(cfg->singleton_probe, sizeof(cfg->singleton_probe), "%s", found->name);
	/* A renewal every ttl/3 must fit in ttl/3, or the lease lapses while renewing. */
	if (cfg->singleton_ttl_ms < 3 * found->timeout_ms)
		return wd_err_set(err, -EINVAL,
		                  "WARDEN_SINGLETON_TTL must be at least 3 x the timeout of probe "
		                  "%s (%lldms < 3 x %lldms)",
		                  found->name, (long long)cfg->singleton_ttl_ms,
		                  (long long)found->timeout_ms);
	return 0;
}

/*
 * With a flag, this task's region must be knowable: AWS_REGION (else
 * AWS_DEFAULT_REGION) of a real region's shape, or ECS task metadata to ask
 * at run time. The same check serve's flag readers make, made here so that
 * `warden config` and every other command agree with `serve`.
 */
static int config_validate_region(char *const *envp, struct wd_err *err)
{
	const char *const *env = (const char *const *)envp;
	char region[FLAG_REGION_MAX + 1];
	int rc = aws_region_from_env(env, region, err);

	if (rc == 0)
		return 0;
	if (rc != -ENOENT)
		return -EINVAL; /* err names the variable */
	if (aws_env_get(env, "ECS_CONTAINER_METADATA_URI_V4") != NULL)
		return 0;
	return wd_err_set(err, -EINVAL,
	                  "WARDEN_FLAG needs this task's region: set AWS_REGION (on ECS, task "
	                  "metadata gives it)");
}

/* The cross-setting rules of fencing (DESIGN.md, "The flag", "Effectors"). */
static int config_validate_fencing(struct wd_config *cfg, char *const *envp, struct wd_err *err)
{
	int64_t cycle = cfg->flag_interval_ms + 2 * cfg->flag_timeout_ms;

	if (cfg->proxy_listen[0] != '\0' || cfg->proxy_upstream[0] != '\0') {
		if (cfg->proxy_listen[0] == '\0' || cfg->proxy_upstream[0] == '\0')
			return wd_err_set(err, -EINVAL,
			                  "WARDEN_PROXY_LISTEN and WARDEN_PROXY_UPSTREAM "
			                  "go together");
		if (cfg->flag_count == 0)
			return wd_err_set(
			        err, -EINVAL,
			        "WARDEN_PROXY_LISTEN needs WARDEN_FLAG (a proxy without a "
			        "flag could never let a write through)");
		if (cfg->proxy.listen_port == cfg->listen_port)
			return wd_err_set(
			        err, -EINVAL,
			        "WARDEN_PROXY_LISTEN and WARDEN_LISTEN use the same port %d",
			        cfg->listen_port);
	}
	if (cfg->split_brain_after_ms == 0) /* unset: worst_case (or, with hold, ttl) + 2m */
		cfg->split_brain_after_ms = fence_split_brain_after_default(cfg->flag_ttl_ms);
	if (cfg->singleton[0] != '\0') {
		if (cfg->flag_count == 0)
			return wd_err_set(err, -EINVAL, "WARDEN_SINGLETON needs WARDEN_FLAG");
		if (config_pick_singleton_probe(cfg, err) < 0)
			return -EINVAL;
	} else if (cfg->singleton_probe[0] != '\0') {
		return wd_err_set(err, -EINVAL, "WARDEN_SINGLETON_PROBE without WARDEN_SINGLETON");
	}

	if (cycle > cfg->flag_ttl_ms) {
		char interval[32];
		char timeout[32];
		char ttl[32];

		duration_format(cfg->flag_interval_ms, interval, sizeof(interval));
		duration_format(cfg->flag_timeout_ms, timeout, sizeof(timeout));
		duration_format(cfg->flag_ttl_ms, ttl, sizeof(ttl));
		return wd_err_set(err, -EINVAL,
		                  "WARDEN_FLAG_INTERVAL + 2 x WARDEN_FLAG_TIMEOUT must be at most "
		                  "WARDEN_FLAG_TTL (%s + 2 x %s > %s)",
		                  interval, timeout, ttl);
	}
	if (cfg->flag_count > 0 && config_validate_region(envp, err) < 0)
		return -EINVAL;
	if (fence_quorum_parse(cfg->flag_quorum, cfg->flag_count, &cfg->flag_quorum_needed, err) <
	    0) {
		wd_err_prefix(err, "WARDEN_FLAG_QUORUM");
		return -EINVAL;
	}
	return 0;
}

/*
 * The one load path: defaults, the file (json_text when given, else the file
 * WARDEN_CONFIG names), the environment, then validation.
 */
static int config_load_from(struct wd_config *cfg, char *const *envp, const char *json_text,
                            size_t json_len, bool have_json_text, struct wd_err *err)
{
	bool env_set[CONFIG_SETTINGS_MAX];
	struct env_scan *scan = NULL;
	char *file_text = NULL;
	size_t file_len = 0;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t s = 0; s < config_setting_count; s++) {
		if (config_settings[s].fallback == NULL)
			continue;
		rc = config_setting_apply(cfg, &config_settings[s], config_settings[s].fallback,
		                          err);
		if (rc < 0) {
			wd_err_prefix(err, "%s: default", config_settings[s].env);
			goto out;
		}
	}
	scan = malloc(sizeof(*scan));
	if (scan == NULL) {
		rc = wd_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = config_env_scan(scan, envp, err);
	if (rc < 0)
		goto out;

	/* The file first: the environment overrides it. */
	if (scan->values[SETTING_CONFIG_FILE] != NULL) {
		rc = config_setting_apply(cfg, &config_settings[SETTING_CONFIG_FILE],
		                          scan->values[SETTING_CONFIG_FILE], err);
		if (rc < 0) {
			wd_err_prefix(err, "%s", config_settings[SETTING_CONFIG_FILE].env);
			goto out;
		}
	}
	if (!have_json_text && cfg->config_file[0] != '\0') {
		rc = config_read_file(cfg->config_file, true, WD_CONFIG_FILE_MAX, &file_text,
		                      &file_len, err);
		if (rc < 0) {
			wd_err_prefix(err, "%s", config_settings[SETTING_CONFIG_FILE].env);
			goto out;
		}
		json_text = file_text;
		json_len = file_len;
		have_json_text = true;
	}
	if (have_json_text) {
		rc = config_json_apply(cfg, json_text, json_len, err);
		if (rc < 0)
			goto out;
	}

	for (size_t s = 0; s < config_setting_count; s++)
		env_set[s] = scan->values[s] != NULL;
	rc = config_check_twins(env_set, false, err);
	if (rc < 0)
		goto out;
	for (size_t s = 0; s < config_setting_count; s++) {
		if (s == SETTING_CONFIG_FILE || scan->values[s] == NULL)
			continue;
		rc = config_setting_apply(cfg, &config_settings[s], scan->values[s], err);
		if (rc < 0) {
			wd_err_prefix(err, "%s", config_settings[s].env);
			goto out;
		}
	}
	rc = config_env_apply_probes(cfg, scan, err);
	if (rc < 0)
		goto out;

	qsort(cfg->probes, cfg->probe_count, sizeof(cfg->probes[0]), config_compare_probes);
	for (size_t i = 0; i < cfg->probe_count; i++) {
		rc = probe_config_validate(&cfg->probes[i], err);
		if (rc < 0) {
			wd_err_prefix(err, "probe %s", cfg->probes[i].name);
			goto out;
		}
	}
	rc = config_validate_fencing(cfg, envp, err);
out:
	if (file_text != NULL) {
		explicit_bzero(file_text, file_len);
		free(file_text);
	}
	free(scan);
	if (rc < 0)
		explicit_bzero(cfg, sizeof(*cfg)); /* no half-loaded secrets left behind */
	return rc;
}

int config_load(struct wd_config *cfg, char *const *envp, struct wd_err *err)
{
	return config_load_from(cfg, envp, NULL, 0, false, err);
}

int config_load_json_text(struct wd_config *cfg, const char *text, size_t len, char *const *envp,
                          struct wd_err *err)
{
	return config_load_from(cfg, envp, text, len, true, err);
}

/* ---- descriptors ---- */

unsigned long long config_fds_needed(const struct wd_config *cfg)
{
	unsigned long long proxy = cfg->proxy_listen[0] != '\0' ? cfg->proxy.max_connections : 0;

	return (unsigned long long)cfg->http_max_connections + 2 * proxy + CONFIG_FD_RESERVE +
	       2 * (cfg->probe_count + cfg->flag_count);
}

int config_fit_fd_limit(const struct wd_config *cfg, struct wd_err *err)
{
	unsigned long long need = config_fds_needed(cfg);
	unsigned long long proxy = cfg->proxy_listen[0] != '\0' ? cfg->proxy.max_connections : 0;
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
		return wd_err_set(err, -errno, "cannot read RLIMIT_NOFILE: %s", strerror(errno));
	if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < need &&
	    limit.rlim_cur < limit.rlim_max) {
		/* Take the hard limit: probes and files want headroom too. */
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit) < 0 || getrlimit(RLIMIT_NOFILE, &limit) < 0)
			return wd_err_set(err, -errno, "cannot raise RLIMIT_NOFILE: %s",
			                  strerror(errno));
	}
	if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < need)
		return wd_err_set(
		        err, -EMFILE,
		        "WARDEN_HTTP_MAX_CONNECTIONS (%u) + 2 x WARDEN_PROXY_MAX_CONNECTIONS "
		        "(%llu) + %llu reserved need %llu descriptors, but RLIMIT_NOFILE is "
		        "%llu (hard limit); lower the caps or raise the limit",
		        cfg->http_max_connections, proxy,
		        need - cfg->http_max_connections - 2 * proxy, need,
		        (unsigned long long)limit.rlim_cur);
	return 0;
}
