/*
 * fence.h - the fence decision: may this task write, now?
 *
 * The flag loop records every valid read of every source; anyone may ask for
 * the verdict at any time. The verdict is computed when asked, from the reads
 * and the monotonic clock, never kept up to date by a timer: a flag loop that
 * hangs cannot leave a task writable, because its last read simply expires.
 *
 * The rules (DESIGN.md, "States and the write rule"):
 * - a read is valid for ttl from the moment its request was SENT;
 * - one source: the epoch is the JSON "epoch" if present, else the source's
 *   version (SSM Version; 0 for a file). Several sources: every value must
 *   carry a JSON epoch, else `conflict`;
 * - the task decides only from a quorum of valid reads (WARDEN_FLAG_QUORUM:
 *   majority by default, all, any, or a number); fewer valid reads than the
 *   quorum is `stale` (the reason names the missing sources);
 * - among valid reads the highest epoch wins; two different regions at that
 *   epoch are a `conflict`;
 * - epochs never go back: a winner below the highest epoch ever recorded is
 *   not trusted (`stale`), so a lagging source or an old answer arriving late
 *   can never re-activate a task;
 * - `active` is writable only if the database role check holds;
 * - an operator fence (`forced`) wins over everything and is never writable.
 */
#ifndef WARDEN_FENCING_FENCE_H
#define WARDEN_FENCING_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "fencing/flag_value.h"

#define FENCE_SOURCES_MAX 8

enum fence_state {
	FENCE_UNKNOWN,  /* "unknown": no valid read yet since start */
	FENCE_ACTIVE,   /* "active": the newest valid read names this region */
	FENCE_PASSIVE,  /* "passive": it names another region */
	FENCE_STALE,    /* "stale": fewer valid reads than the quorum, or an epoch went back */
	FENCE_CONFLICT, /* "conflict": sources disagree at one epoch, or lack epochs */
	FENCE_FORCED,   /* "forced": an operator fenced this task */
	FENCE_STATE_COUNT
};

const char *fence_state_str(enum fence_state state);

/* What the database role check says, at the time of asking. */
enum fence_db {
	FENCE_DB_NO_CHECK,   /* no postgres probe with expect=writer-when-active */
	FENCE_DB_WRITER,     /* that database is a writer now */
	FENCE_DB_NOT_WRITER, /* a reader, unreachable, or not known yet */
};

struct fence_config {
	char region[FLAG_REGION_MAX + 1]; /* this task's region; "" until known */
	int64_t ttl_ms;
	bool on_stale_hold;  /* WARDEN_ON_STALE=hold: unsafe, keeps the last verdict */
	size_t source_count; /* 1..FENCE_SOURCES_MAX */
	size_t quorum;       /* valid reads needed, 1..source_count; 0: a majority */
	/*
	 * WARDEN_SPLIT_BRAIN_AFTER: how long after becoming passive a writer
	 * database is still `demotion_pending` (a failover in progress) rather
	 * than the split-brain alarm. 0: the alarm at once.
	 */
	int64_t split_brain_after_ms;
};

struct fence_verdict {
	enum fence_state state;
	bool writable;
	int64_t writable_until_mono_ms;          /* when writable: the instant it stops; else 0 */
	char active_region[FLAG_REGION_MAX + 1]; /* "" when no read decides it */
	uint64_t epoch;
	bool split_brain;      /* passive for over split_brain_after, the database a writer */
	bool demotion_pending; /* passive for less than that, the database still a writer */
	int64_t passive_since_mono_ms; /* when the task became passive (0: not passive) */
	size_t quorum_needed;          /* valid reads needed to decide */
	bool quorum_met;               /* at least that many valid reads now */
	uint32_t counted;              /* bit i: source i's read is valid and counts */
	char reason[WD_ERR_MSG_MAX];
};

/* ---- Quorum (DESIGN.md "The flag") ------------------------------------------- */

#define FENCE_QUORUM_TEXT_MAX 16 /* "majority", or a number */

/*
 * Parse WARDEN_FLAG_QUORUM for `sources` sources: "majority" (sources / 2 +
 * 1), "all", "any" (1) or a number 1..sources. Returns 0 with *needed set,
 * or -EINVAL with err saying what is wrong (the text is not a secret, but is
 * quoted only when short and printable). Pure.
 */
int fence_quorum_parse(const char *text, size_t sources, size_t *needed, struct wd_err *err);

/* The quorum of fence_config.quorum: a majority when 0, capped at sources. Pure. */
size_t fence_quorum_needed(size_t quorum, size_t sources);

/*
 * What an outage of sources does under a quorum of `needed` of `sources`,
 * in words, for `warden config` and the README: lines[0] for a partition
 * (safe or not), then one line per number of sources out. Returns the
 * number of lines written (at most max). Pure.
 */
size_t fence_quorum_outages(size_t needed, size_t sources, char lines[][160], size_t max);

/* True when any two quorums of `needed` of `sources` intersect (2 x needed > sources). */
bool fence_quorum_partition_safe(size_t needed, size_t sources);

/* One source's latest read, as the quorum rule sees it. Plain data. */
struct fence_reading {
	bool present;
	struct flag_value value;
	uint64_t version;     /* SSM Version; 0 for a file */
	int64_t sent_mono_ms; /* when its request was sent */
};

/* What a quorum of readings says, without this task's region or history. Plain data. */
struct fence_quorum_verdict {
	enum fence_state state; /* ACTIVE: a region decided; CONFLICT, STALE or UNKNOWN */
	char active_region[FLAG_REGION_MAX + 1];
	uint64_t epoch;
	size_t needed;
	size_t valid;
	uint32_t counted;      /* bit i: reading i is valid */
	int64_t until_mono_ms; /* when decided: the instant the verdict stops holding */
	char reason[WD_ERR_MSG_MAX];
};

/*
 * The quorum rule over `count` readings at now_mono_ms (with ignore_ttl,
 * every present reading is valid): fewer than `needed` valid readings is
 * STALE (UNKNOWN when none is present) naming the missing sources (1-based);
 * a multi-source value without an epoch, or two regions at the highest
 * epoch, is CONFLICT; else ACTIVE with the winning region and epoch and
 * until_mono_ms = min(the needed-th largest expiry of a valid reading, the
 * largest expiry of a reading at the winning epoch). Pure.
 */
void fence_quorum_decide(const struct fence_reading *readings, size_t count, size_t needed,
                         int64_t ttl_ms, int64_t now_mono_ms, bool ignore_ttl,
                         struct fence_quorum_verdict *out);

struct fence;

/* A fence with no reads yet (`unknown`). NULL on allocation failure. */
struct fence *fence_new(const struct fence_config *cfg);
/* NULL is a no-op. */
void fence_free(struct fence *fence);

/*
 * Record a valid read of source `source`: its value, the source's version
 * (SSM Version, 0 for a file) and when its request was sent. A read sent
 * before the source's current one is ignored (a late answer never wins).
 * Thread-safe; never blocks beyond a short lock.
 */
void fence_record_read(struct fence *fence, size_t source, const struct flag_value *value,
                       uint64_t version, int64_t sent_mono_ms);

/*
 * Set this task's region once it is known (from ECS task metadata). Until
 * then the verdict is `unknown`. Thread-safe.
 */
void fence_set_region(struct fence *fence, const char *region);

/* Set or lift the operator fence. Thread-safe. */
void fence_set_forced(struct fence *fence, bool forced);

/*
 * The verdict at now_mono_ms, given the database role check. Thread-safe,
 * cheap (no I/O, a short lock). Remembers when the task first decided
 * `passive` (the start of the demotion window): kept while it stays
 * passive, stale, conflicting or forced, forgotten once it decides `active`
 * again. A passive verdict with db == FENCE_DB_WRITER is marked as
 * fence_mark_writer() says.
 */
void fence_decide(struct fence *fence, int64_t now_mono_ms, enum fence_db db,
                  struct fence_verdict *out);

/*
 * A passive verdict `out` (from fence_decide at now_mono_ms) whose database
 * is a writer: inside the demotion window (split_brain_after_ms from
 * out->passive_since_mono_ms) it is `demotion_pending`, after it
 * `split_brain`. Any other verdict is left alone. Pure.
 */
void fence_mark_writer(const struct fence *fence, int64_t now_mono_ms, struct fence_verdict *out);

/*
 * The timing contract (DESIGN.md), from the flag settings: after the flag is
 * flipped a task fences typically within interval x 1.2 + timeout (the
 * jittered poll, then the read), and at worst within ttl, even when it can
 * no longer reach its flag source. With WARDEN_ON_STALE=hold a task that
 * cannot read the flag keeps its last verdict: no bound (`unbounded`,
 * worst_case_ms -1).
 */
struct fence_timing {
	int64_t typical_ms;
	int64_t worst_case_ms; /* -1 when unbounded */
	bool unbounded;
};

void fence_timing(int64_t interval_ms, int64_t timeout_ms, int64_t ttl_ms, bool on_stale_hold,
                  struct fence_timing *out);

/*
 * The default of WARDEN_SPLIT_BRAIN_AFTER: worst_case + 2 minutes (a correct
 * failover promotes the other region only after worst_case, and demotes this
 * one's database soon after); with WARDEN_ON_STALE=hold, where worst_case is
 * unbounded, ttl + 2 minutes. Pure.
 */
int64_t fence_split_brain_after_default(int64_t ttl_ms);

/* The highest epoch ever recorded (0 if none). */
uint64_t fence_highest_epoch(struct fence *fence);

#endif
