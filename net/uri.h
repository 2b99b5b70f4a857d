/*
 * uri.h - a small, strict RFC 3986 parser for probe targets
 * (redis://, rediss://, http://, https://, tcp://), and the one redactor
 * that turns any target (postgres URIs included) into a loggable string.
 */
#ifndef WARDEN_NET_URI_H
#define WARDEN_NET_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/limits.h"

struct wd_uri {
	char scheme[16];                  /* lowercased: "redis", "https", ... */
	char user[256];                   /* percent-decoded; "" if none */
	char password[WD_SECRET_MAX + 1]; /* percent-decoded; secret */
	bool has_password;
	char host[WD_HOST_MAX + 1]; /* IPv6 without brackets; "" if none */
	int port;                   /* 0 when absent */
	char path[WD_URI_MAX + 1];  /* raw, "" or starting with '/' */
	char query[WD_URI_MAX + 1]; /* raw, without the '?' */
};

/*
 * Parse `text` (no fragment: the caller splits at '#' first). Returns 0, or
 * -EINVAL with err naming the problem (never quoting the password).
 * Rejects: no scheme, no host, a bad port (not 1..65535), bad percent
 * escapes, control characters or spaces, and any component over its cap.
 * Also: a '#', several hosts, an IPv6 zone id, IPvFuture, a raw '@' in the
 * userinfo, and a user name that decodes to a control character (user names
 * appear in messages; a password may hold any byte but NUL).
 */
int uri_parse(const char *text, struct wd_uri *out, struct wd_err *err);

/*
 * Copy `text` into out[size] with every credential replaced by "***": the
 * password of the userinfo (each host of a postgres multi-host URI), and the
 * value of every query parameter whose name contains "pass", "secret",
 * "token", "key", "auth", "sig" or "credential" (case-insensitive). Cuts to
 * fit; never fails; text need not be a valid URI.
 *
 * Errs on the side of hiding: a redis/rediss userinfo without ':' is hidden
 * whole (redis clients read it as a password); "pwd" counts as a credential
 * name too; a password cut short by an unencoded '/', '?' or '#' is still
 * hidden up to the last '@'; control bytes are copied as '?'.
 */
void uri_redact(const char *text, char *out, size_t size);

#endif
