/*
 * fuzz_spec.c - probe_spec_parse("p", input) on arbitrary bytes, then
 * probe_config_validate and every option's text form read back. A refusal
 * leaves a terminated one-line message. Corpus: corpus/spec/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probes/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const struct wd_err *err)
{
	if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL || strchr(err->msg, '\n'))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_config *cfg = malloc(sizeof(*cfg));
	struct probe_config *copy = malloc(sizeof(*cfg));
	char *text = malloc(size + 1);
	struct wd_err err = {0};
	char option[64];

	if (cfg == NULL || copy == NULL || text == NULL)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	if (probe_spec_parse(cfg, "p", text, &err) != 0) {
		check_message(&err);
		goto out;
	}
	if ((unsigned)cfg->kind >= PROBE_KIND_COUNT || strchr(cfg->uri, '#') != NULL)
		__builtin_trap();
	if (probe_config_validate(cfg, &err) != 0)
		check_message(&err);
	/* Every option's text form reads back to the same config. */
	probe_config_defaults(copy, "p");
	if (probe_config_set_uri(copy, cfg->uri, &err) != 0)
		__builtin_trap();
	for (size_t i = 0; probe_option_name(i) != NULL; i++) {
		const char *key = probe_option_name(i);

		if (probe_config_option_text(cfg, key, option, sizeof(option)) != 0)
			continue;
		if (probe_config_set_option(copy, key, option, &err) != 0)
			__builtin_trap();
	}
	if (memcmp(cfg, copy, sizeof(*cfg)) != 0)
		__builtin_trap();
out:
	free(cfg);
	free(copy);
	free(text);
	return 0;
}
