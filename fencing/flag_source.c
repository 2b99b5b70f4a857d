#include "fencing/flag_source.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aws/aws.h"
#include "net/uri.h"

/* SSM names: letters, digits and . - _ / (ARNs add ':'). */
static int check_ssm_name(const char *name, struct wd_err *err)
{
	size_t len = strlen(name);

	if (len == 0)
		return wd_err_set(err, -EINVAL, "ssm: no parameter name (want ssm:/path/name)");
	if (len > FLAG_SSM_NAME_MAX)
		return wd_err_set(err, -EINVAL, "ssm: parameter name longer than %d",
		                  FLAG_SSM_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == ':'))
			return wd_err_set(err, -EINVAL,
			                  "ssm: bad character 0x%02x in parameter name", c);
	}
	return 0;
}

static int check_endpoint(const char *url, struct wd_err *err)
{
	struct aws_endpoint endpoint;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return wd_err_set(err, -EINVAL, "ssm: endpoint must be an http:// or https:// URL");
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return wd_err_set(err, -EINVAL,
			                  "ssm: endpoint holds a space or control "
			                  "character");
	}
	if (strlen(url) > WD_URI_MAX)
		return wd_err_set(err, -EINVAL, "ssm: endpoint longer than %d", WD_URI_MAX);
	/* The reader's own check (no user info, no query), so that a load passes
	   only what a reader can use. */
	if (aws_endpoint_parse(url, &endpoint, err) != 0) {
		wd_err_prefix(err, "ssm: endpoint");
		return -EINVAL;
	}
	return 0;
}

/* Append "<sep>key=value" to the display text, the value redacted when it is a URL. */
static void display_add(struct flag_source *out, const char *key, const char *value)
{
	char shown[WD_URI_MAX + 1];
	size_t used = strlen(out->text);

	uri_redact(value, shown, sizeof(shown));
	snprintf(out->text + used, sizeof(out->text) - used, "%c%s=%s",
	         strchr(out->text, '?') ? '&' : '?', key, shown);
}

/* Copy src[0..len) into dst[size] as a string, or fail when it does not fit. */
static int copy_part(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return -E2BIG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int parse_ssm_query(char *query, struct flag_source *out, struct wd_err *err)
{
	bool seen_region = false;
	bool seen_endpoint = false;
	char *save = NULL;

	for (char *pair = strtok_r(query, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		const char *value;

		if (eq == NULL || eq[1] == '\0') /* not quoted: it may be a secret */
			return wd_err_set(err, -EINVAL,
			                  "ssm: an option without a value (want region=REGION or "
			                  "endpoint=URL)");
		*eq = '\0';
		value = eq + 1;
		if (strcmp(pair, "region") == 0 && !seen_region) {
			seen_region = true;
			if (flag_region_check(value, err) < 0) {
				wd_err_prefix(err, "ssm: region");
				return -EINVAL;
			}
			snprintf(out->region, sizeof(out->region), "%s", value);
			display_add(out, "region", value);
		} else if (strcmp(pair, "endpoint") == 0 && !seen_endpoint) {
			seen_endpoint = true;
			if (check_endpoint(value, err) < 0)
				return -EINVAL;
			snprintf(out->endpoint, sizeof(out->endpoint), "%s", value);
			display_add(out, "endpoint", value);
		} else if (strcmp(pair, "region") == 0 || strcmp(pair, "endpoint") == 0) {
			return wd_err_set(err, -EINVAL, "ssm: option %s given twice", pair);
		} else {
			return wd_err_set(err, -EINVAL,
			                  "ssm: unknown option '%.40s' (want region, endpoint)",
			                  pair);
		}
	}
	return 0;
}

int flag_source_parse(const char *text, struct flag_source *out, struct wd_err *err)
{
	char work[FLAG_LIST_MAX + 1];
	size_t len = strlen(text);

	memset(out, 0, sizeof(*out));
	if (len > FLAG_LIST_MAX)
		return wd_err_set(err, -EINVAL, "source longer than %d characters", FLAG_LIST_MAX);
	if (strncmp(text, "file:", 5) == 0) {
		uri_redact(text, out->text, sizeof(out->text)); /* a path: as written, printable */
		out->kind = FLAG_SOURCE_FILE;
		if (text[5] != '/')
			return wd_err_set(err, -EINVAL,
			                  "file: needs an absolute path (file:/run/...)");
		if (copy_part(out->path, sizeof(out->path), text + 5, len - 5) < 0)
			return wd_err_set(err, -EINVAL, "file: path longer than %d", WD_PATH_MAX);
		return 0;
	}
	if (strncmp(text, "ssm:", 4) == 0) {
		char *query;

		out->kind = FLAG_SOURCE_SSM;
		memcpy(work, text + 4, len - 4 + 1);
		query = strchr(work, '?');
		if (query != NULL)
			*query++ = '\0';
		if (check_ssm_name(work, err) < 0)
			return -EINVAL;
		memcpy(out->name, work, strlen(work) + 1);
		snprintf(out->text, sizeof(out->text), "ssm:%s", out->name);
		if (query != NULL && parse_ssm_query(query, out, err) < 0)
			return -EINVAL;
		return 0;
	}
	/* Not quoted: a value in the wrong variable may be a secret. */
	return wd_err_set(err, -EINVAL, "unknown source (want ssm:NAME or file:PATH)");
}

/* The same source: every parsed field equal (the display text is redacted). */
static bool flag_source_same(const struct flag_source *a, const struct flag_source *b)
{
	return a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
	       strcmp(a->region, b->region) == 0 && strcmp(a->endpoint, b->endpoint) == 0 &&
	       strcmp(a->path, b->path) == 0;
}

int flag_source_parse_list(const char *text, struct flag_source *out, struct wd_err *err)
{
	char item[FLAG_LIST_MAX + 1];
	const char *p = text;
	int count = 0;

	if (strlen(text) > FLAG_LIST_MAX)
		return wd_err_set(err, -EINVAL, "longer than %d characters", FLAG_LIST_MAX);
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0)
			return wd_err_set(err, -EINVAL, "source %d is empty", count + 1);
		if (count == FENCE_SOURCES_MAX)
			return wd_err_set(err, -EINVAL, "more than %d sources", FENCE_SOURCES_MAX);
		memcpy(item, p, len);
		item[len] = '\0';
		if (flag_source_parse(item, &out[count], err) < 0) {
			wd_err_prefix(err, "source %d", count + 1);
			return -EINVAL;
		}
		for (int i = 0; i < count; i++) {
			if (flag_source_same(&out[i], &out[count]))
				return wd_err_set(err, -EINVAL, "source %d repeats source %d",
				                  count + 1, i + 1);
		}
		count++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return count;
}
