/*
 * limits.h - every cap warden puts on its input and its own structures.
 *
 * Input beyond a cap is an error that names the cap, never a crash or a
 * silent cut. Change a cap here and nowhere else.
 */
#ifndef WARDEN_LIMITS_H
#define WARDEN_LIMITS_H

#define WD_PROBES_MAX      32        /* probes in one config */
#define WD_PROBE_NAME_MAX  32        /* [a-z0-9_]{1,32} */
#define WD_URI_MAX         2048      /* a probe target URI, fragment excluded */
#define WD_FRAGMENT_MAX    1024      /* a probe's option fragment */
#define WD_SECRET_MAX      1024      /* a password from env or file */
#define WD_HOST_MAX        255       /* a host name (RFC 1035) */
#define WD_PATH_MAX        4096      /* a file path in config */
#define WD_CONFIG_FILE_MAX (1 << 20) /* a WARDEN_CONFIG JSON file */
#define WD_ERR_MSG_MAX     160       /* struct wd_err and probe detail text */
#define WD_QUOTE_MAX       40        /* bytes of bad input quoted in an error */
#define WD_LOG_LINE_MAX    4096      /* one JSON log line */
#define WD_LISTEN_MAX      300       /* "host:port" of a listener */

#define WD_REPLY_MAX (64 * 1024) /* a probe's reply: INFO, HTTP headers+body read */
#define WD_HTTP_PROBE_BODY_MAX                                                                     \
	(64 * 1024) /* body bytes an HTTP probe reads (none kept) before it cuts the transfer */

/* Histogram buckets of warden_probe_duration_seconds, in seconds. */
#define WD_DURATION_BUCKETS      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
#define WD_DURATION_BUCKET_COUNT 13

/* HTTP client (net/curl_deadline.c) and the AWS clients (aws/aws*.c, aws/ssm.c). */
#define WD_HTTP_HEADER_VALUE_MAX 256 /* a captured response header value (Date, request id) */
#define WD_AWS_RESPONSE_MAX      (64 * 1024)  /* an SSM response body; beyond it: bad_reply */
#define WD_AWS_CREDS_BODY_MAX    (32 * 1024)  /* a container credentials response body */
#define WD_AWS_METADATA_MAX      (256 * 1024) /* an ECS task metadata (/task) response body */
#define WD_AWS_TOKEN_FILE_MAX    (16 * 1024)  /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE content */

#endif
