/*
 * redis.c - the redis probe: PING, then the role from INFO replication, over
 * one persistent connection per probe, plain (redis://) or TLS (rediss://).
 *
 * Target URI (the fragment, warden's options, is already removed):
 *
 *   redis://[[user]:password@]host[:port][/db]
 *   rediss://[[user]:password@]host[:port][/db][?cacert=/path/ca.pem]
 *
 *   host     required; a name, an IPv4 or a bracketed IPv6 literal
 *   port     default 6379
 *   db       0..15, default 0 (SELECT is sent only when it is not 0)
 *   user     an ACL user (Redis 6+, ElastiCache RBAC); needs a password
 *   password WARDEN_PROBE_<NAME>_PASSWORD[_FILE] wins over the URI's
 *   cacert   rediss:// only: a PEM file of CA certificates trusted in
 *            addition to the system store (percent-encoded like any query
 *            value). It is the target's own query, so it stays in the URI;
 *            no other query parameter is accepted.
 *
 * TLS always verifies the server: its chain against the system store (plus
 * cacert), and its name against host (DNS name or IP address SAN). SNI is
 * sent for host names. A verification failure is outcome `tls` with
 * OpenSSL's verify error text.
 *
 * A run: on a fresh connection AUTH ([user] password, when configured) and
 * SELECT (db != 0), then PING (expects +PONG) and INFO replication (role
 * master -> writer, slave/replica -> reader). Commands are pipelined in one
 * write; replies are parsed with hiredis's reply reader, at most WD_REPLY_MAX
 * bytes per run. An INFO refused by the server (ACL without +info, command
 * renamed) leaves the role unknown and the run ok: PING decides health.
 *
 * Every socket operation goes through net/net.h (poll against the
 * deadline); TLS drives a non-blocking SSL over the same fd, polling for
 * what SSL_get_error asks. Any failure drops the connection; the next run
 * reconnects (and re-resolves, so a moved DNS name is followed). A reused
 * connection that turns out closed (EOF, reset) before any reply is retried
 * once at once on a fresh one, within the same deadline. When the role
 * changes (an ElastiCache failover), the connection is dropped after the run
 * so that the next run follows the endpoint's DNS.
 *
 * The password is never copied into obs->detail: AUTH errors keep only the
 * server's error code, and every detail is scrubbed of the password.
 */
#include "probes/redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "probes/redis_internal.h"
#include "lib/clock.h"
#include "lib/text.h"
#include "net/net.h"

/* One run's pipelined commands, in RESP. Holds the password: cleansed after use. */
struct redis_cmds {
	char data[REDIS_CMD_MAX];
	size_t len;
};

/* The env var that holds a probe's password, for error messages. */
static void password_env_name(const char *probe_name, char *out, size_t size)
{
	size_t len = 0;
	int n = snprintf(out, size, "WARDEN_PROBE_");

	if (n < 0 || (size_t)n >= size)
		return;
	len = (size_t)n;
	for (const char *p = probe_name; *p != '\0' && len + 1 < size; p++) {
		char c = *p;

		out[len++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	out[len] = '\0';
	snprintf(out + len, size - len, "_PASSWORD");
}

/* The db of a URI path: "" or "/" -> 0, "/N" -> N in 0..REDIS_DB_MAX. */
static int parse_db(const char *path, int *db, struct wd_err *err)
{
	const char *digits = path;
	int value = 0;

	if (*digits == '/')
		digits++;
	if (*path != '\0' && *path != '/')
		return wd_err_set(err, -EINVAL, "bad db path (want /0../%d)", REDIS_DB_MAX);
	if (*digits == '\0') {
		*db = 0;
		return 0;
	}
	for (const char *p = digits; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - digits >= 2)
			return wd_err_set(err, -EINVAL, "bad db path (want /0../%d)", REDIS_DB_MAX);
		value = value * 10 + (*p - '0');
	}
	if (value > REDIS_DB_MAX)
		return wd_err_set(err, -EINVAL, "db %d out of range 0..%d", value, REDIS_DB_MAX);
	*db = value;
	return 0;
}

/* The query: only cacert=<path>, and only on rediss://. */
static int parse_query(const char *query, struct redis_settings *out, struct wd_err *err)
{
	const char *p = query;

	out->cacert[0] = '\0';
	while (*p != '\0') {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t name_len = eq != NULL ? (size_t)(eq - p) : len;

		if (len == 0) {
			p++;
			continue;
		}
		if (name_len != strlen("cacert") || memcmp(p, "cacert", name_len) != 0)
			return wd_err_set(
			        err, -EINVAL,
			        "unknown query parameter '%.*s' (redis knows only cacert)",
			        (int)(name_len > 40 ? 40 : name_len), p);
		if (!out->tls)
			return wd_err_set(err, -EINVAL, "query parameter cacert needs rediss://");
		if (out->cacert[0] != '\0')
			return wd_err_set(err, -EINVAL, "query parameter cacert given twice");
		if (eq == NULL || len - name_len - 1 == 0)
			return wd_err_set(err, -EINVAL, "query parameter cacert is empty");
		if (text_percent_decode(eq + 1, len - name_len - 1, out->cacert,
		                        sizeof(out->cacert), TEXT_PCT_NO_NUL) < 0)
			return wd_err_set(err, -EINVAL, "query parameter cacert: bad path");
		if (access(out->cacert, R_OK) != 0)
			return wd_err_set(err, -EINVAL, "cacert %.100s: %s", out->cacert,
			                  strerror(errno));
		p += len;
	}
	return 0;
}

/*
 * Check cfg and derive the settings from it (cfg->parsed must be filled).
 * 0, or -EINVAL with err naming the problem (never quoting a password).
 */
static int redis_settings_parse(const struct probe_config *cfg, struct redis_settings *out,
                                struct wd_err *err)
{
	const struct wd_uri *uri = &cfg->parsed;
	const char *password;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(uri->scheme, "redis") == 0)
		out->tls = false;
	else if (strcmp(uri->scheme, "rediss") == 0)
		out->tls = true;
	else
		return wd_err_set(err, -EINVAL,
		                  "scheme must be redis:// or rediss://, not %.20s://",
		                  uri->scheme);
	if (uri->host[0] == '\0')
		return wd_err_set(err, -EINVAL, "no host in the URI");
	snprintf(out->host, sizeof(out->host), "%s", uri->host);
	out->port = uri->port != 0 ? uri->port : REDIS_DEFAULT_PORT;
	if (out->port < 1 || out->port > 65535)
		return wd_err_set(err, -EINVAL, "port %d out of range 1..65535", out->port);
	rc = parse_db(uri->path, &out->db, err);
	if (rc < 0)
		return rc;
	rc = parse_query(uri->query, out, err);
	if (rc < 0)
		return rc;
	if (strlen(uri->user) > REDIS_USER_MAX)
		return wd_err_set(err, -EINVAL, "user name over %d bytes", REDIS_USER_MAX);
	snprintf(out->user, sizeof(out->user), "%s", uri->user);
	password = cfg->password[0] != '\0' ? cfg->password : uri->password;
	snprintf(out->password, sizeof(out->password), "%s", password);
	if (out->user[0] != '\0' && out->password[0] == '\0') {
		char env[WD_PROBE_NAME_MAX + 32];

		password_env_name(cfg->name, env, sizeof(env));
		return wd_err_set(err, -EINVAL,
		                  "user '%.40s' needs a password (in the URI or %s[_FILE])",
		                  out->user, env);
	}
	return 0;
}

static void redis_settings_wipe(struct redis_settings *settings)
{
	OPENSSL_cleanse(settings->password, sizeof(settings->password));
}

/* ---- the protocol ------------------------------------------------------ */

/* Append one command (argv[0..argc)) in RESP. 0, or -1 when it does not fit. */
static int cmds_append(struct redis_cmds *cmds, int argc, const char *const *argv)
{
	size_t room = sizeof(cmds->data) - cmds->len;
	int n = snprintf(cmds->data + cmds->len, room, "*%d\r\n", argc);

	if (n < 0 || (size_t)n >= room)
		return -1;
	cmds->len += (size_t)n;
	for (int i = 0; i < argc; i++) {
		size_t arg_len = strlen(argv[i]);

		room = sizeof(cmds->data) - cmds->len;
		n = snprintf(cmds->data + cmds->len, room, "$%zu\r\n", arg_len);
		if (n < 0 || (size_t)n >= room || room - (size_t)n < arg_len + 2)
			return -1;
		cmds->len += (size_t)n;
		memcpy(cmds->data + cmds->len, argv[i], arg_len);
		memcpy(cmds->data + cmds->len + arg_len, "\r\n", 2);
		cmds->len += arg_len + 2;
	}
	return 0;
}

static const char *reply_type_str(int type)
{
	switch (type) {
	case REDIS_REPLY_STRING: return "a bulk string";
	case REDIS_REPLY_ARRAY: return "an array";
	case REDIS_REPLY_INTEGER: return "an integer";
	case REDIS_REPLY_NIL: return "nil";
	case REDIS_REPLY_STATUS: return "a status";
	case REDIS_REPLY_ERROR: return "an error";
	}
	return "an unknown reply";
}

/* Copy at most max bytes of text into out[size], control bytes as '?'. */
static void printable_copy(char *out, size_t size, const char *text, size_t len, size_t max)
{
	size_t n = 0;

	if (len > max)
		len = max;
	for (size_t i = 0; i < len && n + 1 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
}

/* Does the error reply start with the word `code` ("NOAUTH", "ERR invalid password")? */
static bool error_is(const redisReply *reply, const char *code)
{
	size_t len = strlen(code);

	return reply->len >= len && memcmp(reply->str, code, len) == 0 &&
	       (reply->len == len || reply->str[len] == ' ');
}

/* Does text[0..len) contain needle? */
static bool bytes_contain(const char *text, size_t len, const char *needle)
{
	return memmem(text, len, needle, strlen(needle)) != NULL;
}

/*
 * Map an error reply to an outcome, with detail "<command>: <error text>"
 * (only the error's first word for AUTH, whose errors may echo arguments).
 */
static enum probe_outcome reply_error(struct probe_observation *obs, const char *command,
                                      const redisReply *reply)
{
	bool auth_command = strcmp(command, "AUTH") == 0;
	enum probe_outcome outcome = PROBE_SERVER_ERROR;
	char text[REDIS_ERROR_TEXT_MAX + 1];
	size_t len = reply->len;

	if (error_is(reply, "NOAUTH") || error_is(reply, "WRONGPASS") ||
	    error_is(reply, "NOPERM") || error_is(reply, "ERR invalid password"))
		outcome = PROBE_AUTH;
	else if (auth_command && !error_is(reply, "LOADING") && !error_is(reply, "BUSY") &&
	         !error_is(reply, "MASTERDOWN"))
		outcome = PROBE_AUTH;
	if (auth_command) {
		const char *space = memchr(reply->str, ' ', reply->len);

		if (error_is(reply, "WRONGPASS"))
			return probe_fail(
			        obs, outcome,
			        "AUTH: WRONGPASS (bad user or password, or user disabled)");
		if (error_is(reply, "ERR invalid password"))
			return probe_fail(obs, outcome, "AUTH: invalid password");
		if (bytes_contain(reply->str, reply->len, "without any password configured") ||
		    bytes_contain(reply->str, reply->len, "no password is set"))
			return probe_fail(obs, outcome, "AUTH: the server has no password set");
		if (space != NULL)
			len = (size_t)(space - reply->str);
	}
	printable_copy(text, sizeof(text), reply->str, len, REDIS_ERROR_TEXT_MAX);
	return probe_fail(obs, outcome, "%s: %s", command, text);
}

/* Expect +<status> ("OK", "PONG") as the reply to command. 0, or -1 with obs. */
static int expect_status(struct redis_probe *rp, const char *command, const char *status,
                         int64_t deadline_mono_ms, struct probe_observation *obs)
{
	redisReply *reply = redis_conn_read_reply(rp, deadline_mono_ms, obs);
	int rc = -1;

	if (reply == NULL) {
		redis_conn_step_failed(obs, command);
		return -1;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		reply_error(obs, command, reply);
		goto out;
	}
	if (reply->type != REDIS_REPLY_STATUS || reply->len != strlen(status) ||
	    memcmp(reply->str, status, reply->len) != 0) {
		char text[REDIS_ERROR_TEXT_MAX + 1] = "";

		if (reply->type == REDIS_REPLY_STATUS)
			printable_copy(text, sizeof(text), reply->str, reply->len,
			               REDIS_ERROR_TEXT_MAX);
		probe_fail(obs, PROBE_BAD_REPLY, "%s: expected +%s, got %s%s%s", command, status,
		           reply_type_str(reply->type), text[0] != '\0' ? " " : "", text);
		goto out;
	}
	rc = 0;
out:
	freeReplyObject(reply);
	return rc;
}

/* The role in an INFO replication text. 0, or -1 with obs (BAD_REPLY). */
static int parse_info_role(const char *text, size_t len, enum db_role *role,
                           struct probe_observation *obs)
{
	const char *line = text;
	const char *end = text + len;

	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t line_len = (size_t)((eol != NULL ? eol : end) - line);

		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (line_len >= 5 && memcmp(line, "role:", 5) == 0) {
			const char *value = line + 5;
			size_t value_len = line_len - 5;

			if (value_len == 6 && memcmp(value, "master", 6) == 0)
				*role = DB_ROLE_WRITER;
			else if ((value_len == 5 && memcmp(value, "slave", 5) == 0) ||
			         (value_len == 7 && memcmp(value, "replica", 7) == 0))
				*role = DB_ROLE_READER;
			else
				*role = DB_ROLE_UNKNOWN;
			return 0;
		}
		if (eol == NULL)
			break;
		line = eol + 1;
	}
	probe_fail(obs, PROBE_BAD_REPLY, "INFO: no role: line");
	return -1;
}

/* Read INFO replication's reply into obs->role. 0, or -1 with obs. */
static int read_info_role(struct redis_probe *rp, int64_t deadline_mono_ms,
                          struct probe_observation *obs)
{
	redisReply *reply = redis_conn_read_reply(rp, deadline_mono_ms, obs);
	int rc = -1;

	if (reply == NULL) {
		redis_conn_step_failed(obs, "INFO");
		return -1;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		/* An INFO the server refuses (ACL, renamed) only hides the role. */
		if (error_is(reply, "NOPERM") || error_is(reply, "ERR")) {
			obs->role = DB_ROLE_UNKNOWN;
			rc = 0;
		} else {
			reply_error(obs, "INFO", reply);
		}
		goto out;
	}
	if (reply->type != REDIS_REPLY_STRING) {
		probe_fail(obs, PROBE_BAD_REPLY, "INFO: expected a bulk string, got %s",
		           reply_type_str(reply->type));
		goto out;
	}
	rc = parse_info_role(reply->str, reply->len, &obs->role, obs);
out:
	freeReplyObject(reply);
	return rc;
}

/*
 * One attempt: connect if needed (AUTH, SELECT), then PING and INFO.
 * Returns obs->outcome; the connection is left as is (the caller drops it
 * on failure).
 */
static enum probe_outcome redis_attempt(struct redis_probe *rp, int64_t deadline_mono_ms,
                                        struct probe_observation *obs)
{
	const struct redis_settings *settings = &rp->settings;
	struct redis_cmds cmds = {.len = 0};
	char db_text[8];
	bool fresh = false;
	bool auth = settings->password[0] != '\0';
	int rc = 0;

	rp->bytes_read = 0;
	rp->got_reply = false;
	obs->outcome = PROBE_OK;
	obs->detail[0] = '\0';
	obs->role = DB_ROLE_UNKNOWN;
	if (rp->fd < 0) {
		if (redis_conn_open(rp, deadline_mono_ms, obs) < 0)
			return obs->outcome;
		fresh = true;
	}
	snprintf(db_text, sizeof(db_text), "%d", settings->db);
	if (fresh && auth && settings->user[0] != '\0')
		rc = cmds_append(&cmds, 3,
		                 (const char *const[]){"AUTH", settings->user, settings->password});
	else if (fresh && auth)
		rc = cmds_append(&cmds, 2, (const char *const[]){"AUTH", settings->password});
	if (rc == 0 && fresh && settings->db != 0)
		rc = cmds_append(&cmds, 2, (const char *const[]){"SELECT", db_text});
	if (rc == 0)
		rc = cmds_append(&cmds, 1, (const char *const[]){"PING"});
	if (rc == 0)
		rc = cmds_append(&cmds, 2, (const char *const[]){"INFO", "replication"});
	if (rc < 0) {
		probe_fail(obs, PROBE_INTERNAL, "commands over %d bytes", REDIS_CMD_MAX);
		goto out;
	}
	if (redis_conn_write_all(rp, cmds.data, cmds.len, deadline_mono_ms, obs) < 0) {
		redis_conn_step_failed(obs, "write");
		goto out;
	}
	if (fresh && auth && expect_status(rp, "AUTH", "OK", deadline_mono_ms, obs) < 0)
		goto out;
	if (fresh && settings->db != 0 &&
	    expect_status(rp, "SELECT", "OK", deadline_mono_ms, obs) < 0)
		goto out;
	if (expect_status(rp, "PING", "PONG", deadline_mono_ms, obs) < 0)
		goto out;
	if (read_info_role(rp, deadline_mono_ms, obs) < 0)
		goto out;
	if (rp->reader->pos < rp->reader->len)
		probe_fail(obs, PROBE_BAD_REPLY, "unrequested bytes after the replies");
out:
	OPENSSL_cleanse(&cmds, sizeof(cmds));
	return obs->outcome;
}

/* Replace every occurrence of secret in text with "***" (in place, cut to fit). */
static void scrub_secret(char *text, size_t size, const char *secret)
{
	size_t secret_len = strlen(secret);
	char out[WD_ERR_MSG_MAX];
	size_t n = 0;
	bool found = false;

	if (secret_len == 0 || size > sizeof(out))
		return;
	for (const char *p = text; *p != '\0' && n + 1 < size;) {
		if (strncmp(p, secret, secret_len) == 0) {
			for (const char *r = "***"; *r != '\0' && n + 1 < size; r++)
				out[n++] = *r;
			p += secret_len;
			found = true;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	if (found)
		memcpy(text, out, n + 1);
}

/* ---- the ops ----------------------------------------------------------- */

static int redis_validate(const struct probe_config *cfg, struct wd_err *err)
{
	struct redis_settings settings;
	int rc = redis_settings_parse(cfg, &settings, err);

	redis_settings_wipe(&settings);
	return rc;
}

static void *redis_create(const struct probe_config *cfg, struct wd_err *err)
{
	struct redis_probe *rp = calloc(1, sizeof(*rp));
	char text[120];

	if (rp == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	rp->fd = -1;
	if (redis_settings_parse(cfg, &rp->settings, err) < 0)
		goto fail;
	if (!rp->settings.tls)
		return rp;
	ERR_clear_error();
	rp->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (rp->ssl_ctx == NULL ||
	    SSL_CTX_set_min_proto_version(rp->ssl_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_default_verify_paths(rp->ssl_ctx) != 1) {
		redis_conn_tls_error(text, sizeof(text));
		wd_err_set(err, -ENOMEM, "TLS context: %s", text);
		goto fail;
	}
	if (rp->settings.cacert[0] != '\0' &&
	    SSL_CTX_load_verify_locations(rp->ssl_ctx, rp->settings.cacert, NULL) != 1) {
		redis_conn_tls_error(text, sizeof(text));
		wd_err_set(err, -EINVAL, "cacert %.80s: %s", rp->settings.cacert, text);
		goto fail;
	}
	SSL_CTX_set_verify(rp->ssl_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(rp->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return rp;
fail:
	SSL_CTX_free(rp->ssl_ctx);
	redis_settings_wipe(&rp->settings);
	free(rp);
	return NULL;
}

static void redis_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct redis_probe *rp = ctx;
	bool reused = rp->fd >= 0;
	enum probe_outcome outcome;

	outcome = redis_attempt(rp, deadline_mono_ms, obs);
	if (outcome == PROBE_NETWORK && reused && !rp->got_reply) {
		/* The kept connection was closed under us (restart, idle timeout). */
		redis_conn_close(rp);
		outcome = redis_attempt(rp, deadline_mono_ms, obs);
	}
	if (outcome != PROBE_OK) {
		obs->role = DB_ROLE_UNKNOWN;
		redis_conn_close(rp);
	} else if (rp->last_role != DB_ROLE_UNKNOWN && obs->role != rp->last_role) {
		redis_conn_close(rp); /* failover: follow the endpoint's DNS next run */
	}
	if (outcome == PROBE_OK)
		rp->last_role = obs->role;
	scrub_secret(obs->detail, sizeof(obs->detail), rp->settings.password);
}

static void redis_destroy(void *ctx)
{
	struct redis_probe *rp = ctx;

	if (rp == NULL)
		return;
	redis_conn_close(rp);
	SSL_CTX_free(rp->ssl_ctx);
	redis_settings_wipe(&rp->settings);
	free(rp);
}

const struct probe_ops probe_redis_ops = {
        .kind = PROBE_KIND_REDIS,
        .validate = redis_validate,
        .create = redis_create,
        .run = redis_run,
        .destroy = redis_destroy,
};
