/*
 * fuzz_aws_creds.c - the container credentials parser and the FULL_URI
 * allow-list on arbitrary bytes. A parse that fails must leave nothing of a
 * secret behind and must never quote the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i] != 0)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_credentials *creds = malloc(sizeof(*creds));
	char *copy = malloc(size + 1);
	struct wd_err err;

	if (creds == NULL || copy == NULL)
		goto out;
	if (aws_creds_parse((const char *)data, size, creds, &err) == 0) {
		if (creds->access_key_id[0] == '\0' || creds->secret_access_key[0] == '\0' ||
		    !creds->expires || creds->expiration_wall_ms < 0)
			__builtin_trap();
	} else {
		if (!all_zero(creds, sizeof(*creds)))
			__builtin_trap();
		if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			__builtin_trap();
	}
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* Accepted only with an http or https scheme (curl lower-cases it). */
	if (aws_creds_check_full_uri(copy, &err) == 0 && strncasecmp(copy, "http", 4) != 0)
		__builtin_trap();
out:
	if (creds != NULL)
		aws_credentials_clear(creds);
	free(creds);
	free(copy);
	return 0;
}
