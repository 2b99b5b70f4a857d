/*
 * aws_creds.h - AWS credentials for signing, in the SDKs' order:
 *
 *  1. the environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
 *     AWS_SESSION_TOKEN); static, never refreshed;
 *  2. the ECS container credentials endpoint:
 *     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -> http://169.254.170.2$URI, else
 *     AWS_CONTAINER_CREDENTIALS_FULL_URI, with the Authorization header read
 *     from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every fetch: it
 *     may rotate), else AWS_CONTAINER_AUTHORIZATION_TOKEN. A FULL_URI may be
 *     https:// to any host, http:// only to loopback (127.0.0.0/8, ::1,
 *     "localhost"), 169.254.170.2, 169.254.170.23 or fd00:ec2::23; anything
 *     else is a config error naming the variable. (The SDKs also accept a
 *     name that resolves to those addresses; warden accepts only these
 *     literal hosts, so the check needs no lookup.)
 *
 * Container credentials are cached and refreshed when less than
 * AWS_CREDS_REFRESH_BEFORE_MS remain before their Expiration. A refresh
 * that fails while the cached credentials are still valid keeps them (and
 * is not tried again for AWS_CREDS_RETRY_MS); with no valid credentials
 * the call fails. An optional refresh may use only half the time left to
 * the caller's deadline, so that the request it signs still has time.
 *
 * Secrets: the secret access key, the session token and the authorization
 * token never appear in an error message or a log line; the provider zeroes
 * its copies (and the response buffers) when done with them. (jansson's own
 * heap copies during a parse are freed, not zeroed.) The access key id is
 * not secret, but is not put in messages either.
 */
#ifndef WARDEN_AWS_AWS_CREDS_H
#define WARDEN_AWS_AWS_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "aws/sigv4.h"

#define AWS_KEY_ID_MAX              SIGV4_KEY_ID_MAX
#define AWS_SECRET_KEY_MAX          SIGV4_SECRET_MAX
#define AWS_SESSION_TOKEN_MAX       SIGV4_TOKEN_MAX
#define AWS_CREDS_REFRESH_BEFORE_MS (5 * 60 * 1000)
#define AWS_CREDS_RETRY_MS          (10 * 1000)
#define AWS_ECS_CREDENTIALS_HOST    "169.254.170.2"

/* One set of credentials. Plain data that holds secrets: clear it with aws_credentials_clear(). */
struct aws_credentials {
	char access_key_id[AWS_KEY_ID_MAX + 1];
	char secret_access_key[AWS_SECRET_KEY_MAX + 1];
	char session_token[AWS_SESSION_TOKEN_MAX + 1]; /* "" for long-term keys */
	bool expires;                                  /* false: from the environment */
	int64_t expiration_wall_ms;                    /* when expires: ms since the epoch */
};

/* Zero every byte of c (explicit_bzero). NULL is a no-op. */
void aws_credentials_clear(struct aws_credentials *c);

/* What to do with the cache, now (a pure function; see aws_creds_plan()). */
enum aws_creds_plan {
	AWS_CREDS_USE_CACHED,        /* valid for more than AWS_CREDS_REFRESH_BEFORE_MS */
	AWS_CREDS_REFRESH_OR_CACHED, /* still valid, but refresh; on failure use them */
	AWS_CREDS_REFRESH_REQUIRED,  /* none, or expired: refresh or fail */
};

/*
 * The cache rule: nothing cached or expired (expiration <= now) ->
 * REFRESH_REQUIRED; less than AWS_CREDS_REFRESH_BEFORE_MS left ->
 * REFRESH_OR_CACHED; else (or when the credentials never expire) USE_CACHED.
 */
enum aws_creds_plan aws_creds_plan(bool have_cached, const struct aws_credentials *cached,
                                   int64_t now_wall_ms);

/*
 * Parse a container credentials answer {"AccessKeyId", "SecretAccessKey",
 * "Token", "Expiration"} (other members ignored; Token optional; Expiration
 * RFC 3339, required). Returns 0 with *out filled (expires = true), or
 * -EBADMSG with err saying what is wrong, never quoting a value. out is
 * cleared on failure. Does not block. Exported for tests and the fuzzer.
 */
int aws_creds_parse(const char *body, size_t len, struct aws_credentials *out, struct wd_err *err);

/*
 * Check a full credentials URI against the allow-list above. 0, or -EINVAL
 * with err naming AWS_CONTAINER_CREDENTIALS_FULL_URI (never quoting the URI).
 */
int aws_creds_check_full_uri(const char *uri, struct wd_err *err);

struct aws_creds_provider;

/*
 * A provider from envp (a NULL-terminated "NAME=value" array; read here,
 * not kept: what is needed is copied). Returns NULL with err when no source
 * is configured (-ENOENT), or when one is configured badly (-EINVAL naming
 * the variable: half a key pair, a bad key, a FULL_URI outside the
 * allow-list). No I/O: container credentials are first fetched by
 * aws_creds_get(). Free with aws_creds_provider_free().
 */
struct aws_creds_provider *aws_creds_provider_new(const char *const *envp, struct wd_err *err);

/* Zero the cached secrets and free p. NULL is a no-op. */
void aws_creds_provider_free(struct aws_creds_provider *p);

/* "environment" or "container". */
const char *aws_creds_source_str(const struct aws_creds_provider *p);

/*
 * Copy usable credentials into *out (the caller clears them with
 * aws_credentials_clear() when done), fetching or refreshing them first when
 * aws_creds_plan() says so. Returns 0; -ETIMEDOUT when the deadline passed
 * (also while waiting for another thread's refresh); -EIO when the endpoint
 * failed or refused and nothing valid is cached; -EBADMSG when it answered
 * garbage; -EINVAL when the token file is unreadable or bad. err says why.
 * Thread-safe: one mutex; blocks up to deadline_mono_ms, never longer.
 */
int aws_creds_get(struct aws_creds_provider *p, int64_t deadline_mono_ms,
                  struct aws_credentials *out, struct wd_err *err);

/*
 * Forget the cached container credentials (AWS said they expired before
 * their Expiration: the next aws_creds_get() must fetch). Environment
 * credentials are kept. Thread-safe; waits for a running refresh.
 */
void aws_creds_invalidate(struct aws_creds_provider *p);

#endif
