/*
 * fuzz_sigv4_req.c - the SigV4 suite's .req parser and the signer on
 * arbitrary bytes: parse, then sign what parsed (with and without a session
 * token, signed and unsigned), and check the invariants of a success. Must
 * never crash, leak or trip a sanitizer. Corpus: tests/fuzz/corpus/sigv4_req/
 * (the suite's .req files plus hostile ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "aws/sigv4_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(const struct sigv4_result *res)
{
	struct sigv4_header added[SIGV4_ADDED_HEADERS_MAX];
	size_t n;

	if (strlen(res->signature) != SIGV4_HEX_LEN)
		abort();
	if (strncmp(res->authorization.data,
	            SIGV4_ALGORITHM " Credential=", strlen(SIGV4_ALGORITHM " Credential=")) != 0)
		abort();
	if (strpbrk(res->authorization.data, "\r\n") != NULL)
		abort();
	n = sigv4_headers_to_add(res, added);
	if (n == 0 || n > SIGV4_ADDED_HEADERS_MAX)
		abort();
	if (strcmp(added[n - 1].name, "Authorization") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigv4_req req;
	struct sigv4_result res;
	struct sigv4_params params;
	struct wd_err err;

	sigv4_req_init(&req);
	sigv4_result_init(&res);
	if (sigv4_req_parse((const char *)data, size, &req, &err) != 0)
		goto out;
	memset(&params, 0, sizeof(params));
	params.credentials.access_key_id = "AKIDEXAMPLE";
	params.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	params.region = "us-east-1";
	params.service = "service";
	params.amz_date = "20150830T123600Z";
	for (int round = 0; round < 3; round++) {
		if (round > 0)
			params.credentials.session_token = "AQoDYXdzEPT//////////wEXAMPLE==";
		params.token_mode = round == 2 ? SIGV4_TOKEN_UNSIGNED : SIGV4_TOKEN_SIGNED;
		if (sigv4_sign(&req.request, &params, &res, &err) == 0)
			check_result(&res);
		else if (res.signature[0] != '\0')
			abort();
	}
out:
	sigv4_req_free(&req);
	sigv4_result_free(&res);
	return 0;
}
