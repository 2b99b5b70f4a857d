/* fuzz_task_metadata.c - the ECS task metadata `/task` parser (region, EMF dimensions). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_task_metadata meta;
	struct wd_err err;

	if (aws_task_metadata_parse((const char *)data, size, &meta, &err) == 0) {
		/* An accepted document names a task and a real region, all NUL-terminated. */
		if (meta.task_arn[0] == '\0' || aws_region_check(meta.region, &err) != 0)
			__builtin_trap();
		if (memchr(meta.cluster, '\0', sizeof(meta.cluster)) == NULL ||
		    memchr(meta.group, '\0', sizeof(meta.group)) == NULL ||
		    memchr(meta.family, '\0', sizeof(meta.family)) == NULL)
			__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		__builtin_trap();
	}
	return 0;
}
