/* fuzz_flag_value.c - the flag value parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fencing/flag_value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flag_value value;
	struct wd_err err;

	if (flag_value_parse((const char *)data, size, &value, &err) == 0) {
		/* An accepted value is a valid, terminated region name. */
		if (flag_region_check(value.active_region, NULL) != 0)
			__builtin_trap();
		if (value.has_epoch && value.epoch > FLAG_EPOCH_MAX)
			__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		__builtin_trap();
	}
	return 0;
}
