/*
 * test_sigv4.c - the SigV4 signer against AWS's conformance suite, botocore
 * golden cases and hand-written edge cases.
 *
 * Suite: $SIGV4_SUITE_DIR, else $WARDEN_TEST_DATA/../../../shared/sigv4-suite
 * (WARDEN_TEST_DATA is <repo>/tests/data, so that is <repo>/../shared/sigv4-suite).
 * Every sub-folder holding a .req is a case (no case name is hard-coded); its
 * .creq, .sts and .authz must match byte for byte, and the headers the signer
 * says to add must be the ones .sreq shows after the .req's own headers.
 * Fixed parameters are the suite README's; a case whose stem contains
 * "sts-header-after" gets the session token unsigned, "sts-header-before"
 * signed, the others none. A request that already carries
 * X-Amz-Security-Token (the "signed before" form) gives that header's value
 * as the session token, signed, instead.
 *
 * Golden: every folder of $WARDEN_TEST_DATA/sigv4 holding a .req, with its
 * parameters in <stem>.params and the added headers in <stem>.added, both
 * written by tests/data/sigv4/make_golden.py with botocore.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/sigv4.h"
#include "aws/sigv4_req.h"

#define SUITE_KEY_ID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE   "20150830T123600Z"
/* post-sts-token-readme.txt of the suite. */
#define SUITE_TOKEN                                                                                \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmx" \
	"fpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0K" \
	"PkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZb" \
	"qBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

#define FILE_MAX  (1024 * 1024)
#define PARAM_MAX 256

struct file_data {
	char *data;
	size_t len;
};

/* Parameters of one golden case, read from its .params file. */
struct case_params {
	char access_key_id[PARAM_MAX];
	char secret_access_key[PARAM_MAX];
	char session_token[PARAM_MAX * 4];
	char token_mode[PARAM_MAX];
	char region[PARAM_MAX];
	char service[PARAM_MAX];
	char amz_date[PARAM_MAX];
};

/* snprintf into a path buffer; a cut path fails the test instead of opening the wrong file. */
static void path_format(char *out, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void path_format(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < size);
}

/* Read a whole file (NUL-terminated copy). 0 or -errno. */
static int read_file(const char *path, struct file_data *out)
{
	FILE *f = fopen(path, "rb");
	long size;
	int rc = -EIO;

	out->data = NULL;
	out->len = 0;
	if (f == NULL)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > FILE_MAX ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto out;
	out->data = malloc((size_t)size + 1);
	if (out->data == NULL)
		goto out;
	if (fread(out->data, 1, (size_t)size, f) != (size_t)size)
		goto out;
	out->data[size] = '\0';
	out->len = (size_t)size;
	rc = 0;
out:
	fclose(f);
	if (rc != 0) {
		free(out->data);
		out->data = NULL;
	}
	return rc;
}

/* Print one line with its bytes made visible. */
static void print_visible(const char *prefix, const char *line, size_t len)
{
	printf("%s", prefix);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else if (c == '\t')
			printf("\\t");
		else
			printf("\\x%02x", c);
	}
	printf("\n");
}

static size_t line_end(const char *text, size_t len, size_t pos)
{
	const char *lf = memchr(text + pos, '\n', len - pos);

	return lf != NULL ? (size_t)(lf - text) : len;
}

/*
 * Compare expected with got; on a difference print a line-by-line diff
 * ("-" expected, "+" got) naming the file. Returns 1 when they differ.
 */
static int compare_text(const char *case_name, const char *what, const char *expected,
                        size_t expected_len, const char *got, size_t got_len)
{
	size_t e = 0, g = 0;
	unsigned line = 1;

	if (expected_len == got_len && memcmp(expected, got, got_len) == 0)
		return 0;
	printf("  FAIL %s: %s mismatch (- expected, + got)\n", case_name, what);
	while (e < expected_len || g < got_len) {
		size_t e_end = e < expected_len ? line_end(expected, expected_len, e) : e;
		size_t g_end = g < got_len ? line_end(got, got_len, g) : g;
		int e_has = e < expected_len;
		int g_has = g < got_len;

		if (e_has && g_has && e_end - e == g_end - g &&
		    memcmp(expected + e, got + g, e_end - e) == 0) {
			print_visible("      ", expected + e, e_end - e);
		} else {
			char tag[32];

			snprintf(tag, sizeof(tag), "    - ");
			if (e_has)
				print_visible(tag, expected + e, e_end - e);
			snprintf(tag, sizeof(tag), "    + ");
			if (g_has)
				print_visible(tag, got + g, g_end - g);
			printf("      ^ line %u\n", line);
		}
		e = e_has ? e_end + 1 : e;
		g = g_has ? g_end + 1 : g;
		line++;
	}
	if (expected_len > 0 && got_len > 0 &&
	    (expected[expected_len - 1] == '\n') != (got[got_len - 1] == '\n'))
		printf("      (one of them ends in a newline, the other does not)\n");
	return 1;
}

/* Compare the file <stem><ext> with got; a missing file is a failure. */
static int compare_with_file(const char *case_name, const char *stem, const char *ext,
                             const char *got, size_t got_len)
{
	char path[4096];
	struct file_data expected;
	int rc;

	path_format(path, sizeof(path), "%s%s", stem, ext);
	if (read_file(path, &expected) != 0) {
		printf("  FAIL %s: cannot read %s\n", case_name, path);
		return 1;
	}
	rc = compare_text(case_name, ext, expected.data, expected.len, got, got_len);
	free(expected.data);
	return rc;
}

/*
 * The added headers as "Name:value\n" lines. skip_token: the request already
 * carries X-Amz-Security-Token (the "signed before" form), so it is not added.
 */
static void format_added(const struct sigv4_result *res, int skip_token, struct wd_buf *out)
{
	struct sigv4_header added[SIGV4_ADDED_HEADERS_MAX];
	size_t n = sigv4_headers_to_add(res, added);

	for (size_t i = 0; i < n; i++) {
		if (skip_token && strcasecmp(added[i].name, "X-Amz-Security-Token") == 0)
			continue;
		assert_int_equal(wd_buf_printf(out, "%s:%s\n", added[i].name, added[i].value), 0);
	}
}

/*
 * A request that already carries X-Amz-Security-Token (the suite's
 * "post-sts-header-before"): take that header out of the request and its
 * value as the session token, signed, which is what the signer's API wants
 * (it refuses the token twice). Returns 1 when it did, 0 when there is none.
 */
static int token_from_request(struct sigv4_req *req, struct sigv4_params *params, char *token,
                              size_t size)
{
	size_t count = req->request.header_count;

	for (size_t i = 0; i < count; i++) {
		const char *value = req->headers[i].value;
		size_t len;

		if (strcasecmp(req->headers[i].name, "X-Amz-Security-Token") != 0)
			continue;
		while (*value == ' ' || *value == '\t')
			value++;
		len = strlen(value);
		while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
			len--;
		assert_true(len < size);
		memcpy(token, value, len);
		token[len] = '\0';
		memmove(&req->headers[i], &req->headers[i + 1],
		        (count - i - 1) * sizeof(req->headers[0]));
		req->request.header_count = count - 1;
		params->credentials.session_token = token;
		params->token_mode = SIGV4_TOKEN_SIGNED;
		return 1;
	}
	return 0;
}

/*
 * The suite's .sreq is the .req with the added headers inserted after its
 * own header lines (one, Authorization, written "Name: value"). Return those
 * added lines normalized to "Name:value\n" in out.
 */
static int added_from_sreq(const char *stem, size_t req_header_lines, struct wd_buf *out)
{
	char path[4096];
	struct file_data sreq;
	size_t pos = 0;
	size_t line = 0;

	path_format(path, sizeof(path), "%s.sreq", stem);
	if (read_file(path, &sreq) != 0)
		return -ENOENT;
	while (pos < sreq.len) {
		size_t end = line_end(sreq.data, sreq.len, pos);
		const char *colon;
		const char *value;

		if (end == pos)
			break;                   /* blank line: the body follows */
		if (line++ > req_header_lines) { /* line 0 is the request line */
			colon = memchr(sreq.data + pos, ':', end - pos);
			if (colon == NULL)
				break;
			value = colon + 1;
			while (value < sreq.data + end && *value == ' ')
				value++;
			wd_buf_append(out, sreq.data + pos,
			              (size_t)(colon - (sreq.data + pos)) + 1);
			wd_buf_append(out, value, (size_t)(sreq.data + end - value));
			wd_buf_append(out, "\n", 1);
		}
		pos = end + 1;
	}
	free(sreq.data);
	return 0;
}

/* Count header lines of a .req (request line excluded, continuation lines included). */
static size_t req_header_lines(const char *data, size_t len)
{
	size_t pos = line_end(data, len, 0) + 1;
	size_t lines = 0;

	while (pos < len) {
		size_t end = line_end(data, len, pos);

		if (end == pos)
			break;
		lines++;
		pos = end + 1;
	}
	return lines;
}

/*
 * Sign <dir>/<stem>.req with params and compare with its expected files.
 * golden: the added headers come from .added (else from .sreq when present).
 * Returns 0 when the case passes.
 */
static int run_case(const char *case_name, const char *dir, const char *stem_name,
                    const struct sigv4_params *case_params, int golden)
{
	struct sigv4_params params_copy = *case_params;
	const struct sigv4_params *params = &params_copy;
	char token[PARAM_MAX * 4];
	int token_in_request;
	char stem[4096];
	char path[4096];
	struct file_data raw = {NULL, 0};
	struct sigv4_req req;
	struct sigv4_result res;
	struct wd_buf added, expected_added;
	struct wd_err err = {0, ""};
	int failures = 0;
	int rc;

	path_format(stem, sizeof(stem), "%s/%s", dir, stem_name);
	path_format(path, sizeof(path), "%s.req", stem);
	sigv4_req_init(&req);
	sigv4_result_init(&res);
	wd_buf_init(&added, 64 * 1024);
	wd_buf_init(&expected_added, 64 * 1024);
	if (read_file(path, &raw) != 0) {
		printf("  FAIL %s: cannot read %s\n", case_name, path);
		failures++;
		goto out;
	}
	rc = sigv4_req_parse(raw.data, raw.len, &req, &err);
	if (rc != 0) {
		printf("  FAIL %s: .req does not parse: %s\n", case_name, err.msg);
		failures++;
		goto out;
	}
	token_in_request = token_from_request(&req, &params_copy, token, sizeof(token));
	rc = sigv4_sign(&req.request, params, &res, &err);
	if (rc != 0) {
		printf("  FAIL %s: signing failed (%d): %s\n", case_name, rc, err.msg);
		failures++;
		goto out;
	}
	failures += compare_with_file(case_name, stem, ".creq", res.canonical_request.data,
	                              res.canonical_request.len);
	failures += compare_with_file(case_name, stem, ".sts", res.string_to_sign.data,
	                              res.string_to_sign.len);
	failures += compare_with_file(case_name, stem, ".authz", res.authorization.data,
	                              res.authorization.len);
	format_added(&res, token_in_request, &added);
	if (golden) {
		failures += compare_with_file(case_name, stem, ".added",
		                              added.data != NULL ? added.data : "", added.len);
	} else if (added_from_sreq(stem, req_header_lines(raw.data, raw.len), &expected_added) ==
	           0) {
		failures += compare_text(case_name, "added headers (from .sreq)",
		                         expected_added.data != NULL ? expected_added.data : "",
		                         expected_added.len, added.data != NULL ? added.data : "",
		                         added.len);
	}
out:
	free(raw.data);
	sigv4_req_free(&req);
	sigv4_result_free(&res);
	wd_buf_free(&added);
	wd_buf_free(&expected_added);
	return failures;
}

/* Find the stem of the first *.req in dir ("" when none). */
static int find_req_stem(const char *dir, char *stem, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	int found = 0;

	stem[0] = '\0';
	if (d == NULL)
		return 0;
	while ((entry = readdir(d)) != NULL) {
		size_t len = strlen(entry->d_name);

		if (len > 4 && strcmp(entry->d_name + len - 4, ".req") == 0 && len - 4 < size) {
			memcpy(stem, entry->d_name, len - 4);
			stem[len - 4] = '\0';
			found = 1;
			break;
		}
	}
	closedir(d);
	return found;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted sub-folder names of root that hold a .req; *count of them. NULL on error. */
static char **list_cases(const char *root, size_t *count)
{
	DIR *d = opendir(root);
	struct dirent *entry;
	char **names = NULL;
	size_t n = 0;

	*count = 0;
	if (d == NULL)
		return NULL;
	while ((entry = readdir(d)) != NULL) {
		char dir[4096];
		char stem[1024];
		struct stat st;
		char **grown;

		if (entry->d_name[0] == '.')
			continue;
		path_format(dir, sizeof(dir), "%s/%s", root, entry->d_name);
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!find_req_stem(dir, stem, sizeof(stem)))
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		assert_non_null(grown);
		names = grown;
		names[n] = strdup(entry->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), compare_names);
	*count = n;
	return names;
}

static void suite_params(const char *stem, struct sigv4_params *params)
{
	memset(params, 0, sizeof(*params));
	params->credentials.access_key_id = SUITE_KEY_ID;
	params->credentials.secret_access_key = SUITE_SECRET;
	params->region = "us-east-1";
	params->service = "service";
	params->amz_date = SUITE_DATE;
	if (strstr(stem, "sts-header-after") != NULL) {
		params->credentials.session_token = SUITE_TOKEN;
		params->token_mode = SIGV4_TOKEN_UNSIGNED;
	} else if (strstr(stem, "sts-header-before") != NULL) {
		params->credentials.session_token = SUITE_TOKEN;
		params->token_mode = SIGV4_TOKEN_SIGNED;
	}
}

/* Read <stem>.params (key=value lines) into p. 0 or -1. */
static int read_params(const char *stem, struct case_params *p)
{
	char path[4096];
	char line[2048];
	FILE *f;

	memset(p, 0, sizeof(*p));
	path_format(path, sizeof(path), "%s.params", stem);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');
		char *nl = strchr(line, '\n');
		struct {
			const char *key;
			char *dst;
			size_t size;
		} fields[] = {
		        {"access_key_id", p->access_key_id, sizeof(p->access_key_id)},
		        {"secret_access_key", p->secret_access_key, sizeof(p->secret_access_key)},
		        {"session_token", p->session_token, sizeof(p->session_token)},
		        {"token_mode", p->token_mode, sizeof(p->token_mode)},
		        {"region", p->region, sizeof(p->region)},
		        {"service", p->service, sizeof(p->service)},
		        {"amz_date", p->amz_date, sizeof(p->amz_date)},
		};

		if (nl != NULL)
			*nl = '\0';
		if (eq == NULL)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (strcmp(line, fields[i].key) == 0)
				snprintf(fields[i].dst, fields[i].size, "%s", eq + 1);
		}
	}
	fclose(f);
	return 0;
}

/*
 * Run every case folder of root. golden: parameters from .params. Returns
 * the number of failed cases; *cases_out gets the number of cases.
 */
static int run_directory(const char *root, int golden, size_t *cases_out)
{
	size_t count = 0;
	char **names = list_cases(root, &count);
	int failed = 0;

	for (size_t i = 0; i < count; i++) {
		char dir[4096];
		char stem[1024];
		char stem_path[8192];
		struct sigv4_params params;
		struct case_params file_params;
		int failures;

		path_format(dir, sizeof(dir), "%s/%s", root, names[i]);
		assert_true(find_req_stem(dir, stem, sizeof(stem)));
		if (golden) {
			path_format(stem_path, sizeof(stem_path), "%s/%s", dir, stem);
			if (read_params(stem_path, &file_params) != 0) {
				printf("  FAIL %s: no %s.params\n", names[i], stem);
				failed++;
				free(names[i]);
				continue;
			}
			memset(&params, 0, sizeof(params));
			params.credentials.access_key_id = file_params.access_key_id;
			params.credentials.secret_access_key = file_params.secret_access_key;
			params.credentials.session_token = file_params.session_token;
			params.token_mode = strcmp(file_params.token_mode, "unsigned") == 0
			                            ? SIGV4_TOKEN_UNSIGNED
			                            : SIGV4_TOKEN_SIGNED;
			params.region = file_params.region;
			params.service = file_params.service;
			params.amz_date = file_params.amz_date;
		} else {
			suite_params(stem, &params);
		}
		failures = run_case(names[i], dir, stem, &params, golden);
		printf("  %s %s\n", failures == 0 ? "ok  " : "FAIL", names[i]);
		failed += failures != 0;
		free(names[i]);
	}
	free(names);
	*cases_out = count;
	return failed;
}

static void suite_dir(char *out, size_t size)
{
	const char *env = getenv("SIGV4_SUITE_DIR");
	const char *data = getenv("WARDEN_TEST_DATA");

	if (env != NULL && env[0] != '\0')
		snprintf(out, size, "%s", env);
	else if (data != NULL && data[0] != '\0')
		snprintf(out, size, "%s/../../../shared/sigv4-suite", data);
	else
		snprintf(out, size, "../shared/sigv4-suite");
}

static void test_suite(void **state)
{
	char dir[4096];
	size_t cases = 0;
	int failed;

	(void)state;
	suite_dir(dir, sizeof(dir));
	printf("sigv4 suite: %s\n", dir);
	failed = run_directory(dir, 0, &cases);
	printf("sigv4 suite: %zu/%zu cases passed\n", cases - (size_t)failed, cases);
	fflush(stdout);
	if (cases == 0)
		fail_msg("no case folder (a folder holding a .req) in %s", dir);
	assert_int_equal(failed, 0);
}

/*
 * Cases in the suite's format that /work/shared/sigv4-suite lacks
 * ($WARDEN_TEST_DATA/sigv4-suite-extra): the "signed before" STS form, whose
 * request already carries X-Amz-Security-Token.
 */
static void test_suite_extra(void **state)
{
	char dir[4096];
	const char *data = getenv("WARDEN_TEST_DATA");
	size_t cases = 0;
	int failed;

	(void)state;
	assert_non_null(data);
	path_format(dir, sizeof(dir), "%s/sigv4-suite-extra", data);
	failed = run_directory(dir, 0, &cases);
	printf("sigv4 suite (extra): %zu/%zu cases passed\n", cases - (size_t)failed, cases);
	fflush(stdout);
	if (cases == 0)
		fail_msg("no case folder in %s", dir);
	assert_int_equal(failed, 0);
}

static void test_golden(void **state)
{
	char dir[4096];
	const char *data = getenv("WARDEN_TEST_DATA");
	size_t cases = 0;
	int failed;

	(void)state;
	assert_non_null(data);
	path_format(dir, sizeof(dir), "%s/sigv4", data);
	failed = run_directory(dir, 1, &cases);
	printf("sigv4 golden (botocore): %zu/%zu cases passed\n", cases - (size_t)failed, cases);
	fflush(stdout);
	if (cases < 2)
		fail_msg("expected the botocore golden cases in %s", dir);
	assert_int_equal(failed, 0);
}

/* An empty directory must count as zero cases (test_suite then fails). */
static void test_empty_directory_has_no_cases(void **state)
{
	char template[] = "/tmp/test_sigv4_XXXXXX";
	char sub[64];
	size_t cases = 99;

	(void)state;
	assert_non_null(mkdtemp(template));
	path_format(sub, sizeof(sub), "%s/not-a-case", template);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(run_directory(template, 0, &cases), 0);
	assert_int_equal(cases, 0);
	rmdir(sub);
	rmdir(template);
	cases = 99;
	assert_int_equal(run_directory("/nonexistent/sigv4-suite", 0, &cases), 0);
	assert_int_equal(cases, 0);
}

/* ---- hand-written cases on the API itself ---- */

struct signer {
	struct sigv4_header headers[8];
	struct sigv4_request req;
	struct sigv4_params params;
	struct sigv4_result res;
	struct wd_err err;
};

static void signer_setup(struct signer *s)
{
	memset(s, 0, sizeof(*s));
	s->headers[0] = (struct sigv4_header){"Host", "example.amazonaws.com"};
	s->req.method = "GET";
	s->req.path = "/";
	s->req.headers = s->headers;
	s->req.header_count = 1;
	suite_params("", &s->params);
	sigv4_result_init(&s->res);
}

/* Line n (0-based) of the canonical request. */
static const char *creq_line(const struct signer *s, int n, char *out, size_t size)
{
	const char *p = s->res.canonical_request.data;

	for (int i = 0; i < n && p != NULL; i++) {
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	assert_non_null(p);
	snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
	return out;
}

static void expect_path(const char *path, const char *canonical)
{
	struct signer s;
	char line[1024];

	signer_setup(&s);
	s.req.path = path;
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	assert_string_equal(creq_line(&s, 1, line, sizeof(line)), canonical);
	sigv4_result_free(&s.res);
}

static void expect_query(const char *query, const char *canonical)
{
	struct signer s;
	char line[1024];

	signer_setup(&s);
	s.req.query = query;
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	assert_string_equal(creq_line(&s, 2, line, sizeof(line)), canonical);
	sigv4_result_free(&s.res);
}

static void test_path_normalization(void **state)
{
	(void)state;
	expect_path("/", "/");
	expect_path("/a/b/../../..", "/");
	expect_path("/.", "/");
	expect_path("/a/./b/", "/a/b/");
	expect_path("/a/b/.", "/a/b");
	expect_path("/a/../b", "/b");
	expect_path("///a///b", "/a/b");
	expect_path("/a%2Fb", "/a%252Fb");
	expect_path("/ü", "/%C3%BC");
	expect_path("/a b+c:d", "/a%20b%2Bc%3Ad");
	expect_path("/...", "/...");
}

static void test_query_canonicalization(void **state)
{
	(void)state;
	expect_query("", "");
	expect_query("a&b=", "a=&b=");
	expect_query("&&a=1&&", "a=1");
	expect_query("%7e=%2f", "~=%2F");
	expect_query("a+b=c d", "a%2Bb=c%20d");
	expect_query("b=1&a=2&a=1&B=0", "B=0&a=1&a=2&b=1");
	expect_query("a=b=c", "a=b%3Dc");
	expect_query("x=%E1%88%b4", "x=%E1%88%B4");
}

static void expect_sign_error(struct signer *s, int code)
{
	int rc = sigv4_sign(&s->req, &s->params, &s->res, &s->err);

	assert_int_equal(rc, code);
	assert_int_equal(s->err.code, code);
	assert_true(s->err.msg[0] != '\0');
	assert_null(strstr(s->err.msg, SUITE_SECRET));
	assert_string_equal(s->res.signature, "");
	assert_int_equal(sigv4_headers_to_add(&s->res, (struct sigv4_header[3]){0}), 0);
	sigv4_result_free(&s->res);
}

static void test_rejects_bad_input(void **state)
{
	struct signer s;
	struct sigv4_header many[SIGV4_HEADERS_MAX + 1];

	(void)state;
	signer_setup(&s);
	s.req.header_count = 0;
	expect_sign_error(&s, -EINVAL); /* no Host */

	signer_setup(&s);
	s.headers[1] = (struct sigv4_header){"Authorization", "x"};
	s.req.header_count = 2;
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.headers[1] = (struct sigv4_header){"X-Evil", "a\r\nInjected: 1"};
	s.req.header_count = 2;
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.headers[1] = (struct sigv4_header){"Bad Name", "x"};
	s.req.header_count = 2;
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.headers[1] = (struct sigv4_header){"X-Amz-Date", "20150830T123601Z"};
	s.req.header_count = 2;
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.params.credentials.session_token = "tok";
	s.headers[1] = (struct sigv4_header){"X-Amz-Security-Token", "tok"};
	s.req.header_count = 2;
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.req.query = "a=%zz";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.req.query = "a=%4";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.req.path = "relative";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.params.amz_date = "2015-08-30T12:36:00Z";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.params.region = "us-east-1/evil";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.params.credentials.secret_access_key = "";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.params.credentials.session_token = "tok\nInjected: 1";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	s.req.payload_hash = "ABC";
	expect_sign_error(&s, -EINVAL);

	signer_setup(&s);
	for (size_t i = 0; i < SIGV4_HEADERS_MAX + 1; i++)
		many[i] = (struct sigv4_header){"Host", "h"};
	s.req.headers = many;
	s.req.header_count = SIGV4_HEADERS_MAX + 1;
	expect_sign_error(&s, -E2BIG);

	/* A bad region: the message names the region, never the secret. */
	signer_setup(&s);
	s.params.region = "";
	expect_sign_error(&s, -EINVAL);
}

static void test_token_signed_and_added(void **state)
{
	struct signer s;
	struct sigv4_header added[SIGV4_ADDED_HEADERS_MAX];
	size_t n;

	(void)state;
	signer_setup(&s);
	s.params.credentials.session_token = "session+token/=";
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	assert_non_null(
	        strstr(s.res.canonical_request.data, "\nx-amz-security-token:session+token/=\n"));
	assert_string_equal(s.res.signed_headers.data, "host;x-amz-date;x-amz-security-token");
	n = sigv4_headers_to_add(&s.res, added);
	assert_int_equal(n, 3);
	assert_string_equal(added[0].name, "X-Amz-Date");
	assert_string_equal(added[0].value, SUITE_DATE);
	assert_string_equal(added[1].name, "X-Amz-Security-Token");
	assert_string_equal(added[1].value, "session+token/=");
	assert_string_equal(added[2].name, "Authorization");
	assert_string_equal(added[2].value, s.res.authorization.data);
	assert_null(strstr(s.res.authorization.data, SUITE_SECRET));
	assert_null(strstr(s.res.canonical_request.data, SUITE_SECRET));
	assert_null(strstr(s.res.string_to_sign.data, SUITE_SECRET));

	/* Unsigned: not in the canonical request, still to be added. */
	s.params.token_mode = SIGV4_TOKEN_UNSIGNED;
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	assert_null(strstr(s.res.canonical_request.data, "x-amz-security-token"));
	assert_int_equal(sigv4_headers_to_add(&s.res, added), 3);
	sigv4_result_free(&s.res);
	sigv4_result_free(NULL);
}

static void test_payload_hash_and_reuse(void **state)
{
	struct signer s;
	char first[SIGV4_HEX_LEN + 1];
	const char *last;

	(void)state;
	signer_setup(&s);
	s.req.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	last = strrchr(s.res.canonical_request.data, '\n');
	assert_string_equal(last + 1, "UNSIGNED-PAYLOAD");

	/* Body hashed when no payload_hash; result reusable, output identical. */
	s.req.payload_hash = NULL;
	s.req.body = "Param1=value1";
	s.req.body_len = 13;
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	last = strrchr(s.res.canonical_request.data, '\n');
	assert_string_equal(last + 1,
	                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
	memcpy(first, s.res.signature, sizeof(first));
	assert_int_equal(sigv4_sign(&s.req, &s.params, &s.res, &s.err), 0);
	assert_string_equal(first, s.res.signature);
	sigv4_result_free(&s.res);
}

static void test_format_amz_date(void **state)
{
	char out[SIGV4_AMZ_DATE_LEN + 1];

	(void)state;
	assert_int_equal(sigv4_format_amz_date(0, out, sizeof(out)), 0);
	assert_string_equal(out, "19700101T000000Z");
	assert_int_equal(sigv4_format_amz_date(INT64_C(1709251199999), out, sizeof(out)), 0);
	assert_string_equal(out, "20240229T235959Z");
	assert_int_equal(sigv4_format_amz_date(INT64_C(1440938160000), out, sizeof(out)), 0);
	assert_string_equal(out, SUITE_DATE);
	assert_int_equal(sigv4_format_amz_date(-1, out, sizeof(out)), -ERANGE);
	assert_int_equal(sigv4_format_amz_date(INT64_MAX, out, sizeof(out)), -ERANGE);
	assert_int_equal(sigv4_format_amz_date(0, out, SIGV4_AMZ_DATE_LEN), -ENOSPC);
}

static void test_req_parser(void **state)
{
	static const char text[] = "POST /a b/?x=1 HTTP/1.1\r\n"
	                           "Host:h\r\n"
	                           "My:v1\r\n"
	                           "\t v2\r\n"
	                           "\r\n"
	                           "body\nwith lines";
	struct sigv4_req req;
	struct wd_err err = {0, ""};

	(void)state;
	sigv4_req_init(&req);
	assert_int_equal(sigv4_req_parse(text, sizeof(text) - 1, &req, &err), 0);
	assert_string_equal(req.request.method, "POST");
	assert_string_equal(req.request.path, "/a b/");
	assert_string_equal(req.request.query, "x=1");
	assert_string_equal(req.protocol, "HTTP/1.1");
	assert_int_equal(req.request.header_count, 3);
	assert_string_equal(req.headers[2].name, "My");
	assert_string_equal(req.headers[2].value, "\t v2");
	assert_int_equal(req.request.body_len, 15);
	assert_memory_equal(req.request.body, "body\nwith lines", 15);

	assert_int_equal(sigv4_req_parse("GET / HTTP/1.1\n v\n", 18, &req, &err), -EINVAL);
	assert_int_equal(sigv4_req_parse("GET /\n", 6, &req, &err), -EINVAL);
	assert_int_equal(sigv4_req_parse("GET / FTP/1\n", 12, &req, &err), -EINVAL);
	assert_int_equal(sigv4_req_parse("GET / HTTP/1.1\nnocolon\n", 23, &req, &err), -EINVAL);
	assert_int_equal(sigv4_req_parse("GET / HTTP/1.1\nA:\0b\n", 20, &req, &err), -EINVAL);
	assert_int_equal(sigv4_req_parse("", 0, &req, &err), -EINVAL);
	sigv4_req_free(&req);
	sigv4_req_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_suite),
	        cmocka_unit_test(test_suite_extra),
	        cmocka_unit_test(test_golden),
	        cmocka_unit_test(test_empty_directory_has_no_cases),
	        cmocka_unit_test(test_path_normalization),
	        cmocka_unit_test(test_query_canonicalization),
	        cmocka_unit_test(test_rejects_bad_input),
	        cmocka_unit_test(test_token_signed_and_added),
	        cmocka_unit_test(test_payload_hash_and_reuse),
	        cmocka_unit_test(test_format_amz_date),
	        cmocka_unit_test(test_req_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
