/*
 * ssm.h - the SSM Parameter Store client: GetParameter and PutParameter.
 *
 * One request per call: POST <endpoint path> with Content-Type
 * application/x-amz-json-1.1, X-Amz-Target AmazonSSM.GetParameter and the
 * body {"Name":"...","WithDecryption":true} (or AmazonSSM.PutParameter and
 * {"Name","Value","Type":"String","Overwrite"}), signed with SigV4 (service
 * "ssm", the session token a signed header), over HTTPS verified against the
 * system CA store (plain http only when the endpoint URL says http://, e.g.
 * a test server on loopback). The response body is read up to
 * WD_AWS_RESPONSE_MAX: a larger one is cut off and is a bad_reply, a stalled
 * server is a timeout at the deadline.
 *
 * Clock skew: the client keeps a signing-clock offset. When AWS answers with
 * a skew error (aws_is_skew_error()) and its Date header differs from our
 * corrected clock by more than AWS_SKEW_LIMIT_MS, the offset is set from
 * Date and the request is signed and sent once more, within the same
 * deadline (as the SDKs do). The offset is kept for later requests.
 *
 * Threads: a client is used by one thread (the flag loop of its source);
 * its curl handles and skew offset are its own. The credentials provider it
 * borrows may be shared by several clients (it is thread-safe).
 */
#ifndef WARDEN_AWS_SSM_H
#define WARDEN_AWS_SSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "aws/aws.h"
#include "aws/aws_creds.h"

#define SSM_NAME_MAX    2048 /* a parameter name or ARN, with an optional :version selector */
#define SSM_TYPE_MAX    16   /* "SecureString" */
#define SSM_VALUE_MAX   4096 /* a Standard parameter holds at most 4 KB */
#define SSM_VERSION_MAX 9007199254740991ULL /* 2^53 - 1: exact in every JSON reader */

/* A parameter as GetParameter returns it. Plain data. */
struct ssm_parameter {
	char value[SSM_VALUE_MAX + 1]; /* NUL-free, 1..SSM_VALUE_MAX bytes */
	size_t value_len;
	uint64_t version;            /* 1..SSM_VERSION_MAX */
	char type[SSM_TYPE_MAX + 1]; /* "String", "StringList" or "SecureString" */
};

/*
 * Parse a GetParameter answer {"Parameter": {"Name", "Type", "Value",
 * "Version", ...}} (other members ignored). When requested_name is not NULL
 * and is a plain name (no ':'), the answer's Name must equal it. Returns 0
 * with *out filled, or -EBADMSG with err saying what is wrong (never quoting
 * the value: a SecureString is a secret). Pure; exported for tests and the
 * fuzzer.
 */
int ssm_parse_get_parameter(const char *body, size_t len, const char *requested_name,
                            struct ssm_parameter *out, struct wd_err *err);

/*
 * Check a parameter name: 1..SSM_NAME_MAX bytes of printable ASCII, no
 * space. 0 or -EINVAL with err.
 */
int ssm_name_check(const char *name, struct wd_err *err);

/* What a client needs. Borrowed by ssm_client_new(): the strings are copied. */
struct ssm_client_config {
	const char *region;                  /* the signing region, "us-east-1" */
	const struct aws_endpoint *endpoint; /* aws_endpoint_for(envp, "ssm", ...) */
	struct aws_creds_provider *creds;    /* borrowed: must outlive the client */
};

/* The result of one call. Plain data, filled whole by ssm_get_parameter() / ssm_put_parameter(). */
struct ssm_result {
	enum aws_outcome outcome;
	int http_status;                         /* of the last answer; 0 when none */
	char error_type[AWS_ERROR_TYPE_MAX + 1]; /* sanitized __type; "" when none */
	char message[WD_ERR_MSG_MAX];            /* sanitized, for logs; "" when ok */
	char request_id[AWS_REQUEST_ID_MAX + 1]; /* x-amzn-RequestId; "" when none */
	bool skew_corrected;                     /* the signing clock was corrected */
	int attempts;                            /* requests sent: 0, 1 or 2 */
	struct ssm_parameter parameter;          /* GetParameter, when outcome is AWS_OK */
	uint64_t version;                        /* PutParameter, when AWS_OK: the new Version */
};

struct ssm_client;

/*
 * A client for one endpoint and region. No I/O. NULL with err (-EINVAL for
 * a bad region or endpoint, -ENOMEM). Free with ssm_client_free().
 */
struct ssm_client *ssm_client_new(const struct ssm_client_config *cfg, struct wd_err *err);

/* Close the connection and free c. NULL is a no-op. The provider is not freed. */
void ssm_client_free(struct ssm_client *c);

/*
 * GetParameter `name` (WithDecryption), returning by deadline_mono_ms
 * whatever the endpoint does. Fills *out and returns out->outcome:
 * AWS_CREDENTIALS when no usable credentials could be had (message says
 * why), AWS_INTERNAL for a bad name; otherwise see enum aws_outcome. Blocks
 * the calling thread up to the deadline.
 */
enum aws_outcome ssm_get_parameter(struct ssm_client *c, const char *name, int64_t deadline_mono_ms,
                                   struct ssm_result *out);

/*
 * PutParameter `name` (a plain name, no ':' selector) = `value` (1..
 * SSM_VALUE_MAX bytes of UTF-8), Type String, Overwrite as given, returning
 * by deadline_mono_ms; the same rules as ssm_get_parameter() (one request
 * per call, bounded answer, one retry after a skew correction). Fills *out
 * (out->version: the parameter's new Version) and returns out->outcome;
 * AWS_INTERNAL for a bad name or value. The value is never logged or
 * quoted. Blocks the calling thread up to the deadline.
 */
enum aws_outcome ssm_put_parameter(struct ssm_client *c, const char *name, const char *value,
                                   bool overwrite, int64_t deadline_mono_ms,
                                   struct ssm_result *out);

/*
 * Parse a PutParameter answer {"Version": N, "Tier": ...}. 0 with *version
 * (1..SSM_VERSION_MAX), or -EBADMSG with err. Pure; exported for tests.
 */
int ssm_parse_put_parameter(const char *body, size_t len, uint64_t *version, struct wd_err *err);

/* The signing-clock offset in ms (server minus local); 0 until corrected. Any thread. */
int64_t ssm_client_skew_ms(const struct ssm_client *c);

#endif
