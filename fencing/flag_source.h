/*
 * flag_source.h - where the active-region flag is read: WARDEN_FLAG, a
 * comma-separated list of sources.
 *
 *   ssm:/platform/prod/active-region            that parameter, this task's region
 *   ssm:/name?region=us-west-2                  in another region
 *   ssm:/name?region=us-west-2&endpoint=URL     through another endpoint (VPC, test)
 *   file:/run/warden/active-region              a file (local runs, tests, drills)
 */
#ifndef WARDEN_FENCING_FLAG_SOURCE_H
#define WARDEN_FENCING_FLAG_SOURCE_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/limits.h"
#include "fencing/fence.h"
#include "fencing/flag_value.h"

#define FLAG_SSM_NAME_MAX 2048 /* SSM's own limit for a parameter name (ARN form included) */
#define FLAG_LIST_MAX     8192 /* the whole WARDEN_FLAG text */

enum flag_source_kind { FLAG_SOURCE_SSM, FLAG_SOURCE_FILE };

struct flag_source {
	enum flag_source_kind kind;
	/* The display text, computed once at parse: as written, but with every URL's
	   credentials redacted (uri_redact, as probe targets). The only form of the
	   source that config output, /status, metrics and logs ever print. */
	char text[FLAG_LIST_MAX + 1];
	char name[FLAG_SSM_NAME_MAX + 1]; /* ssm: the parameter name */
	char region[FLAG_REGION_MAX + 1]; /* ssm: "" = this task's region */
	char endpoint[WD_URI_MAX + 1];    /* ssm: "" = from the AWS environment */
	char path[WD_PATH_MAX + 1];       /* file: an absolute path */
};

/*
 * Parse one source. An endpoint must pass aws_endpoint_parse (no user info,
 * no query): what the reader will use. Returns 0, or -EINVAL with err naming
 * what is wrong (quoting only redacted text).
 */
int flag_source_parse(const char *text, struct flag_source *out, struct wd_err *err);

/*
 * Parse a WARDEN_FLAG list into out[0..FENCE_SOURCES_MAX). Empty entries and
 * duplicates are errors. Returns the number of sources (>= 1), or -EINVAL
 * with err ("source 2: ...").
 */
int flag_source_parse_list(const char *text, struct flag_source *out, struct wd_err *err);

#endif
