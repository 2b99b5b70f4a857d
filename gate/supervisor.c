/*
 * supervisor.c - gate_run, the runtime of `warden gate`: run CMD only while
 * the sidecar says this task may write.
 *
 * One thread, one loop. The loop asks GET /fence (libcurl multi, so that a
 * hung sidecar never blocks the loop), waits on curl's sockets and a
 * signalfd (SIGCHLD, SIGTERM, SIGINT are blocked and read from it: no work in
 * a signal handler), and after every wake-up asks gate_decide - a pure
 * function of the last good answer, the monotonic clock and the child's
 * state - what to do. The child runs in its own process group; stopping it
 * means SIGTERM to the group, SIGKILL to the group after --grace. The child
 * gets PR_SET_PDEATHSIG SIGKILL, so that a gate killed outright does not
 * leave it writing unsupervised.
 */
#include "gate/gate.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "net/curl_deadline.h"
#include "gate/gate_int.h"

#define GATE_STRAGGLER_CHECK_MS 100 /* how often a leftover process group is looked at */

/* ------------------------------------------------------------ the runtime */

struct gate {
	const struct gate_options *opts;
	char url[sizeof(((struct gate_options *)0)->sidecar_url) + 8];

	/* Polling /fence. */
	CURLM *multi;
	CURL *easy;
	struct wd_buf body;
	char curl_error[CURL_ERROR_SIZE];
	bool in_flight;
	int64_t request_sent_ms;
	int64_t next_poll_ms;

	/* What the sidecar said. */
	bool have_answer;
	struct gate_fence answer;
	int64_t answer_sent_ms;
	bool sidecar_ok;
	bool sidecar_known; /* a poll has finished (for logging transitions) */
	bool grace_checked; /* --grace was judged against the first good answer */
	bool refused;       /* ...and found to leave no room: exit, start nothing */
	bool last_allowed;
	enum gate_reason last_reason;

	/* Signals. */
	int sigfd;
	sigset_t old_mask;
	bool mask_set;
	bool shutting_down;
	bool child_at_signal; /* a child ran when the stop signal came */
	int exit_code;
	int last_exit_code;           /* of the last child reaped */
	bool ran;                     /* --once: the one child ran (or failed to start) */
	enum gate_reason once_reason; /* --once: why it ended */

	/* Descriptors >= 3 the gate inherited: the child gets these and 0-2. */
	struct gate_spawn_fds inherited;

	/* The child. */
	enum gate_child child;
	pid_t pid;  /* the leader; 0 once reaped */
	pid_t pgid; /* its process group; 0 when none is left */
	uint64_t child_epoch;
	uint64_t child_token;
	int64_t started_ms;
	int64_t child_until_ms; /* the deadline of the last verdict that allowed it */
	int64_t kill_at_ms;
	enum gate_reason stop_reason;
	int64_t backoff_ms;
	int64_t restart_at_ms;
	unsigned starts;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct gate *gate = user;

	if (wd_buf_append(&gate->body, data, size * nmemb) < 0)
		return 0; /* past GATE_FENCE_BODY_MAX: abort the transfer */
	return size * nmemb;
}

static int curl_setup(struct gate *gate)
{
	long timeout = (long)gate_min64(gate->opts->poll_ms, GATE_REQUEST_TIMEOUT_MS);

	snprintf(gate->url, sizeof(gate->url), "%s/fence", gate->opts->sidecar_url);
	gate->multi = curl_multi_init();
	gate->easy = curl_easy_init();
	if (gate->multi == NULL || gate->easy == NULL)
		return -ENOMEM;
	if (curl_deadline_policy(gate->easy) != 0)
		return -EINVAL;
	curl_easy_setopt(gate->easy, CURLOPT_URL, gate->url);
	curl_easy_setopt(gate->easy, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(gate->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
	curl_easy_setopt(gate->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(gate->easy, CURLOPT_WRITEDATA, gate);
	curl_easy_setopt(gate->easy, CURLOPT_ERRORBUFFER, gate->curl_error);
	return 0;
}

static void poll_start(struct gate *gate, int64_t now)
{
	int running;

	wd_buf_reset(&gate->body);
	gate->curl_error[0] = '\0';
	gate->request_sent_ms = now;
	if (curl_multi_add_handle(gate->multi, gate->easy) != CURLM_OK) {
		gate->next_poll_ms = now + gate->opts->poll_ms;
		return;
	}
	gate->in_flight = true;
	curl_multi_perform(gate->multi, &running);
}

static void log_sidecar(struct gate *gate, bool ok, const char *error)
{
	struct log_line line;

	if (gate->sidecar_known && gate->sidecar_ok == ok)
		return;
	log_begin(&line, ok ? LOG_INFO : LOG_WARN, "gate.sidecar");
	log_str(&line, "url", gate->url);
	log_bool(&line, "reachable", ok);
	if (!ok)
		log_str(&line, "error", error);
	log_end(&line, ok ? "sidecar answers" : "sidecar unreachable or answering badly");
}

static void log_verdict(const struct gate *gate, const struct gate_fence *old, bool had_old)
{
	const struct gate_fence *now = &gate->answer;
	struct log_line line;

	if (had_old && old->writable == now->writable && old->epoch == now->epoch &&
	    old->lease_held == now->lease_held && old->lease_generation == now->lease_generation &&
	    strcmp(old->state, now->state) == 0)
		return;
	log_begin(&line, LOG_INFO, "gate.verdict");
	log_bool(&line, "writable", now->writable);
	log_str(&line, "state", now->state);
	log_int(&line, "epoch", (int64_t)now->epoch);
	log_int(&line, "writable_for_ms", now->writable_for_ms);
	if (gate->opts->singleton[0] != '\0') {
		log_str(&line, "singleton", gate->opts->singleton);
		log_bool(&line, "lease_held", now->lease_held);
		log_int(&line, "generation", (int64_t)now->lease_generation);
	}
	log_end(&line, "sidecar verdict changed");
}

/* At the first good answer: does --grace leave room under the sidecar's numbers? */
static void check_grace(struct gate *gate)
{
	struct wd_err err = {0};
	struct log_line line;

	gate->grace_checked = true;
	if (gate_check_grace(gate->opts->grace_ms, &gate->answer, &err) == 0)
		return;
	gate->refused = true;
	log_begin(&line, LOG_ERROR, "gate.refused");
	log_int(&line, "grace_ms", gate->opts->grace_ms);
	log_int(&line, "ttl_ms", gate->answer.ttl_ms);
	log_int(&line, "typical_fence_ms", gate->answer.typical_fence_ms);
	log_end(&line, "%s", err.msg);
	fprintf(stderr, "warden gate: %s\n", err.msg);
}

static void poll_done(struct gate *gate, CURLcode result, int64_t now)
{
	struct gate_fence parsed;
	struct gate_fence old = gate->answer;
	bool had_old = gate->have_answer;
	struct wd_err err = {0};
	long status = 0;
	bool ok = false;

	curl_multi_remove_handle(gate->multi, gate->easy);
	gate->in_flight = false;
	gate->next_poll_ms = gate->request_sent_ms + gate->opts->poll_ms;
	if (gate->next_poll_ms < now)
		gate->next_poll_ms = now;
	if (result != CURLE_OK) {
		wd_err_set(&err, -EIO, "%s",
		           gate->curl_error[0] ? gate->curl_error : curl_easy_strerror(result));
	} else if (curl_easy_getinfo(gate->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	           status != 200) {
		wd_err_set(&err, -EIO, "HTTP %ld", status);
	} else if (gate_fence_parse(gate->body.data ? gate->body.data : "", gate->body.len,
	                            gate->opts->singleton, &parsed, &err) == 0) {
		ok = true;
	}
	log_sidecar(gate, ok, err.msg);
	gate->sidecar_known = true;
	gate->sidecar_ok = ok;
	if (!ok)
		return;
	gate->have_answer = true;
	gate->answer = parsed;
	gate->answer_sent_ms = gate->request_sent_ms;
	log_verdict(gate, &old, had_old);
	if (!gate->grace_checked)
		check_grace(gate);
}

static void poll_collect(struct gate *gate)
{
	CURLMsg *msg;
	int left;
	int running;

	curl_multi_perform(gate->multi, &running);
	while ((msg = curl_multi_info_read(gate->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == gate->easy)
			poll_done(gate, msg->data.result, clock_mono_ms());
	}
}

/* --------------------------------------------------------------- signals */

static int signals_setup(struct gate *gate)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, &gate->old_mask) < 0)
		return -errno;
	gate->mask_set = true;
	gate->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (gate->sigfd < 0)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------- the child */

/* Start the child (gate_spawn) and take it on as RUNNING. Returns 0 or -errno. */
static int child_start(struct gate *gate, uint64_t epoch, uint64_t token, int64_t until,
                       int64_t now)
{
	pid_t pid;
	int rc = gate_spawn(gate->opts->argv, epoch, token, until, &gate->inherited, &pid);

	if (rc < 0)
		return rc;
	gate->pid = pid;
	gate->pgid = pid;
	gate->child = GATE_CHILD_RUNNING;
	gate->child_epoch = epoch;
	gate->child_token = token;
	gate->started_ms = now;
	gate->child_until_ms = until;
	gate->stop_reason = GATE_REASON_NONE;
	gate->starts++;
	return 0;
}

/* "SIGTERM" for SIGTERM; "SIG42" for what has no name. */
static const char *signal_name(int sig, char *buf, size_t size)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, size, "SIG%s", abbrev);
	else
		snprintf(buf, size, "SIG%d", sig);
	return buf;
}

static void log_child(struct log_line *line, const struct gate *gate)
{
	log_int(line, "pid", gate->pid);
	log_int(line, "epoch", (int64_t)gate->child_epoch);
	log_int(line, "fencing_token", (int64_t)gate->child_token);
	if (gate->opts->singleton[0] != '\0')
		log_str(line, "singleton", gate->opts->singleton);
}

/* "deadline": the wall-clock time of monotonic `until`, as WARDEN_DEADLINE shows it. */
static void log_deadline(struct log_line *line, int64_t until, int64_t now)
{
	char text[32];

	clock_format_rfc3339(clock_wall_ms() + (until - now), text, sizeof(text));
	log_str(line, "deadline", text);
}

static void do_start(struct gate *gate, const struct gate_decision *decision, int64_t now)
{
	struct log_line line;
	int rc = child_start(gate, decision->epoch, decision->token, decision->allowed_until_ms,
	                     now);

	if (rc == 0) {
		log_begin(&line, LOG_INFO, "gate.start");
		log_child(&line, gate);
		log_str(&line, "cmd", gate->opts->argv[0]);
		log_int(&line, "start", gate->starts);
		log_int(&line, "allowed_for_ms", decision->allowed_until_ms - now);
		log_deadline(&line, decision->allowed_until_ms, now);
		log_end(&line, "started %s", gate->opts->argv[0]);
		return;
	}
	if (gate->opts->once) {
		/* --once: a command that cannot start is not retried. */
		gate->ran = true;
		gate->exit_code = GATE_EXIT_CANNOT_START;
		gate->once_reason = GATE_REASON_EXITED;
		log_begin(&line, LOG_ERROR, "gate.exit");
		log_str(&line, "reason", gate_reason_str(GATE_REASON_EXITED));
		log_str(&line, "cmd", gate->opts->argv[0]);
		log_str(&line, "error", strerror(-rc));
		log_int(&line, "status", GATE_EXIT_CANNOT_START);
		log_end(&line, "cannot start %s: %s", gate->opts->argv[0], strerror(-rc));
		return;
	}
	/* Could not start: count it as a crash, so that we retry with backoff. */
	gate->backoff_ms = gate_backoff_next(gate->backoff_ms, 0);
	gate->restart_at_ms = now + gate->backoff_ms;
	log_begin(&line, LOG_ERROR, "gate.exit");
	log_str(&line, "reason", gate_reason_str(GATE_REASON_EXITED));
	log_str(&line, "cmd", gate->opts->argv[0]);
	log_str(&line, "error", strerror(-rc));
	log_int(&line, "status", 127);
	log_int(&line, "restart_in_ms", gate->backoff_ms);
	log_end(&line, "cannot start %s: %s", gate->opts->argv[0], strerror(-rc));
}

static void do_stop(struct gate *gate, const struct gate_decision *decision, int64_t now)
{
	enum gate_reason reason = decision->reason;
	struct log_line line;

	gate->stop_reason = reason;
	gate->child = GATE_CHILD_STOPPING;
	gate->kill_at_ms = decision->kill_at_ms;
	if (kill(-gate->pgid, SIGTERM) < 0 && errno != ESRCH)
		gate->kill_at_ms = now; /* cannot signal it: go straight to SIGKILL */
	log_begin(&line, reason == GATE_REASON_SIGNAL ? LOG_INFO : LOG_WARN, "gate.stop");
	log_str(&line, "reason", gate_reason_str(reason));
	log_child(&line, gate);
	log_str(&line, "signal", "SIGTERM");
	log_int(&line, "grace_ms", gate->opts->grace_ms);
	log_int(&line, "kill_in_ms", gate->kill_at_ms - now);
	log_deadline(&line, gate->child_until_ms, now);
	log_end(&line, "stopping %s: %s", gate->opts->argv[0], gate_reason_str(reason));
}

static void do_kill(struct gate *gate)
{
	struct log_line line;

	gate->child = GATE_CHILD_KILLED;
	kill(-gate->pgid, SIGKILL);
	log_begin(&line, LOG_WARN, "gate.kill");
	log_str(&line, "reason", gate_reason_str(gate->stop_reason));
	log_child(&line, gate);
	log_int(&line, "pgid", gate->pgid);
	log_str(&line, "signal", "SIGKILL");
	log_end(&line, "grace over or deadline reached: killing the process group of %s",
	        gate->opts->argv[0]);
}

/* Does anything of the child's process group remain? */
static bool group_alive(pid_t pgid)
{
	return pgid > 0 && kill(-pgid, 0) == 0;
}

static void child_exited(struct gate *gate, int status, int64_t now)
{
	enum gate_reason reason =
	        gate->child == GATE_CHILD_RUNNING ? GATE_REASON_EXITED : gate->stop_reason;
	int64_t ran = now - gate->started_ms;
	char sig_name[32];
	struct log_line line;

	gate->last_exit_code = gate_exit_code(status);
	if (gate->opts->once) {
		/* --once: its own end (or ours) gives its status; a stop by the fence, 75. */
		gate->ran = true;
		gate->once_reason = reason;
		gate->exit_code = reason == GATE_REASON_EXITED || reason == GATE_REASON_SIGNAL
		                          ? gate->last_exit_code
		                          : GATE_EXIT_TEMPFAIL;
	} else if (gate->shutting_down && gate->child_at_signal) {
		gate->exit_code = gate->last_exit_code;
	}
	if (reason == GATE_REASON_EXITED) {
		gate->backoff_ms = gate_backoff_next(gate->backoff_ms, ran);
		gate->restart_at_ms = now + gate->backoff_ms;
	} else {
		if (ran >= GATE_BACKOFF_RESET_MS)
			gate->backoff_ms = 0;
		gate->restart_at_ms = now;
	}
	log_begin(&line, reason == GATE_REASON_EXITED ? LOG_WARN : LOG_INFO, "gate.exit");
	log_str(&line, "reason", gate_reason_str(reason));
	log_child(&line, gate);
	if (WIFEXITED(status))
		log_int(&line, "exit_code", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_str(&line, "signal", signal_name(WTERMSIG(status), sig_name, sizeof(sig_name)));
	log_int(&line, "status", gate_exit_code(status));
	log_int(&line, "ran_ms", ran);
	if (reason == GATE_REASON_EXITED && !gate->shutting_down && !gate->opts->once)
		log_int(&line, "restart_in_ms", gate->backoff_ms);
	log_end(&line, "%s ended (status %d)", gate->opts->argv[0], gate_exit_code(status));

	gate->pid = 0;
	if (group_alive(gate->pgid)) {
		/* Its children outlived it: they go too (SIGKILL after grace). */
		if (gate->child == GATE_CHILD_RUNNING) {
			gate->stop_reason = GATE_REASON_EXITED;
			gate->child = GATE_CHILD_STOPPING;
			gate->kill_at_ms = now + gate->opts->grace_ms;
			kill(-gate->pgid, SIGTERM);
			log_msg(LOG_WARN, "gate.stragglers",
			        "process group %d outlived its leader: SIGTERM", (int)gate->pgid);
		}
		return;
	}
	gate->pgid = 0;
	gate->child = GATE_CHILD_NONE;
}

static void reap(struct gate *gate)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == gate->pid && gate->pid > 0)
			child_exited(gate, status, clock_mono_ms());
	}
	/* A leader already reaped: wait for the rest of its group to go. */
	if (gate->pid == 0 && gate->child != GATE_CHILD_NONE && !group_alive(gate->pgid)) {
		gate->pgid = 0;
		gate->child = GATE_CHILD_NONE;
	}
}

static void on_stop_signal(struct gate *gate, int sig, int64_t now)
{
	char sig_name[32];
	struct log_line line;

	signal_name(sig, sig_name, sizeof(sig_name));
	log_begin(&line, LOG_INFO, "gate.signal");
	log_str(&line, "signal", sig_name);
	log_bool(&line, "child_running", gate->child != GATE_CHILD_NONE);
	log_end(&line, "%s: %s", sig_name,
	        gate->shutting_down ? "second stop signal, no more grace" : "stopping");
	if (!gate->shutting_down) {
		gate->shutting_down = true;
		gate->child_at_signal = gate->child != GATE_CHILD_NONE;
		if (gate->child_at_signal && gate->pid == 0)
			gate->exit_code = gate->last_exit_code; /* only its group is left */
		return;
	}
	/* A second stop signal: no more grace. */
	if (gate->child == GATE_CHILD_STOPPING)
		gate->kill_at_ms = now;
}

static void read_signals(struct gate *gate)
{
	struct signalfd_siginfo info;

	while (read(gate->sigfd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT)
			on_stop_signal(gate, (int)info.ssi_signo, clock_mono_ms());
	}
	reap(gate);
}

/* ---------------------------------------------------------------- the loop */

static void log_allowed(struct gate *gate, const struct gate_decision *decision)
{
	struct log_line line;

	if (!gate->sidecar_known)
		return; /* no poll has finished yet: nothing worth saying */
	if (decision->allowed == gate->last_allowed &&
	    (decision->allowed || decision->reason == gate->last_reason))
		return;
	gate->last_allowed = decision->allowed;
	gate->last_reason = decision->reason;
	log_begin(&line, decision->allowed ? LOG_INFO : LOG_WARN, "gate.allowed");
	log_bool(&line, "allowed", decision->allowed);
	if (!decision->allowed)
		log_str(&line, "reason", gate_reason_str(decision->reason));
	else
		log_int(&line, "epoch", (int64_t)decision->epoch);
	log_end(&line, decision->allowed ? "allowed to run" : "not allowed to run");
}

static void view_fill(const struct gate *gate, int64_t now, struct gate_view *view)
{
	memset(view, 0, sizeof(*view));
	view->now_ms = now;
	view->grace_ms = gate->opts->grace_ms;
	view->singleton = gate->opts->singleton[0] != '\0';
	view->once = gate->opts->once;
	view->ran = gate->ran;
	view->have_answer = gate->have_answer;
	view->answer = gate->answer;
	view->answer_sent_ms = gate->answer_sent_ms;
	view->sidecar_ok = gate->sidecar_ok;
	view->shutting_down = gate->shutting_down;
	view->child = gate->child;
	view->child_epoch = gate->child_epoch;
	view->child_token = gate->child_token;
	view->child_until_ms = gate->child_until_ms;
	view->kill_at_ms = gate->kill_at_ms;
	view->restart_at_ms = gate->restart_at_ms;
}

static int wait_timeout(const struct gate *gate, const struct gate_decision *decision, int64_t now)
{
	int64_t wake = decision->wake_ms;

	if (!gate->in_flight && !gate->shutting_down)
		wake = gate_min64(wake, gate->next_poll_ms);
	if (gate->pid == 0 && gate->child != GATE_CHILD_NONE)
		wake = gate_min64(wake, now + GATE_STRAGGLER_CHECK_MS);
	wake = gate_min64(wake, now + GATE_REQUEST_TIMEOUT_MS);
	return clock_ms_until(wake);
}

static int gate_loop(struct gate *gate)
{
	struct curl_waitfd wait_fd = {.fd = gate->sigfd, .events = CURL_WAIT_POLLIN};

	for (;;) {
		struct gate_decision decision;
		struct gate_view view;
		int64_t now = clock_mono_ms();

		if (!gate->in_flight && !gate->shutting_down && now >= gate->next_poll_ms)
			poll_start(gate, now);
		reap(gate);
		if (gate->refused && gate->child == GATE_CHILD_NONE)
			return GATE_EXIT_REFUSED;
		now = clock_mono_ms();
		view_fill(gate, now, &view);
		if (gate->child == GATE_CHILD_RUNNING) {
			/* The latest verdict for this child sets its deadline, shorter or longer.
			 */
			gate->child_until_ms = gate_decide_child_deadline(&view);
			view.child_until_ms = gate->child_until_ms;
		}
		gate_decide(&view, &decision);
		log_allowed(gate, &decision);
		switch (decision.action) {
		case GATE_START: do_start(gate, &decision, now); continue;
		case GATE_STOP: do_stop(gate, &decision, now); continue;
		case GATE_KILL: do_kill(gate); continue;
		case GATE_EXIT: return gate->exit_code;
		case GATE_WAIT: break;
		}
		wait_fd.revents = 0;
		curl_multi_poll(gate->multi, &wait_fd, 1, wait_timeout(gate, &decision, now), NULL);
		if (gate->in_flight)
			poll_collect(gate);
		read_signals(gate);
	}
}

int gate_run(const struct gate_options *opts)
{
	struct gate *gate = calloc(1, sizeof(*gate));
	struct log_line line;
	int rc = 1;

	if (gate == NULL) {
		fprintf(stderr, "warden gate: out of memory\n");
		return 1;
	}
	gate->opts = opts;
	gate->sigfd = -1;
	gate->last_reason = GATE_REASON_NONE;
	wd_buf_init(&gate->body, GATE_FENCE_BODY_MAX);
	gate_spawn_fds_snapshot(&gate->inherited);
	if (signals_setup(gate) < 0) {
		fprintf(stderr, "warden gate: cannot set up signals: %s\n", strerror(errno));
		goto out;
	}
	if (curl_setup(gate) < 0) {
		fprintf(stderr, "warden gate: cannot set up libcurl\n");
		goto out;
	}
	/*
	 * Orphans of the child's group are re-parented to us and reaped by
	 * reap(), so "the group is gone" never waits on someone else's init.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	gate->next_poll_ms = clock_mono_ms();
	log_begin(&line, LOG_INFO, "gate.ready");
	log_str(&line, "sidecar", gate->url);
	log_str(&line, "singleton", opts->singleton[0] ? opts->singleton : NULL);
	log_int(&line, "grace_ms", opts->grace_ms);
	log_int(&line, "poll_ms", opts->poll_ms);
	log_bool(&line, "once", opts->once);
	log_str(&line, "cmd", opts->argv[0]);
	log_end(&line, "gating %s on %s", opts->argv[0], gate->url);
	rc = gate_loop(gate);
	log_begin(&line, rc == GATE_EXIT_REFUSED && gate->refused ? LOG_ERROR : LOG_INFO,
	          "gate.done");
	log_int(&line, "exit_code", rc);
	if (opts->once && gate->ran) {
		log_str(&line, "reason", gate_reason_str(gate->once_reason));
		log_end(&line,
		        gate->once_reason == GATE_REASON_EXITED
		                ? "gate exits with %d: --once and %s ended"
		                : "gate exits with %d: --once and %s was stopped before it ended",
		        rc, opts->argv[0]);
	} else {
		log_end(&line, "gate exits with %d", rc);
	}
out:
	if (gate->multi != NULL && gate->easy != NULL && gate->in_flight)
		curl_multi_remove_handle(gate->multi, gate->easy);
	if (gate->easy != NULL)
		curl_easy_cleanup(gate->easy);
	if (gate->multi != NULL)
		curl_multi_cleanup(gate->multi);
	wd_buf_free(&gate->body);
	if (gate->sigfd >= 0)
		close(gate->sigfd);
	if (gate->mask_set)
		sigprocmask(SIG_SETMASK, &gate->old_mask, NULL);
	free(gate);
	return rc;
}
