/*
 * fence_answer.c - gate_fence_parse: one body of the sidecar's GET /fence,
 * read into the plain struct gate_fence the policy looks at. Pure.
 */
#include "gate/gate.h"

#include <errno.h>
#include <string.h>

#include <jansson.h>

/*
 * Read integer `key` of obj into *out. Returns 1 if present and in
 * [min, max], 0 if absent (or null), -EINVAL otherwise.
 */
static int get_int(json_t *obj, const char *where, const char *key, json_int_t min, json_int_t max,
                   json_int_t *out, struct wd_err *err)
{
	json_t *value = json_object_get(obj, key);

	if (value == NULL || json_is_null(value))
		return 0;
	if (!json_is_integer(value))
		return wd_err_set(err, -EINVAL, "%s\"%s\" is not an integer", where, key);
	if (json_integer_value(value) < min || json_integer_value(value) > max)
		return wd_err_set(err, -EINVAL, "%s\"%s\" out of range", where, key);
	*out = json_integer_value(value);
	return 1;
}

static int parse_lease(json_t *root, const char *singleton, struct gate_fence *out,
                       struct wd_err *err)
{
	json_t *leases = json_object_get(root, "leases");
	json_t *lease;
	json_t *held;
	json_int_t value = 0;
	int rc;

	if (leases == NULL || json_is_null(leases))
		return 0;
	if (!json_is_object(leases))
		return wd_err_set(err, -EINVAL, "\"leases\" is not an object");
	if (singleton == NULL || singleton[0] == '\0')
		return 0;
	lease = json_object_get(leases, singleton);
	if (lease == NULL || json_is_null(lease))
		return 0;
	if (!json_is_object(lease))
		return wd_err_set(err, -EINVAL, "lease \"%s\" is not an object", singleton);
	out->lease_found = true;
	held = json_object_get(lease, "held");
	if (!json_is_boolean(held))
		return wd_err_set(err, -EINVAL, "lease \"%s\": \"held\" is not a boolean",
		                  singleton);
	out->lease_held = json_is_true(held);
	rc = get_int(lease, "lease: ", "generation", 0, GATE_FENCE_INT_MAX, &value, err);
	if (rc < 0)
		return rc;
	if (rc == 0 && out->lease_held)
		return wd_err_set(err, -EINVAL, "lease \"%s\" held without \"generation\"",
		                  singleton);
	out->lease_generation = (uint64_t)value;
	value = 0;
	rc = get_int(lease, "lease: ", "expires_in_ms", -GATE_FENCE_INT_MAX, GATE_FENCE_INT_MAX,
	             &value, err);
	if (rc < 0)
		return rc;
	if (rc == 0 && out->lease_held)
		return wd_err_set(err, -EINVAL, "lease \"%s\" held without \"expires_in_ms\"",
		                  singleton);
	out->lease_expires_in_ms = value < 0 ? 0 : value;
	return 0;
}

int gate_fence_parse(const char *text, size_t len, const char *singleton, struct gate_fence *out,
                     struct wd_err *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	json_t *writable;
	json_t *state;
	json_int_t value = 0;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > GATE_FENCE_BODY_MAX) {
		wd_err_set(err, -EINVAL, "answer longer than %d bytes", GATE_FENCE_BODY_MAX);
		goto out;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		wd_err_set(err, -EINVAL, "bad JSON at line %d column %d: %s", jerr.line,
		           jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		wd_err_set(err, -EINVAL, "answer is not a JSON object");
		goto out;
	}
	writable = json_object_get(root, "writable");
	if (!json_is_boolean(writable)) {
		wd_err_set(err, -EINVAL, "no boolean \"writable\"");
		goto out;
	}
	out->writable = json_is_true(writable);
	rc = get_int(root, "", "epoch", 0, GATE_FENCE_INT_MAX, &value, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		rc = wd_err_set(err, -EINVAL, "no integer \"epoch\"");
		goto out;
	}
	out->epoch = (uint64_t)value;
	value = 0;
	rc = get_int(root, "", "writable_for_ms", 0, GATE_FENCE_INT_MAX, &value, err);
	if (rc < 0)
		goto out;
	if (rc == 0 && out->writable) {
		rc = wd_err_set(err, -EINVAL, "writable without \"writable_for_ms\"");
		goto out;
	}
	out->writable_for_ms = out->writable ? value : 0;
	value = 0;
	rc = get_int(root, "", "ttl_ms", 1, GATE_FENCE_INT_MAX, &value, err);
	if (rc < 0)
		goto out;
	out->ttl_ms = value;
	value = 0;
	rc = get_int(root, "", "typical_fence_ms", 0, GATE_FENCE_INT_MAX, &value, err);
	if (rc < 0)
		goto out;
	out->typical_fence_ms = value;
	state = json_object_get(root, "state");
	if (state != NULL && !json_is_null(state)) {
		if (!json_is_string(state) || json_string_length(state) > GATE_FENCE_STATE_MAX ||
		    strlen(json_string_value(state)) != json_string_length(state)) {
			rc = wd_err_set(err, -EINVAL, "\"state\" is not a short string");
			goto out;
		}
		memcpy(out->state, json_string_value(state), json_string_length(state) + 1);
	}
	rc = parse_lease(root, singleton, out, err);
out:
	json_decref(root);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc < 0 ? -EINVAL : 0;
}
