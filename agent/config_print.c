/*
 * config_print.c - `warden config`: the loaded configuration as JSON, every
 * setting of the table (secrets as "<redacted>"), the probes and, with a
 * flag, the fencing timing and safety contract.
 */
#include "agent/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/render.h"
#include "lib/buf.h"
#include "lib/duration.h"
#include "fencing/fence.h"
#include "probes/spec.h"

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

/* The setting as a JSON value, for config_print_json. New reference or NULL. */
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
	case SETTING_ON_OFF: return json_string(*(const bool *)(const void *)field ? "on" : "off");
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

char *config_print_json(const struct wd_config *cfg)
{
	json_t *root = json_object();
	json_t *probes = json_object();
	char *text = NULL;
	int failed = 0;

	if (root == NULL || probes == NULL)
		goto out;
	for (size_t s = 0; s < config_setting_count; s++) {
		const char *key = config_settings[s].key ? config_settings[s].key : "config_file";

		if (config_settings[s].type == SETTING_SECRET_FILE)
			continue; /* shown once, under its twin */
		failed |= json_object_set_new(root, key, setting_to_json(cfg, &config_settings[s]));
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
