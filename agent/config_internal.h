/*
 * config_internal.h - what the modules of the configuration share: the
 * settings table (config.c), the environment scan (config_env.c), the
 * WARDEN_CONFIG file (config_json.c) and the printout (config_print.c).
 * Private to agent/config*.c.
 */
#ifndef WARDEN_AGENT_CONFIG_INTERNAL_H
#define WARDEN_AGENT_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "lib/err.h"

#define CONFIG_VAR_QUOTE_MAX        64 /* bytes of a variable name in an error */
#define CONFIG_ENV_PREFIX           "WARDEN_"
#define CONFIG_PROBE_PREFIX         "WARDEN_PROBE_"
#define CONFIG_PASSWORD_SUFFIX      "_PASSWORD"
#define CONFIG_PASSWORD_FILE_SUFFIX "_PASSWORD_FILE"
#define CONFIG_VALUE_MAX            FLAG_LIST_MAX /* a setting or option value from JSON */
#define CONFIG_ADMIN_TOKEN_MIN      16            /* characters of an admin token, at least */
#define CONFIG_LISTEN_HINT          "want host:port, [v6]:port or port"
#define CONFIG_SUGGEST_DISTANCE     2  /* edits at most between a typo and a known name */
#define CONFIG_SETTINGS_MAX         64 /* rows of the settings table, at most */

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
	SETTING_ON_OFF,       /* on|off -> bool */
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

/* The settings table (config.c): config_setting_count rows. */
extern const struct setting config_settings[];
extern const size_t config_setting_count;

struct env_probe {
	char name[WD_PROBE_NAME_MAX + 1];
	const char *var; /* "WARDEN_PROBE_DB=..." */
	size_t var_len;  /* of "WARDEN_PROBE_DB" */
	const char *value;
};

struct env_scan {
	const char *values[CONFIG_SETTINGS_MAX]; /* the environment's text, NULL if unset */
	struct env_probe probes[WD_PROBES_MAX];
	size_t probe_count;
	struct env_probe passwords[WD_PROBES_MAX]; /* WARDEN_PROBE_<NAME>_PASSWORD */
	size_t password_count;
	struct env_probe password_files[WD_PROBES_MAX]; /* ..._PASSWORD_FILE */
	size_t password_file_count;
};

/*
 * Set one setting from its text form, whatever the source. Returns 0 or
 * -EINVAL with err (without the setting's name: the caller adds it).
 */
int config_setting_apply(struct wd_config *cfg, const struct setting *row, const char *text,
                         struct wd_err *err);

/* Set a probe's password from [text, text+len). Never quotes it. 0 or -EINVAL with err. */
int config_set_password(struct probe_config *probe, const char *text, size_t len,
                        struct wd_err *err);

/* Set a probe's password from the file at path. 0 or -errno/-EINVAL with err. */
int config_read_password(struct probe_config *probe, const char *path, struct wd_err *err);

/*
 * Two rows that set one field (a secret and its _FILE form) may not both be
 * given by one source. set[] says which rows the source gave (json: name
 * them by their keys, else by their env names). 0 or -EINVAL with err.
 */
int config_check_twins(const bool *set, bool json, struct wd_err *err);

/* The probe of cfg named name, or NULL. */
struct probe_config *config_find_probe(struct wd_config *cfg, const char *name);

/*
 * Sort every WARDEN_* variable of envp into scan (config_env.c); unknown
 * ones are errors, with a "did you mean" when one is near. Borrows envp.
 */
int config_env_scan(struct env_scan *scan, char *const *envp, struct wd_err *err);

/* The environment's probes (replacing the file's) and passwords into cfg. */
int config_env_apply_probes(struct wd_config *cfg, const struct env_scan *scan, struct wd_err *err);

/* Apply the JSON text of a config file (config_json.c): settings, then probes. */
int config_json_apply(struct wd_config *cfg, const char *text, size_t len, struct wd_err *err);

#endif
