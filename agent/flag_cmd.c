/*
 * flag_cmd.c - `warden flag get` / `warden flag set` (see flag_cmd.h).
 */
#include "agent/flag_cmd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "aws/aws.h"
#include "aws/aws_creds.h"
#include "aws/cloudwatch.h"
#include "fencing/fence.h"
#include "fencing/flag_write.h"

#define EXIT_OK       0
#define EXIT_NOT_DONE 1
#define EXIT_USAGE    2

static void usage(void)
{
	fprintf(stderr, "usage: warden flag get\n"
	                "       warden flag set REGION [--reason TEXT] [--epoch N] [--wait] "
	                "[--verify]\n");
}

static void progress(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "warden flag: %s\n", line);
}

static json_t *time_or_null(int64_t wall_ms)
{
	char text[40];

	if (wall_ms <= 0)
		return json_null();
	clock_format_rfc3339(wall_ms, text, sizeof(text));
	return json_string(text);
}

static json_t *text_or_null(const char *text)
{
	return text[0] != '\0' ? json_string(text) : json_null();
}

/* Print doc as one line on stdout; frees it. */
static void print_doc(json_t *doc)
{
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                                                   JSON_REAL_PRECISION(6))
	                         : NULL;

	if (text == NULL) {
		fprintf(stderr, "warden flag: out of memory\n");
	} else {
		printf("%s\n", text);
		fflush(stdout);
	}
	free(text);
	json_decref(doc);
}

/* The age of a value from its "set_at" (flag set writes it), or null. */
static json_t *value_age(const struct flag_write_read *read)
{
	json_t *doc = json_loads(read->text, JSON_REJECT_DUPLICATES, NULL);
	const char *set_at = NULL;
	json_t *age = json_null();
	int64_t when;

	if (json_is_object(doc))
		set_at = json_string_value(json_object_get(doc, "set_at"));
	if (set_at != NULL && aws_parse_rfc3339(set_at, strlen(set_at), &when) == 0) {
		json_decref(age);
		age = json_real((double)(clock_wall_ms() - when) / 1000.0);
	}
	json_decref(doc);
	return age;
}

static json_t *read_to_json(const struct flag_source *src, const struct flag_write_read *read,
                            bool counts)
{
	json_t *obj = json_object();

	json_object_set_new(obj, "source", json_string(src->text));
	json_object_set_new(obj, "result", json_string(read->result));
	json_object_set_new(obj, "value", read->ok ? json_string(read->text) : json_null());
	json_object_set_new(obj, "active_region",
	                    read->ok ? json_string(read->value.active_region) : json_null());
	json_object_set_new(obj, "epoch",
	                    read->ok ? json_integer((json_int_t)read->epoch) : json_null());
	json_object_set_new(obj, "version",
	                    read->ok && src->kind == FLAG_SOURCE_SSM
	                            ? json_integer((json_int_t)read->version)
	                            : json_null());
	json_object_set_new(obj, "age_seconds", read->ok ? value_age(read) : json_null());
	json_object_set_new(obj, "read_ms",
	                    json_integer(read->answered_mono_ms - read->sent_mono_ms));
	json_object_set_new(obj, "counts", json_boolean(counts));
	json_object_set_new(obj, "error", text_or_null(read->error));
	return obj;
}

/* The verdict a task would compute: state, active region, epoch, quorum. */
static json_t *verdict_to_json(const struct fence_quorum_verdict *v, size_t sources)
{
	json_t *missing = json_array();
	json_t *counted = json_array();

	for (size_t i = 0; i < sources; i++)
		json_array_append_new((v->counted & (1u << i)) ? counted : missing,
		                      json_integer((json_int_t)(i + 1)));
	return json_pack(
	        "{s:s, s:o, s:o, s:{s:I, s:I, s:b, s:o, s:o}, s:b, s:s}", "state",
	        v->state == FENCE_ACTIVE ? "agreed" : fence_state_str(v->state), "active_region",
	        v->state == FENCE_ACTIVE ? json_string(v->active_region) : json_null(), "epoch",
	        v->state == FENCE_ACTIVE ? json_integer((json_int_t)v->epoch) : json_null(),
	        "quorum", "needed", (json_int_t)v->needed, "of", (json_int_t)sources, "met",
	        v->valid >= v->needed, "counted", counted, "missing", missing, "conflict",
	        v->state == FENCE_CONFLICT, "reason", v->reason);
}

static struct flag_write_config write_config(const struct wd_config *cfg)
{
	return (struct flag_write_config){
	        .flags = cfg->flags,
	        .flag_count = cfg->flag_count,
	        .quorum = cfg->flag_quorum_needed,
	        .timeout_ms = cfg->flag_timeout_ms,
	        .ttl_ms = cfg->flag_ttl_ms,
	        .confirm_timeout_ms = FLAG_CMD_CONFIRM_TIMEOUTS * cfg->flag_timeout_ms,
	};
}

static int cmd_get(const struct wd_config *cfg, struct flag_writer *w)
{
	struct flag_write_read reads[FENCE_SOURCES_MAX];
	struct fence_quorum_verdict verdict;
	json_t *sources = json_array();

	flag_writer_read_all(w, reads);
	flag_writer_verdict(w, reads, clock_mono_ms(), &verdict);
	for (size_t i = 0; i < cfg->flag_count; i++)
		json_array_append_new(sources, read_to_json(&cfg->flags[i], &reads[i],
		                                            (verdict.counted & (1u << i)) != 0));
	print_doc(json_pack("{s:o, s:o}", "sources", sources, "verdict",
	                    verdict_to_json(&verdict, cfg->flag_count)));
	return verdict.state == FENCE_ACTIVE ? EXIT_OK : EXIT_NOT_DONE;
}

/* Who flips the flag: $USER@host (a task's host name is its ENI's). */
static void writer_name(char *out, size_t size)
{
	char host[128] = "unknown-host";
	const char *user = getenv("USER");

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (user != NULL && user[0] != '\0')
		snprintf(out, size, "warden flag set by %.64s@%s", user, host);
	else
		snprintf(out, size, "warden flag set on %s", host);
}

static json_t *set_source_to_json(const struct flag_source *src, const struct flag_write_source *s,
                                  bool attempted)
{
	json_t *obj = json_object();

	json_object_set_new(obj, "source", json_string(src->text));
	json_object_set_new(obj, "read", read_to_json(src, &s->read, false));
	json_object_del(json_object_get(obj, "read"), "source");
	json_object_del(json_object_get(obj, "read"), "counts");
	json_object_set_new(obj, "written", json_boolean(s->written));
	json_object_set_new(obj, "write_error",
	                    attempted && !s->written
	                            ? json_sprintf("%s: %s", s->write_result, s->write_error)
	                            : json_null());
	json_object_set_new(obj, "version",
	                    s->written && src->kind == FLAG_SOURCE_SSM
	                            ? json_integer((json_int_t)s->version)
	                            : json_null());
	json_object_set_new(obj, "confirmed", json_boolean(s->confirmed));
	json_object_set_new(obj, "confirm_error",
	                    s->confirmed || !attempted ? json_null()
	                                               : text_or_null(s->confirm_error));
	return obj;
}

/* Round up to a period CloudWatch accepts: 1, 5, 10, 20, 30 s or a multiple of 60. */
static int64_t verify_period_s(int64_t interval_ms)
{
	static const int64_t short_periods[] = {1, 5, 10, 20, 30};
	int64_t seconds = (interval_ms + 999) / 1000;

	for (size_t i = 0; i < sizeof(short_periods) / sizeof(short_periods[0]); i++)
		if (seconds <= short_periods[i])
			return short_periods[i];
	return (seconds + 59) / 60 * 60;
}

/*
 * The fleet's acknowledgement (--verify): after safe_at, ask CloudWatch for
 * the old region's Writable Sum and SampleCount (namespace Warden, dimension
 * set [Region]) over the first whole period after safe_at, one heartbeat
 * interval long (rounded up to a period CloudWatch accepts), once that period
 * has ended and FLAG_CMD_VERIFY_SLACK_MS more have passed for the last
 * heartbeats to be delivered. Adds old_region, old_region_writable,
 * old_region_reporting, verify_window and verify_error to doc. Never changes
 * the exit code: the bound (safe_at) does not depend on it.
 */
static void verify_old_region(const struct wd_config *cfg, char *const *envp,
                              const char *old_region, int64_t safe_mono, int64_t safe_wall,
                              json_t *doc)
{
	const char *const *env = (const char *const *)envp;
	int64_t period_s = verify_period_s(cfg->emf_interval_ms);
	int64_t start_s = (safe_wall / 1000 + period_s - 1) / period_s * period_s;
	int64_t end_s = start_s + period_s;
	struct cloudwatch_dimension dims[1] = {{"Region", old_region}};
	struct cloudwatch_query q = {
	        .namespace_ = "Warden",
	        .metric_name = "Writable",
	        .dimensions = dims,
	        .dimension_count = 1,
	        .period_s = period_s,
	        .start_s = start_s,
	        .end_s = end_s,
	};
	struct cloudwatch_result *res = calloc(1, sizeof(*res));
	struct aws_creds_provider *creds = NULL;
	struct cloudwatch_client *client = NULL;
	struct aws_endpoint endpoint;
	struct wd_err err = {0, ""};
	char error[WD_ERR_MSG_MAX + 64] = "";
	double writable = 0;
	double reporting = 0;

	json_object_set_new(doc, "old_region",
	                    old_region[0] != '\0' ? json_string(old_region) : json_null());
	json_object_set_new(doc, "verify_window",
	                    json_pack("{s:o, s:o, s:I}", "start", time_or_null(start_s * 1000),
	                              "end", time_or_null(end_s * 1000), "period_s",
	                              (json_int_t)period_s));
	if (res == NULL) {
		snprintf(error, sizeof(error), "out of memory");
		goto out;
	}
	if (old_region[0] == '\0') {
		snprintf(error, sizeof(error),
		         "no old region: the sources agreed on no region before the flip");
		goto out;
	}
	if (aws_endpoint_for(env, "monitoring", NULL, old_region, &endpoint, &err) < 0 ||
	    (creds = aws_creds_provider_new(env, &err)) == NULL ||
	    (client = cloudwatch_client_new(
	             &(struct cloudwatch_client_config){
	                     .region = old_region, .endpoint = &endpoint, .creds = creds},
	             &err)) == NULL) {
		snprintf(error, sizeof(error), "%s", err.msg);
		goto out;
	}
	fprintf(stderr,
	        "warden flag set: verify: waiting for the %llds period after safe_at, then "
	        "asking CloudWatch in %s for Writable of Region=%s\n",
	        (long long)period_s, old_region, old_region);
	clock_sleep_until(safe_mono + (end_s * 1000 - safe_wall) + FLAG_CMD_VERIFY_SLACK_MS);
	if (cloudwatch_get_metric_data(client, &q, clock_mono_ms() + FLAG_CMD_VERIFY_TIMEOUT_MS,
	                               res) != AWS_OK) {
		snprintf(error, sizeof(error), "CloudWatch unreachable or refused (%s): %s",
		         aws_outcome_str(res->outcome), res->message);
		goto out;
	}
	writable = res->stats.sum;
	reporting = res->stats.sample_count;
	if (res->stats.points == 0 || reporting <= 0)
		snprintf(error, sizeof(error),
		         "no data: no task of %s reported a heartbeat in the window", old_region);
out:
	json_object_set_new(doc, "old_region_writable",
	                    error[0] == '\0' ? json_integer((json_int_t)writable) : json_null());
	json_object_set_new(doc, "old_region_reporting", json_integer((json_int_t)reporting));
	json_object_set_new(doc, "verify_error",
	                    error[0] != '\0' ? json_string(error) : json_null());
	if (error[0] != '\0')
		fprintf(stderr,
		        "warden flag set: WARNING: verify: the old region %s is not reporting "
		        "(old_region_reporting 0): %s; the flip stands (safe_at does not depend on "
		        "it): check its tasks with the Logs Insights query of the runbook\n",
		        old_region[0] != '\0' ? old_region : "(unknown)", error);
	else
		fprintf(stderr,
		        "warden flag set: verify: %s: Sum(Writable) = %.0f over %.0f samples "
		        "(SampleCount) in the window%s\n",
		        old_region, writable, reporting,
		        writable > 0 ? ": WARNING: a task of the old region still says writable"
		                     : "");
	cloudwatch_client_free(client);
	aws_creds_provider_free(creds);
	free(res);
}

static int cmd_set(const struct wd_config *cfg, struct flag_writer *w, const char *region,
                   const char *reason, uint64_t epoch, bool wait, bool verify, char *const *envp)
{
	struct flag_set_report *report = malloc(sizeof(*report));
	struct fence_timing timing;
	struct wd_err err = {0};
	char by[FLAG_WRITE_BY_MAX];
	json_t *sources = json_array();
	json_t *doc;
	int64_t safe_mono = 0;
	int64_t safe_wall = 0;
	bool attempted;
	int rc;

	if (report == NULL) {
		fprintf(stderr, "warden flag: out of memory\n");
		json_decref(sources);
		return EXIT_NOT_DONE;
	}
	fence_timing(cfg->flag_interval_ms, cfg->flag_timeout_ms, cfg->flag_ttl_ms,
	             cfg->on_stale_hold, &timing);
	writer_name(by, sizeof(by));
	rc = flag_writer_set(w,
	                     &(struct flag_set_request){
	                             .region = region, .reason = reason, .by = by, .epoch = epoch},
	                     progress, NULL, report, &err);
	if (rc < 0) {
		fprintf(stderr, "warden flag set: %s\n", err.msg);
		json_decref(sources);
		free(report);
		return EXIT_USAGE;
	}
	attempted = report->status != FLAG_SET_NO_QUORUM;
	for (size_t i = 0; i < cfg->flag_count; i++)
		json_array_append_new(sources, set_source_to_json(&cfg->flags[i],
		                                                  &report->sources[i], attempted));
	if (report->status == FLAG_SET_CONFIRMED && !timing.unbounded) {
		safe_mono = report->confirmed_mono_ms + timing.worst_case_ms;
		safe_wall = report->confirmed_wall_ms + timing.worst_case_ms;
	}
	doc = json_pack(
	        "{s:b, s:s, s:o, s:s, s:{s:I, s:I, s:I}, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "ok",
	        report->status == FLAG_SET_CONFIRMED, "status",
	        report->status == FLAG_SET_CONFIRMED     ? "confirmed"
	        : report->status == FLAG_SET_UNCONFIRMED ? "unconfirmed"
	                                                 : "refused",
	        "epoch", attempted ? json_integer((json_int_t)report->epoch) : json_null(),
	        "active_region", region, "quorum", "needed", (json_int_t)cfg->flag_quorum_needed,
	        "of", (json_int_t)cfg->flag_count, "confirmed", (json_int_t)report->confirmed_count,
	        "sources", sources, "confirmed_at",
	        time_or_null(report->status == FLAG_SET_CONFIRMED ? report->confirmed_wall_ms : 0),
	        "safe_at",
	        report->status == FLAG_SET_CONFIRMED && timing.unbounded ? json_string("unbounded")
	                                                                 : time_or_null(safe_wall),
	        "worst_case_ms",
	        timing.unbounded ? json_null() : json_integer((json_int_t)timing.worst_case_ms),
	        "message",
	        report->status == FLAG_SET_CONFIRMED
	                ? json_sprintf("epoch %llu confirmed on %zu of %zu sources; tasks of other "
	                               "regions write no more after safe_at",
	                               (unsigned long long)report->epoch, report->confirmed_count,
	                               cfg->flag_count)
	                : json_string(report->error),
	        "wait", wait, "before", verdict_to_json(&report->before, cfg->flag_count));
	if (!verify || report->status != FLAG_SET_CONFIRMED)
		print_doc(doc); /* at once: the orchestrator sees safe_at before the wait */
	if (report->status == FLAG_SET_NO_QUORUM) {
		fprintf(stderr, "warden flag set: %s\n", report->error);
		rc = EXIT_USAGE;
	} else if (report->status == FLAG_SET_UNCONFIRMED) {
		fprintf(stderr, "warden flag set: %s\n", report->error);
		rc = EXIT_NOT_DONE;
	} else {
		rc = EXIT_OK;
		if (wait) {
			fprintf(stderr, "warden flag set: waiting %lld ms until safe_at\n",
			        (long long)(safe_mono - clock_mono_ms()));
			clock_sleep_until(safe_mono);
		}
		if (verify) {
			json_object_set_new(doc, "verify", json_true());
			verify_old_region(
			        cfg, envp,
			        report->before.state == FENCE_ACTIVE &&
			                        strcmp(report->before.active_region, region) != 0
			                ? report->before.active_region
			                : "",
			        safe_mono, safe_wall, doc);
			print_doc(doc);
		}
	}
	free(report);
	return rc;
}

/* Parse an epoch: 1..FLAG_EPOCH_MAX. */
static int parse_epoch(const char *text, uint64_t *out)
{
	char *end = NULL;
	unsigned long long value;

	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	value = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || value < 1 || value > FLAG_EPOCH_MAX)
		return -EINVAL;
	*out = value;
	return 0;
}

int flag_cmd_run(int argc, char **argv, const struct wd_config *cfg, char *const *envp)
{
	const char *region = NULL;
	const char *reason = "";
	uint64_t epoch = 0;
	bool wait = false;
	bool verify = false;
	bool set;
	struct flag_write_config wcfg;
	struct flag_writer *w;
	struct wd_err err = {0};
	int rc;

	if (argc < 2 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "set") != 0)) {
		usage();
		return EXIT_USAGE;
	}
	set = strcmp(argv[1], "set") == 0;
	if (!set && argc != 2) {
		usage();
		return EXIT_USAGE;
	}
	for (int i = 2; set && i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0) {
			wait = true;
		} else if (strcmp(argv[i], "--verify") == 0) {
			verify = wait = true; /* verify asks after safe_at: it waits for it */
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			reason = argv[++i];
		} else if (strcmp(argv[i], "--epoch") == 0 && i + 1 < argc) {
			if (parse_epoch(argv[++i], &epoch) < 0) {
				fprintf(stderr,
				        "warden flag set: --epoch wants an integer from 1 to "
				        "%llu\n",
				        (unsigned long long)FLAG_EPOCH_MAX);
				return EXIT_USAGE;
			}
		} else if (argv[i][0] != '-' && region == NULL) {
			region = argv[i];
		} else {
			usage();
			return EXIT_USAGE;
		}
	}
	if (set && region == NULL) {
		usage();
		return EXIT_USAGE;
	}
	if (set && flag_region_check(region, &err) < 0) {
		fprintf(stderr, "warden flag set: REGION: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (cfg->flag_count == 0) {
		fprintf(stderr, "warden flag: WARDEN_FLAG is not set: no source to %s\n",
		        set ? "write" : "read");
		return EXIT_USAGE;
	}
	if (set && wait && cfg->on_stale_hold) {
		fprintf(stderr,
		        "warden flag set: --wait refused: with WARDEN_ON_STALE=hold a task "
		        "that cannot read the flag stays writable (worst case unbounded), so "
		        "there is no moment to wait for; confirm every task of the old region "
		        "fenced (Sum(Writable) = 0) instead\n");
		return EXIT_USAGE;
	}
	wcfg = write_config(cfg);
	w = flag_writer_new(&wcfg, envp, &err);
	if (w == NULL) {
		fprintf(stderr, "warden flag: %s\n", err.msg);
		return EXIT_USAGE;
	}
	rc = set ? cmd_set(cfg, w, region, reason, epoch, wait, verify, envp) : cmd_get(cfg, w);
	flag_writer_free(w);
	return rc;
}
