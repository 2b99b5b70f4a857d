/*
 * sigv4.c - AWS Signature Version 4 signer (see sigv4.h for the rules and
 * for why libcurl's CURLOPT_AWS_SIGV4 is not used).
 */
#include "aws/sigv4.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/text.h"

#define SIGV4_TERMINATOR "aws4_request"

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* One header of the canonical list: a borrowed name (counted) and value. */
struct canon_header {
	const char *name;
	size_t name_len;
	const char *value;
};

/* One query parameter: offsets of its encoded key and value in a scratch buffer. */
struct canon_param {
	size_t key_off, key_len;
	size_t value_off, value_len;
};

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_space_or_tab(char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char lower_ascii(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static void hex_encode(const unsigned char *bytes, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_lower[bytes[i] >> 4];
		out[2 * i + 1] = hex_lower[bytes[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/* Case-insensitive equality of a counted name with a NUL-terminated lower-case one. */
static int name_is(const char *name, size_t len, const char *lower)
{
	size_t i;

	for (i = 0; i < len && lower[i] != '\0'; i++) {
		if (lower_ascii((unsigned char)name[i]) != (unsigned char)lower[i])
			return 0;
	}
	return i == len && lower[i] == '\0';
}

/* SHA-256 of data as 64 lower-case hex characters. 0 or -EIO. */
static int sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
		return -EIO;
	hex_encode(md, md_len, out);
	return 0;
}

/* out = HMAC-SHA256(key, data). 0 or -EIO. */
static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                       unsigned char out[32])
{
	unsigned int out_len = 0;

	if (key_len > (size_t)INT32_MAX)
		return -EIO;
	if (HMAC(EVP_sha256(), key, (int)key_len, data, data_len, out, &out_len) == NULL ||
	    out_len != 32)
		return -EIO;
	return 0;
}

/* Append data percent-encoded (upper-case hex) except unreserved bytes (and '/' when keep_slash).
 */
static int append_encoded(struct wd_buf *buf, const unsigned char *data, size_t len, int keep_slash)
{
	char chunk[256];
	size_t used = 0;
	int rc;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = data[i];

		if (used + 3 > sizeof(chunk)) {
			rc = wd_buf_append(buf, chunk, used);
			if (rc != 0)
				return rc;
			used = 0;
		}
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			chunk[used++] = (char)c;
		} else {
			chunk[used++] = '%';
			chunk[used++] = hex_upper[c >> 4];
			chunk[used++] = hex_upper[c & 0x0f];
		}
	}
	return used > 0 ? wd_buf_append(buf, chunk, used) : 0;
}

/* Validate a credential-scope part or access key id: [A-Za-z0-9._-]{1,max}. */
static int check_scope_part(const char *text, size_t max, const char *what, struct wd_err *err)
{
	size_t len;

	if (text == NULL || text[0] == '\0')
		return wd_err_set(err, -EINVAL, "sigv4: %s is empty", what);
	len = strlen(text);
	if (len > max)
		return wd_err_set(err, -E2BIG, "sigv4: %s longer than %zu bytes", what, max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (!(is_unreserved(c) && c != '~'))
			return wd_err_set(err, -EINVAL, "sigv4: %s has a bad character at %zu",
			                  what, i);
	}
	return 0;
}

static int check_amz_date(const char *date, struct wd_err *err)
{
	static const char shape[] = "nnnnnnnnTnnnnnnZ";

	if (date == NULL || strlen(date) != SIGV4_AMZ_DATE_LEN)
		return wd_err_set(err, -EINVAL, "sigv4: amz_date is not YYYYMMDDTHHMMSSZ");
	for (size_t i = 0; i < SIGV4_AMZ_DATE_LEN; i++) {
		int ok = shape[i] == 'n' ? (date[i] >= '0' && date[i] <= '9') : date[i] == shape[i];

		if (!ok)
			return wd_err_set(err, -EINVAL, "sigv4: amz_date is not YYYYMMDDTHHMMSSZ");
	}
	return 0;
}

static int check_params(const struct sigv4_params *params, struct wd_err *err)
{
	const struct sigv4_credentials *cred = &params->credentials;
	size_t secret_len;
	int rc;

	rc = check_scope_part(cred->access_key_id, SIGV4_KEY_ID_MAX, "access key id", err);
	if (rc == 0)
		rc = check_scope_part(params->region, SIGV4_SCOPE_PART_MAX, "region", err);
	if (rc == 0)
		rc = check_scope_part(params->service, SIGV4_SCOPE_PART_MAX, "service", err);
	if (rc == 0)
		rc = check_amz_date(params->amz_date, err);
	if (rc != 0)
		return rc;
	if (cred->secret_access_key == NULL || cred->secret_access_key[0] == '\0')
		return wd_err_set(err, -EINVAL, "sigv4: secret access key is empty");
	secret_len = strnlen(cred->secret_access_key, SIGV4_SECRET_MAX + 1);
	if (secret_len > SIGV4_SECRET_MAX)
		return wd_err_set(err, -E2BIG, "sigv4: secret access key longer than %d bytes",
		                  SIGV4_SECRET_MAX);
	if (cred->session_token != NULL) {
		size_t len = strnlen(cred->session_token, SIGV4_TOKEN_MAX + 1);

		if (len > SIGV4_TOKEN_MAX)
			return wd_err_set(err, -E2BIG, "sigv4: session token longer than %d bytes",
			                  SIGV4_TOKEN_MAX);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)cred->session_token[i];

			if (c < 0x21 || c > 0x7e)
				return wd_err_set(err, -EINVAL,
				                  "sigv4: session token has a bad byte at %zu", i);
		}
	}
	if (params->token_mode != SIGV4_TOKEN_SIGNED && params->token_mode != SIGV4_TOKEN_UNSIGNED)
		return wd_err_set(err, -EINVAL, "sigv4: bad token mode");
	return 0;
}

/*
 * Canonical URI: remove dot segments and empty segments (collapsing "//"),
 * keep a trailing '/' when something is left, then percent-encode.
 */
static int append_canonical_uri(struct wd_buf *out, const char *path, struct wd_err *err)
{
	char norm[SIGV4_PATH_MAX + 2];
	size_t norm_len = 0;
	size_t path_len;
	const char *seg = path;

	if (path == NULL || path[0] != '/')
		return wd_err_set(err, -EINVAL, "sigv4: path must start with '/'");
	path_len = strnlen(path, SIGV4_PATH_MAX + 1);
	if (path_len > SIGV4_PATH_MAX)
		return wd_err_set(err, -E2BIG, "sigv4: path longer than %d bytes", SIGV4_PATH_MAX);

	while (seg < path + path_len) {
		const char *slash = memchr(seg, '/', (size_t)(path + path_len - seg));
		const char *end = slash != NULL ? slash : path + path_len;
		size_t len = (size_t)(end - seg);

		if (len == 0 || (len == 1 && seg[0] == '.')) {
			/* empty or "." segment: nothing */
		} else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (norm_len > 0 && norm[norm_len - 1] != '/')
				norm_len--;
			if (norm_len > 0)
				norm_len--; /* the '/' before the popped segment */
		} else {
			norm[norm_len++] = '/';
			memcpy(norm + norm_len, seg, len);
			norm_len += len;
		}
		seg = end + 1;
	}
	if (norm_len == 0)
		norm[norm_len++] = '/';
	else if (path[path_len - 1] == '/')
		norm[norm_len++] = '/';
	return append_encoded(out, (const unsigned char *)norm, norm_len, 1);
}

/* Decode then encode in[0..len) onto scratch. */
static int append_reencoded(struct wd_buf *scratch, const char *in, size_t len)
{
	char decoded[SIGV4_QUERY_MAX + 1];
	ssize_t n = text_percent_decode(in, len, decoded, sizeof(decoded), 0);

	if (n < 0)
		return n == -ENAMETOOLONG ? -E2BIG : (int)n;
	return append_encoded(scratch, (const unsigned char *)decoded, (size_t)n, 0);
}

static int compare_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
	size_t n = a_len < b_len ? a_len : b_len;
	int c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return (a_len > b_len) - (a_len < b_len);
}

/* Insertion sort (lists are short and bounded): by key, then value, byte order. */
static void sort_params(struct canon_param *params, size_t count, const char *base)
{
	for (size_t i = 1; i < count; i++) {
		struct canon_param item = params[i];
		size_t j = i;

		while (j > 0) {
			const struct canon_param *prev = &params[j - 1];
			int c = compare_bytes(base + prev->key_off, prev->key_len,
			                      base + item.key_off, item.key_len);

			if (c == 0)
				c = compare_bytes(base + prev->value_off, prev->value_len,
				                  base + item.value_off, item.value_len);
			if (c <= 0)
				break;
			params[j] = params[j - 1];
			j--;
		}
		params[j] = item;
	}
}

static int append_canonical_query(struct wd_buf *out, const char *query, struct wd_err *err)
{
	struct canon_param params[SIGV4_QUERY_PARAMS_MAX];
	struct wd_buf scratch;
	size_t count = 0;
	size_t query_len;
	const char *piece;
	int rc = 0;

	if (query == NULL || query[0] == '\0')
		return 0;
	query_len = strnlen(query, SIGV4_QUERY_MAX + 1);
	if (query_len > SIGV4_QUERY_MAX)
		return wd_err_set(err, -E2BIG, "sigv4: query longer than %d bytes",
		                  SIGV4_QUERY_MAX);

	wd_buf_init(&scratch, 3 * SIGV4_QUERY_MAX + 1);
	piece = query;
	while (piece < query + query_len) {
		const char *amp = memchr(piece, '&', (size_t)(query + query_len - piece));
		const char *end = amp != NULL ? amp : query + query_len;
		const char *eq = memchr(piece, '=', (size_t)(end - piece));
		const char *key_end = eq != NULL ? eq : end;
		const char *value = eq != NULL ? eq + 1 : end;
		struct canon_param *param;

		if (end == piece) {
			piece = end + 1;
			continue;
		}
		if (count == SIGV4_QUERY_PARAMS_MAX) {
			rc = wd_err_set(err, -E2BIG, "sigv4: more than %d query parameters",
			                SIGV4_QUERY_PARAMS_MAX);
			goto out;
		}
		param = &params[count++];
		param->key_off = scratch.len;
		rc = append_reencoded(&scratch, piece, (size_t)(key_end - piece));
		param->key_len = scratch.len - param->key_off;
		param->value_off = scratch.len;
		if (rc == 0)
			rc = append_reencoded(&scratch, value, (size_t)(end - value));
		param->value_len = scratch.len - param->value_off;
		if (rc == -EINVAL) {
			rc = wd_err_set(err, rc, "sigv4: bad percent escape in query parameter %zu",
			                count);
			goto out;
		}
		if (rc != 0) {
			rc = wd_err_set(err, rc, "sigv4: canonical query too long");
			goto out;
		}
		piece = end + 1;
	}

	sort_params(params, count, scratch.data);
	for (size_t i = 0; i < count && rc == 0; i++) {
		if (i > 0)
			rc = wd_buf_append(out, "&", 1);
		if (rc == 0)
			rc = wd_buf_append(out, scratch.data + params[i].key_off,
			                   params[i].key_len);
		if (rc == 0)
			rc = wd_buf_append(out, "=", 1);
		if (rc == 0)
			rc = wd_buf_append(out, scratch.data + params[i].value_off,
			                   params[i].value_len);
	}
	if (rc != 0)
		rc = wd_err_set(err, rc, "sigv4: canonical request too long");
out:
	wd_buf_free(&scratch);
	return rc;
}

/* Append value trimmed, with inner runs of spaces and tabs collapsed to one space. */
static int append_trimmed(struct wd_buf *out, const char *value)
{
	const char *p = value;
	int rc = 0;

	while (is_space_or_tab(*p))
		p++;
	while (*p != '\0' && rc == 0) {
		const char *word = p;

		while (*p != '\0' && !is_space_or_tab(*p))
			p++;
		rc = wd_buf_append(out, word, (size_t)(p - word));
		while (is_space_or_tab(*p))
			p++;
		if (rc == 0 && *p != '\0')
			rc = wd_buf_append(out, " ", 1);
	}
	return rc;
}

static int compare_header_names(const struct canon_header *a, const struct canon_header *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;

	for (size_t i = 0; i < n; i++) {
		unsigned char ca = lower_ascii((unsigned char)a->name[i]);
		unsigned char cb = lower_ascii((unsigned char)b->name[i]);

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Stable insertion sort by lower-cased name (input order breaks ties). */
static void sort_headers(struct canon_header *headers, size_t count)
{
	for (size_t i = 1; i < count; i++) {
		struct canon_header item = headers[i];
		size_t j = i;

		while (j > 0 && compare_header_names(&headers[j - 1], &item) > 0) {
			headers[j] = headers[j - 1];
			j--;
		}
		headers[j] = item;
	}
}

/*
 * Collect the headers to sign (validated) into list, adding x-amz-date and,
 * when signed, x-amz-security-token. Sets *count and res->add_amz_date.
 */
static int collect_headers(const struct sigv4_request *req, const struct sigv4_params *params,
                           struct canon_header *list, size_t *count, struct sigv4_result *res,
                           struct wd_err *err)
{
	const char *token = params->credentials.session_token;
	int has_token = token != NULL && token[0] != '\0';
	int has_host = 0;
	int has_date = 0;
	size_t n = 0;

	if (req->header_count > SIGV4_HEADERS_MAX)
		return wd_err_set(err, -E2BIG, "sigv4: more than %d headers", SIGV4_HEADERS_MAX);
	if (req->header_count > 0 && req->headers == NULL)
		return wd_err_set(err, -EINVAL, "sigv4: headers missing");
	for (size_t i = 0; i < req->header_count; i++) {
		const struct sigv4_header *h = &req->headers[i];
		size_t name_len, value_len;

		if (h->name == NULL || h->value == NULL)
			return wd_err_set(err, -EINVAL, "sigv4: header %zu is NULL", i);
		name_len = strnlen(h->name, SIGV4_HEADER_NAME_MAX + 1);
		if (name_len == 0)
			return wd_err_set(err, -EINVAL, "sigv4: header %zu has an empty name", i);
		if (name_len > SIGV4_HEADER_NAME_MAX)
			return wd_err_set(err, -E2BIG,
			                  "sigv4: header %zu name longer than %d bytes", i,
			                  SIGV4_HEADER_NAME_MAX);
		for (size_t k = 0; k < name_len; k++) {
			if (!text_is_tchar((unsigned char)h->name[k]))
				return wd_err_set(err, -EINVAL,
				                  "sigv4: header %zu name has a bad character", i);
		}
		value_len = strnlen(h->value, SIGV4_HEADER_VALUE_MAX + 1);
		if (value_len > SIGV4_HEADER_VALUE_MAX)
			return wd_err_set(err, -E2BIG,
			                  "sigv4: header %.*s value longer than %d bytes",
			                  (int)name_len, h->name, SIGV4_HEADER_VALUE_MAX);
		if (!text_is_field_value(h->value, value_len))
			return wd_err_set(err, -EINVAL,
			                  "sigv4: header %.*s value has a control byte",
			                  (int)name_len, h->name);
		if (name_is(h->name, name_len, "authorization"))
			return wd_err_set(err, -EINVAL, "sigv4: request already has Authorization");
		if (name_is(h->name, name_len, "host"))
			has_host = 1;
		if (name_is(h->name, name_len, "x-amz-date")) {
			struct wd_buf trimmed;
			int same;

			wd_buf_init(&trimmed, SIGV4_HEADER_VALUE_MAX);
			if (append_trimmed(&trimmed, h->value) != 0) {
				wd_buf_free(&trimmed);
				return wd_err_set(err, -ENOMEM, "sigv4: out of memory");
			}
			same = trimmed.len == SIGV4_AMZ_DATE_LEN &&
			       memcmp(trimmed.data, params->amz_date, SIGV4_AMZ_DATE_LEN) == 0;
			wd_buf_free(&trimmed);
			if (!same || has_date)
				return wd_err_set(err, -EINVAL,
				                  "sigv4: X-Amz-Date header differs from amz_date");
			has_date = 1;
		}
		if (has_token && name_is(h->name, name_len, "x-amz-security-token"))
			return wd_err_set(err, -EINVAL,
			                  "sigv4: pass the session token in the credentials, "
			                  "not as a header");
		list[n] = (struct canon_header){h->name, name_len, h->value};
		n++;
	}
	if (!has_host)
		return wd_err_set(err, -EINVAL, "sigv4: request has no Host header");
	if (!has_date) {
		list[n] = (struct canon_header){"x-amz-date", 10, params->amz_date};
		n++;
	}
	if (has_token && params->token_mode == SIGV4_TOKEN_SIGNED) {
		list[n] = (struct canon_header){"x-amz-security-token", 20, token};
		n++;
	}
	res->add_amz_date = !has_date;
	sort_headers(list, n);
	*count = n;
	return 0;
}

/* Append the canonical headers block (each line ending in '\n') and fill signed_headers. */
static int append_canonical_headers(struct wd_buf *out, struct wd_buf *signed_headers,
                                    const struct canon_header *list, size_t count)
{
	int rc = 0;

	for (size_t i = 0; i < count && rc == 0; i++) {
		int first_of_name = i == 0 || compare_header_names(&list[i - 1], &list[i]) != 0;
		int last_of_name =
		        i + 1 == count || compare_header_names(&list[i], &list[i + 1]) != 0;

		if (first_of_name) {
			char lower[SIGV4_HEADER_NAME_MAX];

			for (size_t k = 0; k < list[i].name_len; k++)
				lower[k] = (char)lower_ascii((unsigned char)list[i].name[k]);
			rc = wd_buf_append(out, lower, list[i].name_len);
			if (rc == 0)
				rc = wd_buf_append(out, ":", 1);
			if (rc == 0 && signed_headers->len > 0)
				rc = wd_buf_append(signed_headers, ";", 1);
			if (rc == 0)
				rc = wd_buf_append(signed_headers, lower, list[i].name_len);
		} else {
			rc = wd_buf_append(out, ",", 1);
		}
		if (rc == 0)
			rc = append_trimmed(out, list[i].value);
		if (rc == 0 && last_of_name)
			rc = wd_buf_append(out, "\n", 1);
	}
	return rc;
}

static int check_payload_hash(const char *hash)
{
	if (strcmp(hash, SIGV4_UNSIGNED_PAYLOAD) == 0)
		return 0;
	if (strlen(hash) != SIGV4_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SIGV4_HEX_LEN; i++) {
		if (text_hex_digit((unsigned char)hash[i]) < 0 ||
		    (hash[i] >= 'A' && hash[i] <= 'F'))
			return -EINVAL;
	}
	return 0;
}

static int build_canonical_request(const struct sigv4_request *req,
                                   const struct sigv4_params *params, struct sigv4_result *res,
                                   struct wd_err *err)
{
	struct canon_header list[SIGV4_HEADERS_MAX + 2];
	struct wd_buf *out = &res->canonical_request;
	char body_hash[SIGV4_HEX_LEN + 1];
	const char *payload = body_hash;
	size_t count = 0;
	size_t method_len;
	int rc;

	if (req->method == NULL || req->method[0] == '\0')
		return wd_err_set(err, -EINVAL, "sigv4: method is empty");
	method_len = strnlen(req->method, SIGV4_METHOD_MAX + 1);
	if (method_len > SIGV4_METHOD_MAX)
		return wd_err_set(err, -E2BIG, "sigv4: method longer than %d bytes",
		                  SIGV4_METHOD_MAX);
	for (size_t i = 0; i < method_len; i++) {
		if (!text_is_tchar((unsigned char)req->method[i]))
			return wd_err_set(err, -EINVAL, "sigv4: method has a bad character");
	}
	if (req->payload_hash != NULL) {
		if (check_payload_hash(req->payload_hash) != 0)
			return wd_err_set(err, -EINVAL,
			                  "sigv4: payload_hash is neither 64 lower-case hex nor "
			                  "UNSIGNED-PAYLOAD");
		payload = req->payload_hash;
	} else {
		if (req->body == NULL && req->body_len > 0)
			return wd_err_set(err, -EINVAL, "sigv4: body is NULL");
		rc = sha256_hex(req->body != NULL ? req->body : "", req->body_len, body_hash);
		if (rc != 0)
			return wd_err_set(err, rc, "sigv4: SHA-256 failed");
	}
	rc = collect_headers(req, params, list, &count, res, err);
	if (rc != 0)
		return rc;

	rc = wd_buf_append(out, req->method, method_len);
	if (rc == 0)
		rc = wd_buf_append(out, "\n", 1);
	if (rc != 0)
		goto too_long;
	rc = append_canonical_uri(out, req->path, err);
	if (rc != 0)
		return rc == -EINVAL ? rc : wd_err_set(err, rc, "sigv4: canonical URI too long");
	rc = wd_buf_append(out, "\n", 1);
	if (rc != 0)
		goto too_long;
	rc = append_canonical_query(out, req->query, err);
	if (rc != 0)
		return rc;
	rc = wd_buf_append(out, "\n", 1);
	if (rc == 0)
		rc = append_canonical_headers(out, &res->signed_headers, list, count);
	if (rc == 0)
		rc = wd_buf_append(out, "\n", 1);
	if (rc == 0)
		rc = wd_buf_append(out, res->signed_headers.data, res->signed_headers.len);
	if (rc == 0)
		rc = wd_buf_append(out, "\n", 1);
	if (rc == 0)
		rc = wd_buf_puts(out, payload);
	if (rc != 0)
		goto too_long;
	return 0;
too_long:
	return wd_err_set(err, rc, "sigv4: canonical request longer than %d bytes",
	                  SIGV4_CANONICAL_MAX);
}

/* signature = hex(HMAC(kSigning, string_to_sign)); every key is cleansed. */
static int compute_signature(const struct sigv4_params *params, struct sigv4_result *res)
{
	const char *secret = params->credentials.secret_access_key;
	unsigned char k_secret[4 + SIGV4_SECRET_MAX];
	unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
	size_t secret_len = strlen(secret);
	int rc;

	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, secret_len);
	rc = hmac_sha256(k_secret, 4 + secret_len, params->amz_date, 8, k_date);
	if (rc == 0)
		rc = hmac_sha256(k_date, 32, params->region, strlen(params->region), k_region);
	if (rc == 0)
		rc = hmac_sha256(k_region, 32, params->service, strlen(params->service), k_service);
	if (rc == 0)
		rc = hmac_sha256(k_service, 32, SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR),
		                 k_signing);
	if (rc == 0)
		rc = hmac_sha256(k_signing, 32, res->string_to_sign.data, res->string_to_sign.len,
		                 sig);
	if (rc == 0)
		hex_encode(sig, sizeof(sig), res->signature);
	OPENSSL_cleanse(k_secret, sizeof(k_secret));
	OPENSSL_cleanse(k_date, sizeof(k_date));
	OPENSSL_cleanse(k_region, sizeof(k_region));
	OPENSSL_cleanse(k_service, sizeof(k_service));
	OPENSSL_cleanse(k_signing, sizeof(k_signing));
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

void sigv4_result_init(struct sigv4_result *res)
{
	memset(res, 0, sizeof(*res));
	wd_buf_init(&res->canonical_request, SIGV4_CANONICAL_MAX);
	wd_buf_init(&res->string_to_sign, 512);
	wd_buf_init(&res->authorization, SIGV4_AUTHORIZATION_MAX);
	wd_buf_init(&res->signed_headers, SIGV4_AUTHORIZATION_MAX);
	wd_buf_init(&res->security_token, SIGV4_TOKEN_MAX);
}

void sigv4_result_free(struct sigv4_result *res)
{
	if (res == NULL)
		return;
	/* The canonical request and the header list hold the session token too. */
	struct wd_buf *secret[] = {&res->security_token, &res->canonical_request,
	                           &res->string_to_sign, &res->authorization};

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		if (secret[i]->data != NULL)
			OPENSSL_cleanse(secret[i]->data, secret[i]->len);
	}
	wd_buf_free(&res->canonical_request);
	wd_buf_free(&res->string_to_sign);
	wd_buf_free(&res->authorization);
	wd_buf_free(&res->signed_headers);
	wd_buf_free(&res->security_token);
	res->signature[0] = '\0';
	res->amz_date[0] = '\0';
	res->add_amz_date = 0;
}

static void result_reset(struct sigv4_result *res)
{
	if (res->security_token.data != NULL)
		OPENSSL_cleanse(res->security_token.data, res->security_token.len);
	wd_buf_reset(&res->canonical_request);
	wd_buf_reset(&res->string_to_sign);
	wd_buf_reset(&res->authorization);
	wd_buf_reset(&res->signed_headers);
	wd_buf_reset(&res->security_token);
	res->signature[0] = '\0';
	res->amz_date[0] = '\0';
	res->add_amz_date = 0;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *params,
               struct sigv4_result *res, struct wd_err *err)
{
	const char *token;
	char creq_hash[SIGV4_HEX_LEN + 1];
	int rc;

	result_reset(res);
	if (req == NULL || params == NULL)
		return wd_err_set(err, -EINVAL, "sigv4: no request or parameters");
	rc = check_params(params, err);
	if (rc != 0)
		return rc;
	token = params->credentials.session_token;

	rc = build_canonical_request(req, params, res, err);
	if (rc != 0)
		goto fail;

	rc = sha256_hex(res->canonical_request.data, res->canonical_request.len, creq_hash);
	if (rc != 0) {
		wd_err_set(err, rc, "sigv4: SHA-256 failed");
		goto fail;
	}
	rc = wd_buf_printf(&res->string_to_sign, "%s\n%s\n%.8s/%s/%s/%s\n%s", SIGV4_ALGORITHM,
	                   params->amz_date, params->amz_date, params->region, params->service,
	                   SIGV4_TERMINATOR, creq_hash);
	if (rc != 0) {
		wd_err_set(err, rc, "sigv4: string to sign too long");
		goto fail;
	}
	rc = compute_signature(params, res);
	if (rc != 0) {
		wd_err_set(err, rc, "sigv4: HMAC-SHA256 failed");
		goto fail;
	}
	rc = wd_buf_printf(&res->authorization,
	                   "%s Credential=%s/%.8s/%s/%s/%s, SignedHeaders=%s, Signature=%s",
	                   SIGV4_ALGORITHM, params->credentials.access_key_id, params->amz_date,
	                   params->region, params->service, SIGV4_TERMINATOR,
	                   res->signed_headers.data, res->signature);
	if (rc == 0 && token != NULL && token[0] != '\0')
		rc = wd_buf_puts(&res->security_token, token);
	if (rc != 0) {
		wd_err_set(err, rc, "sigv4: Authorization header too long");
		goto fail;
	}
	memcpy(res->amz_date, params->amz_date, SIGV4_AMZ_DATE_LEN + 1);
	return 0;
fail:
	res->signature[0] = '\0';
	return rc;
}

size_t sigv4_headers_to_add(const struct sigv4_result *res,
                            struct sigv4_header out[SIGV4_ADDED_HEADERS_MAX])
{
	size_t n = 0;

	if (res->signature[0] == '\0' || res->authorization.data == NULL)
		return 0;
	if (res->add_amz_date)
		out[n++] = (struct sigv4_header){"X-Amz-Date", res->amz_date};
	if (res->security_token.len > 0)
		out[n++] = (struct sigv4_header){"X-Amz-Security-Token", res->security_token.data};
	out[n++] = (struct sigv4_header){"Authorization", res->authorization.data};
	return n;
}

int sigv4_format_amz_date(int64_t wall_ms, char *out, size_t size)
{
	struct tm tm;
	time_t secs;

	if (size < SIGV4_AMZ_DATE_LEN + 1)
		return -ENOSPC;
	/* 253402300800 is 10000-01-01T00:00:00Z. */
	if (wall_ms < 0 || wall_ms / 1000 >= INT64_C(253402300800))
		return -ERANGE;
	secs = (time_t)(wall_ms / 1000);
	if (gmtime_r(&secs, &tm) == NULL)
		return -ERANGE;
	if (strftime(out, size, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_AMZ_DATE_LEN)
		return -ERANGE;
	return 0;
}
