#include "fencing/fence_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/limits.h"

int fence_file_write(const char *path, const char *data, size_t len, struct wd_err *err)
{
	char tmp[WD_PATH_MAX + 32];
	size_t done = 0;
	int fd;
	int rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return wd_err_set(err, -ENAMETOOLONG, "path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return wd_err_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wd_err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = wd_err_set(err, -errno, "cannot fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = wd_err_set(err, -errno, "cannot close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		rc = wd_err_set(err, -errno, "cannot rename to %s: %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
