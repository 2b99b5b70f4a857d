/*
 * ssm.c - SSM GetParameter and PutParameter over the AWS JSON call path
 * (aws_json.h; see ssm.h).
 */
#include "aws/ssm.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_json.h"
#include "lib/text.h"

#define SSM_TARGET_GET_PARAMETER "AmazonSSM.GetParameter"
#define SSM_TARGET_PUT_PARAMETER "AmazonSSM.PutParameter"
#define SSM_CONTENT_TYPE         "application/x-amz-json-1.1"

/*
 * An SSM client is the JSON call path set up for SSM: the handle is the
 * aws_json_client itself (struct ssm_client is never defined).
 */
static struct aws_json_client *ssm_json(struct ssm_client *c)
{
	return (struct aws_json_client *)c;
}

int ssm_name_check(const char *name, struct wd_err *err)
{
	size_t len = strnlen(name, SSM_NAME_MAX + 1);
	ssize_t bad;

	if (len == 0)
		return wd_err_set(err, -EINVAL, "ssm: empty parameter name");
	if (len > SSM_NAME_MAX)
		return wd_err_set(err, -EINVAL, "ssm: parameter name longer than %d bytes",
		                  SSM_NAME_MAX);
	bad = text_find_unprintable(name, len);
	if (bad >= 0)
		return wd_err_set(err, -EINVAL,
		                  "ssm: parameter name holds a space, control or non-ASCII byte "
		                  "at %zd",
		                  bad);
	return 0;
}

static bool ssm_type_ok(const char *type)
{
	return strcmp(type, "String") == 0 || strcmp(type, "StringList") == 0 ||
	       strcmp(type, "SecureString") == 0;
}

int ssm_parse_get_parameter(const char *body, size_t len, const char *requested_name,
                            struct ssm_parameter *out, struct wd_err *err)
{
	json_t *root = NULL;
	json_t *param;
	json_t *value;
	json_t *version;
	json_t *type;
	json_t *name;
	json_int_t number;
	size_t value_len;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	root = aws_json_load(body, len, "ssm: the answer", rc, err);
	if (root == NULL)
		goto out;
	param = json_is_object(root) ? json_object_get(root, "Parameter") : NULL;
	if (!json_is_object(param)) {
		wd_err_set(err, rc, "ssm: the answer has no \"Parameter\" object");
		goto out;
	}
	value = json_object_get(param, "Value");
	version = json_object_get(param, "Version");
	type = json_object_get(param, "Type");
	name = json_object_get(param, "Name");
	if (!json_is_string(value)) {
		wd_err_set(err, rc, "ssm: Parameter.Value is %s",
		           value ? "not a string" : "missing");
		goto out;
	}
	if (!json_is_integer(version)) {
		wd_err_set(err, rc, "ssm: Parameter.Version is %s",
		           version ? "not an integer" : "missing");
		goto out;
	}
	if (!json_is_string(type) || !ssm_type_ok(json_string_value(type))) {
		wd_err_set(err, rc, "ssm: Parameter.Type is %s",
		           type ? "not String, StringList or SecureString" : "missing");
		goto out;
	}
	if (!json_is_string(name)) {
		wd_err_set(err, rc, "ssm: Parameter.Name is %s", name ? "not a string" : "missing");
		goto out;
	}
	if (requested_name != NULL && strchr(requested_name, ':') == NULL &&
	    strcmp(json_string_value(name), requested_name) != 0) {
		wd_err_set(err, rc, "ssm: the answer is about another parameter");
		goto out;
	}
	number = json_integer_value(version);
	if (number < 1 || (uint64_t)number > SSM_VERSION_MAX) {
		wd_err_set(err, rc, "ssm: Parameter.Version is outside 1..%llu",
		           (unsigned long long)SSM_VERSION_MAX);
		goto out;
	}
	value_len = json_string_length(value);
	if (value_len == 0 || value_len > SSM_VALUE_MAX) {
		wd_err_set(err, rc, "ssm: Parameter.Value is empty or longer than %d bytes",
		           SSM_VALUE_MAX);
		goto out;
	}
	/* jansson refuses \u0000 (no JSON_ALLOW_NUL), but say so if that ever changes. */
	if (memchr(json_string_value(value), '\0', value_len) != NULL) {
		wd_err_set(err, rc, "ssm: Parameter.Value holds a NUL byte");
		goto out;
	}
	memcpy(out->value, json_string_value(value), value_len);
	out->value[value_len] = '\0';
	out->value_len = value_len;
	out->version = (uint64_t)number;
	snprintf(out->type, sizeof(out->type), "%s", json_string_value(type));
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

struct ssm_client *ssm_client_new(const struct ssm_client_config *cfg, struct wd_err *err)
{
	/* Error answers read "HTTP 400 ThrottlingException: ...", unprefixed, as always. */
	struct aws_json_client_config json = {.what = "ssm",
	                                      .service = "ssm",
	                                      .region = cfg->region,
	                                      .endpoint = cfg->endpoint,
	                                      .creds = cfg->creds,
	                                      .prefix_http_errors = false};

	return (struct ssm_client *)aws_json_client_new(&json, err);
}

void ssm_client_free(struct ssm_client *c)
{
	aws_json_client_free(ssm_json(c));
}

int64_t ssm_client_skew_ms(const struct ssm_client *c)
{
	return aws_json_client_skew_ms((const struct aws_json_client *)c);
}

/* Copy what the call came to into the public result (its own fields are the caller's). */
static enum aws_outcome ssm_result_from(struct ssm_result *out, const struct aws_json_result *res)
{
	AWS_JSON_RESULT_COPY(out, res);
	out->skew_corrected = res->skew_corrected;
	return out->outcome;
}

/* The request body: {"Name":"...","WithDecryption":true}, the name JSON-escaped. */
static char *ssm_request_body(const char *name)
{
	json_t *doc = json_pack("{s:s, s:b}", "Name", name, "WithDecryption", 1);
	char *text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

/* The PutParameter body: {"Name","Value","Type":"String","Overwrite":b}. */
static char *ssm_put_request_body(const char *name, const char *value, bool overwrite)
{
	json_t *doc = json_pack("{s:s, s:s, s:s, s:b}", "Name", name, "Value", value, "Type",
	                        "String", "Overwrite", overwrite ? 1 : 0);
	char *text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

/* What a GetParameter answer is parsed into, and against which name. */
struct ssm_get_parse {
	const char *name;
	struct ssm_parameter *parameter;
};

static int ssm_parse_get_ok(void *arg, const char *body, size_t len, struct wd_err *err)
{
	struct ssm_get_parse *p = arg;

	return ssm_parse_get_parameter(body, len, p->name, p->parameter, err);
}

static int ssm_parse_put_ok(void *arg, const char *body, size_t len, struct wd_err *err)
{
	return ssm_parse_put_parameter(body, len, arg, err);
}

enum aws_outcome ssm_get_parameter(struct ssm_client *c, const char *name, int64_t deadline_mono_ms,
                                   struct ssm_result *out)
{
	struct ssm_get_parse parse = {name, &out->parameter};
	struct aws_json_result res = {0};
	struct wd_err err = {0, ""};
	char *body = NULL;

	memset(out, 0, sizeof(*out));
	if (ssm_name_check(name, &err) != 0) {
		aws_json_result_set(&res, AWS_INTERNAL, "%s", err.msg);
		goto out;
	}
	body = ssm_request_body(name);
	if (body == NULL) {
		aws_json_result_set(&res, AWS_INTERNAL, "ssm: out of memory");
		goto out;
	}
	aws_json_run(ssm_json(c),
	             &(struct aws_json_call){.target = SSM_TARGET_GET_PARAMETER,
	                                     .content_type = SSM_CONTENT_TYPE,
	                                     .body = body,
	                                     .body_len = strlen(body),
	                                     .parse_ok = ssm_parse_get_ok,
	                                     .parse_arg = &parse},
	             deadline_mono_ms, &res);
out:
	free(body);
	return ssm_result_from(out, &res);
}

int ssm_parse_put_parameter(const char *body, size_t len, uint64_t *version, struct wd_err *err)
{
	json_t *root;
	json_t *number;
	json_int_t value;
	int rc = -EBADMSG;

	*version = 0;
	root = aws_json_load(body, len, "ssm: the answer", rc, err);
	if (root == NULL)
		return rc;
	number = json_is_object(root) ? json_object_get(root, "Version") : NULL;
	if (!json_is_integer(number)) {
		wd_err_set(err, rc, "ssm: the answer's Version is %s",
		           number ? "not an integer" : "missing");
		goto out;
	}
	value = json_integer_value(number);
	if (value < 1 || (uint64_t)value > SSM_VERSION_MAX) {
		wd_err_set(err, rc, "ssm: the answer's Version is outside 1..%llu",
		           (unsigned long long)SSM_VERSION_MAX);
		goto out;
	}
	*version = (uint64_t)value;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

enum aws_outcome ssm_put_parameter(struct ssm_client *c, const char *name, const char *value,
                                   bool overwrite, int64_t deadline_mono_ms, struct ssm_result *out)
{
	struct aws_json_result res = {0};
	struct wd_err err = {0, ""};
	char *body = NULL;
	size_t value_len = value != NULL ? strnlen(value, SSM_VALUE_MAX + 1) : 0;

	memset(out, 0, sizeof(*out));
	if (ssm_name_check(name, &err) != 0 || strchr(name, ':') != NULL) {
		aws_json_result_set(&res, AWS_INTERNAL, "%s",
		                    err.msg[0] ? err.msg : "ssm: PutParameter wants a plain name");
		goto out;
	}
	if (value_len == 0 || value_len > SSM_VALUE_MAX) {
		aws_json_result_set(&res, AWS_INTERNAL,
		                    "ssm: the value is empty or longer than %d bytes",
		                    SSM_VALUE_MAX);
		goto out;
	}
	body = ssm_put_request_body(name, value, overwrite);
	if (body == NULL) {
		aws_json_result_set(&res, AWS_INTERNAL,
		                    "ssm: the value is not UTF-8, or out of memory");
		goto out;
	}
	aws_json_run(ssm_json(c),
	             &(struct aws_json_call){.target = SSM_TARGET_PUT_PARAMETER,
	                                     .content_type = SSM_CONTENT_TYPE,
	                                     .body = body,
	                                     .body_len = strlen(body),
	                                     .parse_ok = ssm_parse_put_ok,
	                                     .parse_arg = &out->version},
	             deadline_mono_ms, &res);
out:
	if (body != NULL)
		explicit_bzero(body, strlen(body)); /* a value may be a secret */
	free(body);
	return ssm_result_from(out, &res);
}
