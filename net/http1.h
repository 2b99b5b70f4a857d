/*
 * http1.h - a strict, bounded HTTP/1.1 message-head parser and chunked-body
 * scanner, for the write-fencing proxy (RFC 9110 / RFC 9112).
 *
 * The proxy keeps a request or response head in one connection buffer until
 * it ends (CRLF CRLF), then parses it in one pass: a head is bounded
 * (max_head_bytes), so parsing it whole is simpler than a byte-at-a-time
 * machine and as fast. Finding the end is incremental (`scanned` remembers
 * how far a previous call looked), so a client that sends one byte a second
 * costs one byte of scanning per byte.
 *
 * Strict by design, because the proxy sits in front of an app whose own
 * parser may read a message differently (request smuggling, RFC 9112 §6.3
 * and §11.2):
 * - lines end in CRLF; a bare CR or LF anywhere in a head is an error;
 * - obs-fold (a line starting with SP or HTAB) is an error;
 * - a header name is a non-empty token directly followed by ':' (no space);
 * - a value holds no CTL but HTAB (no NUL, CR, LF, DEL);
 * - Content-Length is digits only; several values must all be equal (and
 *   then msg.length_folded tells the forwarder to send one plain line);
 * - a request with both Content-Length and Transfer-Encoding, or with a
 *   Transfer-Encoding whose final coding is not `chunked`, or an HTTP/1.0
 *   request with Transfer-Encoding, is an error; a request whose codings are
 *   "x, chunked" with x other than chunked is HTTP1_NOT_IMPLEMENTED (501);
 * - an HTTP/1.1 request needs exactly one Host; two Hosts are an error;
 * - the request-target is origin-form ("/...") or "*" for OPTIONS; CONNECT
 *   is HTTP1_NOT_IMPLEMENTED; '#' and control bytes are errors.
 * Responses get the same line rules; Content-Length together with
 * Transfer-Encoding is an error there too (the proxy answers 502).
 *
 * Nothing here allocates or keeps state beyond the caller's structs; the
 * parsed strings point into the caller's buffer, which must outlive them.
 */
#ifndef WARDEN_NET_HTTP1_H
#define WARDEN_NET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_HEADERS_MAX      1000        /* the most headers a caller may ask for */
#define HTTP1_CHUNK_LINE_MAX   4096        /* a chunk-size line with its extensions */
#define HTTP1_TRAILER_MAX      (16 * 1024) /* all trailer lines of one chunked body */
#define HTTP1_CHUNK_DIGITS_MAX 15          /* hex digits of a chunk size (< 2^60) */

enum http1_status {
	HTTP1_OK = 0,
	HTTP1_INCOMPLETE,       /* the head has not ended yet */
	HTTP1_BAD,              /* malformed or ambiguous: 400 (502 for a response) */
	HTTP1_HEAD_TOO_LARGE,   /* no end within max_head_bytes: 431 */
	HTTP1_TOO_MANY_HEADERS, /* more than max_headers: 431 */
	HTTP1_BAD_VERSION,      /* HTTP/x.y other than 1.0 / 1.1: 505 */
	HTTP1_NOT_IMPLEMENTED,  /* CONNECT, or a transfer coding before chunked: 501 */
};

const char *http1_status_str(enum http1_status status);

/* Headers the proxy acts on, recognised once by the parser. */
enum http1_hid {
	HTTP1_H_OTHER,
	HTTP1_H_CONNECTION,
	HTTP1_H_CONTENT_LENGTH,
	HTTP1_H_TRANSFER_ENCODING,
	HTTP1_H_HOST,
	HTTP1_H_UPGRADE,
	HTTP1_H_EXPECT,
	HTTP1_H_KEEP_ALIVE,
	HTTP1_H_PROXY, /* Proxy-Connection, Proxy-Authorization, any Proxy-* */
	HTTP1_H_TE,
	HTTP1_H_X_FORWARDED_FOR,
	HTTP1_H_X_FORWARDED_PROTO,
	HTTP1_H_X_WARDEN, /* X-Warden-Writable, -Epoch, -Deadline, -Writable-For-Ms */
};

struct http1_header {
	const char *name;
	const char *value; /* OWS trimmed */
	uint32_t name_len;
	uint32_t value_len;
	enum http1_hid hid;
};

enum http1_method {
	HTTP1_M_GET,
	HTTP1_M_HEAD,
	HTTP1_M_OPTIONS,
	HTTP1_M_POST,
	HTTP1_M_PUT,
	HTTP1_M_PATCH,
	HTTP1_M_DELETE,
	HTTP1_M_TRACE,
	HTTP1_M_OTHER, /* any other token (methods are case-sensitive) */
};

enum http1_framing {
	HTTP1_BODY_NONE,    /* no body (or a zero Content-Length) */
	HTTP1_BODY_LENGTH,  /* content_length bytes */
	HTTP1_BODY_CHUNKED, /* chunked transfer coding, final */
	HTTP1_BODY_CLOSE,   /* a response delimited by the connection's close */
};

struct http1_msg {
	size_t head_len; /* bytes of the head, its final CRLF CRLF included */
	int minor;       /* HTTP/1.<minor>: 0 or 1 */
	/* requests */
	const char *method;
	size_t method_len;
	enum http1_method method_id;
	const char *target;
	size_t target_len;
	/* responses */
	int status;
	const char *reason;
	size_t reason_len;
	/* headers, in the caller's array */
	struct http1_header *headers;
	size_t header_count;
	/* framing and connection management */
	enum http1_framing framing;
	uint64_t content_length; /* HTTP1_BODY_LENGTH only */
	/* Content-Length came as a list ("3, 3") or on several lines, all equal
	 * (RFC 9110 §8.6): whoever forwards the message sends one plain
	 * "Content-Length: N" instead of its Content-Length lines. */
	bool length_folded;
	bool keep_alive;        /* persistent after this message (version + Connection) */
	bool conn_close;        /* Connection: close */
	bool conn_upgrade;      /* Connection: upgrade */
	bool upgrade_websocket; /* Upgrade lists websocket */
	bool expect_continue;   /* Expect: 100-continue */
	bool has_te;            /* a Transfer-Encoding header was present */
	const char *error;      /* static text: why it was refused (never NULL after a call) */
};

struct http1_limits {
	size_t max_head_bytes; /* bytes of a head before HTTP1_HEAD_TOO_LARGE */
	size_t max_headers;    /* <= HTTP1_HEADERS_MAX and the caller's array */
};

/*
 * Parse the request head at the start of buf[0..len). headers has room for
 * lim->max_headers entries. *scanned (may be NULL) is how far an earlier call
 * looked for the end of this head; it is updated, start it at 0. Returns
 * HTTP1_OK with *out filled, HTTP1_INCOMPLETE (read more), or an error with
 * out->error naming it. Never reads beyond len.
 */
enum http1_status http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                                      struct http1_header *headers, size_t *scanned,
                                      struct http1_msg *out);

/*
 * Parse the response head at the start of buf[0..len), the answer to a
 * request of method req_method (HEAD answers have no body). Same contract as
 * http1_parse_request.
 */
enum http1_status http1_parse_response(const char *buf, size_t len, enum http1_method req_method,
                                       const struct http1_limits *lim, struct http1_header *headers,
                                       size_t *scanned, struct http1_msg *out);

/* Does the comma-separated list `value` hold `token` (case-insensitive)? */
bool http1_list_has(const char *value, size_t value_len, const char *token, size_t token_len);

/* What a chunked scanner emits of what it reads. */
enum http1_chunk_mode {
	HTTP1_CHUNK_PASS,             /* every byte, trailers included */
	HTTP1_CHUNK_PASS_NO_TRAILERS, /* every byte but the trailer lines */
	HTTP1_CHUNK_DATA,             /* the chunk data only (de-chunking) */
};

struct http1_chunked {
	int state;
	enum http1_chunk_mode mode;
	uint64_t size; /* of the chunk being read, then what is left of it */
	unsigned digits;
	size_t line_len;
	size_t trailer_len;
	bool done; /* the last chunk and the trailer section have been read */
};

void http1_chunked_init(struct http1_chunked *ck, enum http1_chunk_mode mode);

/*
 * Scan in[0..in_len) of a chunked body and write what `mode` keeps to out
 * (out may equal or precede in: the bytes move forward only). Stops right
 * after the end of the body (ck->done) so that what follows - a pipelined
 * message - is left alone. Returns the bytes consumed (>= 0) with *out_len
 * bytes written, or -1 on bad framing (a bad size, a missing CRLF, an
 * over-long line or trailer, a control byte). Streams: any split of the input
 * gives the same output.
 */
ssize_t http1_chunked_feed(struct http1_chunked *ck, char *out, const char *in, size_t in_len,
                           size_t *out_len);

/*
 * May a write to this request-target pass through the allow-list entry
 * `prefix`? The path is the target before '?'. It matches when it equals
 * the prefix or continues it at a segment boundary ("/health" matches
 * "/health" and "/health/x" but not "/healthz"; "/health/" matches
 * "/health/x"). A path that is not clean never matches: one whose decoded
 * form has a "." or ".." segment (also "..;x", as Tomcat reads it), an
 * encoded '/' or '\', a raw '\', a NUL, or a bad percent escape. So
 * "/health/../admin" and "/health/%2e%2e/admin" are refused while fenced.
 */
bool http1_path_allowed(const char *target, size_t target_len, const char *prefix);

/* Is an allow-list prefix acceptable: starts with '/', and is clean itself? */
bool http1_prefix_valid(const char *prefix);

#endif
