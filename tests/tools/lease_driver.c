/*
 * lease_driver.c - run one singleton lease alone against a real Postgres,
 * for the integration tests (tests/integration/test_lease.py).
 *
 *   lease_driver --name NAME --holder ID --ttl-ms N --uri URI --state FILE
 *                [--timeout-ms N] [--poll-ms N]
 *
 * The password, if any, comes from the environment (LEASE_DRIVER_PASSWORD),
 * never from argv. The fence view reads FILE at every decide: a first word
 * `writable` means writable (state active); anything else, or no file,
 * means fenced (passive).
 *
 * Every --poll-ms (default 5) it reads lease_status and prints one JSON line
 * whenever held, generation, holder or error changes:
 *   {"t_ms": <CLOCK_MONOTONIC ms>, "held": true, "generation": 3,
 *    "holder": "a", "expires_in_ms": 2990, "error": "",
 *    "last_held_ms": <the last poll at which it was held, or null>}
 * t_ms is the poll at which the change was seen; it shares its clock with
 * Python's time.monotonic(). The lease's own JSON log lines (lease.acquired,
 * lease.lost, lease.released) go to stdout too. On SIGTERM or SIGINT it
 * frees the lease (which releases it if held), prints {"exit": 0} and exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "fencing/lease.h"
#include "net/uri.h"

static volatile sig_atomic_t signal_stop;

static void on_signal(int sig)
{
	(void)sig;
	signal_stop = 1;
}

/* The fence view: the state file, read at every decide. */
static void decide(void *arg, int64_t now_mono_ms, struct fence_verdict *out)
{
	const char *path = arg;
	char word[32] = "";
	FILE *f = fopen(path, "r");

	memset(out, 0, sizeof(*out));
	if (f != NULL) {
		if (fscanf(f, "%31s", word) != 1)
			word[0] = '\0';
		fclose(f);
	}
	out->writable = strcmp(word, "writable") == 0;
	out->state = out->writable ? FENCE_ACTIVE : FENCE_PASSIVE;
	out->writable_until_mono_ms = out->writable ? now_mono_ms + 1000 : 0;
	snprintf(out->reason, sizeof(out->reason), "state file says %s",
	         word[0] ? word : "nothing");
}

/* Write one line with a single write(2), so that it never mixes with log lines. */
static void write_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(1, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

static void print_status(const struct lease_status *st, int64_t now, int64_t last_held_ms)
{
	char line[1024], holder[512] = "", error[512] = "";
	size_t hlen = 0, elen = 0;
	int n;

	(void)log_json_escape(holder, sizeof(holder), &hlen, st->holder);
	(void)log_json_escape(error, sizeof(error), &elen, st->error);
	n = snprintf(line, sizeof(line),
	             "{\"t_ms\": %" PRId64 ", \"held\": %s, \"generation\": %" PRIu64
	             ", \"holder\": \"%s\", \"expires_in_ms\": %" PRId64
	             ", \"error\": \"%s\", \"last_held_ms\": ",
	             now, st->held ? "true" : "false", st->generation, holder, st->expires_in_ms,
	             error);
	if (n < 0 || (size_t)n >= sizeof(line) - 32)
		return;
	if (last_held_ms >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%" PRId64 "}\n", last_held_ms);
	else
		n += snprintf(line + n, sizeof(line) - (size_t)n, "null}\n");
	write_line(line, (size_t)n);
}

static bool status_changed(const struct lease_status *a, const struct lease_status *b)
{
	return a->held != b->held || a->generation != b->generation ||
	       strcmp(a->holder, b->holder) != 0 || strcmp(a->error, b->error) != 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: lease_driver --name NAME --holder ID --ttl-ms N --uri URI "
	                "--state FILE [--timeout-ms N] [--poll-ms N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *name = NULL, *holder = NULL, *uri = NULL, *state = NULL, *password;
	int64_t ttl_ms = 0, timeout_ms = 500, poll_ms = 5, last_held_ms = -1;
	struct probe_config db;
	struct lease_fence_view view;
	struct lease_status last, now_status;
	struct sigaction sa;
	struct wd_err err = {0};
	struct lease *lease;
	bool first = true;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--holder") == 0)
			holder = argv[i + 1];
		else if (strcmp(argv[i], "--ttl-ms") == 0)
			ttl_ms = strtoll(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			timeout_ms = strtoll(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--poll-ms") == 0)
			poll_ms = strtoll(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--uri") == 0)
			uri = argv[i + 1];
		else if (strcmp(argv[i], "--state") == 0)
			state = argv[i + 1];
		else
			return usage();
	}
	if (argc % 2 != 1 || name == NULL || holder == NULL || uri == NULL || state == NULL ||
	    ttl_ms <= 0 || timeout_ms <= 0 || poll_ms <= 0)
		return usage();
	password = getenv("LEASE_DRIVER_PASSWORD");

	memset(&db, 0, sizeof(db));
	snprintf(db.name, sizeof(db.name), "db");
	db.kind = PROBE_KIND_POSTGRES;
	snprintf(db.uri, sizeof(db.uri), "%s", uri);
	uri_redact(db.uri, db.target, sizeof(db.target));
	snprintf(db.password, sizeof(db.password), "%s", password ? password : "");
	db.interval_ms = timeout_ms * 2;
	db.timeout_ms = timeout_ms;
	db.expect_role = EXPECT_ROLE_ANY;
	db.max_lag_ms = -1;
	view.arg = (void *)state;
	view.decide = decide;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lease = lease_new(name, holder, ttl_ms, &db, &view, &err);
	explicit_bzero(db.password, sizeof(db.password));
	if (lease == NULL) {
		fprintf(stderr, "lease_driver: %s\n", err.msg);
		return 1;
	}
	if (lease_start(lease) != 0) {
		fprintf(stderr, "lease_driver: cannot start the lease thread\n");
		lease_free(lease);
		return 1;
	}
	memset(&last, 0, sizeof(last));
	while (!signal_stop) {
		struct timespec pause = {.tv_sec = poll_ms / 1000,
		                         .tv_nsec = (long)(poll_ms % 1000) * 1000000};
		int64_t now = clock_mono_ms();

		lease_status(lease, now, &now_status);
		if (first || status_changed(&now_status, &last))
			print_status(&now_status, now, last_held_ms);
		if (now_status.held)
			last_held_ms = now;
		last = now_status;
		first = false;
		nanosleep(&pause, NULL);
	}
	lease_free(lease);
	write_line("{\"exit\": 0}\n", strlen("{\"exit\": 0}\n"));
	return 0;
}
