/*
 * check.h - `warden check [URL]`: the ECS container health check command.
 */
#ifndef WARDEN_CHECK_H
#define WARDEN_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/*
 * GET url with a total timeout of timeout_ms. Returns 0 on a 2xx answer, 1
 * otherwise (connection failure, timeout, any other status), printing one
 * line to stderr on failure. Blocks up to timeout_ms.
 */
int check_run(const char *url, int64_t timeout_ms);

/*
 * The default URL of `warden check`: /livez of the health listener that
 * `warden serve` would open with this environment - the same config loading
 * (WARDEN_CONFIG's "listen", overridden by WARDEN_LISTEN, default
 * 0.0.0.0:8089). A wildcard host is asked on loopback (127.0.0.1 or [::1]),
 * any other host as it is. Returns 0, or -errno with err saying what is wrong
 * with the config (one line, no secret).
 */
int check_default_url(char *const *envp, char *url, size_t size, struct wd_err *err);

#endif
