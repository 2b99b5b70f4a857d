/*
 * main.c - command-line dispatch and the `serve` lifecycle.
 *
 *   warden [serve]        run the agent
 *   warden check [URL]    exit 0 if URL (default /livez) answers 2xx within 2s
 *   warden config         print the effective config, or exit 2 naming the bad key
 *   warden version        version and linked libraries
 *   warden flag get | set REGION [--reason TEXT] [--epoch N] [--wait]
 *                         the orchestrator's half of the flag (agent/flag_cmd.c)
 *   warden gate [--singleton NAME] [--grace 10s] [--sidecar URL] [--once] -- CMD ARGS...
 *                         run CMD only while the sidecar says this task may write
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent/check.h"
#include "lib/clock.h"
#include "agent/config.h"
#include "agent/emf.h"
#include "agent/flag_cmd.h"
#include "agent/http_server.h"
#include "agent/render.h"
#include "lib/log.h"
#include "probes/state.h"
#include "lib/version.h"
#include "fencing/fencing.h"
#include "proxy/proxy.h"
#include "gate/gate.h"
#include "probes/engine.h"

#define EXIT_CONFIG      2
#define CHECK_TIMEOUT_MS 2000

extern char **environ;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: warden [serve]\n"
	        "       warden check [URL]\n"
	        "       warden config\n"
	        "       warden version\n"
	        "       warden flag get\n"
	        "       warden flag set REGION [--reason TEXT] [--epoch N] [--wait]\n"
	        "       warden gate [--singleton NAME] [--grace 10s] [--sidecar URL] [--poll 1s]\n"
	        "                   [--once] -- CMD ARGS...\n");
}

/*
 * Load the config and fit RLIMIT_NOFILE to its connection caps (the one
 * validation of `serve` and `config`), or report one line naming the
 * problem: always on stderr (for a human at a terminal); with json_log also
 * as a JSON `agent.error` line on stdout, where every other line of `serve`
 * goes (CloudWatch Logs Insights sees it). `warden config` passes false: its
 * stdout is the config document alone.
 */
static struct wd_config *load_config(bool json_log)
{
	struct wd_config *cfg = malloc(sizeof(*cfg));
	struct wd_err err = {0};

	if (cfg == NULL) {
		fprintf(stderr, "warden: out of memory\n");
		if (json_log)
			log_msg(LOG_ERROR, "agent.error", "out of memory");
		return NULL;
	}
	if (config_load(cfg, environ, &err) < 0 || config_fit_fd_limit(cfg, &err) < 0) {
		fprintf(stderr, "warden: config: %s\n", err.msg);
		if (json_log)
			log_msg(LOG_ERROR, "agent.error", "config: %s", err.msg);
		free(cfg);
		return NULL;
	}
	return cfg;
}

static int cmd_config(void)
{
	struct wd_config *cfg = load_config(false);
	char *json;

	if (cfg == NULL)
		return EXIT_CONFIG;
	json = config_print_json(cfg);
	free(cfg);
	if (json == NULL) {
		fprintf(stderr, "warden: out of memory\n");
		return 1;
	}
	printf("%s\n", json);
	free(json);
	return 0;
}

/* `warden flag get|set`: the config and credentials chain of serve. */
static int cmd_flag(int argc, char **argv)
{
	struct wd_config *cfg = load_config(false);
	int rc;

	if (cfg == NULL)
		return EXIT_CONFIG;
	rc = flag_cmd_run(argc - 1, argv + 1, cfg, environ);
	free(cfg);
	return rc;
}

/* The default URL: /livez of the listener `serve` would open (same config loading). */
static int cmd_check(int argc, char **argv)
{
	char url[WD_LISTEN_MAX + 64];
	struct wd_err err = {0};

	if (argc > 3) {
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (argc == 3)
		return check_run(argv[2], CHECK_TIMEOUT_MS);
	if (check_default_url(environ, url, sizeof(url), &err) < 0) {
		/* A health check: a config that does not load is unhealthy (1), not usage (2). */
		fprintf(stderr, "warden check: config: %s\n", err.msg);
		return 1;
	}
	return check_run(url, CHECK_TIMEOUT_MS);
}

static int cmd_gate(int argc, char **argv)
{
	struct gate_options opts;
	struct wd_err err = {0};

	if (gate_parse_args(argc - 1, argv + 1, config_parse_listen, &opts, &err) < 0) {
		fprintf(stderr, "warden gate: %s\n", err.msg);
		return EXIT_CONFIG;
	}
	return gate_run(&opts);
}

/*
 * Block the stop signals in every thread (call before any thread starts), so
 * that only wait_for_stop() receives them, at once, with no handler and no
 * global flag. SIGPIPE is ignored: sockets and OpenSSL report EPIPE instead.
 */
static void block_stop_signals(sigset_t *stop)
{
	struct sigaction ignore;

	sigemptyset(stop);
	sigaddset(stop, SIGTERM);
	sigaddset(stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, stop, NULL);
	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ignore, NULL);
}

/* Wait up to ms for a stop signal; returns it, or 0 when the time ran out. */
static int wait_for_stop(const sigset_t *stop, int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	int sig;

	do {
		sig = sigtimedwait(stop, NULL, &ts);
	} while (sig < 0 && errno == EINTR);
	return sig < 0 ? 0 : sig;
}

/* The engine's part of the config. */
static struct probe_engine_config engine_config(const struct wd_config *cfg)
{
	return (struct probe_engine_config){.probes = cfg->probes, .probe_count = cfg->probe_count};
}

/* The fencing handle's part of the config. */
static struct fencing_config fencing_config(const struct wd_config *cfg)
{
	return (struct fencing_config){
	        .flags = cfg->flags,
	        .flag_count = cfg->flag_count,
	        .flag_interval_ms = cfg->flag_interval_ms,
	        .flag_timeout_ms = cfg->flag_timeout_ms,
	        .flag_ttl_ms = cfg->flag_ttl_ms,
	        .on_stale_hold = cfg->on_stale_hold,
	        .flag_quorum = cfg->flag_quorum_needed,
	        .split_brain_after_ms = cfg->split_brain_after_ms,
	        .fence_file = cfg->fence_file,
	        .probes = cfg->probes,
	        .probe_count = cfg->probe_count,
	        .singleton = cfg->singleton,
	        .singleton_ttl_ms = cfg->singleton_ttl_ms,
	        .singleton_probe = cfg->singleton_probe,
	};
}

/* The fence file's content: the /fence JSON (arg: the config). */
static int render_fence_file(void *arg, const struct fencing_report *report, struct wd_buf *out)
{
	return render_fence(arg, report, out);
}

/* The proxy's view of the verdict (arg: the fencing handle). */
static void proxy_decide(void *arg, struct fence_verdict *out)
{
	fencing_verdict(arg, clock_mono_ms(), out);
}

/*
 * Bind and start the write-fencing proxy (WARDEN_PROXY_LISTEN), asking
 * fencing whether the task may write. NULL with err when it cannot bind.
 */
static struct proxy *start_proxy(const struct wd_config *cfg, struct fencing *fencing,
                                 struct wd_err *err)
{
	struct proxy_config proxy = cfg->proxy;

	fencing_region(fencing, proxy.region);
	return proxy_new(&proxy, &(struct proxy_fence_view){.arg = fencing, .decide = proxy_decide},
	                 err);
}

static int cmd_serve(void)
{
	struct wd_config *cfg = load_config(true);
	struct wd_state *state = NULL;
	struct probe_engine *engine = NULL;
	struct probe_engine_config engine_cfg;
	struct fencing_config fencing_cfg;
	struct fencing *fencing = NULL;
	struct emf *emf = NULL;
	struct proxy *proxy = NULL;
	struct http_server *server = NULL;
	struct wd_err err = {0};
	struct log_line line;
	sigset_t stop;
	int64_t drain_end;
	int sig = 0;
	int rc = 1;

	if (cfg == NULL)
		return EXIT_CONFIG;
	log_set_level(cfg->log_level);
	block_stop_signals(&stop);
	state = wd_state_new(cfg->probe_count);
	if (state == NULL) {
		log_msg(LOG_ERROR, "agent.error", "out of memory");
		goto out;
	}
	engine_cfg = engine_config(cfg);
	engine = probe_engine_new(&engine_cfg, state, &err);
	if (engine == NULL) {
		log_msg(LOG_ERROR, "agent.error", "probes: %s", err.msg);
		goto out;
	}
	fencing_cfg = fencing_config(cfg);
	fencing = fencing_new(&fencing_cfg, environ, state,
	                      &(struct fencing_renderer){.arg = cfg, .render = render_fence_file},
	                      &err);
	if (fencing == NULL) {
		fprintf(stderr, "warden: fencing: %s\n", err.msg);
		log_msg(LOG_ERROR, "agent.error", "fencing: %s", err.msg);
		rc = EXIT_CONFIG;
		goto out;
	}
	if (cfg->emf) {
		emf = emf_new(&(struct emf_config){.interval_ms = cfg->emf_interval_ms,
		                                   .probes = cfg->probes,
		                                   .probe_count = cfg->probe_count},
		              environ, fencing, state, &err);
		if (emf == NULL || emf_start(emf) < 0) {
			log_msg(LOG_ERROR, "agent.error", "emf: %s", err.msg);
			goto out;
		}
	}
	if (probe_engine_start(engine) < 0) {
		log_msg(LOG_ERROR, "agent.error", "cannot start the probe threads");
		goto out;
	}
	/* The flag readers first, then the proxy that asks them, then the listener. */
	if (fencing_start(fencing, &err) < 0) {
		log_msg(LOG_ERROR, "agent.error", "fencing: %s", err.msg);
		goto out;
	}
	if (cfg->proxy_listen[0] != '\0') {
		proxy = start_proxy(cfg, fencing, &err);
		if (proxy == NULL) {
			log_msg(LOG_ERROR, "agent.error", "fencing: %s", err.msg);
			goto out;
		}
	}
	server = http_server_new(cfg, state, fencing, proxy, &err);
	if (server == NULL) {
		log_msg(LOG_ERROR, "agent.error", "health listener: %s", err.msg);
		goto out;
	}
	log_begin(&line, LOG_INFO, "agent.start");
	log_str(&line, "version", version_str());
	log_str(&line, "listen", cfg->listen);
	log_int(&line, "probes", (int64_t)cfg->probe_count);
	log_int(&line, "flag_sources", (int64_t)cfg->flag_count);
	if (cfg->proxy_listen[0] != '\0')
		log_str(&line, "proxy", cfg->proxy_listen);
	if (cfg->singleton[0] != '\0')
		log_str(&line, "singleton", cfg->singleton);
	log_end(&line, "warden %s serving health on %s", version_str(), cfg->listen);

	while (sig == 0) {
		fencing_tick(fencing);
		if (emf != NULL)
			emf_tick(emf);
		sig = wait_for_stop(&stop, FENCING_TICK_MS);
	}

	/* Lame duck: /readyz fails at once, everything else keeps serving. */
	wd_state_set_draining(state);
	fencing_drain(fencing);
	log_begin(&line, LOG_INFO, "agent.drain");
	log_str(&line, "signal", sigabbrev_np(sig));
	log_int(&line, "drain_ms", cfg->drain_ms);
	log_end(&line, "draining for %lld ms before exit", (long long)cfg->drain_ms);
	drain_end = clock_mono_ms() + cfg->drain_ms;
	while (clock_mono_ms() < drain_end) {
		int64_t left = drain_end - clock_mono_ms();

		fencing_tick(fencing);
		if (emf != NULL)
			emf_tick(emf);
		if (wait_for_stop(&stop, left < FENCING_TICK_MS ? left : FENCING_TICK_MS) != 0) {
			log_msg(LOG_WARN, "agent.drain", "second signal: drain cut short");
			break;
		}
	}
	rc = 0;
out:
	http_server_free(server);
	proxy_free(proxy);
	fencing_free(fencing);
	emf_free(emf); /* after fencing: its readers may report a transition until then */
	probe_engine_free(engine);
	wd_state_free(state);
	if (rc == 0)
		log_msg(LOG_INFO, "agent.stop", "stopped");
	free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "serve";
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "warden: cannot initialise libcurl\n");
		return 1;
	}
	if (strcmp(cmd, "serve") == 0 && argc <= 2)
		rc = cmd_serve();
	else if (strcmp(cmd, "check") == 0)
		rc = cmd_check(argc, argv);
	else if (strcmp(cmd, "gate") == 0)
		rc = cmd_gate(argc, argv);
	else if (strcmp(cmd, "flag") == 0)
		rc = cmd_flag(argc, argv);
	else if (strcmp(cmd, "config") == 0 && argc == 2)
		rc = cmd_config();
	else if (strcmp(cmd, "version") == 0 && argc == 2) {
		version_print(stdout);
		rc = 0;
	} else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	           strcmp(cmd, "-h") == 0) {
		usage(stdout);
		rc = 0;
	} else {
		usage(stderr);
		rc = EXIT_CONFIG;
	}
	curl_global_cleanup();
	return rc;
}
