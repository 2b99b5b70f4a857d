/*
 * sigv4_req.c - parser of the SigV4 test suite's ".req" files (see sigv4_req.h).
 *
 * The input is copied once into req->storage (one append, so the memory never
 * moves afterwards) and cut in place with NULs; every pointer handed out
 * points into that copy.
 */
#include "aws/sigv4_req.h"

#include <errno.h>
#include <string.h>

void sigv4_req_init(struct sigv4_req *req)
{
	memset(req, 0, sizeof(*req));
	wd_buf_init(&req->storage, SIGV4_REQ_MAX);
}

void sigv4_req_free(struct sigv4_req *req)
{
	if (req == NULL)
		return;
	wd_buf_free(&req->storage);
	memset(&req->request, 0, sizeof(req->request));
	req->protocol = NULL;
}

/* Cut the line starting at *pos (ending at LF or end), NUL-terminate it, drop a final CR. */
static char *next_line(char *text, size_t len, size_t *pos, size_t *line_len)
{
	char *line = text + *pos;
	char *lf = memchr(line, '\n', len - *pos);
	size_t n = lf != NULL ? (size_t)(lf - line) : len - *pos;

	*pos += n + (lf != NULL ? 1 : 0);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	*line_len = n;
	return line;
}

static int parse_request_line(char *line, size_t line_len, struct sigv4_req *req,
                              struct wd_err *err)
{
	char *first = memchr(line, ' ', line_len);
	char *last = strrchr(line, ' ');
	char *query;

	if (first == NULL || last == first)
		return wd_err_set(err, -EINVAL,
		                  "req: request line is not METHOD SP target SP version");
	*first = '\0';
	*last = '\0';
	if (first == line || first + 1 == last)
		return wd_err_set(err, -EINVAL, "req: empty method or target");
	if (strncmp(last + 1, "HTTP/", 5) != 0)
		return wd_err_set(err, -EINVAL, "req: request line does not end in HTTP/x.y");
	req->request.method = line;
	req->protocol = last + 1;
	req->request.path = first + 1;
	query = strchr(first + 1, '?');
	if (query != NULL) {
		*query = '\0';
		req->request.query = query + 1;
	} else {
		req->request.query = "";
	}
	return 0;
}

int sigv4_req_parse(const char *data, size_t len, struct sigv4_req *req, struct wd_err *err)
{
	const char *prev_name = NULL;
	size_t count = 0;
	size_t pos = 0;
	size_t line_len;
	char *text;
	char *line;
	int rc;

	wd_buf_reset(&req->storage);
	memset(&req->request, 0, sizeof(req->request));
	req->protocol = NULL;
	if (data == NULL && len > 0)
		return wd_err_set(err, -EINVAL, "req: no input");
	if (len > SIGV4_REQ_MAX)
		return wd_err_set(err, -E2BIG, "req: longer than %d bytes", SIGV4_REQ_MAX);
	rc = wd_buf_append(&req->storage, data != NULL ? data : "", len);
	if (rc != 0)
		return wd_err_set(err, rc, "req: cannot copy the input");
	if (len == 0)
		return wd_err_set(err, -EINVAL, "req: empty input");
	text = req->storage.data;

	line = next_line(text, len, &pos, &line_len);
	if (strlen(line) != line_len)
		return wd_err_set(err, -EINVAL, "req: NUL byte in the request line");
	rc = parse_request_line(line, line_len, req, err);
	if (rc != 0)
		return rc;

	for (;;) {
		size_t line_start = pos;
		char *colon;

		if (pos >= len)
			break; /* no blank line: no body */
		line = next_line(text, len, &pos, &line_len);
		if (line_len == 0) {
			req->request.body = text + pos;
			req->request.body_len = len - pos;
			break;
		}
		if (strlen(line) != line_len)
			return wd_err_set(err, -EINVAL, "req: NUL byte in the header at byte %zu",
			                  line_start);
		if (count == SIGV4_HEADERS_MAX)
			return wd_err_set(err, -E2BIG, "req: more than %d header lines",
			                  SIGV4_HEADERS_MAX);
		if (line[0] == ' ' || line[0] == '\t') {
			if (prev_name == NULL)
				return wd_err_set(err, -EINVAL,
				                  "req: continuation line before any header");
			req->headers[count++] = (struct sigv4_header){prev_name, line};
			continue;
		}
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return wd_err_set(err, -EINVAL, "req: header line at byte %zu has no name",
			                  line_start);
		*colon = '\0';
		prev_name = line;
		req->headers[count++] = (struct sigv4_header){line, colon + 1};
	}
	req->request.headers = req->headers;
	req->request.header_count = count;
	if (req->request.body == NULL)
		req->request.body = "";
	return 0;
}
