/*
 * check.h - `warden check [URL]`: the ECS container health check command.
 */
#ifndef WARDEN_CHECK_H
#define WARDEN_CHECK_H

#include <stdint.h>

/*
 * GET url with a total timeout of timeout_ms. Returns 0 on a 2xx answer, 1
 * otherwise (connection failure, timeout, any other status), printing one
 * line to stderr on failure. Blocks up to timeout_ms.
 */
int check_run(const char *url, int64_t timeout_ms);

#endif
