/*
 * fuzz_uri.c - uri_parse and uri_redact on arbitrary bytes. An accepted URI
 * has in-range fields; redaction always terminates its output, at any size,
 * and replaces the password of a parsed URI by "***". Refusals leave a
 * terminated one-line message. Corpus: corpus/uri/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Offset of the ':' that starts the password of a URI that parsed with one,
 * or -1: the first ':' of the authority's userinfo.
 */
static long password_colon(const char *text)
{
	const char *authority = strstr(text, "://");
	const char *end;
	const char *at;
	const char *colon;

	if (authority == NULL)
		return -1;
	authority += 3;
	end = authority + strcspn(authority, "/?");
	at = memchr(authority, '@', (size_t)(end - authority));
	if (at == NULL)
		return -1;
	colon = memchr(authority, ':', (size_t)(at - authority));
	return colon ? colon - text : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wd_uri *uri = malloc(sizeof(*uri));
	char *text = malloc(size + 1);
	char *out = malloc(size * 4 + 64);
	struct wd_err err = {0};

	if (uri == NULL || text == NULL || out == NULL)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	if (uri_parse(text, uri, &err) == 0) {
		if (uri->port < 0 || uri->port > 65535 || uri->host[0] == '\0')
			__builtin_trap();
		if (strlen(uri->host) > WD_HOST_MAX || strlen(uri->password) > WD_SECRET_MAX)
			__builtin_trap();
		if (uri->has_password) {
			long colon = password_colon(text);

			/* The output is the text up to the ':', then "***@...". */
			uri_redact(text, out, size * 4 + 64);
			if (colon < 0 || strncmp(out, text, (size_t)colon + 1) != 0 ||
			    strncmp(out + colon + 1, "***@", 4) != 0)
				__builtin_trap();
		}
	} else if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL || strchr(err.msg, '\n')) {
		__builtin_trap();
	}
	/* Redaction at every small size, and at a roomy one. */
	for (size_t cap = 1; cap <= 16; cap++) {
		uri_redact(text, out, cap);
		if (strlen(out) >= cap)
			__builtin_trap();
	}
	uri_redact(text, out, size * 4 + 64);
	if (strlen(out) >= size * 4 + 64)
		__builtin_trap();
out:
	free(uri);
	free(text);
	free(out);
	return 0;
}
