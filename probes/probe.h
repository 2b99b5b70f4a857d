/*
 * probe.h - what a probe kind is: its configuration (plain data), what one run
 * observes (plain data), and the operations every kind implements.
 *
 * The engine (probes/engine.c) owns scheduling, timeouts as deadlines,
 * rise/fall and publishing; a kind (postgres.c, redis.c, http.c, tcp.c) only
 * knows how to run one check against its target before a deadline.
 */
#ifndef WARDEN_PROBES_PROBE_H
#define WARDEN_PROBES_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "lib/limits.h"
#include "probes/outcome.h"
#include "net/uri.h"

enum probe_kind {
	PROBE_KIND_POSTGRES,
	PROBE_KIND_REDIS,
	PROBE_KIND_HTTP,
	PROBE_KIND_TCP,
	PROBE_KIND_COUNT
};

/* "postgres", "redis", "http", "tcp". */
const char *probe_kind_str(enum probe_kind kind);

/* The role a postgres probe expects (`expect=` option). */
enum probe_expect_role {
	EXPECT_ROLE_WRITER_WHEN_ACTIVE, /* default; the probe accepts either role, the
	                                  fence wants a writer when active (decision.h) */
	EXPECT_ROLE_WRITER,
	EXPECT_ROLE_READER,
	EXPECT_ROLE_ANY,
};

const char *probe_expect_role_str(enum probe_expect_role role);

/* A database's role, as a postgres or redis probe sees it. */
enum db_role {
	DB_ROLE_UNKNOWN, /* "unknown": not asked, or no answer */
	DB_ROLE_WRITER,  /* "writer": postgres primary, redis master */
	DB_ROLE_READER,  /* "reader": postgres in recovery, redis replica */
};

const char *db_role_str(enum db_role role);

/*
 * One probe's configuration, filled and validated by the config loader
 * (agent/config.c, through probes/spec.c). Plain data, copied freely.
 * `uri` and `password` may hold secrets: only `target` (redacted) may be
 * logged or shown.
 */
struct probe_config {
	char name[WD_PROBE_NAME_MAX + 1];
	enum probe_kind kind;
	char uri[WD_URI_MAX + 1];         /* the target, fragment removed; may hold a password */
	char target[WD_URI_MAX + 1];      /* uri with every credential replaced by "***" */
	struct wd_uri parsed;             /* uri parsed (not for postgres: libpq parses its own) */
	char password[WD_SECRET_MAX + 1]; /* WARDEN_PROBE_<NAME>_PASSWORD[_FILE]; "" if none */
	bool critical;                    /* default true */
	int64_t interval_ms;              /* default 5000 */
	int64_t timeout_ms;               /* default 2000; < interval_ms */
	int64_t start_period_ms;          /* default 0 */
	unsigned rise;                    /* default 2, 1..100 */
	unsigned fall;                    /* default 3, 1..100 */
	enum probe_expect_role expect_role; /* postgres only */
	int expect_status_min;              /* http only; default 200 */
	int expect_status_max;              /* http only; default 399 */
	int64_t max_lag_ms;                 /* postgres only; -1 = no limit */
};

/* What one run saw. The engine zeroes it before each run. */
struct probe_observation {
	enum probe_outcome outcome;
	char detail[WD_ERR_MSG_MAX]; /* why, for people; no secret; "" when ok */
	enum db_role role;           /* postgres, redis; DB_ROLE_UNKNOWN otherwise */
	bool has_lag;
	double lag_seconds; /* postgres reader replication lag */
	int http_status;    /* http: the status received, 0 if none */
};

/*
 * The operations of a probe kind. All run on the probe's own thread; a kind's
 * context is touched by that thread only.
 *
 * validate: check a kind-specific config (URI form, options that apply) at
 *           config load; 0, or -EINVAL with err naming what is wrong. Never
 *           touches the network.
 * create:   allocate the kind's context (no I/O); NULL with err on failure.
 * run:      one check. MUST return by deadline_mono_ms (CLOCK_MONOTONIC ms),
 *           whatever the peer does: use non-blocking I/O and poll() against
 *           the deadline, never a blocking call. Fills obs; on a missed
 *           deadline obs->outcome is PROBE_TIMEOUT. May keep a connection open
 *           in ctx for the next run.
 * destroy:  close and free ctx; NULL is a no-op.
 *
 * The process ignores SIGPIPE (agent/main.c): OpenSSL writes with plain
 * write(2), so a kind doing TLS relies on it; a test driving a kind directly
 * must ignore SIGPIPE too.
 */
struct probe_ops {
	enum probe_kind kind;
	int (*validate)(const struct probe_config *cfg, struct wd_err *err);
	void *(*create)(const struct probe_config *cfg, struct wd_err *err);
	void (*run)(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs);
	void (*destroy)(void *ctx);
};

/*
 * The index of the probe named name in probes[0..count), or -1 when none has
 * that name. The one probe lookup by name (config, /readyz/<name>, fencing's
 * singleton probe). Pure.
 */
ssize_t probe_config_index(const struct probe_config *probes, size_t count, const char *name);

/* The ops of a kind. Never NULL for a valid kind. */
const struct probe_ops *probe_ops_for(enum probe_kind kind);

/*
 * Set obs->outcome and format obs->detail (cut to fit). Returns outcome, so a
 * kind can write `return probe_fail(obs, PROBE_TLS, "...")`.
 */
enum probe_outcome probe_fail(struct probe_observation *obs, enum probe_outcome outcome,
                              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Copy a failed network call's status into obs: its outcome translated
 * (probe_outcome_from_net) and its detail. Returns obs->outcome.
 */
enum probe_outcome probe_fail_net(struct probe_observation *obs, const struct net_status *status);

#endif
