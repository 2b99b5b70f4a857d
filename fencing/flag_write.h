/*
 * flag_write.h - the orchestrator's half of the flag (DESIGN.md "The
 * orchestrator's half"): read every WARDEN_FLAG source, write a new epoch
 * to every source, read it back until a quorum holds it. `warden flag get`
 * and `warden flag set` (agent/) are the command line around it.
 *
 * Every source is read and written on its own thread, against its own
 * deadline (the flag timeout), so that a source that hangs (a black-holed
 * region) costs one timeout, never the others' answers.
 *
 * When is the flip done? At `t`, the moment the last confirming read was
 * sent: each confirming read of a source is sent after that source's write
 * was acknowledged, so every source of the confirming quorum holds the new
 * epoch from t on (read-after-write assumed, see DESIGN.md). A source whose
 * write was not acknowledged (a timeout: it may still have landed) confirms
 * at the moment its read's answer arrived instead. No task of another
 * region writes after t + worst_case (fence.c has the argument).
 */
#ifndef WARDEN_FENCING_FLAG_WRITE_H
#define WARDEN_FENCING_FLAG_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "aws/aws.h"
#include "fencing/fence.h"
#include "fencing/flag_source.h"
#include "fencing/flag_value.h"

#define FLAG_WRITE_RESULT_MAX 24  /* "ok", an aws outcome, "bad_value"... */
#define FLAG_WRITE_BY_MAX     256 /* who flipped it */
#define FLAG_WRITE_REASON_MAX 512 /* why */
#define FLAG_WRITE_ERROR_MAX  512 /* a message quoting another */

/* What the writer needs of the config, filled by agent/. Plain data; flags borrowed. */
struct flag_write_config {
	const struct flag_source *flags; /* WARDEN_FLAG */
	size_t flag_count;
	size_t quorum;              /* valid reads needed (WARDEN_FLAG_QUORUM, resolved) */
	int64_t timeout_ms;         /* WARDEN_FLAG_TIMEOUT: each read and each write */
	int64_t ttl_ms;             /* WARDEN_FLAG_TTL: how long a read counts */
	int64_t confirm_timeout_ms; /* how long the read-back may take in all */
};

/* One source read once. Plain data. */
struct flag_write_read {
	bool ok;                            /* a value was read and parsed */
	char result[FLAG_WRITE_RESULT_MAX]; /* "ok", an aws outcome, "not_found", "bad_value"... */
	char error[WD_ERR_MSG_MAX];         /* "" when ok */
	struct flag_value value;            /* when ok */
	char text[FLAG_VALUE_MAX + 1];      /* the value as read (NUL-free), when ok */
	uint64_t version;                   /* SSM Version (0 for a file), when ok */
	uint64_t epoch;                     /* the epoch it stands for (fence.h rules) */
	int64_t sent_mono_ms;               /* when its request was sent */
	int64_t answered_mono_ms;           /* when the answer was in */
	int64_t sent_wall_ms;
};

/* One source in `flag set`. Plain data. */
struct flag_write_source {
	struct flag_write_read read; /* step 1 */
	bool written;                /* step 2: the write was acknowledged */
	char write_result[FLAG_WRITE_RESULT_MAX];
	char write_error[WD_ERR_MSG_MAX]; /* "" when written */
	uint64_t version;                 /* the SSM Version written (0 for a file) */
	bool confirmed;                   /* step 3: read back at the new epoch */
	int64_t confirmed_mono_ms;        /* t of this source (see the header comment) */
	int64_t confirmed_wall_ms;
	char confirm_error[FLAG_WRITE_ERROR_MAX]; /* the last read-back's problem, "" when none */
};

enum flag_set_status {
	FLAG_SET_CONFIRMED,   /* a quorum holds the new epoch */
	FLAG_SET_UNCONFIRMED, /* written (maybe partly), not confirmed on a quorum: run it again */
	FLAG_SET_NO_QUORUM,   /* step 1 found no quorum of valid reads and no epoch was given */
};

/* What `flag set` asks. Plain data; strings borrowed. */
struct flag_set_request {
	const char *region; /* the new active region: a valid region name */
	const char *reason; /* "" allowed */
	const char *by;     /* who: host, task ARN, user */
	uint64_t epoch;     /* 0: the highest seen + 1 */
};

/* What `flag set` did. Plain data. */
struct flag_set_report {
	enum flag_set_status status;
	uint64_t epoch;                     /* written (0 when refused) */
	uint64_t highest_seen;              /* in step 1 */
	struct fence_quorum_verdict before; /* step 1's verdict */
	size_t confirmed_count;
	int64_t confirmed_mono_ms; /* t, when confirmed */
	int64_t confirmed_wall_ms;
	char value[FLAG_VALUE_MAX + 1];   /* what was written */
	char error[FLAG_WRITE_ERROR_MAX]; /* why not confirmed or refused; "" when confirmed */
	struct flag_write_source sources[FENCE_SOURCES_MAX];
};

struct flag_writer;

/*
 * A writer for cfg: one SSM client per ssm: source (the signing region from
 * ?region=, else this task's region: AWS_REGION, AWS_DEFAULT_REGION or ECS
 * task metadata, resolved here within cfg->timeout_ms), the credentials
 * chain of envp (read here, not kept). cfg is copied; the sources it points
 * to must outlive the writer. NULL with err when the region or the
 * credentials cannot be had. Blocks up to the flag timeout.
 */
struct flag_writer *flag_writer_new(const struct flag_write_config *cfg, char *const *envp,
                                    struct wd_err *err);
/* NULL is a no-op. */
void flag_writer_free(struct flag_writer *w);

/*
 * Read every source once, in parallel, each within the flag timeout, into
 * out[0..flag_count). Blocks up to the flag timeout.
 */
void flag_writer_read_all(struct flag_writer *w, struct flag_write_read *out);

/*
 * The verdict a task would compute from reads taken at now_mono_ms (the
 * quorum rule of fence.h, without a task region: ACTIVE means a quorum
 * names out->active_region). Pure.
 */
void flag_writer_verdict(const struct flag_writer *w, const struct flag_write_read *reads,
                         int64_t now_mono_ms, struct fence_quorum_verdict *out);

/*
 * Steps 1 to 3 of `flag set` (the header comment): read, pick the epoch
 * (req->epoch, else the highest seen + 1 with a quorum of valid reads, else
 * FLAG_SET_NO_QUORUM), write {"active_region","epoch","set_at","by",
 * "reason"} everywhere, read back until a quorum holds it or
 * cfg->confirm_timeout_ms passed. progress(arg, line) is called with a line
 * for a human at each step (may be NULL). Returns 0 with *out filled, or
 * -EINVAL with err for a bad request (region, reason). Blocks up to about
 * 2 x timeout + confirm_timeout.
 */
int flag_writer_set(struct flag_writer *w, const struct flag_set_request *req,
                    void (*progress)(void *arg, const char *line), void *arg,
                    struct flag_set_report *out, struct wd_err *err);

#endif
