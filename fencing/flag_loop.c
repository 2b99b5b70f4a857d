#include "fencing/flag_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "aws/aws_creds.h"
#include "fencing/flag_value.h"
#include "aws/ssm.h"

/* An SSM parameter is read as a flag value, its version as an epoch: the caps agree. */
_Static_assert(SSM_VALUE_MAX <= FLAG_VALUE_MAX, "an SSM value must fit a flag value");
_Static_assert(SSM_VERSION_MAX <= FLAG_EPOCH_MAX, "an SSM version must be a valid epoch");

#define FLAG_BEAT_MS        1000 /* a waiting reader beats /livez this often */
#define FLAG_STUCK_SLACK_MS 3000 /* on top of the timeout before /livez calls a reader stuck */
#define FLAG_ENV_MAX        64   /* AWS_* and ECS_* variables kept from the environment */

struct flag_reader {
	struct flag_loop *loop;
	size_t idx;
	const struct flag_source *src;
	struct ssm_client *ssm; /* ssm: sources, once the region is known */
	int loop_id;
	pthread_t thread;
	bool running;
	uint64_t rng;
	unsigned backoff_failures;
	char logged[32 + WD_ERR_MSG_MAX]; /* the last result logged */
	struct flag_source_status status; /* guarded by loop->lock */
};

struct flag_loop {
	struct flag_loop_config config;
	const struct flag_loop_config *cfg; /* &config */
	struct fence *fence;
	struct wd_state *state;
	struct aws_creds_provider *creds; /* NULL without ssm: sources */
	char *env[FLAG_ENV_MAX + 1];      /* owned copies of the AWS_* and ECS_* variables */
	pthread_mutex_t lock;             /* guards region, stopping and every status */
	pthread_cond_t wake;
	bool stopping;
	char region[FLAG_REGION_MAX + 1];
	void (*on_read)(void *arg);
	void *on_read_arg;
	size_t count;
	struct flag_reader readers[];
};

/* One attempt's result. */
struct flag_attempt {
	enum flag_read_result result;
	char error[WD_ERR_MSG_MAX];
	char request_id[AWS_REQUEST_ID_MAX + 1];
	bool backoff; /* throttled or a server error: back off */
	struct flag_value value;
	uint64_t version;
};

static const char *const *loop_env(const struct flag_loop *loop)
{
	return (const char *const *)loop->env;
}

static uint64_t rng_next(uint64_t *state)
{
	/* xorshift64*: jitter only, never security. */
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

static double rng_unit(uint64_t *state)
{
	return (double)(rng_next(state) >> 11) / 9007199254740992.0;
}

int64_t flag_loop_delay_ms(int64_t interval_ms, int64_t ttl_ms, unsigned backoff_failures,
                           double random)
{
	int64_t cap = interval_ms > ttl_ms / 2 ? interval_ms : ttl_ms / 2;
	int64_t high = interval_ms;

	if (backoff_failures == 0)
		return interval_ms * 4 / 5 + (int64_t)(random * (double)(interval_ms * 2 / 5));
	for (unsigned i = 0; i < backoff_failures && high < cap; i++)
		high *= 2;
	if (high > cap)
		high = cap;
	return interval_ms + (int64_t)(random * (double)(high - interval_ms));
}

const char *flag_read_result_str(enum flag_read_result result)
{
	switch (result) {
	case FLAG_READ_BAD_VALUE: return "bad_value";
	case FLAG_READ_IO_ERROR: return "io_error";
	case FLAG_READ_REGION_UNKNOWN: return "region_unknown";
	case FLAG_READ_RESULT_COUNT: break;
	default:
		if ((unsigned)result < AWS_OUTCOME_COUNT)
			return aws_outcome_str((enum aws_outcome)result);
		break;
	}
	return "unknown";
}

/* ---- reading one source -------------------------------------------------- */

static void attempt_fail(struct flag_attempt *at, enum flag_read_result result, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static void attempt_fail(struct flag_attempt *at, enum flag_read_result result, const char *fmt,
                         ...)
{
	at->result = result;
	WD_ERR_FORMAT_ARGS(at->error, sizeof(at->error), fmt);
}

/* Parse a value read from a source into at (result "ok" or "bad_value"). */
static void attempt_value(struct flag_attempt *at, const char *text, size_t len)
{
	struct wd_err err = {0};

	if (flag_value_parse(text, len, &at->value, &err) < 0) {
		attempt_fail(at, FLAG_READ_BAD_VALUE, "%s", err.msg);
		return;
	}
	at->result = FLAG_READ_OK;
}

/*
 * A file source: a regular file of at most FLAG_VALUE_MAX bytes. A read of a
 * local file does not block; one on a dead network volume may, and then
 * /livez reports this reader stuck.
 */
static void read_file(const struct flag_source *src, struct flag_attempt *at)
{
	char buf[FLAG_VALUE_MAX + 1];
	struct wd_err err = {0};
	size_t len = 0;
	int rc = file_read_small(src->path, "the flag file", buf, sizeof(buf), &len, &err);

	if (rc == -ENOENT)
		attempt_fail(at, FLAG_READ_NOT_FOUND, "%s", err.msg);
	else if (rc == -EFBIG)
		attempt_fail(at, FLAG_READ_BAD_VALUE, "%s", err.msg);
	else if (rc != 0)
		attempt_fail(at, FLAG_READ_IO_ERROR, "%s", err.msg);
	else
		attempt_value(at, buf, len);
}

/* This task's region, resolving it (bounded by deadline) when not known yet. */
static bool task_region(struct flag_loop *loop, int64_t deadline, char out[FLAG_REGION_MAX + 1],
                        struct wd_err *err)
{
	pthread_mutex_lock(&loop->lock);
	memcpy(out, loop->region, FLAG_REGION_MAX + 1);
	pthread_mutex_unlock(&loop->lock);
	if (out[0] != '\0')
		return true;
	if (aws_region_resolve(loop_env(loop), deadline, out, err) < 0)
		return false;
	pthread_mutex_lock(&loop->lock);
	if (loop->region[0] == '\0') {
		memcpy(loop->region, out, FLAG_REGION_MAX + 1);
		fence_set_region(loop->fence, out);
		log_msg(LOG_INFO, "flag.region", "this task's region is %s (task metadata)", out);
	}
	pthread_mutex_unlock(&loop->lock);
	return true;
}

/* The ssm client of a reader, made once the signing region is known. */
static bool ssm_client_ready(struct flag_reader *reader, int64_t deadline, struct flag_attempt *at)
{
	const struct flag_source *src = reader->src;
	struct aws_endpoint endpoint;
	char region[FLAG_REGION_MAX + 1];
	struct wd_err err = {0};

	if (reader->ssm != NULL)
		return true;
	if (src->region[0] != '\0') {
		memcpy(region, src->region, sizeof(region));
	} else if (!task_region(reader->loop, deadline, region, &err)) {
		attempt_fail(at, FLAG_READ_REGION_UNKNOWN, "%s", err.msg);
		return false;
	}
	if (aws_endpoint_for(loop_env(reader->loop), "ssm", src->endpoint, region, &endpoint,
	                     &err) < 0) {
		attempt_fail(at, FLAG_READ_INTERNAL, "%s", err.msg);
		return false;
	}
	reader->ssm = ssm_client_new(&(struct ssm_client_config){.region = region,
	                                                         .endpoint = &endpoint,
	                                                         .creds = reader->loop->creds},
	                             &err);
	if (reader->ssm == NULL) {
		attempt_fail(at, FLAG_READ_INTERNAL, "%s", err.msg);
		return false;
	}
	return true;
}

static void read_ssm(struct flag_reader *reader, int64_t deadline, struct flag_attempt *at)
{
	struct ssm_result res;

	if (!ssm_client_ready(reader, deadline, at))
		return;
	ssm_get_parameter(reader->ssm, reader->src->name, deadline, &res);
	snprintf(at->request_id, sizeof(at->request_id), "%s", res.request_id);
	if (res.outcome != AWS_OK) {
		attempt_fail(at, (enum flag_read_result)res.outcome, "%s%s%s", res.error_type,
		             res.error_type[0] && res.message[0] ? ": " : "", res.message);
		at->backoff = res.outcome == AWS_THROTTLED || res.outcome == AWS_SERVER_ERROR;
		return;
	}
	at->version = res.parameter.version;
	attempt_value(at, res.parameter.value, res.parameter.value_len);
	explicit_bzero(&res.parameter, sizeof(res.parameter)); /* a SecureString is a secret */
}

/* ---- the reader thread --------------------------------------------------- */

/* One log line when a source's result changes (not one per failed read). */
static void log_change(struct flag_reader *reader, const struct flag_attempt *at)
{
	char now[sizeof(reader->logged)];
	struct log_line line;
	bool ok = at->result == FLAG_READ_OK;
	const char *result = flag_read_result_str(at->result);

	snprintf(now, sizeof(now), "%s %s", result, at->error);
	if (strcmp(now, reader->logged) == 0)
		return;
	memcpy(reader->logged, now, sizeof(now));
	log_begin(&line, ok ? LOG_INFO : LOG_WARN, "flag.read");
	log_str(&line, "source", reader->src->text);
	log_str(&line, "result", result);
	if (ok) {
		log_str(&line, "active_region", at->value.active_region);
		log_int(&line, "version", (int64_t)at->version);
	} else {
		log_str(&line, "error", at->error);
	}
	if (at->request_id[0])
		log_str(&line, "aws_request_id", at->request_id);
	log_end(&line, "flag source %zu: %s", reader->idx + 1, ok ? "read" : result);
}

static void record(struct flag_reader *reader, const struct flag_attempt *at, int64_t sent,
                   int64_t delay)
{
	struct flag_loop *loop = reader->loop;
	struct flag_source_status *status = &reader->status;
	bool ok = at->result == FLAG_READ_OK;
	int64_t now_wall = clock_wall_ms();

	if (ok)
		fence_record_read(loop->fence, reader->idx, &at->value, at->version, sent);
	pthread_mutex_lock(&loop->lock);
	status->has_result = true;
	status->result = at->result;
	snprintf(status->error, sizeof(status->error), "%s", ok ? "" : at->error);
	snprintf(status->request_id, sizeof(status->request_id), "%s", at->request_id);
	status->last_attempt_wall_ms = now_wall;
	status->next_attempt_mono_ms = sent + delay;
	if ((unsigned)at->result < FLAG_READ_RESULT_COUNT)
		status->reads[at->result]++;
	if (ok) {
		status->last_ok_wall_ms = now_wall;
		status->last_ok_sent_mono_ms = sent;
		status->has_value = true;
		memcpy(status->active_region, at->value.active_region,
		       sizeof(status->active_region));
		status->version = at->version;
		status->epoch = at->value.has_epoch ? at->value.epoch
		                : loop->count > 1   ? 0
		                                    : at->version;
		status->failures_in_row = 0;
	} else {
		status->failures_in_row++;
	}
	pthread_mutex_unlock(&loop->lock);
	log_change(reader, at);
}

/* Wait until deadline, beating /livez; true when the loop is stopping. */
static bool nap(struct flag_reader *reader, int64_t deadline)
{
	struct flag_loop *loop = reader->loop;
	bool stopping;

	pthread_mutex_lock(&loop->lock);
	while (!loop->stopping) {
		int64_t now = clock_mono_ms();
		int64_t until = deadline - now < FLAG_BEAT_MS ? deadline : now + FLAG_BEAT_MS;

		if (now >= deadline)
			break;
		clock_cond_wait_until(&loop->wake, &loop->lock, until);
		wd_state_beat(loop->state, reader->loop_id);
	}
	stopping = loop->stopping;
	pthread_mutex_unlock(&loop->lock);
	return stopping;
}

static void *reader_main(void *arg)
{
	struct flag_reader *reader = arg;
	struct flag_loop *loop = reader->loop;
	const struct flag_loop_config *cfg = loop->cfg;

	for (;;) {
		struct flag_attempt at;
		int64_t sent = clock_mono_ms();
		int64_t delay;

		memset(&at, 0, sizeof(at));
		wd_state_beat(loop->state, reader->loop_id);
		if (reader->src->kind == FLAG_SOURCE_FILE)
			read_file(reader->src, &at);
		else
			read_ssm(reader, sent + cfg->flag_timeout_ms, &at);
		wd_state_beat(loop->state, reader->loop_id);
		reader->backoff_failures = at.backoff ? reader->backoff_failures + 1 : 0;
		delay = flag_loop_delay_ms(cfg->flag_interval_ms, cfg->flag_ttl_ms,
		                           reader->backoff_failures, rng_unit(&reader->rng));
		record(reader, &at, sent, delay);
		explicit_bzero(&at, sizeof(at));
		if (loop->on_read != NULL)
			loop->on_read(loop->on_read_arg);
		if (nap(reader, sent + delay))
			break;
	}
	return NULL;
}

/* ---- life cycle ----------------------------------------------------------- */

static bool needs_ssm(const struct flag_loop_config *cfg)
{
	for (size_t i = 0; i < cfg->flag_count; i++) {
		if (cfg->flags[i].kind == FLAG_SOURCE_SSM)
			return true;
	}
	return false;
}

/* Keep owned copies of the AWS_* and ECS_* variables: the readers need them later. */
static int copy_env(struct flag_loop *loop, char *const *envp, struct wd_err *err)
{
	size_t kept = 0;

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (strncmp(envp[i], "AWS_", 4) != 0 && strncmp(envp[i], "ECS_", 4) != 0)
			continue;
		if (kept == FLAG_ENV_MAX)
			return wd_err_set(err, -E2BIG, "more than %d AWS_* and ECS_* variables",
			                  FLAG_ENV_MAX);
		loop->env[kept] = strdup(envp[i]);
		if (loop->env[kept] == NULL)
			return wd_err_set(err, -ENOMEM, "out of memory");
		kept++;
	}
	loop->env[kept] = NULL;
	return 0;
}

struct flag_loop *flag_loop_new(const struct flag_loop_config *cfg, char *const *envp,
                                struct fence *fence, struct wd_state *state, struct wd_err *err)
{
	struct flag_loop *loop;
	int rc;

	loop = calloc(1, sizeof(*loop) + cfg->flag_count * sizeof(loop->readers[0]));
	if (loop == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	loop->config = *cfg;
	loop->cfg = &loop->config;
	loop->fence = fence;
	loop->state = state;
	pthread_mutex_init(&loop->lock, NULL);
	clock_cond_init(&loop->wake);
	if (copy_env(loop, envp, err) < 0)
		goto fail;

	rc = aws_region_from_env(loop_env(loop), loop->region, err);
	if (rc == 0) {
		fence_set_region(fence, loop->region);
	} else if (rc != -ENOENT) {
		goto fail;
	} else if (aws_env_get(loop_env(loop), "ECS_CONTAINER_METADATA_URI_V4") == NULL) {
		wd_err_set(err, -EINVAL,
		           "cannot tell this task's region: set AWS_REGION (on ECS, task metadata "
		           "gives it)");
		goto fail;
	}
	if (needs_ssm(cfg)) {
		loop->creds = aws_creds_provider_new(loop_env(loop), err);
		if (loop->creds == NULL) {
			wd_err_prefix(err, "AWS credentials for the ssm: flag source");
			goto fail;
		}
	}
	loop->count = cfg->flag_count;
	for (size_t i = 0; i < loop->count; i++) {
		struct flag_reader *reader = &loop->readers[i];

		reader->loop = loop;
		reader->idx = i;
		reader->src = &cfg->flags[i];
		if (getrandom(&reader->rng, sizeof(reader->rng), 0) != sizeof(reader->rng))
			reader->rng = (uint64_t)clock_mono_us() ^ (i + 1);
		reader->rng |= 1;
		reader->loop_id = wd_state_add_loop(
		        state, "flag", cfg->flag_timeout_ms + FLAG_BEAT_MS + FLAG_STUCK_SLACK_MS);
	}
	return loop;
fail:
	flag_loop_free(loop);
	return NULL;
}

void flag_loop_on_read(struct flag_loop *loop, void (*on_read)(void *arg), void *arg)
{
	loop->on_read = on_read;
	loop->on_read_arg = arg;
}

int flag_loop_start(struct flag_loop *loop)
{
	for (size_t i = 0; i < loop->count; i++) {
		struct flag_reader *reader = &loop->readers[i];
		int rc;

		wd_state_beat(loop->state, reader->loop_id);
		rc = pthread_create(&reader->thread, NULL, reader_main, reader);
		if (rc != 0)
			return -rc;
		reader->running = true;
	}
	return 0;
}

void flag_loop_free(struct flag_loop *loop)
{
	if (loop == NULL)
		return;
	pthread_mutex_lock(&loop->lock);
	loop->stopping = true;
	pthread_cond_broadcast(&loop->wake);
	pthread_mutex_unlock(&loop->lock);
	for (size_t i = 0; i < loop->count; i++) {
		if (loop->readers[i].running)
			pthread_join(loop->readers[i].thread, NULL);
		ssm_client_free(loop->readers[i].ssm);
	}
	aws_creds_provider_free(loop->creds);
	for (size_t i = 0; loop->env[i] != NULL; i++) {
		explicit_bzero(loop->env[i], strlen(loop->env[i])); /* may hold a secret key */
		free(loop->env[i]);
	}
	pthread_cond_destroy(&loop->wake);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

void flag_loop_status(struct flag_loop *loop, size_t i, struct flag_source_status *out)
{
	if (i >= loop->count)
		return;
	pthread_mutex_lock(&loop->lock);
	*out = loop->readers[i].status;
	pthread_mutex_unlock(&loop->lock);
}

void flag_loop_region(struct flag_loop *loop, char out[FLAG_REGION_MAX + 1])
{
	pthread_mutex_lock(&loop->lock);
	memcpy(out, loop->region, FLAG_REGION_MAX + 1);
	pthread_mutex_unlock(&loop->lock);
}
