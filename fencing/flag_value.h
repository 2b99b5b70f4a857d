/*
 * flag_value.h - the active-region flag's value, as stored in SSM or a file.
 *
 * Two forms: a bare region name ("us-east-1"), or JSON
 * {"active_region":"us-east-1","epoch":42}. Surrounding whitespace (a file's
 * trailing newline) is ignored. Other JSON keys are allowed and ignored, so an
 * orchestrator may record who flipped the flag and when.
 */
#ifndef WARDEN_FENCING_FLAG_VALUE_H
#define WARDEN_FENCING_FLAG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "aws/aws.h"

#define FLAG_REGION_MAX AWS_REGION_MAX      /* the active region is an AWS region name */
#define FLAG_VALUE_MAX  4096                /* an SSM Standard parameter holds at most 4 KB */
#define FLAG_EPOCH_MAX  9007199254740991ULL /* 2^53 - 1: exact in every JSON reader */

struct flag_value {
	char active_region[FLAG_REGION_MAX + 1];
	bool has_epoch; /* the JSON form carried "epoch" */
	uint64_t epoch;
};

/* Check a region name: aws_region_check(). Returns 0 or -EINVAL with err. */
int flag_region_check(const char *region, struct wd_err *err);

/*
 * Parse len bytes of text (not NUL-terminated; a NUL inside is an error).
 * Returns 0 with *out filled, or -EINVAL with err saying what is wrong
 * (quoting at most a short, sanitized prefix of the text).
 */
int flag_value_parse(const char *text, size_t len, struct flag_value *out, struct wd_err *err);

#endif
