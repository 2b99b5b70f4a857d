/*
 * config_env.c - the environment's part of the configuration: sorting the
 * WARDEN_* variables into settings, probes and probe passwords, and the
 * "did you mean" for a name that is not quite one of them (a password
 * variable mistyped must never be parsed as a probe and quoted back).
 */
#include "agent/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"
#include "probes/spec.h"

/* ---- "did you mean" ------------------------------------------------------ */

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

	for (size_t s = 0; s < config_setting_count; s++) {
		size_t d = text_edit_distance(var, len, config_settings[s].env,
		                              strlen(config_settings[s].env));

		if (d < best) {
			best = d;
			snprintf(out, size, "%s", config_settings[s].env);
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

/* ---- the environment ---------------------------------------------------- */

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
int config_env_scan(struct env_scan *scan, char *const *envp, struct wd_err *err)
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
		for (size_t s = 0; s < config_setting_count; s++) {
			if (strlen(config_settings[s].env) != var_len ||
			    memcmp(config_settings[s].env, var, var_len) != 0)
				continue;
			known = true;
			if (scan->values[s] != NULL)
				return wd_err_set(err, -EINVAL, "%s: set more than once",
				                  config_settings[s].env);
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

/* ---- probes from the environment ---------------------------------------- */

/* The environment's probes (replacing the file's) and passwords. */
int config_env_apply_probes(struct wd_config *cfg, const struct env_scan *scan, struct wd_err *err)
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
