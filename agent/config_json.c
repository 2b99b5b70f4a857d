/*
 * config_json.c - the WARDEN_CONFIG file: a JSON object of the settings
 * table's keys and a "probes" object, applied through the same setters as
 * the environment.
 */
#include "agent/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/text.h"
#include "probes/spec.h"

/* The JSON key nearest to key among the settings table's (or `extra`), or NULL. */
static const char *config_suggest_key(const char *key, const char *const *extra)
{
	const char *found = NULL;
	size_t best = CONFIG_SUGGEST_DISTANCE + 1;

	for (size_t s = 0; s < config_setting_count + 8; s++) {
		const char *name = s < config_setting_count ? config_settings[s].key
		                                            : extra[s - config_setting_count];
		size_t d;

		if (s >= config_setting_count && name == NULL)
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

/* How a setting is written in the JSON file. */
static enum probe_option_form setting_form(const struct setting *row)
{
	return (row->type == SETTING_SECONDS || row->type == SETTING_UNSIGNED ||
	        row->type == SETTING_INT || row->type == SETTING_SIZE)
	               ? PROBE_OPTION_INTEGER
	               : PROBE_OPTION_STRING;
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
int config_json_apply(struct wd_config *cfg, const char *text, size_t len, struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	char value_text[CONFIG_VALUE_MAX + 1];
	bool set[CONFIG_SETTINGS_MAX] = {false};
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
	for (size_t s = 0; s < config_setting_count; s++)
		set[s] = config_settings[s].key != NULL &&
		         json_object_get(root, config_settings[s].key) != NULL;
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
		for (size_t s = 0; s < config_setting_count; s++) {
			if (config_settings[s].key != NULL &&
			    strcmp(config_settings[s].key, key) == 0)
				row = &config_settings[s];
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
			rc = config_setting_apply(cfg, row, value_text, err);
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
