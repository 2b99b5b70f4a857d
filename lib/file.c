#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_small(const char *path, const char *name, char *buf, size_t size, size_t *len,
                    struct wd_err *err)
{
	struct stat st;
	size_t used = 0;
	int fd;
	int rc = 0;

	*len = 0;
	if (size == 0)
		return wd_err_set(err, -EINVAL, "no room to read %s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return wd_err_set(err, -errno, "cannot open %s: %s", name, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = wd_err_set(err, -errno, "cannot stat %s: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = wd_err_set(err, -EINVAL, "%s is not a regular file", name);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, size - used); /* used < size here */

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wd_err_set(err, -errno, "cannot read %s: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > size - 1) {
			rc = wd_err_set(err, -EFBIG, "%s is larger than %zu bytes", name, size - 1);
			goto out;
		}
	}
	buf[used] = '\0';
	*len = used;
out:
	if (rc != 0)
		explicit_bzero(buf, size);
	close(fd);
	return rc;
}
