/* fuzz_fence_json.c - the gate's /fence answer parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gate/gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *text, size_t size, const char *singleton)
{
	static const struct gate_fence zero;
	struct gate_fence fence;
	struct wd_err err;

	if (gate_fence_parse(text, size, singleton, &fence, &err) == 0) {
		/* An accepted answer is within every bound the gate relies on. */
		if (fence.epoch > (uint64_t)GATE_FENCE_INT_MAX || fence.writable_for_ms < 0 ||
		    fence.writable_for_ms > GATE_FENCE_INT_MAX || fence.ttl_ms < 0 ||
		    fence.lease_expires_in_ms < 0 ||
		    fence.lease_generation > (uint64_t)GATE_FENCE_INT_MAX)
			__builtin_trap();
		if (!fence.writable && fence.writable_for_ms != 0)
			__builtin_trap();
		if (memchr(fence.state, '\0', sizeof(fence.state)) == NULL)
			__builtin_trap();
		if ((singleton == NULL || singleton[0] == '\0') && fence.lease_found)
			__builtin_trap();
		if (fence.lease_held && !fence.lease_found)
			__builtin_trap();
	} else {
		/* A refused answer leaves nothing behind, and says why. */
		if (memcmp(&fence, &zero, sizeof(fence)) != 0)
			__builtin_trap();
		if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL || err.msg[0] == '\0')
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size, NULL);
	check((const char *)data, size, "cron");
	return 0;
}
