/* fuzz_cloudwatch_response.c - the GetMetricData answer parser (`warden flag set --verify`). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/cloudwatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cloudwatch_stats stats;
	struct aws_error aws_err;
	struct wd_err err;

	if (cloudwatch_parse_get_metric_data((const char *)data, size, &stats, &err) == 0) {
		/* An accepted answer is finite and bounded. */
		if (!isfinite(stats.sum) || !isfinite(stats.sample_count) ||
		    stats.points > CLOUDWATCH_POINTS_MAX)
			__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		__builtin_trap();
	}
	aws_error_parse((const char *)data, size, NULL, &aws_err);
	return 0;
}
