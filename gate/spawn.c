/*
 * spawn.c - start the gate's child: CMD resolved on PATH before fork, in a
 * process group of its own, with PR_SET_PDEATHSIG SIGKILL, default signal
 * dispositions and an empty mask, WARDEN_EPOCH / WARDEN_FENCING_TOKEN /
 * WARDEN_DEADLINE in its environment, and only the descriptors the gate
 * inherited (never curl's sockets or the signalfd). A failed execve is
 * reported back through a CLOEXEC pipe, so that "cannot start" is known
 * before the child counts as running.
 */
#include "gate/gate_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/limits.h"

extern char **environ;

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a;
	int y = *(const int *)b;

	return (x > y) - (x < y);
}

void gate_spawn_fds_snapshot(struct gate_spawn_fds *inherited)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	struct rlimit limit;

	memset(inherited, 0, sizeof(*inherited));
	inherited->limit = 1024;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
	    limit.rlim_cur < 1u << 20)
		inherited->limit = (unsigned)limit.rlim_cur;
	if (dir == NULL) {
		inherited->keep_all = true;
		return;
	}
	while ((entry = readdir(dir)) != NULL) {
		char *end;
		long fd = strtol(entry->d_name, &end, 10);

		if (entry->d_name[0] == '.' || *end != '\0' || fd < 3 || fd == dirfd(dir))
			continue;
		if (inherited->count == GATE_KEEP_FDS_MAX) {
			inherited->keep_all = true;
			break;
		}
		inherited->keep[inherited->count++] = (int)fd;
	}
	closedir(dir);
	qsort(inherited->keep, inherited->count, sizeof(inherited->keep[0]), compare_int);
}

/* Close [first, last] in the child: close_range(2), or one by one up to limit. */
static void close_span(unsigned first, unsigned last, unsigned limit)
{
	if (first > last)
		return;
	if (close_range(first, last, 0) == 0)
		return;
	for (unsigned fd = first; fd <= last && fd < limit; fd++)
		close((int)fd);
}

/* In the child: close every descriptor >= 3 but the sorted keep[]. */
static void close_unkept(const int *keep, size_t count, unsigned limit)
{
	unsigned first = 3;

	for (size_t i = 0; i < count; i++) {
		if ((unsigned)keep[i] > first)
			close_span(first, (unsigned)keep[i] - 1, limit);
		if ((unsigned)keep[i] + 1 > first)
			first = (unsigned)keep[i] + 1;
	}
	close_span(first, ~0u, limit);
}

/* Find CMD on PATH (as execvp would) before fork, so the child only calls execve. */
static int resolve_command(const char *name, char *path, size_t size)
{
	const char *dirs = getenv("PATH");
	const char *dir;
	int rc = -ENOENT;

	if (strchr(name, '/') != NULL) {
		if ((size_t)snprintf(path, size, "%s", name) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	if (dirs == NULL || dirs[0] == '\0')
		dirs = "/usr/local/bin:/usr/bin:/bin";
	for (dir = dirs; dir != NULL; dir = strchr(dir, ':') ? strchr(dir, ':') + 1 : NULL) {
		size_t dir_len = strchr(dir, ':') ? (size_t)(strchr(dir, ':') - dir) : strlen(dir);
		struct stat st;

		if ((size_t)snprintf(path, size, "%.*s%s%s", (int)dir_len, dir,
		                     dir_len == 0 ? "" : "/", name) >= size)
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (access(path, X_OK) == 0)
			return 0;
		rc = -EACCES;
	}
	return rc;
}

/* environ without WARDEN_EPOCH / _FENCING_TOKEN / _DEADLINE, plus ours. Caller frees the array. */
static char **child_env(char *epoch_var, char *token_var, char *deadline_var)
{
	size_t count = 0;
	size_t n = 0;
	char **envp;

	while (environ != NULL && environ[count] != NULL)
		count++;
	envp = calloc(count + 4, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		if (strncmp(environ[i], "WARDEN_EPOCH=", 13) == 0 ||
		    strncmp(environ[i], "WARDEN_FENCING_TOKEN=", 21) == 0 ||
		    strncmp(environ[i], "WARDEN_DEADLINE=", 16) == 0)
			continue;
		envp[n++] = environ[i];
	}
	envp[n++] = epoch_var;
	envp[n++] = token_var;
	envp[n++] = deadline_var;
	envp[n] = NULL;
	return envp;
}

/* What the child keeps open and how to close the rest; filled before fork. */
struct child_fds {
	int keep[GATE_KEEP_FDS_MAX + 1]; /* sorted; includes report_fd */
	size_t count;
	bool keep_all;
	unsigned limit;
	int report_fd; /* CLOEXEC pipe: errno of a failed execve */
};

/* In the child, between fork and execve: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const char *path, char **argv, char **envp, pid_t parent, const struct child_fds *fds)
{
	struct sigaction dfl;
	sigset_t none;
	int error;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* the gate died before we could ask to follow it */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!fds->keep_all)
		close_unkept(fds->keep, fds->count, fds->limit);
	execve(path, argv, envp);
	error = errno;
	while (write(fds->report_fd, &error, sizeof(error)) < 0 && errno == EINTR)
		;
	_exit(127);
}

int gate_spawn(char **argv, uint64_t epoch, uint64_t token, int64_t until,
               const struct gate_spawn_fds *inherited, pid_t *pid_out)
{
	char path[WD_PATH_MAX + 1];
	char epoch_var[48];
	char token_var[48];
	char deadline_var[48];
	char deadline[32];
	char **envp = NULL;
	struct child_fds fds;
	int report[2] = {-1, -1};
	int error = 0;
	pid_t parent = getpid();
	pid_t pid;
	ssize_t n;
	int rc;

	rc = resolve_command(argv[0], path, sizeof(path));
	if (rc < 0)
		goto out;
	snprintf(epoch_var, sizeof(epoch_var), "WARDEN_EPOCH=%llu", (unsigned long long)epoch);
	snprintf(token_var, sizeof(token_var), "WARDEN_FENCING_TOKEN=%llu",
	         (unsigned long long)token);
	clock_format_rfc3339(clock_wall_ms() + (until - clock_mono_ms()), deadline,
	                     sizeof(deadline));
	snprintf(deadline_var, sizeof(deadline_var), "WARDEN_DEADLINE=%s", deadline);
	envp = child_env(epoch_var, token_var, deadline_var);
	if (envp == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	memcpy(fds.keep, inherited->keep, inherited->count * sizeof(fds.keep[0]));
	fds.keep[inherited->count] = report[1];
	fds.count = inherited->count + 1;
	qsort(fds.keep, fds.count, sizeof(fds.keep[0]), compare_int);
	fds.keep_all = inherited->keep_all;
	fds.limit = inherited->limit;
	fds.report_fd = report[1];
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0)
		child_exec(path, argv, envp, parent, &fds);
	setpgid(pid, pid); /* both sides set it: no window where it is in our group */
	close(report[1]);
	report[1] = -1;
	do
		n = read(report[0], &error, sizeof(error));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(error)) {
		waitpid(pid, NULL, 0);
		rc = -error;
		goto out;
	}
	*pid_out = pid;
	rc = 0;
out:
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	free(envp);
	return rc;
}
