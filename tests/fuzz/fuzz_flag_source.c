/* fuzz_flag_source.c - the WARDEN_FLAG list parser on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fencing/flag_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct flag_source sources[FENCE_SOURCES_MAX];
	struct wd_err err;
	char *text = malloc(size + 1);
	int count;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	count = flag_source_parse_list(text, sources, &err);
	if (count > FENCE_SOURCES_MAX)
		__builtin_trap();
	for (int i = 0; i < count; i++) {
		if (sources[i].kind == FLAG_SOURCE_FILE && sources[i].path[0] != '/')
			__builtin_trap();
		if (sources[i].kind == FLAG_SOURCE_SSM && sources[i].name[0] == '\0')
			__builtin_trap();
	}
	free(text);
	return 0;
}
