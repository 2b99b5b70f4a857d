/* STUB: replaced by the real libmicrohttpd server. */
#include "agent/http_server.h"

#include <errno.h>
#include <stddef.h>

struct http_server *http_server_new(const struct wd_config *cfg, struct wd_state *state,
				    struct wd_err *err)
{
	(void)cfg;
	(void)state;
	wd_err_set(err, -ENOSYS, "not implemented");
	return NULL;
}

void http_server_free(struct http_server *server)
{
	(void)server;
}
