/*
 * sigv4.h - AWS Signature Version 4 (header auth, AWS4-HMAC-SHA256), for the
 * SSM client. No AWS SDK: OpenSSL's EVP SHA-256 and HMAC do the crypto.
 *
 * Why not libcurl's CURLOPT_AWS_SIGV4? The brief allowed it only if it passes
 * every case of AWS's conformance suite (../shared/sigv4-suite). It does
 * not: driving the Debian 12 libcurl 7.88.1 (curl --aws-sigv4, same code)
 * over the 26 cases against a loopback listener matched 17 of 26, and only
 * after pre-folding the multiline header and pre-encoding the space for it.
 * It failed get-header-key-duplicate (repeated names are not merged),
 * get-vanilla-query-order-key/-value (the query is not sorted: curl issue
 * #9717, fixed after 7.88), get-vanilla-utf8-query (raw bytes not encoded)
 * and all five normalize-path cases (no dot-segment removal, no "//"
 * collapsing). It also cannot show the canonical request or the string to
 * sign (which a test and an operator need when AWS says
 * SignatureDoesNotMatch), it signs with its own wall clock (no skew
 * correction) and signs whatever headers curl adds. So warden signs itself.
 *
 * Rules (the suite's expectations are the authority; they agree with the AWS
 * docs and botocore for every service but S3, which warden does not call):
 *  - canonical URI: the path as it is sent on the wire, dot segments removed
 *    and runs of '/' collapsed (a trailing '/' kept), then every byte but
 *    A-Za-z0-9-._~ and '/' percent-encoded with upper-case hex. An already
 *    encoded path is so encoded a second time ("%20" -> "%2520"), which is
 *    what AWS expects of non-S3 services.
 *  - canonical query: split on '&' (empty pieces dropped), split each piece
 *    at its first '=', percent-decode key and value ('+' stays a literal
 *    '+'; a bad escape is -EINVAL), encode them again with the unreserved
 *    set, sort by key then value in byte order.
 *  - canonical headers: names lower-cased; values trimmed, inner runs of
 *    spaces and tabs collapsed to one space (even inside quotes); repeated
 *    names joined with ',' in input order; sorted by name. Every header given
 *    is signed, plus x-amz-date and (SIGV4_TOKEN_SIGNED) x-amz-security-token.
 *
 * The secret access key is read, never copied beyond a stack buffer that is
 * cleansed, never put in an error message; derived keys are cleansed too.
 */
#ifndef WARDEN_SIGV4_H
#define WARDEN_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define SIGV4_ALGORITHM         "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD  "UNSIGNED-PAYLOAD"
#define SIGV4_AMZ_DATE_LEN      16 /* "YYYYMMDDTHHMMSSZ" */
#define SIGV4_HEX_LEN           64 /* a hex SHA-256 / signature */
#define SIGV4_ADDED_HEADERS_MAX 3  /* X-Amz-Date, X-Amz-Security-Token, Authorization */

/* Caps on the input (beyond one: -E2BIG naming it). Candidates for lib/limits.h. */
#define SIGV4_METHOD_MAX        32
#define SIGV4_PATH_MAX          4096
#define SIGV4_QUERY_MAX         4096
#define SIGV4_QUERY_PARAMS_MAX  128
#define SIGV4_HEADERS_MAX       64
#define SIGV4_HEADER_NAME_MAX   128
#define SIGV4_HEADER_VALUE_MAX  8192
#define SIGV4_KEY_ID_MAX        128
#define SIGV4_SECRET_MAX        128
#define SIGV4_TOKEN_MAX         8192
#define SIGV4_SCOPE_PART_MAX    64 /* region, service */
#define SIGV4_CANONICAL_MAX     (96 * 1024)
#define SIGV4_AUTHORIZATION_MAX (16 * 1024)

/* One header: both strings NUL-terminated and borrowed. */
struct sigv4_header {
	const char *name;
	const char *value;
};

/* Borrowed for the duration of sigv4_sign(); nothing here is copied except the token. */
struct sigv4_credentials {
	const char *access_key_id;     /* [A-Za-z0-9._-]{1,128} */
	const char *secret_access_key; /* 1..128 bytes; never copied, never logged */
	const char *session_token;     /* NULL or "" for long-term keys */
};

enum sigv4_token_mode {
	SIGV4_TOKEN_SIGNED =
	        0,            /* x-amz-security-token is a signed header (SSM and most services) */
	SIGV4_TOKEN_UNSIGNED, /* added after signing (the suite's post-sts-header-after) */
};

/* The request to sign, all borrowed. */
struct sigv4_request {
	const char *method;                 /* token characters, e.g. "POST" (used as given) */
	const char *path;                   /* as sent on the wire, starting with '/' */
	const char *query;                  /* without the '?'; NULL or "" for none */
	const struct sigv4_header *headers; /* must hold Host; no Authorization */
	size_t header_count;
	const void *body; /* body_len bytes (NULL allowed when body_len is 0) */
	size_t body_len;
	/* NULL: hash the body. Else used as is: 64 lower-case hex or SIGV4_UNSIGNED_PAYLOAD. */
	const char *payload_hash;
};

struct sigv4_params {
	struct sigv4_credentials credentials;
	const char *region;  /* [A-Za-z0-9._-]{1,64}, e.g. "us-east-1" */
	const char *service; /* same rule, e.g. "ssm" */
	/* "YYYYMMDDTHHMMSSZ", UTC: wall time corrected for clock skew (sigv4_format_amz_date). */
	const char *amz_date;
	enum sigv4_token_mode token_mode;
};

/*
 * Everything signing produced. Plain data owning its buffers: init it once,
 * reuse it across sigv4_sign() calls, free it with sigv4_result_free().
 */
struct sigv4_result {
	struct wd_buf canonical_request; /* no trailing newline, like the suite's .creq */
	struct wd_buf string_to_sign;
	char signature[SIGV4_HEX_LEN + 1];
	struct wd_buf authorization;  /* the Authorization header value */
	struct wd_buf signed_headers; /* "host;x-amz-date", for logs */
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	struct wd_buf security_token; /* copy of the session token ("" when none) */
	int add_amz_date;             /* 1 when the request's headers lack X-Amz-Date */
};

/* Set up an empty result. Allocates nothing. */
void sigv4_result_init(struct sigv4_result *res);

/* Free what res owns (the token copy is cleansed first); res may be reused after init. NULL ok. */
void sigv4_result_free(struct sigv4_result *res);

/*
 * Sign req with params: fill res with the canonical request, the string to
 * sign, the hex signature and the Authorization value. Returns 0; -EINVAL
 * for malformed input (err names the field, never the secret), -E2BIG past a
 * cap, -ENOMEM, -EIO when OpenSSL fails. On error res holds no signature
 * (signature is ""). Pure computation: does not block, keeps no state.
 * An X-Amz-Date header in req must equal params->amz_date; with a session
 * token, req must not carry X-Amz-Security-Token (the signer adds it).
 */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *params,
               struct sigv4_result *res, struct wd_err *err);

/*
 * The headers the caller must add to the request it sends, after a successful
 * sigv4_sign(): X-Amz-Date (unless the request already had it),
 * X-Amz-Security-Token (when there is a token, signed or not) and
 * Authorization, in that order. Writes them into out (name and value point
 * into res and string constants: valid until res changes) and returns how
 * many (0 when res holds no signature).
 */
size_t sigv4_headers_to_add(const struct sigv4_result *res,
                            struct sigv4_header out[SIGV4_ADDED_HEADERS_MAX]);

/*
 * Format wall-clock milliseconds since the epoch (clock_wall_ms() plus the
 * skew correction) as "YYYYMMDDTHHMMSSZ" into out (size > SIGV4_AMZ_DATE_LEN).
 * 0, -ERANGE outside years 1970..9999, -ENOSPC when out is too small.
 */
int sigv4_format_amz_date(int64_t wall_ms, char *out, size_t size);

#endif
