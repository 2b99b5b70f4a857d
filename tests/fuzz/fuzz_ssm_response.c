/* fuzz_ssm_response.c - the GetParameter and PutParameter answer parsers, and the error parser,
 * on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/ssm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_parameter param;
	struct aws_error aws_err;
	struct wd_err err;
	uint64_t version;

	if (ssm_parse_get_parameter((const char *)data, size, "/platform/prod/active-region",
	                            &param, &err) == 0) {
		/* An accepted answer is bounded, NUL-free, versioned and typed. */
		if (param.value_len == 0 || param.value_len > SSM_VALUE_MAX ||
		    strlen(param.value) != param.value_len)
			__builtin_trap();
		if (param.version < 1 || param.version > SSM_VERSION_MAX)
			__builtin_trap();
		if (memchr(param.type, '\0', sizeof(param.type)) == NULL || param.type[0] == '\0')
			__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		__builtin_trap();
	}
	/* The PutParameter answer ({"Version": N, "Tier": ...}) on the same bytes. */
	if (ssm_parse_put_parameter((const char *)data, size, &version, &err) == 0) {
		if (version < 1 || version > SSM_VERSION_MAX)
			__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		__builtin_trap();
	}
	aws_error_parse((const char *)data, size, NULL, &aws_err);
	if (memchr(aws_err.type, '\0', sizeof(aws_err.type)) == NULL ||
	    memchr(aws_err.message, '\0', sizeof(aws_err.message)) == NULL)
		__builtin_trap();
	return 0;
}
