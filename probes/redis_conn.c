/*
 * redis_conn.c - the redis probe's connection: TCP connect by the deadline,
 * the TLS handshake (rediss://), bounded writes and reads over either, and
 * the RESP reply reader with our own reply constructors (bounded arrays,
 * no nesting we do not expect). Every wait is a poll() bounded by the
 * deadline. See redis.c for the protocol.
 */
#include "probes/redis_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "lib/clock.h"
#include "net/net.h"

/* ---- the connection ---------------------------------------------------- */

/* Prefix obs->detail with "<step>: "; returns obs->outcome. */
enum probe_outcome redis_conn_step_failed(struct probe_observation *obs, const char *step)
{
	char old[sizeof(obs->detail)];

	memcpy(old, obs->detail, sizeof(old));
	return probe_fail(obs, obs->outcome, "%s: %s", step, old[0] != '\0' ? old : "failed");
}

/* Fail with obs = TIMEOUT when the deadline has passed. */
static int check_deadline(int64_t deadline_mono_ms, struct probe_observation *obs)
{
	if (clock_mono_ms() < deadline_mono_ms)
		return 0;
	probe_fail(obs, PROBE_TIMEOUT, "deadline passed");
	return -1;
}

/* The text of OpenSSL's latest error on this thread; clears the queue. */
void redis_conn_tls_error(char *buf, size_t size)
{
	unsigned long code = ERR_peek_last_error();
	const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;

	if (reason != NULL)
		snprintf(buf, size, "%s", reason);
	else if (code != 0)
		ERR_error_string_n(code, buf, size);
	else
		snprintf(buf, size, "unknown TLS error");
	ERR_clear_error();
}

/* net_wait(), a failure copied into obs. 0, or -1 with obs. */
static int wait_fd(int fd, short events, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct net_status status = {.outcome = NET_OK};

	if (net_wait(fd, events, deadline_mono_ms, &status) == 0)
		return 0;
	probe_fail_net(obs, &status);
	return -1;
}

/*
 * After an SSL call returned ret <= 0: wait for what OpenSSL wants (0), or
 * fill obs and return -1. `handshake` maps every failure to PROBE_TLS.
 */
static int tls_wait(struct redis_probe *rp, int ret, bool handshake, int64_t deadline_mono_ms,
                    struct probe_observation *obs)
{
	int saved_errno = errno;
	int ssl_err = SSL_get_error(rp->ssl, ret);
	char text[120];

	switch (ssl_err) {
	case SSL_ERROR_WANT_READ: return wait_fd(rp->fd, POLLIN, deadline_mono_ms, obs);
	case SSL_ERROR_WANT_WRITE: return wait_fd(rp->fd, POLLOUT, deadline_mono_ms, obs);
	case SSL_ERROR_ZERO_RETURN:
		probe_fail(obs, handshake ? PROBE_TLS : PROBE_NETWORK,
		           "peer closed the TLS connection");
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		probe_fail(obs, handshake ? PROBE_TLS : PROBE_NETWORK, "%s",
		           ret == 0 || saved_errno == 0 ? "connection closed by peer"
		                                        : strerror(saved_errno));
		return -1;
	default:
		if (handshake) {
			long verify = SSL_get_verify_result(rp->ssl);

			if (verify != X509_V_OK) {
				ERR_clear_error();
				probe_fail(obs, PROBE_TLS, "certificate verify failed: %s",
				           X509_verify_cert_error_string(verify));
				return -1;
			}
		}
		redis_conn_tls_error(text, sizeof(text));
		probe_fail(obs, handshake ? PROBE_TLS : PROBE_NETWORK, "%s", text);
		return -1;
	}
}

static bool host_is_ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* Handshake on rp->fd, verifying the server's chain and name. 0 or -1 with obs. */
static int tls_handshake(struct redis_probe *rp, int64_t deadline_mono_ms,
                         struct probe_observation *obs)
{
	const char *host = rp->settings.host;
	char text[120];

	ERR_clear_error();
	rp->ssl = SSL_new(rp->ssl_ctx);
	if (rp->ssl == NULL || SSL_set_fd(rp->ssl, rp->fd) != 1 ||
	    SSL_set1_host(rp->ssl, host) != 1 ||
	    (!host_is_ip_literal(host) && SSL_set_tlsext_host_name(rp->ssl, host) != 1)) {
		redis_conn_tls_error(text, sizeof(text));
		probe_fail(obs, PROBE_INTERNAL, "TLS setup: %s", text);
		return -1;
	}
	for (;;) {
		int ret;

		if (check_deadline(deadline_mono_ms, obs) < 0)
			return -1;
		ERR_clear_error();
		ret = SSL_connect(rp->ssl);
		if (ret == 1)
			return 0;
		if (tls_wait(rp, ret, true, deadline_mono_ms, obs) < 0)
			return -1;
	}
}

/* Close the connection (if any); the next run reconnects. */
void redis_conn_close(struct redis_probe *rp)
{
	if (rp->ssl != NULL) {
		SSL_free(rp->ssl);
		rp->ssl = NULL;
	}
	if (rp->fd >= 0) {
		close(rp->fd);
		rp->fd = -1;
	}
	if (rp->reader != NULL) {
		redisReaderFree(rp->reader);
		rp->reader = NULL;
	}
	ERR_clear_error();
}

/*
 * The reply reader's constructors. hiredis 0.14's own size an array from the
 * count the peer announces ("*2147483647\r\n" asks for 16 GiB of slots);
 * the probe expects a status and a bulk string, so an array over
 * REDIS_ARRAY_MAX elements is refused (the reader then fails with
 * REDIS_ERR_OOM). The objects are plain redisReply, freed by hiredis's own
 * freeReplyObject().
 */
static void *reply_attach(const redisReadTask *task, redisReply *reply)
{
	if (task->parent != NULL) {
		redisReply *parent = task->parent->obj;

		parent->element[task->idx] = reply;
	}
	return reply;
}

static void *reply_string(const redisReadTask *task, char *str, size_t len)
{
	redisReply *reply = calloc(1, sizeof(*reply));

	if (reply == NULL)
		return NULL;
	reply->type = task->type;
	reply->str = malloc(len + 1);
	if (reply->str == NULL) {
		free(reply);
		return NULL;
	}
	memcpy(reply->str, str, len);
	reply->str[len] = '\0';
	reply->len = len;
	return reply_attach(task, reply);
}

static void *reply_array(const redisReadTask *task, int elements)
{
	redisReply *reply;

	if (elements > REDIS_ARRAY_MAX)
		return NULL;
	reply = calloc(1, sizeof(*reply));
	if (reply == NULL)
		return NULL;
	reply->type = REDIS_REPLY_ARRAY;
	if (elements > 0) {
		reply->element = calloc((size_t)elements, sizeof(reply->element[0]));
		if (reply->element == NULL) {
			free(reply);
			return NULL;
		}
	}
	reply->elements = elements > 0 ? (size_t)elements : 0;
	return reply_attach(task, reply);
}

static void *reply_integer(const redisReadTask *task, long long value)
{
	redisReply *reply = calloc(1, sizeof(*reply));

	if (reply == NULL)
		return NULL;
	reply->type = REDIS_REPLY_INTEGER;
	reply->integer = value;
	return reply_attach(task, reply);
}

static void *reply_nil(const redisReadTask *task)
{
	redisReply *reply = calloc(1, sizeof(*reply));

	if (reply == NULL)
		return NULL;
	reply->type = REDIS_REPLY_NIL;
	return reply_attach(task, reply);
}

/* Resolve, connect and (rediss://) handshake. 0, or -1 with obs. */
int redis_conn_open(struct redis_probe *rp, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct net_addr addrs[NET_ADDRS_MAX];
	struct net_status status = {.outcome = NET_OK};
	int count;

	count = net_resolve(rp->settings.host, rp->settings.port, deadline_mono_ms, addrs, &status);
	if (count <= 0) {
		if (count == 0)
			probe_fail(obs, PROBE_DNS, "%s: no address", rp->settings.host);
		else
			probe_fail_net(obs, &status);
		return -1;
	}
	rp->fd = net_connect(addrs, count, deadline_mono_ms, &status);
	if (rp->fd < 0) {
		probe_fail_net(obs, &status);
		rp->fd = -1;
		return -1;
	}
	if (rp->settings.tls && tls_handshake(rp, deadline_mono_ms, obs) < 0) {
		redis_conn_step_failed(obs, "TLS handshake");
		goto fail;
	}
	/* Not const only because hiredis's prototype is not: never written. */
	static redisReplyObjectFunctions bounded = {reply_string, reply_array, reply_integer,
	                                            reply_nil, freeReplyObject};

	rp->reader = redisReaderCreateWithFunctions(&bounded);
	if (rp->reader == NULL) {
		probe_fail(obs, PROBE_INTERNAL, "out of memory");
		goto fail;
	}
	return 0;
fail:
	redis_conn_close(rp);
	return -1;
}

/* Write all n bytes before the deadline. 0, or -1 with obs. */
int redis_conn_write_all(struct redis_probe *rp, const void *data, size_t n,
                         int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct net_status status = {.outcome = NET_OK};
	size_t off = 0;

	if (rp->ssl == NULL) {
		if (net_write_all(rp->fd, data, n, deadline_mono_ms, &status) == 0)
			return 0;
		probe_fail_net(obs, &status);
		return -1;
	}
	while (off < n) {
		int ret;

		if (check_deadline(deadline_mono_ms, obs) < 0)
			return -1;
		ERR_clear_error();
		ret = SSL_write(rp->ssl, (const char *)data + off, (int)(n - off));
		if (ret > 0) {
			off += (size_t)ret;
			continue;
		}
		if (tls_wait(rp, ret, false, deadline_mono_ms, obs) < 0)
			return -1;
	}
	return 0;
}

/* Read at least one byte before the deadline. Bytes read (> 0), or -1 with obs. */
static ssize_t conn_read_some(struct redis_probe *rp, void *buf, size_t size,
                              int64_t deadline_mono_ms, struct probe_observation *obs)
{
	if (check_deadline(deadline_mono_ms, obs) < 0)
		return -1;
	if (rp->ssl == NULL) {
		struct net_status status = {.outcome = NET_OK};
		ssize_t got = net_read_some(rp->fd, buf, size, deadline_mono_ms, &status);

		if (got < 0)
			probe_fail_net(obs, &status);
		return got;
	}
	for (;;) {
		int ret;

		ERR_clear_error();
		ret = SSL_read(rp->ssl, buf, (int)size);
		if (ret > 0)
			return ret;
		if (tls_wait(rp, ret, false, deadline_mono_ms, obs) < 0)
			return -1;
		if (check_deadline(deadline_mono_ms, obs) < 0)
			return -1;
	}
}

/*
 * The next reply, reading (at most WD_REPLY_MAX bytes per attempt) until the
 * reader has one. Returns the reply (freeReplyObject it), or NULL with obs.
 */
redisReply *redis_conn_read_reply(struct redis_probe *rp, int64_t deadline_mono_ms,
                                  struct probe_observation *obs)
{
	char chunk[REDIS_READ_CHUNK];

	for (;;) {
		void *reply = NULL;
		size_t room;
		ssize_t n;

		if (redisReaderGetReply(rp->reader, &reply) != REDIS_OK) {
			if (rp->reader->err == REDIS_ERR_OOM)
				probe_fail(obs, PROBE_BAD_REPLY, "reply array over %d elements",
				           REDIS_ARRAY_MAX);
			else
				probe_fail(obs, PROBE_BAD_REPLY, "not RESP: %s",
				           rp->reader->errstr);
			return NULL;
		}
		if (reply != NULL) {
			rp->got_reply = true;
			return reply;
		}
		if (rp->bytes_read >= WD_REPLY_MAX) {
			probe_fail(obs, PROBE_BAD_REPLY, "reply over %d bytes", WD_REPLY_MAX);
			return NULL;
		}
		room = WD_REPLY_MAX - rp->bytes_read;
		n = conn_read_some(rp, chunk, room < sizeof(chunk) ? room : sizeof(chunk),
		                   deadline_mono_ms, obs);
		if (n < 0)
			return NULL;
		rp->bytes_read += (size_t)n;
		if (redisReaderFeed(rp->reader, chunk, (size_t)n) != REDIS_OK) {
			probe_fail(obs, PROBE_INTERNAL, "reply reader: %s", rp->reader->errstr);
			return NULL;
		}
	}
}
