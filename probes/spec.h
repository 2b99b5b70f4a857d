/*
 * spec.h - a probe's definition: `<uri>#<options>` from WARDEN_PROBE_<NAME>,
 * or the same fields from the "probes" object of a WARDEN_CONFIG file.
 *
 * The URI's scheme gives the kind (postgres/postgresql, redis/rediss,
 * http/https, tcp). The fragment holds warden's options, `&`-separated
 * `key=value`: critical, interval, timeout, rise, fall, start_period, expect,
 * max_lag. Everything before '#' stays the target's own.
 */
#ifndef WARDEN_PROBES_SPEC_H
#define WARDEN_PROBES_SPEC_H

#include <stddef.h>

#include "lib/err.h"
#include "probes/probe.h"

/*
 * Check a probe name: 1..WD_PROBE_NAME_MAX of [a-z0-9_]. Returns 0 or -EINVAL.
 */
int probe_name_check(const char *name, struct wd_err *err);

/*
 * Fill *cfg with the defaults for a probe named `name` (no target yet: kind
 * is PROBE_KIND_COUNT until probe_config_set_uri).
 */
void probe_config_defaults(struct probe_config *cfg, const char *name);

/*
 * Set the target URI (no fragment): the kind from its scheme, `uri`,
 * `target` (redacted) and `parsed`. Returns 0 or -EINVAL with err.
 */
int probe_config_set_uri(struct probe_config *cfg, const char *uri, struct wd_err *err);

/* Set one option by name from its text form. Returns 0 or -EINVAL with err. */
int probe_config_set_option(struct probe_config *cfg, const char *key, const char *value,
                            struct wd_err *err);

/*
 * Parse a whole `<uri>#<options>` spec into *cfg (defaults, then URI, then
 * options), for the probe `name`. Does not run the cross-field checks of
 * probe_config_validate. Returns 0 or -EINVAL with err.
 */
int probe_spec_parse(struct probe_config *cfg, const char *name, const char *spec,
                     struct wd_err *err);

/*
 * Cross-field checks once everything is set: timeout < interval, options that
 * do not apply to the kind (expect on tcp...), then the kind's own validate.
 * Returns 0 or -EINVAL with err (without the probe name: the caller adds it).
 */
int probe_config_validate(const struct probe_config *cfg, struct wd_err *err);

/* How an option's value is written as a JSON value in a WARDEN_CONFIG file. */
enum probe_option_form {
	PROBE_OPTION_UNKNOWN, /* not an option */
	PROBE_OPTION_STRING,  /* "5s", "writer", "200-299" */
	PROBE_OPTION_INTEGER, /* rise, fall */
	PROBE_OPTION_BOOL,    /* critical */
};

/* The option `key`'s JSON form, PROBE_OPTION_UNKNOWN if no such option. */
enum probe_option_form probe_option_form(const char *key);

/*
 * The option name nearest to `key` (at most 2 edits, case ignored), for a
 * "did you mean" hint; NULL when none is that near.
 */
const char *probe_option_nearest(const char *key);

/* The name of option number `index` (table order), NULL past the last. */
const char *probe_option_name(size_t index);

/*
 * Write option `key` of cfg in its text form ("5s", "true", "200-399") into
 * buf[size]: what probe_config_set_option reads back. Returns 0, or -ENOENT
 * when there is no such option, it does not apply to cfg's kind, or it is
 * unset (max_lag without a limit).
 */
int probe_config_option_text(const struct probe_config *cfg, const char *key, char *buf,
                             size_t size);

#endif
