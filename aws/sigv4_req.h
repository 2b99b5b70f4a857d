/*
 * sigv4_req.h - parser of the raw request files (".req") of AWS's SigV4 test
 * suite, so that the unit test and the fuzz target share one parser.
 *
 * Production code does not use it (the SSM client builds a struct
 * sigv4_request directly); it lives in wardencore because fuzz targets link
 * only wardencore and their own file.
 *
 * Format (the suite's README): "METHOD SP target SP HTTP/x.y", LF, then one
 * "Name:value" header a line, then, if any, an empty line and the body (the
 * rest of the input, bytes exactly). The target is raw: it may hold a literal
 * space (the request line is split at its first and last space) and is cut
 * at its first '?' into path and query. A line starting with a space or a tab
 * continues the previous header (obs-fold); as the suite expects, it becomes
 * one more value of that header (the signer then joins the values with ',').
 * A CR before an LF is dropped. Values are kept untrimmed (the signer trims).
 */
#ifndef WARDEN_SIGV4_REQ_H
#define WARDEN_SIGV4_REQ_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "aws/sigv4.h"

#define SIGV4_REQ_MAX (256 * 1024) /* a whole .req file */

/*
 * A parsed request: `request` points into `storage` and `headers`, so it is
 * valid until the next parse or sigv4_req_free(). Plain data owning its
 * storage; init once, free with sigv4_req_free().
 */
struct sigv4_req {
	struct sigv4_request request; /* ready for sigv4_sign() */
	struct sigv4_header headers[SIGV4_HEADERS_MAX];
	const char *protocol; /* "HTTP/1.1" */
	struct wd_buf storage;
};

/* Set up an empty parse result. Allocates nothing. */
void sigv4_req_init(struct sigv4_req *req);

/* Free the storage (NULL ok); req may be parsed into again after. */
void sigv4_req_free(struct sigv4_req *req);

/*
 * Parse data[0..len) into req (replacing what it held). Returns 0; -EINVAL
 * for a malformed request (err says what and where), -E2BIG past
 * SIGV4_REQ_MAX or SIGV4_HEADERS_MAX, -ENOMEM. Does not block. Only syntax
 * is checked here: sigv4_sign() validates names, values and the rest.
 */
int sigv4_req_parse(const char *data, size_t len, struct sigv4_req *req, struct wd_err *err);

#endif
