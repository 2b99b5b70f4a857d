/*
 * redis_internal.h - what the redis probe's modules share: its settings and
 * context, and the connection (redis_conn.c: TCP or TLS connect, bounded
 * writes and reads, the RESP reply reader) that the protocol (redis.c)
 * drives. Private to probes/redis*.c.
 */
#ifndef WARDEN_PROBES_REDIS_INTERNAL_H
#define WARDEN_PROBES_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>

#include "probes/probe.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_DB_MAX       15
#define REDIS_USER_MAX     255
/* One run's pipelined commands: AUTH user password, SELECT, PING, INFO. */
#define REDIS_CMD_MAX        (WD_SECRET_MAX + REDIS_USER_MAX + 512)
#define REDIS_READ_CHUNK     4096 /* bytes read from the socket at a time */
#define REDIS_ERROR_TEXT_MAX 80   /* bytes of a server error kept in detail */
#define REDIS_ARRAY_MAX      64   /* elements of a reply array (ours: none) */

/* What a probe's config says, checked once by redis_settings_parse(). */
struct redis_settings {
	bool tls;
	char host[WD_HOST_MAX + 1];
	int port;
	int db;
	char user[REDIS_USER_MAX + 1];
	char password[WD_SECRET_MAX + 1]; /* secret; "" for no AUTH */
	char cacert[WD_PATH_MAX + 1];     /* "" for the system store only */
};

/* A probe's context: its settings and its one connection. */
struct redis_probe {
	struct redis_settings settings;
	SSL_CTX *ssl_ctx; /* rediss:// only; made once in create */
	int fd;           /* -1 when not connected */
	SSL *ssl;         /* rediss:// only, while connected */
	redisReader *reader;
	size_t bytes_read; /* reply bytes read in this attempt */
	bool got_reply;    /* this attempt read at least one reply */
	enum db_role last_role;
};

/* Prefix obs->detail with "<step>: "; returns obs->outcome. */
enum probe_outcome redis_conn_step_failed(struct probe_observation *obs, const char *step);

/* The text of OpenSSL's latest error on this thread; clears the queue. */
void redis_conn_tls_error(char *buf, size_t size);

/* Close the connection (if any); the next run reconnects. */
void redis_conn_close(struct redis_probe *rp);

/* Resolve, connect and (rediss://) handshake. 0, or -1 with obs. */
int redis_conn_open(struct redis_probe *rp, int64_t deadline_mono_ms,
                    struct probe_observation *obs);

/* Write all n bytes before the deadline. 0, or -1 with obs. */
int redis_conn_write_all(struct redis_probe *rp, const void *data, size_t n,
                         int64_t deadline_mono_ms, struct probe_observation *obs);

/*
 * The next reply, reading (at most WD_REPLY_MAX bytes per attempt) until the
 * reader has one. Returns the reply (freeReplyObject it), or NULL with obs.
 */
redisReply *redis_conn_read_reply(struct redis_probe *rp, int64_t deadline_mono_ms,
                                  struct probe_observation *obs);

#endif
