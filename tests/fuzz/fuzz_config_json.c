/*
 * fuzz_config_json.c - the WARDEN_CONFIG file path of config_load on
 * arbitrary bytes, through config_load_json_text (the same code as a file).
 * A loaded config prints; the printout must not depend on any password's
 * value (so no password can be in it). A refusal leaves a terminated one-line
 * message. Corpus: corpus/config_json/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wd_config *cfg = malloc(sizeof(*cfg));
	struct wd_err err = {0};
	char *json = NULL;
	char *other = NULL;

	if (cfg == NULL)
		return 0;
	if (config_load_json_text(cfg, (const char *)data, size, NULL, &err) != 0) {
		if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL || strchr(err.msg, '\n'))
			__builtin_trap();
		goto out;
	}
	if (cfg->probe_count > WD_PROBES_MAX)
		__builtin_trap();
	json = config_print_json(cfg);
	if (json == NULL)
		__builtin_trap();
	for (size_t i = 0; i < cfg->probe_count; i++) {
		if (cfg->probes[i].password[0] != '\0')
			strcpy(cfg->probes[i].password, "x");
		if (i > 0 && strcmp(cfg->probes[i - 1].name, cfg->probes[i].name) >= 0)
			__builtin_trap();
	}
	other = config_print_json(cfg);
	if (other == NULL || strcmp(json, other) != 0)
		__builtin_trap();
out:
	free(json);
	free(other);
	free(cfg);
	return 0;
}
