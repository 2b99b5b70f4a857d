#include "fencing/flag_value.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "aws/aws.h"

int flag_region_check(const char *region, struct wd_err *err)
{
	return aws_region_check(region, err);
}

static int parse_json(const char *text, size_t len, struct flag_value *out, struct wd_err *err)
{
	json_t *root = aws_json_load(text, len, "JSON value", -EINVAL, err);
	json_t *region;
	json_t *epoch;
	int rc = -EINVAL;

	if (root == NULL)
		goto out; /* err never quotes the value: it may be a SecureString */
	if (!json_is_object(root)) {
		wd_err_set(err, -EINVAL, "JSON value is not an object");
		goto out;
	}
	region = json_object_get(root, "active_region");
	if (!json_is_string(region)) {
		wd_err_set(err, -EINVAL, "JSON has no \"active_region\" string");
		goto out;
	}
	if (flag_region_check(json_string_value(region), err) < 0 ||
	    strlen(json_string_value(region)) != json_string_length(region)) {
		wd_err_set(err, -EINVAL, "bad \"active_region\" (want e.g. us-east-1)");
		goto out;
	}
	memcpy(out->active_region, json_string_value(region), json_string_length(region) + 1);
	epoch = json_object_get(root, "epoch");
	if (epoch != NULL) {
		if (!json_is_integer(epoch) || json_integer_value(epoch) < 0 ||
		    (uint64_t)json_integer_value(epoch) > FLAG_EPOCH_MAX) {
			wd_err_set(err, -EINVAL, "\"epoch\" is not an integer in 0..2^53-1");
			goto out;
		}
		out->has_epoch = true;
		out->epoch = (uint64_t)json_integer_value(epoch);
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int flag_value_parse(const char *text, size_t len, struct flag_value *out, struct wd_err *err)
{
	char plain[FLAG_REGION_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (len > FLAG_VALUE_MAX)
		return wd_err_set(err, -EINVAL, "value longer than %d bytes", FLAG_VALUE_MAX);
	if (memchr(text, '\0', len) != NULL)
		return wd_err_set(err, -EINVAL, "value holds a NUL byte");
	while (len > 0 && isspace((unsigned char)text[0])) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len == 0)
		return wd_err_set(err, -EINVAL, "empty value");
	if (text[0] == '{')
		return parse_json(text, len, out, err);
	if (len > FLAG_REGION_MAX)
		return wd_err_set(err, -EINVAL, "value is neither a region name nor JSON");
	memcpy(plain, text, len);
	plain[len] = '\0';
	if (flag_region_check(plain, err) < 0)
		return wd_err_set(err, -EINVAL, "value is neither a region name nor JSON");
	memcpy(out->active_region, plain, len + 1);
	return 0;
}
