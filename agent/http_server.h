/*
 * http_server.h - the health listener (libmicrohttpd).
 *
 * Serves /livez, /readyz, /readyz/<probe>, /status, /metrics, /fence,
 * /activez and POST /admin/{drain,fence,unfence} (only while
 * WARDEN_ADMIN_TOKEN is set; 404 otherwise) from the
 * published snapshots only: a handler never touches a dependency and never
 * waits on anything but the state's short lock.
 */
#ifndef WARDEN_HTTP_SERVER_H
#define WARDEN_HTTP_SERVER_H

#include "agent/config.h"
#include "lib/err.h"
#include "probes/state.h"
#include "fencing/fencing.h"
#include "proxy/proxy.h"

struct http_server;

/*
 * Bind cfg->listen and start serving (cfg->http_threads threads). cfg,
 * state, fencing and proxy (NULL without the proxy: /metrics then has no
 * proxy families) must outlive the server; /fence, /activez and the admin
 * endpoints ask fencing. Returns NULL with err (naming the address)
 * when the port cannot be bound.
 */
struct http_server *http_server_new(const struct wd_config *cfg, struct wd_state *state,
                                    struct fencing *fencing, struct proxy *proxy,
                                    struct wd_err *err);
/* Stop serving and free. NULL is a no-op. */
void http_server_free(struct http_server *server);

#endif
