/*
 * config.h - warden's whole configuration: one plain struct, filled from one
 * table of settings (environment WARDEN_* and an optional WARDEN_CONFIG JSON
 * file; the environment wins), validated once at load.
 *
 * There is no global config: the loaded struct is passed to whoever needs it
 * and is never changed after load (threads read it freely).
 */
#ifndef WARDEN_CONFIG_H
#define WARDEN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "fencing/flag_source.h"
#include "fencing/lease.h"
#include "proxy/proxy.h"
#include "probes/probe.h"

/* Who may see details (output, targets, errors) in health bodies and /status. */
enum expose_details {
	EXPOSE_LOOPBACK, /* "loopback" (default): clients on 127.0.0.0/8 or ::1 */
	EXPOSE_ALWAYS,   /* "always" */
	EXPOSE_NEVER,    /* "never" */
};

const char *expose_details_str(enum expose_details expose);

struct wd_config {
	char config_file[WD_PATH_MAX + 1]; /* WARDEN_CONFIG; "" if none */

	/* Health listener. WARDEN_LISTEN "host:port" | "[v6]:port" | "port". */
	char listen[WD_LISTEN_MAX + 1]; /* default "0.0.0.0:8089" */
	char listen_host[WD_HOST_MAX + 1];
	int listen_port;

	enum log_level log_level; /* WARDEN_LOG_LEVEL, default info */
	int64_t drain_ms;         /* WARDEN_DRAIN_SECONDS (integer, 0..3600), default 10 */
	enum expose_details expose_details; /* WARDEN_EXPOSE_DETAILS */

	unsigned http_threads;         /* WARDEN_HTTP_THREADS, default 2, 1..64 */
	unsigned http_max_connections; /* WARDEN_HTTP_MAX_CONNECTIONS, default 1024 */
	/* WARDEN_HTTP_MAX_CONNECTIONS_PER_IP, default 128, 0 = no limit */
	unsigned http_max_connections_per_ip;
	int64_t http_idle_timeout_ms; /* WARDEN_HTTP_IDLE_TIMEOUT, default 10s, whole seconds */
	/* WARDEN_HTTP_HEADER_TIMEOUT, default 10s (100ms..10m): a whole request head by then */
	int64_t http_header_timeout_ms;

	size_t probe_count;
	struct probe_config probes[WD_PROBES_MAX]; /* sorted by name */

	/* Fencing (DESIGN.md, "Fencing"). No flag source: health only. */
	size_t flag_count;                           /* WARDEN_FLAG, comma-separated sources */
	struct flag_source flags[FENCE_SOURCES_MAX]; /* in the order written */
	int64_t flag_interval_ms;                    /* WARDEN_FLAG_INTERVAL, default 5s */
	int64_t flag_timeout_ms;                     /* WARDEN_FLAG_TIMEOUT, default 2s */
	int64_t flag_ttl_ms;                         /* WARDEN_FLAG_TTL, default 30s */
	bool on_stale_hold;                          /* WARDEN_ON_STALE: fence (default) | hold */
	char flag_quorum[FENCE_QUORUM_TEXT_MAX + 1]; /* WARDEN_FLAG_QUORUM, as written */
	size_t flag_quorum_needed;                   /* what it means for flag_count sources */
	int64_t split_brain_after_ms;        /* WARDEN_SPLIT_BRAIN_AFTER; default ttl + 2m */
	char admin_token[WD_SECRET_MAX + 1]; /* WARDEN_ADMIN_TOKEN[_FILE]; "" = admin off; secret */
	char fence_file[WD_PATH_MAX + 1];    /* WARDEN_FENCE_FILE; "" = none */

	/* The write-fencing proxy: on when WARDEN_PROXY_LISTEN is set. */
	char proxy_listen[WD_LISTEN_MAX + 1]; /* as written; "" = no proxy */
	char proxy_upstream[WD_URI_MAX + 1];  /* WARDEN_PROXY_UPSTREAM, as written */
	struct proxy_config proxy;            /* the other WARDEN_PROXY_* settings */

	/* The singleton lease: on when WARDEN_SINGLETON is set. */
	char singleton[LEASE_NAME_MAX + 1];          /* WARDEN_SINGLETON; "" = none */
	int64_t singleton_ttl_ms;                    /* WARDEN_SINGLETON_TTL, default 15s */
	char singleton_probe[WD_PROBE_NAME_MAX + 1]; /* WARDEN_SINGLETON_PROBE; default: the
	                                                only postgres probe */

	/* CloudWatch EMF lines on stdout (DESIGN.md, "Observability"). */
	bool emf;                /* WARDEN_EMF: on | off (default) */
	int64_t emf_interval_ms; /* WARDEN_EMF_INTERVAL, default 60s, whole seconds, 1s..1h */
};

/*
 * Load the configuration from envp (NULL-terminated "KEY=VALUE" strings; the
 * file named by WARDEN_CONFIG in it, if any, is read first) into *cfg, and
 * validate it. Returns 0, or -EINVAL (or -errno for an unreadable file) with
 * err holding one line that names the bad key or probe and what is wrong.
 * cfg is caller-owned (it is large: allocate it). Blocks only on file reads.
 * On failure cfg is wiped (no half-loaded secret is left in it).
 *
 * Environment: WARDEN_CONFIG, WARDEN_LISTEN, WARDEN_LOG_LEVEL,
 * WARDEN_DRAIN_SECONDS, WARDEN_EXPOSE_DETAILS, WARDEN_HTTP_THREADS,
 * WARDEN_HTTP_MAX_CONNECTIONS, WARDEN_HTTP_MAX_CONNECTIONS_PER_IP,
 * WARDEN_HTTP_IDLE_TIMEOUT, WARDEN_HTTP_HEADER_TIMEOUT, WARDEN_PROBE_<NAME>,
 * WARDEN_PROBE_<NAME>_PASSWORD and WARDEN_PROBE_<NAME>_PASSWORD_FILE; any other WARDEN_* is an
 * error. Because of the password suffixes, no probe can be named "*_password" or
 * "*_password_file" through the environment: WARDEN_PROBE_X_PASSWORD is
 * always the password of probe "x".
 */
int config_load(struct wd_config *cfg, char *const *envp, struct wd_err *err);

/*
 * config_load, with `text` (len bytes, not NUL-terminated) standing in for
 * the contents of the WARDEN_CONFIG file: the same code path, for the fuzz
 * target and tests. A WARDEN_CONFIG in envp only names the file in the
 * printout; it is not read. Returns as config_load.
 */
int config_load_json_text(struct wd_config *cfg, const char *text, size_t len, char *const *envp,
                          struct wd_err *err);

/*
 * Descriptors the connection caps can take: WARDEN_HTTP_MAX_CONNECTIONS, plus
 * 2 x WARDEN_PROXY_MAX_CONNECTIONS (client and upstream) when the proxy is
 * on, plus CONFIG_FD_RESERVE and two per probe and flag source (probes, flag
 * reads, files, threads' event descriptors).
 */
#define CONFIG_FD_RESERVE 64
unsigned long long config_fds_needed(const struct wd_config *cfg);

/*
 * Make RLIMIT_NOFILE fit the caps (config_fds_needed): raise the soft limit
 * up to the hard one when it is lower (a process-wide change: call once, at
 * start, before threads); if even the hard limit is too low, return -EMFILE
 * with err naming the settings and the numbers. Run by `serve` and `config`
 * alike, after config_load. 0 or -errno.
 */
int config_fit_fd_limit(const struct wd_config *cfg, struct wd_err *err);

/*
 * Parse a listener "host:port", "[v6]:port" or "port" (host 0.0.0.0).
 * Returns 0 or -EINVAL with err.
 */
int config_parse_listen(const char *text, char *host, size_t host_size, int *port,
                        struct wd_err *err);

/*
 * (config_print.c) The effective config as pretty JSON, every password and credential
 * redacted, for `warden config`. Returns a malloc'd string the caller frees,
 * or NULL on allocation failure.
 */
char *config_print_json(const struct wd_config *cfg);

#endif
