/*
 * fuzz_duration.c - duration_parse on arbitrary bytes. An accepted duration is
 * in 0..DURATION_MAX_MS and survives duration_format and a second parse; a
 * refusal leaves a terminated one-line message. Corpus: corpus/duration/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct wd_err err = {0};
	char formatted[32];
	int64_t ms = -1;
	int64_t again = -1;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (duration_parse(text, &ms, &err) == 0) {
		if (ms < 0 || ms > DURATION_MAX_MS)
			__builtin_trap();
		duration_format(ms, formatted, sizeof(formatted));
		if (duration_parse(formatted, &again, NULL) != 0 || again != ms)
			__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL || strchr(err.msg, '\n')) {
		__builtin_trap();
	}
	free(text);
	return 0;
}
