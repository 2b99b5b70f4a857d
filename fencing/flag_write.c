/*
 * flag_write.c - read, write and confirm the flag on every source (see
 * flag_write.h).
 */
#include "fencing/flag_write.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "aws/aws_creds.h"
#include "aws/ssm.h"
#include "fencing/fence_file.h"

#define FLAG_WRITE_ROUND_MS  200  /* the pause between read-back rounds; the first retry's */
#define FLAG_WRITE_RETRY_MAX 2000 /* a retry's pause doubles up to this (full jitter) */

struct flag_writer {
	struct flag_write_config cfg;
	struct aws_creds_provider *creds;          /* NULL without ssm: sources */
	struct ssm_client *ssm[FENCE_SOURCES_MAX]; /* per ssm: source; one thread at a time */
};

enum job_kind { JOB_READ, JOB_WRITE };

/* One source's work on its own thread. */
struct job {
	struct flag_writer *w;
	size_t idx;
	enum job_kind kind;
	const char *value; /* JOB_WRITE */
	bool run;
	pthread_t thread;
	struct flag_write_read read; /* JOB_READ */
	bool written;                /* JOB_WRITE */
	uint64_t version;
	char result[FLAG_WRITE_RESULT_MAX];
	char error[WD_ERR_MSG_MAX];
	bool retry; /* it failed in a way worth another try: throttled, 5xx */
};

static void job_fail(struct job *job, const char *result, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void job_fail(struct job *job, const char *result, const char *fmt, ...)
{
	char *error = job->kind == JOB_READ ? job->read.error : job->error;
	char *res = job->kind == JOB_READ ? job->read.result : job->result;
	va_list ap;

	snprintf(res, FLAG_WRITE_RESULT_MAX, "%s", result);
	va_start(ap, fmt);
	vsnprintf(error, WD_ERR_MSG_MAX, fmt, ap);
	va_end(ap);
}

/* The epoch of a read among count sources: fence.h's rule. */
static uint64_t value_epoch(const struct flag_value *value, uint64_t version, size_t count)
{
	if (value->has_epoch || count > 1)
		return value->epoch;
	return version;
}

static void job_value(struct job *job, const char *text, size_t len)
{
	struct wd_err err = {0};

	if (flag_value_parse(text, len, &job->read.value, &err) < 0) {
		job_fail(job, "bad_value", "%s", err.msg);
		return;
	}
	job->read.ok = true;
	memcpy(job->read.text, text, len);
	job->read.text[len] = '\0';
	job->read.epoch = value_epoch(&job->read.value, job->read.version, job->w->cfg.flag_count);
	snprintf(job->read.result, sizeof(job->read.result), "ok");
}

/* A file source: a regular file of at most FLAG_VALUE_MAX bytes. */
static void read_file(struct job *job, const char *path)
{
	char buf[FLAG_VALUE_MAX + 1];
	size_t used = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		job_fail(job, errno == ENOENT ? "not_found" : "io_error", "%s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		job_fail(job, "io_error", "not a regular file");
		goto out;
	}
	while (used < sizeof(buf)) {
		ssize_t n = read(fd, buf + used, sizeof(buf) - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			job_fail(job, "io_error", "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > FLAG_VALUE_MAX) {
		job_fail(job, "bad_value", "file larger than %d bytes", FLAG_VALUE_MAX);
		goto out;
	}
	job_value(job, buf, used);
out:
	close(fd);
}

static void ssm_failed(struct job *job, const struct ssm_result *res)
{
	/* SSM's quota is shared by every task of the account and region: on the
	 * day of a failover the fleet itself may use it up. Throttling and 5xx
	 * are worth another try; a region that does not answer (timeout,
	 * network) is the outage itself and would only delay the flip, and auth,
	 * not_found or a bad value will not change. */
	job->retry = res->outcome == AWS_THROTTLED || res->outcome == AWS_SERVER_ERROR;
	job_fail(job, aws_outcome_str(res->outcome), "%s%s%s", res->error_type,
	         res->error_type[0] && res->message[0] ? ": " : "", res->message);
}

static void *job_main(void *arg)
{
	struct job *job = arg;
	const struct flag_source *src = &job->w->cfg.flags[job->idx];
	int64_t deadline;
	struct ssm_result *res = NULL;
	struct wd_err err = {0};

	job->read.sent_mono_ms = clock_mono_ms();
	job->read.sent_wall_ms = clock_wall_ms();
	deadline = job->read.sent_mono_ms + job->w->cfg.timeout_ms;
	if (src->kind == FLAG_SOURCE_FILE) {
		if (job->kind == JOB_READ)
			read_file(job, src->path);
		else if (fence_file_write(src->path, job->value, strlen(job->value), &err) < 0)
			job_fail(job, "io_error", "%s", err.msg);
		else
			job->written = true;
		goto out;
	}
	res = malloc(sizeof(*res));
	if (res == NULL) {
		job_fail(job, "internal", "out of memory");
		goto out;
	}
	if (job->kind == JOB_READ) {
		if (ssm_get_parameter(job->w->ssm[job->idx], src->name, deadline, res) != AWS_OK) {
			ssm_failed(job, res);
			goto out;
		}
		job->read.version = res->parameter.version;
		job_value(job, res->parameter.value, res->parameter.value_len);
	} else {
		if (ssm_put_parameter(job->w->ssm[job->idx], src->name, job->value, true, deadline,
		                      res) != AWS_OK) {
			ssm_failed(job, res);
			goto out;
		}
		job->written = true;
		job->version = res->version;
	}
out:
	job->read.answered_mono_ms = clock_mono_ms();
	if (res != NULL)
		explicit_bzero(res, sizeof(*res));
	free(res);
	return NULL;
}

/* Run jobs[i] for every i with jobs[i].run, each on its own thread; wait for all. */
static void run_jobs(struct job *jobs, size_t count)
{
	bool started[FENCE_SOURCES_MAX] = {false};

	for (size_t i = 0; i < count; i++) {
		if (!jobs[i].run)
			continue;
		if (pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]) == 0)
			started[i] = true;
		else
			job_main(&jobs[i]); /* no thread: do it here */
	}
	for (size_t i = 0; i < count; i++) {
		if (started[i])
			pthread_join(jobs[i].thread, NULL);
	}
}

static void jobs_init(struct flag_writer *w, struct job *jobs, enum job_kind kind,
                      const char *value)
{
	memset(jobs, 0, sizeof(*jobs) * FENCE_SOURCES_MAX);
	for (size_t i = 0; i < w->cfg.flag_count; i++) {
		jobs[i].w = w;
		jobs[i].idx = i;
		jobs[i].kind = kind;
		jobs[i].value = value;
		jobs[i].run = true;
	}
}

struct flag_writer *flag_writer_new(const struct flag_write_config *cfg, char *const *envp,
                                    struct wd_err *err)
{
	const char *const *env = (const char *const *)envp;
	struct flag_writer *w = calloc(1, sizeof(*w));
	char task_region[AWS_REGION_MAX + 1] = "";

	if (w == NULL) {
		wd_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	w->cfg = *cfg;
	if (w->cfg.flag_count > FENCE_SOURCES_MAX)
		w->cfg.flag_count = FENCE_SOURCES_MAX;
	for (size_t i = 0; i < w->cfg.flag_count; i++) {
		const struct flag_source *src = &cfg->flags[i];
		const char *region = src->region;
		struct aws_endpoint endpoint;

		if (src->kind != FLAG_SOURCE_SSM)
			continue;
		if (w->creds == NULL) {
			w->creds = aws_creds_provider_new(env, err);
			if (w->creds == NULL) {
				wd_err_prefix(err, "AWS credentials for the ssm: flag sources");
				goto fail;
			}
		}
		if (region[0] == '\0') {
			if (task_region[0] == '\0' &&
			    aws_region_resolve(env, clock_mono_ms() + cfg->timeout_ms, task_region,
			                       err) < 0) {
				wd_err_prefix(err, "source %zu: this task's region", i + 1);
				goto fail;
			}
			region = task_region;
		}
		if (aws_endpoint_for(env, "ssm", src->endpoint, region, &endpoint, err) < 0) {
			wd_err_prefix(err, "source %zu", i + 1);
			goto fail;
		}
		w->ssm[i] = ssm_client_new(&(struct ssm_client_config){.region = region,
		                                                       .endpoint = &endpoint,
		                                                       .creds = w->creds},
		                           err);
		if (w->ssm[i] == NULL) {
			wd_err_prefix(err, "source %zu", i + 1);
			goto fail;
		}
	}
	return w;
fail:
	flag_writer_free(w);
	return NULL;
}

void flag_writer_free(struct flag_writer *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < FENCE_SOURCES_MAX; i++)
		ssm_client_free(w->ssm[i]);
	aws_creds_provider_free(w->creds);
	free(w);
}

void flag_writer_read_all(struct flag_writer *w, struct flag_write_read *out)
{
	struct job *jobs = calloc(FENCE_SOURCES_MAX, sizeof(*jobs));

	if (jobs == NULL) {
		for (size_t i = 0; i < w->cfg.flag_count; i++) {
			memset(&out[i], 0, sizeof(out[i]));
			snprintf(out[i].result, sizeof(out[i].result), "internal");
			snprintf(out[i].error, sizeof(out[i].error), "out of memory");
		}
		return;
	}
	jobs_init(w, jobs, JOB_READ, NULL);
	run_jobs(jobs, w->cfg.flag_count);
	for (size_t i = 0; i < w->cfg.flag_count; i++)
		out[i] = jobs[i].read;
	free(jobs);
}

void flag_writer_verdict(const struct flag_writer *w, const struct flag_write_read *reads,
                         int64_t now_mono_ms, struct fence_quorum_verdict *out)
{
	struct fence_reading readings[FENCE_SOURCES_MAX];

	memset(readings, 0, sizeof(readings));
	for (size_t i = 0; i < w->cfg.flag_count; i++) {
		readings[i].present = reads[i].ok;
		readings[i].value = reads[i].value;
		readings[i].version = reads[i].version;
		readings[i].sent_mono_ms = reads[i].sent_mono_ms;
	}
	fence_quorum_decide(readings, w->cfg.flag_count, w->cfg.quorum, w->cfg.ttl_ms, now_mono_ms,
	                    false, out);
}

static void say(void (*progress)(void *, const char *), void *arg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void say(void (*progress)(void *, const char *), void *arg, const char *fmt, ...)
{
	char line[WD_ERR_MSG_MAX * 2];
	va_list ap;

	if (progress == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	progress(arg, line);
}

/* The value written: {"active_region","epoch","set_at","by","reason"}. */
static int make_value(const struct flag_set_request *req, uint64_t epoch, char *out, size_t size,
                      struct wd_err *err)
{
	char set_at[40];
	json_t *doc;
	char *text;
	struct flag_value check;
	int rc = 0;

	clock_format_rfc3339(clock_wall_ms(), set_at, sizeof(set_at));
	doc = json_pack("{s:s, s:I, s:s, s:s, s:s}", "active_region", req->region, "epoch",
	                (json_int_t)epoch, "set_at", set_at, "by", req->by, "reason", req->reason);
	if (doc == NULL)
		return wd_err_set(err, -EINVAL, "--reason and the writer's name must be UTF-8");
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL)
		return wd_err_set(err, -ENOMEM, "out of memory");
	if (strlen(text) >= size || strlen(text) > FLAG_VALUE_MAX) {
		rc = wd_err_set(err, -EINVAL,
		                "the value would be longer than %d bytes: shorten --reason",
		                FLAG_VALUE_MAX);
		goto out;
	}
	/* What every task will parse: make sure it does. */
	if (flag_value_parse(text, strlen(text), &check, err) < 0) {
		rc = -EINVAL;
		goto out;
	}
	memcpy(out, text, strlen(text) + 1);
out:
	free(text);
	return rc;
}

/* Step 3: read back until a quorum shows (region, epoch), or the confirm timeout. */
static void confirm(struct flag_writer *w, const struct flag_set_request *req, struct job *jobs,
                    void (*progress)(void *, const char *), void *arg, struct flag_set_report *out)
{
	size_t count = w->cfg.flag_count;
	int64_t deadline = clock_mono_ms() + w->cfg.confirm_timeout_ms;

	for (unsigned round = 1;; round++) {
		jobs_init(w, jobs, JOB_READ, NULL);
		for (size_t i = 0; i < count; i++)
			jobs[i].run = !out->sources[i].confirmed;
		run_jobs(jobs, count);
		for (size_t i = 0; i < count; i++) {
			struct flag_write_source *src = &out->sources[i];
			const struct flag_write_read *read = &jobs[i].read;

			if (!jobs[i].run)
				continue;
			if (!read->ok) {
				snprintf(src->confirm_error, sizeof(src->confirm_error), "%s: %s",
				         read->result, read->error);
				continue;
			}
			if (read->epoch != out->epoch ||
			    strcmp(read->value.active_region, req->region) != 0) {
				snprintf(src->confirm_error, sizeof(src->confirm_error),
				         "reads %s at epoch %llu", read->value.active_region,
				         (unsigned long long)read->epoch);
				continue;
			}
			src->confirmed = true;
			src->confirm_error[0] = '\0';
			/* Sent after the acknowledged write: the source held it from then. */
			src->confirmed_mono_ms =
			        src->written ? read->sent_mono_ms : read->answered_mono_ms;
			src->confirmed_wall_ms =
			        read->sent_wall_ms + (src->confirmed_mono_ms - read->sent_mono_ms);
			out->confirmed_count++;
			if (src->confirmed_mono_ms > out->confirmed_mono_ms) {
				out->confirmed_mono_ms = src->confirmed_mono_ms;
				out->confirmed_wall_ms = src->confirmed_wall_ms;
			}
			say(progress, arg, "source %zu (%s): confirmed epoch %llu", i + 1,
			    w->cfg.flags[i].text, (unsigned long long)out->epoch);
		}
		if (out->confirmed_count >= w->cfg.quorum) {
			out->status = FLAG_SET_CONFIRMED;
			return;
		}
		if (clock_mono_ms() + FLAG_WRITE_ROUND_MS >= deadline)
			break;
		say(progress, arg, "read-back round %u: %zu of %zu needed confirmed; again", round,
		    out->confirmed_count, w->cfg.quorum);
		clock_sleep_ms(FLAG_WRITE_ROUND_MS);
	}
	out->status = FLAG_SET_UNCONFIRMED;
	snprintf(out->error, sizeof(out->error),
	         "epoch %llu confirmed on %zu of %zu needed sources within %lld ms: the write "
	         "may be partial; run flag set again",
	         (unsigned long long)out->epoch, out->confirmed_count, w->cfg.quorum,
	         (long long)w->cfg.confirm_timeout_ms);
}

/*
 * Run the jobs again that failed with job->retry, after a pause (full
 * jitter, doubling from FLAG_WRITE_ROUND_MS up to FLAG_WRITE_RETRY_MAX),
 * until done(jobs) says enough, none is left to retry, or the next round
 * would start after until_mono_ms. A job that succeeded is never run again.
 */
static void retry_jobs(struct flag_writer *w, struct job *jobs, int64_t until_mono_ms,
                       bool (*done)(struct flag_writer *, struct job *),
                       void (*progress)(void *, const char *), void *arg)
{
	int64_t pause = FLAG_WRITE_ROUND_MS;

	for (unsigned round = 1; !done(w, jobs); round++) {
		size_t again = 0;
		int64_t wait = pause / 2 + clock_mono_us() % (pause / 2 + 1); /* jitter */

		for (size_t i = 0; i < w->cfg.flag_count; i++) {
			bool ok = jobs[i].kind == JOB_READ ? jobs[i].read.ok : jobs[i].written;

			jobs[i].run = !ok && jobs[i].retry;
			again += jobs[i].run;
		}
		if (again == 0 || clock_mono_ms() + wait >= until_mono_ms)
			return;
		say(progress, arg, "retry %u: %zu source%s again in %lld ms", round, again,
		    again == 1 ? "" : "s", (long long)wait);
		clock_sleep_ms(wait);
		for (size_t i = 0; i < w->cfg.flag_count; i++) {
			if (!jobs[i].run)
				continue;
			memset(&jobs[i].read, 0, sizeof(jobs[i].read));
			jobs[i].result[0] = jobs[i].error[0] = '\0';
			jobs[i].retry = false;
		}
		run_jobs(jobs, w->cfg.flag_count);
		if (pause < FLAG_WRITE_RETRY_MAX)
			pause = pause * 2 > FLAG_WRITE_RETRY_MAX ? FLAG_WRITE_RETRY_MAX : pause * 2;
	}
}

/* Enough reads: a quorum of them is valid. */
static bool reads_done(struct flag_writer *w, struct job *jobs)
{
	size_t ok = 0;

	for (size_t i = 0; i < w->cfg.flag_count; i++)
		ok += jobs[i].read.ok;
	return ok >= w->cfg.quorum;
}

/*
 * Enough writes: a quorum took it (the read-back confirms it; a source left
 * behind holds the old epoch, which no quorum can decide by, and the report
 * names it so that the operator can run flag set again).
 */
static bool writes_done(struct flag_writer *w, struct job *jobs)
{
	size_t written = 0;

	for (size_t i = 0; i < w->cfg.flag_count; i++)
		written += jobs[i].written;
	return written >= w->cfg.quorum;
}

int flag_writer_set(struct flag_writer *w, const struct flag_set_request *req,
                    void (*progress)(void *arg, const char *line), void *arg,
                    struct flag_set_report *out, struct wd_err *err)
{
	struct flag_write_read reads[FENCE_SOURCES_MAX];
	size_t count = w->cfg.flag_count;
	struct job *jobs = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (flag_region_check(req->region, err) < 0) {
		wd_err_prefix(err, "REGION");
		return -EINVAL;
	}
	if (strlen(req->reason) > FLAG_WRITE_REASON_MAX)
		return wd_err_set(err, -EINVAL, "--reason is longer than %d bytes",
		                  FLAG_WRITE_REASON_MAX);
	jobs = calloc(FENCE_SOURCES_MAX, sizeof(*jobs));
	if (jobs == NULL)
		return wd_err_set(err, -ENOMEM, "out of memory");

	/* 1. Read every source; the next epoch is the highest seen + 1. Sources
	 * that failed for a passing reason (throttled...) are read again until a
	 * quorum answered, within the read-back's time. */
	say(progress, arg, "reading %zu source%s (quorum %zu)", count, count == 1 ? "" : "s",
	    w->cfg.quorum);
	jobs_init(w, jobs, JOB_READ, NULL);
	run_jobs(jobs, count);
	retry_jobs(w, jobs, clock_mono_ms() + w->cfg.confirm_timeout_ms, reads_done, progress, arg);
	for (size_t i = 0; i < count; i++)
		reads[i] = jobs[i].read;
	flag_writer_verdict(w, reads, clock_mono_ms(), &out->before);
	for (size_t i = 0; i < count; i++) {
		out->sources[i].read = reads[i];
		if (reads[i].ok && reads[i].epoch > out->highest_seen)
			out->highest_seen = reads[i].epoch;
		if (reads[i].ok)
			say(progress, arg, "source %zu (%s): %s at epoch %llu", i + 1,
			    w->cfg.flags[i].text, reads[i].value.active_region,
			    (unsigned long long)reads[i].epoch);
		else
			say(progress, arg, "source %zu (%s): %s: %s", i + 1, w->cfg.flags[i].text,
			    reads[i].result, reads[i].error);
	}
	if (req->epoch != 0) {
		out->epoch = req->epoch;
	} else if (out->before.valid >= w->cfg.quorum) {
		out->epoch = out->highest_seen + 1;
	} else {
		out->status = FLAG_SET_NO_QUORUM;
		snprintf(
		        out->error, sizeof(out->error),
		        "no quorum of valid reads (%s): cannot tell the next epoch; give --epoch N "
		        "(above every epoch any source may hold)",
		        out->before.reason);
		goto out;
	}
	if (out->epoch > FLAG_EPOCH_MAX) {
		rc = wd_err_set(err, -EINVAL, "epoch above %llu",
		                (unsigned long long)FLAG_EPOCH_MAX);
		goto out;
	}
	if (out->epoch <= out->highest_seen)
		say(progress, arg,
		    "warning: epoch %llu is not above the highest seen (%llu): tasks keep the "
		    "higher",
		    (unsigned long long)out->epoch, (unsigned long long)out->highest_seen);
	rc = make_value(req, out->epoch, out->value, sizeof(out->value), err);
	if (rc < 0)
		goto out;

	/* 2. Write it to every source, in parallel. */
	say(progress, arg, "writing %s at epoch %llu to every source", req->region,
	    (unsigned long long)out->epoch);
	jobs_init(w, jobs, JOB_WRITE, out->value);
	run_jobs(jobs, count);
	retry_jobs(w, jobs, clock_mono_ms() + w->cfg.confirm_timeout_ms, writes_done, progress,
	           arg);
	for (size_t i = 0; i < count; i++) {
		struct flag_write_source *src = &out->sources[i];

		src->written = jobs[i].written;
		src->version = jobs[i].version;
		snprintf(src->write_result, sizeof(src->write_result), "%s",
		         jobs[i].written ? "ok" : jobs[i].result);
		snprintf(src->write_error, sizeof(src->write_error), "%s",
		         jobs[i].written ? "" : jobs[i].error);
		if (src->written)
			say(progress, arg, "source %zu (%s): written", i + 1, w->cfg.flags[i].text);
		else
			say(progress, arg, "source %zu (%s): write failed: %s: %s", i + 1,
			    w->cfg.flags[i].text, src->write_result, src->write_error);
	}

	/* 3. Read back until a quorum holds it. */
	confirm(w, req, jobs, progress, arg, out);
out:
	free(jobs);
	return rc;
}
