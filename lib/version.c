#include "lib/version.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

const char *version_str(void)
{
	return WARDEN_VERSION;
}

void version_print(FILE *out)
{
	curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	int pq = PQlibVersion();

	fprintf(out, "warden %s (%s, built %s)\n", WARDEN_VERSION, WARDEN_BUILD_TYPE, __DATE__);
	fprintf(out, "libmicrohttpd %s\n", MHD_get_version());
	fprintf(out, "libpq %d.%d\n", pq / 10000, pq % 10000);
	fprintf(out, "hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
	fprintf(out, "libcurl %s (%s)\n", curl->version,
	        curl->ssl_version ? curl->ssl_version : "no TLS");
	fprintf(out, "jansson %s\n", jansson_version_str());
	fprintf(out, "openssl %s\n", OpenSSL_version(OPENSSL_VERSION));
}
