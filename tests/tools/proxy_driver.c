/*
 * proxy_driver.c - run the write-fencing proxy alone, for integration tests
 * and the benchmark.
 *
 *   proxy_driver --upstream HOST:PORT --state FILE [--listen HOST:PORT]
 *                [--region R] [--allow /a,/b] [--threads N]
 *                [--upstream-timeout-ms N] [--idle-timeout-ms N]
 *                [--header-timeout-ms N] [--max-connections N]
 *                [--max-header-bytes N] [--max-headers N] [--retry-after S]
 *
 * The fence view reads FILE, one line "writable epoch active_region state"
 * (e.g. "1 7 us-east-1 active" or "0 8 us-west-2 passive"), again whenever
 * its mtime or size changes (checked at most every 10 ms); a missing or bad
 * file is "unknown", not writable. A writable verdict has no writable_until
 * (INT64_MAX, as under WARDEN_ON_STALE=hold): tests of the deadline run
 * warden itself with a file: flag. Prints {"port": N} once listening, the
 * counters as one JSON line on SIGUSR1, and exits 0 on SIGTERM / SIGINT.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "proxy/proxy.h"

static volatile sig_atomic_t signal_stop;
static volatile sig_atomic_t signal_stats;

struct file_view {
	const char *path;
	pthread_mutex_t lock;
	int64_t checked_ms;
	struct timespec mtime;
	off_t size;
	struct fence_verdict verdict;
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		signal_stats = 1;
	else
		signal_stop = 1;
}

static enum fence_state parse_state(const char *text)
{
	for (int s = 0; s < FENCE_STATE_COUNT; s++) {
		if (strcmp(text, fence_state_str((enum fence_state)s)) == 0)
			return (enum fence_state)s;
	}
	return FENCE_UNKNOWN;
}

static void reload(struct file_view *view)
{
	struct fence_verdict v;
	char line[256];
	char region[FLAG_REGION_MAX + 1] = "";
	char state[32] = "";
	int writable = 0;
	uint64_t epoch = 0;
	FILE *f = fopen(view->path, "r");

	memset(&v, 0, sizeof(v));
	v.state = FENCE_UNKNOWN;
	if (f != NULL) {
		if (fgets(line, sizeof(line), f) && sscanf(line, "%d %" SCNu64 " %32s %31s",
		                                           &writable, &epoch, region, state) >= 2) {
			v.writable = writable != 0;
			/* no TTL here: writable with no bound, as under hold */
			v.writable_until_mono_ms = v.writable ? INT64_MAX : 0;
			v.epoch = epoch;
			if (strcmp(region, "-") != 0)
				memcpy(v.active_region, region, sizeof(v.active_region));
			v.state = state[0] ? parse_state(state)
			                   : (v.writable ? FENCE_ACTIVE : FENCE_PASSIVE);
		}
		fclose(f);
	}
	view->verdict = v;
}

static void decide(void *arg, struct fence_verdict *out)
{
	struct file_view *view = arg;
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&view->lock);
	if (now - view->checked_ms >= 10) {
		struct stat st;

		view->checked_ms = now;
		if (stat(view->path, &st) < 0) {
			memset(&view->verdict, 0, sizeof(view->verdict));
			view->size = -1;
		} else if (st.st_mtim.tv_sec != view->mtime.tv_sec ||
		           st.st_mtim.tv_nsec != view->mtime.tv_nsec || st.st_size != view->size) {
			view->mtime = st.st_mtim;
			view->size = st.st_size;
			reload(view);
		}
	}
	*out = view->verdict;
	pthread_mutex_unlock(&view->lock);
}

static int split_host_port(const char *text, char *host, size_t host_size, int *port)
{
	const char *colon = strrchr(text, ':');
	size_t len;

	if (colon == NULL)
		return -1;
	len = (size_t)(colon - text);
	if (len == 0 || len >= host_size)
		return -1;
	memcpy(host, text, len);
	host[len] = '\0';
	*port = atoi(colon + 1);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: proxy_driver --upstream HOST:PORT --state FILE [--listen HOST:PORT] "
	        "[--region R] [--allow /a,/b] [--threads N] [--upstream-timeout-ms N] "
	        "[--idle-timeout-ms N] [--header-timeout-ms N] [--max-connections N] "
	        "[--max-header-bytes N] [--max-headers N] [--retry-after S]\n");
	exit(2);
}

static void print_stats(struct proxy *proxy)
{
	struct proxy_stats st;

	proxy_get_stats(proxy, &st);
	printf("{\"stats\": {");
	for (int r = 0; r < PROXY_RESULT_COUNT; r++)
		printf("\"%s\": %" PRIu64 ", ", proxy_result_str((enum proxy_result)r),
		       st.requests[r]);
	printf("\"connections_open\": %" PRIu64 ", \"tunnels_open\": %" PRIu64
	       ", \"closed_on_fence\": %" PRIu64 ", \"cut_at_deadline\": %" PRIu64 "}}\n",
	       st.connections_open, st.tunnels_open, st.closed_on_fence, st.cut_at_deadline);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct proxy_config cfg;
	struct file_view view = {.lock = PTHREAD_MUTEX_INITIALIZER, .checked_ms = -1000};
	struct proxy_fence_view fence_view = {.arg = &view, .decide = decide};
	struct wd_err err = {0};
	struct sigaction sa;
	struct proxy *proxy;
	const char *level = getenv("WARDEN_LOG_LEVEL");
	enum log_level log_level;

	proxy_config_defaults(&cfg);
	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.1");
	snprintf(cfg.region, sizeof(cfg.region), "us-west-2");
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (val == NULL)
			usage();
		i++;
		if (strcmp(arg, "--listen") == 0) {
			if (split_host_port(val, cfg.listen_host, sizeof(cfg.listen_host),
			                    &cfg.listen_port) < 0)
				usage();
		} else if (strcmp(arg, "--upstream") == 0) {
			if (split_host_port(val, cfg.upstream_host, sizeof(cfg.upstream_host),
			                    &cfg.upstream_port) < 0)
				usage();
		} else if (strcmp(arg, "--state") == 0) {
			view.path = val;
		} else if (strcmp(arg, "--region") == 0) {
			snprintf(cfg.region, sizeof(cfg.region), "%s", val);
		} else if (strcmp(arg, "--allow") == 0) {
			if (proxy_config_set_allow(&cfg, val, &err) < 0) {
				fprintf(stderr, "proxy_driver: %s\n", err.msg);
				return 2;
			}
		} else if (strcmp(arg, "--threads") == 0) {
			cfg.threads = (unsigned)atoi(val);
		} else if (strcmp(arg, "--upstream-timeout-ms") == 0) {
			cfg.upstream_timeout_ms = atoll(val);
		} else if (strcmp(arg, "--idle-timeout-ms") == 0) {
			cfg.idle_timeout_ms = atoll(val);
		} else if (strcmp(arg, "--header-timeout-ms") == 0) {
			cfg.header_timeout_ms = atoll(val);
		} else if (strcmp(arg, "--max-connections") == 0) {
			cfg.max_connections = (unsigned)atoi(val);
		} else if (strcmp(arg, "--max-header-bytes") == 0) {
			cfg.max_header_bytes = (size_t)atoll(val);
		} else if (strcmp(arg, "--max-headers") == 0) {
			cfg.max_headers = (unsigned)atoi(val);
		} else if (strcmp(arg, "--retry-after") == 0) {
			cfg.retry_after_s = atoll(val);
		} else {
			usage();
		}
	}
	if (view.path == NULL || cfg.upstream_host[0] == '\0')
		usage();
	if (level && log_level_parse(level, &log_level) == 0)
		log_set_level(log_level);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	proxy = proxy_new(&cfg, &fence_view, &err);
	if (proxy == NULL) {
		fprintf(stderr, "proxy_driver: %s\n", err.msg);
		return 1;
	}
	printf("{\"port\": %d}\n", proxy_port(proxy));
	fflush(stdout);
	while (!signal_stop) {
		struct timespec pause = {0, 20 * 1000000L};

		nanosleep(&pause, NULL);
		if (signal_stats) {
			signal_stats = 0;
			print_stats(proxy);
		}
	}
	print_stats(proxy);
	proxy_free(proxy);
	return 0;
}
