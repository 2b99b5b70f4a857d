/*
 * config.c - warden's configuration, pgbouncer style: one table of settings
 * (env name, JSON key, type, default, bounds, field) drives the defaults, the
 * WARDEN_CONFIG JSON file, the environment and the JSON printout alike.
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

#include "agent/render.h"
#include "aws/aws.h"
#include "lib/duration.h"
#include "lib/text.h"
#include "fencing/fence.h"
#include "probes/spec.h"
#include "net/uri.h"

#define CONFIG_VAR_QUOTE_MAX        64 /* bytes of a variable name in an error */
#define CONFIG_ENV_PREFIX           "WARDEN_"
#define CONFIG_PROBE_PREFIX         "WARDEN_PROBE_"
#define CONFIG_PASSWORD_SUFFIX      "_PASSWORD"
#define CONFIG_PASSWORD_FILE_SUFFIX "_PASSWORD_FILE"
#define CONFIG_VALUE_MAX            FLAG_LIST_MAX /* a setting or option value from JSON */
#define CONFIG_ADMIN_TOKEN_MIN      16            /* characters of an admin token, at least */
#define CONFIG_LISTEN_HINT          "want host:port, [v6]:port or port"

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
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	int fd;
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
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return wd_err_set(err, -errno, "cannot open %s: %s", quoted, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = wd_err_set(err, -errno, "cannot stat %s: %s", quoted, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = wd_err_set(err, -EINVAL, "%s is not a regular file", quoted);
		goto out;
	}
	buf = malloc(max + 2);
	if (buf == NULL) {
		rc = wd_err_set(err, -ENOMEM, "out of memory reading %s", quoted);
		goto out;
	}
	while (used < max + 1) {
		ssize_t n = read(fd, buf + used, max + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wd_err_set(err, -errno, "cannot read %s: %s", quoted, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max) {
		rc = wd_err_set(err, -EINVAL, "%s is larger than %zu bytes", quoted, max);
		goto out;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	buf = NULL;
out:
	if (buf != NULL) {
		explicit_bzero(buf, max + 2);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Set a probe's password from [text, text+len). Never quotes it. */
static int config_set_password(struct probe_config *probe, const char *text, size_t len,
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
static int config_read_password(struct probe_config *probe, const char *path, struct wd_err *err)
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

struct setting;

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

enum setting_type {
	SETTING_PATH,         /* text, a file name (char[WD_PATH_MAX + 1]) */
	SETTING_LISTEN,       /* "host:port" -> listen, listen_host, listen_port */
	SETTING_LOG_LEVEL,    /* debug|info|warn|error -> enum log_level */
	SETTING_EXPOSE,       /* loopback|always|never -> enum expose_details */
	SETTING_SECONDS,      /* an integer of seconds in [min, max] -> int64_t ms */
	SETTING_UNSIGNED,     /* an integer in [min, max] -> unsigned */
	SETTING_DURATION_S,   /* a duration, whole seconds, [min, max] ms -> int64_t ms */
	SETTING_DURATION,     /* a duration, [min, max] ms -> int64_t ms */
	SETTING_FLAG,         /* a WARDEN_FLAG source list -> flags, flag_count */
	SETTING_ON_STALE,     /* fence|hold -> bool on_stale_hold */
	SETTING_SECRET,       /* a secret of at least min characters (char[WD_SECRET_MAX + 1]) */
	SETTING_SECRET_FILE,  /* the same secret, read from a file (one trailing newline dropped) */
	SETTING_PROXY_LISTEN, /* "host:port" -> proxy_listen, proxy.listen_host, proxy.listen_port
	                       */
	SETTING_UPSTREAM,     /* "http://host:port" -> proxy_upstream, proxy.upstream_* */
	SETTING_PREFIXES,     /* comma-separated path prefixes -> proxy.allow_when_fenced */
	SETTING_INT,          /* an integer in [min, max] -> int64_t */
	SETTING_SIZE,         /* an integer of bytes in [min, max] -> size_t */
	SETTING_NAME,         /* 1..max of [a-z0-9_-] (char[max + 1]) */
};

struct setting {
	const char *env; /* environment variable */
	const char *key; /* key in the WARDEN_CONFIG file; NULL: environment only */
	enum setting_type type;
	const char *fallback; /* the default, written as in the environment; NULL: none */
	int64_t min;
	int64_t max;
	size_t offset;    /* of the field in struct wd_config */
	const char *twin; /* the env name of a row setting the same field (its _FILE form) */
};

/* Row 0 is WARDEN_CONFIG: applied before the file is read. */
#define SETTING_CONFIG_FILE 0

static const struct setting settings[] = {
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
};

#define SETTING_COUNT (sizeof(settings) / sizeof(settings[0]))

/* ---- "did you mean" ------------------------------------------------------ */

#define CONFIG_SUGGEST_DISTANCE 2 /* edits at most between a typo and a known name */

/*
 * The known environment name nearest to var[0..len) (at most
 * CONFIG_SUGGEST_DISTANCE edits, case ignored) into out: a row of the
 * settings table, or WARDEN_PROBE_<rest> when var starts with a near miss
 * of WARDEN_PROBE_. False when nothing is that near.
 */
static bool config_suggest_env(const char *var, size_t len, char *out, size_t size)
{
	size_t prefix_len = strlen(CONFIG_PROBE_PREFIX);
	size_t best = CONFIG_SUGGEST_DISTANCE + 1;

	for (size_t s = 0; s < SETTING_COUNT; s++) {
		size_t d = text_edit_distance(var, len, settings[s].env, strlen(settings[s].env));

		if (d < best) {
			best = d;
			snprintf(out, size, "%s", settings[s].env);
		}
	}
	if (best <= CONFIG_SUGGEST_DISTANCE)
		return true;
	/* WARDEN_PROBES_DB, WARDEN_PORBE_DB...: a near miss of the probe prefix. */
	for (size_t cut = prefix_len - 1; cut <= prefix_len + 1 && cut < len; cut++) {
		size_t d = text_edit_distance(var, cut, CONFIG_PROBE_PREFIX, prefix_len);

		if (d > 0 && d <= 1 && var[cut - 1] == '_') {
			snprintf(out, size, "%s%.*s", CONFIG_PROBE_PREFIX, (int)(len - cut),
			         var + cut);
			for (char *p = out; *p != '\0'; p++) {
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			}
			return true;
		}
	}
	return false;
}

/* The JSON key nearest to key among the settings table's (or `extra`), or NULL. */
static const char *config_suggest_key(const char *key, const char *const *extra)
{
	const char *found = NULL;
	size_t best = CONFIG_SUGGEST_DISTANCE + 1;

	for (size_t s = 0; s < SETTING_COUNT + 8; s++) {
		const char *name = s < SETTING_COUNT ? settings[s].key : extra[s - SETTING_COUNT];
		size_t d;

		if (s >= SETTING_COUNT && name == NULL)
			break;
		if (name == NULL)
			continue;
		d = text_edit_distance(key, strlen(key), name, strlen(name));
		if (d < best) {
			best = d;
			found = name;
		}
	}
	return found;
}

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

/* How a setting is written in the JSON file. */
static enum probe_option_form setting_form(const struct setting *row)
{
	return (row->type == SETTING_SECONDS || row->type == SETTING_UNSIGNED ||
	        row->type == SETTING_INT || row->type == SETTING_SIZE)
	               ? PROBE_OPTION_INTEGER
	               : PROBE_OPTION_STRING;
}

/*
 * Set one setting from its text form, whatever the source. Returns 0 or
 * -EINVAL with err (without the setting's name: the caller adds it).
 */
static int setting_apply(struct wd_config *cfg, const struct setting *row, const char *text,
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

/* A JSON string of text, which need not be UTF-8 (a file name). */
static json_t *config_json_string(const char *text)
{
	json_t *value = json_string(text);
	char *copy;

	if (value != NULL)
		return value;
	copy = strdup(text);
	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x7f || (unsigned char)*p < 0x20)
			*p = '?';
	}
	value = json_string(copy);
	free(copy);
	return value;
}

/* The setting as a JSON value, for config_to_json. New reference or NULL. */
static json_t *setting_to_json(const struct wd_config *cfg, const struct setting *row)
{
	const char *field = (const char *)cfg + row->offset;
	char text[32];

	switch (row->type) {
	case SETTING_PATH: return field[0] ? config_json_string(field) : json_null();
	case SETTING_LISTEN: return json_string(cfg->listen);
	case SETTING_LOG_LEVEL: return json_string(log_level_str(cfg->log_level));
	case SETTING_EXPOSE: return json_string(expose_details_str(cfg->expose_details));
	case SETTING_SECONDS: return json_integer(*(const int64_t *)(const void *)field / 1000);
	case SETTING_UNSIGNED: return json_integer(*(const unsigned *)(const void *)field);
	case SETTING_DURATION_S:
	case SETTING_DURATION:
		duration_format(*(const int64_t *)(const void *)field, text, sizeof(text));
		return json_string(text);
	case SETTING_FLAG: {
		json_t *list = json_array();

		for (size_t i = 0; list != NULL && i < cfg->flag_count; i++)
			json_array_append_new(list, config_json_string(cfg->flags[i].text));
		return list;
	}
	case SETTING_ON_STALE: return json_string(cfg->on_stale_hold ? "hold" : "fence");
	case SETTING_SECRET:
	case SETTING_SECRET_FILE: return field[0] ? json_string("<redacted>") : json_null();
	case SETTING_PROXY_LISTEN:
	case SETTING_UPSTREAM:
	case SETTING_NAME: return field[0] ? config_json_string(field) : json_null();
	case SETTING_PREFIXES: {
		json_t *list = json_array();

		for (size_t i = 0; list != NULL && i < cfg->proxy.allow_count; i++)
			json_array_append_new(list,
			                      config_json_string(cfg->proxy.allow_when_fenced[i]));
		return list;
	}
	case SETTING_INT: return json_integer(*(const int64_t *)(const void *)field);
	case SETTING_SIZE: return json_integer((json_int_t) * (const size_t *)(const void *)field);
	}
	return NULL;
}

/* ---- the environment ---------------------------------------------------- */

struct env_probe {
	char name[WD_PROBE_NAME_MAX + 1];
	const char *var; /* "WARDEN_PROBE_DB=..." */
	size_t var_len;  /* of "WARDEN_PROBE_DB" */
	const char *value;
};

struct env_scan {
	const char *values[SETTING_COUNT]; /* the environment's text, NULL if unset */
	struct env_probe probes[WD_PROBES_MAX];
	size_t probe_count;
	struct env_probe passwords[WD_PROBES_MAX]; /* WARDEN_PROBE_<NAME>_PASSWORD */
	size_t password_count;
	struct env_probe password_files[WD_PROBES_MAX]; /* ..._PASSWORD_FILE */
	size_t password_file_count;
};

/* Prefix err with an environment variable's name (cut, printable). */
static void env_prefix(struct wd_err *err, const char *var, size_t var_len)
{
	char quoted[CONFIG_VAR_QUOTE_MAX + 4];

	wd_err_quote_n(var, var_len, quoted, sizeof(quoted));
	wd_err_prefix(err, "%s", quoted);
}

static bool env_has_suffix(const char *name, size_t len, const char *suffix)
{
	size_t suffix_len = strlen(suffix);

	return len >= suffix_len && memcmp(name + len - suffix_len, suffix, suffix_len) == 0;
}

/* Find `name` in list[count]. */
static const struct env_probe *env_find(const struct env_probe *list, size_t count,
                                        const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	}
	return NULL;
}

/*
 * WARDEN_PROBE_<suffix> whose suffix ends in a near miss of _PASSWORD or
 * _PASSWORD_FILE (at most CONFIG_SUGGEST_DISTANCE edits: PASWORD, PASSWROD,
 * PASSWD, PASSWORDFILE; or PASSWORD glued to the name, DBPASSWORD) holds a
 * password, not a probe: parsing it as a probe would quote the secret back.
 * Returns 0, or -EINVAL with err suggesting the right name (never the value).
 */
static int env_password_typo(const char *suffix, size_t len, struct wd_err *err)
{
	static const char *const words[] = {"PASSWORD", "PASSWORD_FILE"};
	char name[CONFIG_VAR_QUOTE_MAX + 1];

	if (env_has_suffix(suffix, len, CONFIG_PASSWORD_SUFFIX) ||
	    env_has_suffix(suffix, len, CONFIG_PASSWORD_FILE_SUFFIX))
		return 0;
	for (size_t start = len; start-- > 0;) { /* the shortest tail first: DBPASSWORD */
		const char *tail = suffix + start;
		size_t tail_len = len - start;
		bool word_start = start == 0 || suffix[start - 1] == '_';

		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			size_t d = text_edit_distance(tail, tail_len, words[w], strlen(words[w]));

			/* At a word boundary: near misses; glued to the name: the word itself. */
			if (!(word_start ? d <= CONFIG_SUGGEST_DISTANCE : d == 0))
				continue;
			if (start == 0)
				return wd_err_set(err, -EINVAL,
				                  "unknown setting (did you mean "
				                  "WARDEN_PROBE_<NAME>_%s?)",
				                  words[w]);
			snprintf(name, sizeof(name), "%.*s", (int)(word_start ? start - 1 : start),
			         suffix);
			for (char *p = name; *p != '\0'; p++) {
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
				else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
			}
			return wd_err_set(err, -EINVAL,
			                  "unknown setting (did you mean WARDEN_PROBE_%s_%s?)",
			                  name, words[w]);
		}
	}
	return 0;
}

/*
 * Record one WARDEN_PROBE_* variable: a probe, or a probe's password (file).
 * A probe named "x_password" is therefore impossible: WARDEN_PROBE_X_PASSWORD
 * is always the password of the probe "x".
 */
static int env_scan_probe(struct env_scan *scan, const char *var, size_t var_len, const char *value,
                          struct wd_err *err)
{
	const char *suffix = var + strlen(CONFIG_PROBE_PREFIX);
	size_t suffix_len = var_len - strlen(CONFIG_PROBE_PREFIX);
	struct env_probe *list = scan->probes;
	size_t *count = &scan->probe_count;
	const struct env_probe *other;
	struct env_probe entry;
	char lowered[WD_PROBE_NAME_MAX + 8];
	size_t name_len = suffix_len;
	int rc;

	rc = env_password_typo(suffix, suffix_len, err);
	if (rc < 0)
		goto fail;
	if (env_has_suffix(suffix, suffix_len, CONFIG_PASSWORD_FILE_SUFFIX)) {
		name_len -= strlen(CONFIG_PASSWORD_FILE_SUFFIX);
		list = scan->password_files;
		count = &scan->password_file_count;
	} else if (env_has_suffix(suffix, suffix_len, CONFIG_PASSWORD_SUFFIX)) {
		name_len -= strlen(CONFIG_PASSWORD_SUFFIX);
		list = scan->passwords;
		count = &scan->password_count;
	}
	/* Lowercase the name; a name too long to copy fails probe_name_check. */
	if (name_len >= sizeof(lowered))
		name_len = sizeof(lowered) - 1;
	for (size_t i = 0; i < name_len; i++) {
		char c = suffix[i];

		lowered[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	lowered[name_len] = '\0';
	rc = probe_name_check(lowered, err);
	if (rc < 0)
		goto fail;
	other = env_find(list, *count, lowered);
	if (other != NULL) {
		char quoted[CONFIG_VAR_QUOTE_MAX + 4];

		wd_err_quote_n(other->var, other->var_len, quoted, sizeof(quoted));
		rc = wd_err_set(err, -EINVAL, "same probe as %s (names are case-insensitive)",
		                quoted);
		goto fail;
	}
	if (*count >= WD_PROBES_MAX) {
		rc = wd_err_set(err, -EINVAL, "too many probes (at most %d)", WD_PROBES_MAX);
		goto fail;
	}
	memset(&entry, 0, sizeof(entry));
	memcpy(entry.name, lowered, strlen(lowered) + 1);
	entry.var = var;
	entry.var_len = var_len;
	entry.value = value;
	list[(*count)++] = entry;
	return 0;
fail:
	env_prefix(err, var, var_len);
	return rc;
}

/* Sort every WARDEN_* variable of envp into scan; unknown ones are errors. */
static int env_scan(struct env_scan *scan, char *const *envp, struct wd_err *err)
{
	char suggestion[CONFIG_VAR_QUOTE_MAX + 32];

	memset(scan, 0, sizeof(*scan));
	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		const char *var = envp[i];
		const char *eq;
		size_t var_len;
		bool known = false;
		int rc;

		if (strncmp(var, CONFIG_ENV_PREFIX, strlen(CONFIG_ENV_PREFIX)) != 0)
			continue;
		eq = strchr(var, '=');
		if (eq == NULL)
			continue;
		var_len = (size_t)(eq - var);
		for (size_t s = 0; s < SETTING_COUNT; s++) {
			if (strlen(settings[s].env) != var_len ||
			    memcmp(settings[s].env, var, var_len) != 0)
				continue;
			known = true;
			if (scan->values[s] != NULL)
				return wd_err_set(err, -EINVAL, "%s: set more than once",
				                  settings[s].env);
			scan->values[s] = eq + 1;
		}
		if (known)
			continue;
		if (var_len >= strlen(CONFIG_PROBE_PREFIX) &&
		    strncmp(var, CONFIG_PROBE_PREFIX, strlen(CONFIG_PROBE_PREFIX)) == 0) {
			rc = env_scan_probe(scan, var, var_len, eq + 1, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (config_suggest_env(var, var_len, suggestion, sizeof(suggestion)))
			wd_err_set(err, -EINVAL, "unknown setting (did you mean %s?)", suggestion);
		else
			wd_err_set(err, -EINVAL,
			           "unknown setting (a typo? see the configuration "
			           "reference in the README)");
		env_prefix(err, var, var_len);
		return -EINVAL;
	}
	for (size_t i = 0; i < scan->password_count; i++) {
		const struct env_probe *file = env_find(
		        scan->password_files, scan->password_file_count, scan->passwords[i].name);

		if (file != NULL) {
			char quoted[CONFIG_VAR_QUOTE_MAX + 4];

			wd_err_quote_n(file->var, file->var_len, quoted, sizeof(quoted));
			wd_err_set(err, -EINVAL, "and %s are both set (use one)", quoted);
			env_prefix(err, scan->passwords[i].var, scan->passwords[i].var_len);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- the JSON file ------------------------------------------------------ */

static const char *config_json_type(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

/*
 * A JSON value as the text its setter reads: a string as is, an integer in
 * decimal, a boolean as true/false. Returns 0, or -EINVAL for the wrong
 * JSON type or a string that does not fit.
 */
static int config_json_text(const json_t *value, enum probe_option_form form, char *buf,
                            size_t size, struct wd_err *err)
{
	switch (form) {
	case PROBE_OPTION_STRING:
		if (!json_is_string(value))
			break;
		if (json_string_length(value) >= size)
			return wd_err_set(err, -EINVAL, "longer than %zu bytes", size - 1);
		memcpy(buf, json_string_value(value), json_string_length(value) + 1);
		return 0;
	case PROBE_OPTION_INTEGER:
		if (!json_is_integer(value))
			break;
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		return 0;
	case PROBE_OPTION_BOOL:
		if (!json_is_boolean(value))
			break;
		snprintf(buf, size, "%s", json_is_true(value) ? "true" : "false");
		return 0;
	case PROBE_OPTION_UNKNOWN: break;
	}
	return wd_err_set(err, -EINVAL, "want %s, got %s",
	                  form == PROBE_OPTION_INTEGER ? "an integer"
	                  : form == PROBE_OPTION_BOOL  ? "true or false"
	                                               : "a string",
	                  config_json_type(value));
}

/* One probe of the file's "probes" object into *probe. */
static int config_json_probe(struct probe_config *probe, const char *name, json_t *def,
                             struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	char key_quoted[WD_QUOTE_MAX + 4];
	char text[CONFIG_VALUE_MAX + 1];
	const char *key;
	json_t *value;
	json_t *uri;
	json_t *password;
	json_t *password_file;
	int rc;

	wd_err_quote(name, quoted, sizeof(quoted));
	rc = probe_name_check(name, err);
	if (rc < 0) {
		wd_err_prefix(err, "probes.%s", quoted);
		return rc;
	}
	if (!json_is_object(def))
		return wd_err_set(err, -EINVAL, "probes.%s: want an object, got %s", quoted,
		                  config_json_type(def));
	probe_config_defaults(probe, name);
	uri = json_object_get(def, "uri");
	if (uri == NULL)
		return wd_err_set(err, -EINVAL, "probes.%s.uri: missing (every probe needs one)",
		                  quoted);
	if (!json_is_string(uri))
		return wd_err_set(err, -EINVAL, "probes.%s.uri: want a string, got %s", quoted,
		                  config_json_type(uri));
	rc = probe_config_set_uri(probe, json_string_value(uri), err);
	if (rc < 0) {
		wd_err_prefix(err, "probes.%s.uri", quoted);
		return rc;
	}
	password = json_object_get(def, "password");
	password_file = json_object_get(def, "password_file");
	if (password != NULL && password_file != NULL)
		return wd_err_set(err, -EINVAL,
		                  "probes.%s: password and password_file are both set (use one)",
		                  quoted);
	json_object_foreach(def, key, value)
	{
		enum probe_option_form form = probe_option_form(key);

		wd_err_quote(key, key_quoted, sizeof(key_quoted));
		if (strcmp(key, "uri") == 0)
			continue;
		if (strcmp(key, "password") == 0 || strcmp(key, "password_file") == 0)
			form = PROBE_OPTION_STRING;
		if (form == PROBE_OPTION_UNKNOWN) {
			static const char *const probe_keys[] = {
			        "uri",     "password", "password_file", "critical", "interval",
			        "timeout", "rise",     "fall",          "expect",   "max_lag",
			        NULL};
			const char *near = probe_option_nearest(key);

			if (near == NULL)
				near = config_suggest_key(key, probe_keys);
			if (near != NULL)
				return wd_err_set(err, -EINVAL,
				                  "probes.%s.%s: unknown key (did you mean %s?)",
				                  quoted, key_quoted, near);
			return wd_err_set(err, -EINVAL, "probes.%s.%s: unknown key", quoted,
			                  key_quoted);
		}
		rc = config_json_text(value, form, text, sizeof(text), err);
		if (rc < 0) {
			wd_err_prefix(err, "probes.%s.%s", quoted, key_quoted);
			return rc;
		}
		if (strcmp(key, "password") == 0)
			rc = config_set_password(probe, text, json_string_length(value), err);
		else if (strcmp(key, "password_file") == 0)
			rc = config_read_password(probe, text, err);
		else
			rc = probe_config_set_option(probe, key, text, err);
		explicit_bzero(text, sizeof(text));
		if (rc < 0) {
			if (strcmp(key, "password") == 0 || strcmp(key, "password_file") == 0)
				wd_err_prefix(err, "probes.%s.%s", quoted, key_quoted);
			else
				wd_err_prefix(err, "probes.%s", quoted);
			return rc;
		}
	}
	return 0;
}

static int config_json_probes(struct wd_config *cfg, json_t *probes, struct wd_err *err)
{
	const char *name;
	json_t *def;
	int rc;

	if (!json_is_object(probes))
		return wd_err_set(err, -EINVAL, "probes: want an object, got %s",
		                  config_json_type(probes));
	json_object_foreach(probes, name, def)
	{
		if (cfg->probe_count >= WD_PROBES_MAX)
			return wd_err_set(err, -EINVAL, "probes: too many probes (at most %d)",
			                  WD_PROBES_MAX);
		rc = config_json_probe(&cfg->probes[cfg->probe_count], name, def, err);
		if (rc < 0)
			return rc;
		cfg->probe_count++;
	}
	return 0;
}

/* jansson's error, without its "near '...'" (which may quote a secret). */
static int config_json_error(const json_error_t *jerr, struct wd_err *err)
{
	char text[sizeof(jerr->text)];
	char *near;

	memcpy(text, jerr->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	near = strstr(text, " near ");
	if (near != NULL && json_error_code(jerr) != json_error_duplicate_key)
		*near = '\0';
	for (char *p = text; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	}
	return wd_err_set(err, -EINVAL, "config file, line %d column %d: %s", jerr->line,
	                  jerr->column, text);
}

/* Apply the JSON text of a config file: settings, then probes. */
/*
 * Two rows that set one field (a secret and its _FILE form) may not both be
 * given by one source. set[] says which rows the source gave.
 */
static int config_check_twins(const bool *set, bool json, struct wd_err *err)
{
	for (size_t s = 0; s < SETTING_COUNT; s++) {
		if (!set[s] || settings[s].twin == NULL)
			continue;
		for (size_t t = s + 1; t < SETTING_COUNT; t++) {
			if (set[t] && strcmp(settings[t].env, settings[s].twin) == 0)
				return wd_err_set(err, -EINVAL, "%s and %s are both set: use one",
				                  json ? settings[s].key : settings[s].env,
				                  json ? settings[t].key : settings[t].env);
		}
	}
	return 0;
}

static int config_apply_json(struct wd_config *cfg, const char *text, size_t len,
                             struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	char value_text[CONFIG_VALUE_MAX + 1];
	bool set[SETTING_COUNT] = {false};
	json_error_t jerr;
	const char *key;
	json_t *value;
	json_t *root;
	int rc = 0;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return config_json_error(&jerr, err);
	if (!json_is_object(root)) {
		rc = wd_err_set(err, -EINVAL, "config file: want a JSON object, got %s",
		                config_json_type(root));
		goto out;
	}
	/* Twins first, so that the conflict, not a twin's own error, is reported. */
	for (size_t s = 0; s < SETTING_COUNT; s++)
		set[s] = settings[s].key != NULL && json_object_get(root, settings[s].key) != NULL;
	rc = config_check_twins(set, true, err);
	if (rc < 0)
		goto out;
	json_object_foreach(root, key, value)
	{
		const struct setting *row = NULL;

		wd_err_quote(key, quoted, sizeof(quoted));
		if (strcmp(key, "probes") == 0) {
			rc = config_json_probes(cfg, value, err);
			if (rc < 0)
				goto out;
			continue;
		}
		for (size_t s = 0; s < SETTING_COUNT; s++) {
			if (settings[s].key != NULL && strcmp(settings[s].key, key) == 0)
				row = &settings[s];
		}
		if (row == NULL) {
			static const char *const extra[] = {"probes", NULL};
			const char *near = config_suggest_key(key, extra);

			if (near != NULL)
				rc = wd_err_set(err, -EINVAL, "%s: unknown key (did you mean %s?)",
				                quoted, near);
			else
				rc = wd_err_set(err, -EINVAL, "%s: unknown key", quoted);
			goto out;
		}
		rc = config_json_text(value, setting_form(row), value_text, sizeof(value_text),
		                      err);
		if (rc == 0)
			rc = setting_apply(cfg, row, value_text, err);
		explicit_bzero(value_text, sizeof(value_text)); /* it may have been a secret */
		if (rc < 0) {
			wd_err_prefix(err, "%s", row->key);
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

/* ---- loading ------------------------------------------------------------ */

static struct probe_config *config_find_probe(struct wd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (strcmp(cfg->probes[i].name, name) == 0)
			return &cfg->probes[i];
	}
	return NULL;
}

static int config_compare_probes(const void *a, const void *b)
{
	return strcmp(((const struct probe_config *)a)->name,
	              ((const struct probe_config *)b)->name);
}

/* The environment's probes (replacing the file's) and passwords. */
static int config_apply_env_probes(struct wd_config *cfg, const struct env_scan *scan,
                                   struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	int rc;

	for (size_t i = 0; i < scan->probe_count; i++) {
		const struct env_probe *def = &scan->probes[i];
		struct probe_config *probe = config_find_probe(cfg, def->name);

		if (probe == NULL) {
			if (cfg->probe_count >= WD_PROBES_MAX) {
				wd_err_set(err, -EINVAL, "too many probes (at most %d)",
				           WD_PROBES_MAX);
				env_prefix(err, def->var, def->var_len);
				return -EINVAL;
			}
			probe = &cfg->probes[cfg->probe_count++];
		}
		rc = probe_spec_parse(probe, def->name, def->value, err);
		if (rc < 0) {
			env_prefix(err, def->var, def->var_len);
			return rc;
		}
	}
	for (size_t pass = 0; pass < 2; pass++) {
		const struct env_probe *list = pass ? scan->password_files : scan->passwords;
		size_t count = pass ? scan->password_file_count : scan->password_count;

		for (size_t i = 0; i < count; i++) {
			struct probe_config *probe = config_find_probe(cfg, list[i].name);

			if (probe == NULL) {
				wd_err_quote(list[i].name, quoted, sizeof(quoted));
				wd_err_set(err, -EINVAL,
				           "no probe named '%s' (define it in WARDEN_PROBE_<NAME> "
				           "or in the config file)",
				           quoted);
				env_prefix(err, list[i].var, list[i].var_len);
				return -EINVAL;
			}
			if (pass)
				rc = config_read_password(probe, list[i].value, err);
			else
				rc = config_set_password(probe, list[i].value,
				                         strlen(list[i].value), err);
			if (rc < 0) {
				env_prefix(err, list[i].var, list[i].var_len);
				return rc;
			}
		}
	}
	return 0;
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
	bool env_set[SETTING_COUNT];
	struct env_scan *scan = NULL;
	char *file_text = NULL;
	size_t file_len = 0;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t s = 0; s < SETTING_COUNT; s++) {
		if (settings[s].fallback == NULL)
			continue;
		rc = setting_apply(cfg, &settings[s], settings[s].fallback, err);
		if (rc < 0) {
			wd_err_prefix(err, "%s: default", settings[s].env);
			goto out;
		}
	}
	scan = malloc(sizeof(*scan));
	if (scan == NULL) {
		rc = wd_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = env_scan(scan, envp, err);
	if (rc < 0)
		goto out;

	/* The file first: the environment overrides it. */
	if (scan->values[SETTING_CONFIG_FILE] != NULL) {
		rc = setting_apply(cfg, &settings[SETTING_CONFIG_FILE],
		                   scan->values[SETTING_CONFIG_FILE], err);
		if (rc < 0) {
			wd_err_prefix(err, "%s", settings[SETTING_CONFIG_FILE].env);
			goto out;
		}
	}
	if (!have_json_text && cfg->config_file[0] != '\0') {
		rc = config_read_file(cfg->config_file, true, WD_CONFIG_FILE_MAX, &file_text,
		                      &file_len, err);
		if (rc < 0) {
			wd_err_prefix(err, "%s", settings[SETTING_CONFIG_FILE].env);
			goto out;
		}
		json_text = file_text;
		json_len = file_len;
		have_json_text = true;
	}
	if (have_json_text) {
		rc = config_apply_json(cfg, json_text, json_len, err);
		if (rc < 0)
			goto out;
	}

	for (size_t s = 0; s < SETTING_COUNT; s++)
		env_set[s] = scan->values[s] != NULL;
	rc = config_check_twins(env_set, false, err);
	if (rc < 0)
		goto out;
	for (size_t s = 0; s < SETTING_COUNT; s++) {
		if (s == SETTING_CONFIG_FILE || scan->values[s] == NULL)
			continue;
		rc = setting_apply(cfg, &settings[s], scan->values[s], err);
		if (rc < 0) {
			wd_err_prefix(err, "%s", settings[s].env);
			goto out;
		}
	}
	rc = config_apply_env_probes(cfg, scan, err);
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

/* ---- printing ----------------------------------------------------------- */

static json_t *config_probe_to_json(const struct probe_config *probe)
{
	json_t *object = json_object();
	char text[64];
	int failed = 0;

	if (object == NULL)
		return NULL;
	failed |= json_object_set_new(object, "kind", json_string(probe_kind_str(probe->kind)));
	failed |= json_object_set_new(object, "target", config_json_string(probe->target));
	for (size_t i = 0; probe_option_name(i) != NULL; i++) {
		const char *key = probe_option_name(i);
		json_t *value;

		if (probe_config_option_text(probe, key, text, sizeof(text)) < 0)
			continue;
		switch (probe_option_form(key)) {
		case PROBE_OPTION_BOOL: value = json_boolean(strcmp(text, "true") == 0); break;
		case PROBE_OPTION_INTEGER: value = json_integer(strtoll(text, NULL, 10)); break;
		default: value = json_string(text); break;
		}
		failed |= json_object_set_new(object, key, value);
	}
	if (probe->password[0] != '\0')
		failed |= json_object_set_new(object, "password", json_string("<redacted>"));
	if (failed) {
		json_decref(object);
		return NULL;
	}
	return object;
}

/* The fencing timing contract (DESIGN.md), computed from the config. */
static json_t *config_timing_to_json(const struct wd_config *cfg)
{
	struct fence_timing timing;
	char typical[32];
	char worst[32] = "unbounded";

	fence_timing(cfg->flag_interval_ms, cfg->flag_timeout_ms, cfg->flag_ttl_ms,
	             cfg->on_stale_hold, &timing);
	duration_format(timing.typical_ms, typical, sizeof(typical));
	if (!timing.unbounded)
		duration_format(timing.worst_case_ms, worst, sizeof(worst));
	return json_pack(
	        "{s:s, s:I, s:s, s:o, s:s}", "typical_fence", typical, "typical_fence_ms",
	        (json_int_t)timing.typical_ms, "worst_case_fence", worst, "worst_case_fence_ms",
	        timing.unbounded ? json_null() : json_integer(timing.worst_case_ms), "rule",
	        timing.unbounded ? "WARDEN_ON_STALE=hold: no bound; see safety_contract.rule"
	                         : "after flipping the flag, wait worst_case_fence before "
	                           "promoting the other region's database or starting its cron");
}

/*
 * WARDEN_FLAG_QUORUM explained (DESIGN.md "The flag"): what it means for
 * these sources, and what an outage of their regions does.
 */
static json_t *config_quorum_to_json(const struct wd_config *cfg)
{
	char lines[4][160];
	size_t n = fence_quorum_outages(cfg->flag_quorum_needed, cfg->flag_count, lines, 4);
	json_t *outages = json_array();

	for (size_t i = 1; outages != NULL && i < n; i++)
		json_array_append_new(outages, json_string(lines[i]));
	return json_pack("{s:s, s:I, s:I, s:b, s:s, s:o*}", "quorum", cfg->flag_quorum, "needed",
	                 (json_int_t)cfg->flag_quorum_needed, "of", (json_int_t)cfg->flag_count,
	                 "partition_safe",
	                 fence_quorum_partition_safe(cfg->flag_quorum_needed, cfg->flag_count),
	                 "partition", n > 0 ? lines[0] : "", "outages", outages);
}

/* The safety contract, rendered once (agent/render.c) for here and /status. */
static json_t *config_safety_contract_to_json(const struct wd_config *cfg)
{
	struct wd_buf buf;
	json_t *contract = NULL;

	wd_buf_init(&buf, 16 * 1024);
	if (render_safety_contract(cfg, &buf) == 0)
		contract = json_loadb(buf.data, buf.len, 0, NULL);
	wd_buf_free(&buf);
	return contract;
}

char *config_to_json(const struct wd_config *cfg)
{
	json_t *root = json_object();
	json_t *probes = json_object();
	char *text = NULL;
	int failed = 0;

	if (root == NULL || probes == NULL)
		goto out;
	for (size_t s = 0; s < SETTING_COUNT; s++) {
		const char *key = settings[s].key ? settings[s].key : "config_file";

		if (settings[s].type == SETTING_SECRET_FILE)
			continue; /* shown once, under its twin */
		failed |= json_object_set_new(root, key, setting_to_json(cfg, &settings[s]));
	}
	if (cfg->flag_count > 0)
		failed |= json_object_set_new(root, "timing_contract", config_timing_to_json(cfg));
	if (cfg->flag_count > 0)
		failed |= json_object_set_new(root, "safety_contract",
		                              config_safety_contract_to_json(cfg));
	if (cfg->flag_count > 0)
		failed |= json_object_set_new(root, "flag_quorum", config_quorum_to_json(cfg));
	for (size_t i = 0; i < cfg->probe_count; i++)
		failed |= json_object_set_new(probes, cfg->probes[i].name,
		                              config_probe_to_json(&cfg->probes[i]));
	failed |= json_object_set(root, "probes", probes);
	if (!failed)
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(probes);
	json_decref(root);
	return text;
}
