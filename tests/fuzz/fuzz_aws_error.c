/*
 * fuzz_aws_error.c - the AWS error body parser, the __type sanitizer, the
 * text sanitizer, the classifier and the Date / RFC 3339 readers of the
 * clock-skew rule, on arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sanitized text is printable ASCII only. */
static void check_printable(const char *text)
{
	for (; *text != '\0'; text++) {
		if ((unsigned char)*text < 0x20 || (unsigned char)*text >= 0x7f)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char type[AWS_ERROR_TYPE_MAX + 1];
	char text[64];
	struct aws_error aws_err;
	char *copy = malloc(size + 1);
	int64_t offset = 0;
	int64_t wall_ms;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';

	aws_error_parse((const char *)data, size, copy, &aws_err);
	check_printable(aws_err.type);
	check_printable(aws_err.message);
	if (aws_error_classify(400, aws_err.type) >= AWS_OUTCOME_COUNT)
		__builtin_trap();

	aws_error_type_sanitize((const char *)data, size, type);
	if (strlen(type) > AWS_ERROR_TYPE_MAX || strchr(type, ':') != NULL ||
	    strchr(type, '#') != NULL)
		__builtin_trap();
	check_printable(type);

	wd_err_quote_n((const char *)data, size, text, sizeof(text));
	check_printable(text);

	if (aws_skew_check(copy, 1700000000000, 0, &offset) == 1 &&
	    (offset <= AWS_SKEW_LIMIT_MS && offset >= -AWS_SKEW_LIMIT_MS))
		__builtin_trap();
	if (aws_parse_rfc3339((const char *)data, size, &wall_ms) == 0 && wall_ms < 0)
		__builtin_trap();
	free(copy);
	return 0;
}
