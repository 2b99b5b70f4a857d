#!/usr/bin/python3
"""fake_aws: a faithful fake of the three AWS endpoints warden talks to.

One process, one threaded HTTP/1.1 server on 127.0.0.1 (keep-alive works),
serving on the same port:

  POST /                 SSM Parameter Store, awsJson 1.1 (X-Amz-Target: AmazonSSM.<Op>),
                         every request SigV4-verified with botocore's own signer.
  GET  /creds/<token>    ECS container credentials endpoint (rotating credentials).
  GET  /meta, /meta/task ECS task metadata endpoint v4.
  *    /_fake/...        control API for tests (JSON, no auth).

Run it by hand:

  /usr/bin/python3 tests/fakes/fake_aws.py --port 0 --auth-token s3cret
  -> prints {"port": N} on stdout once listening (also to --port-file FILE).

Options: --port N (0 = any), --port-file FILE, --region R[,R2...] (default
us-east-1; the first is the "home" region of control calls and of the task
ARN), --auth-token TOKEN (the Authorization header the credentials endpoint
demands; none = no check), --creds-ttl SECONDS (3600), --static-key
AKID:SECRET[:TOKEN] (repeatable; accepted forever), --cluster NAME
(warden-test), --task-id HEX, --account 123456789012, --error-style
plain|coral, --token-len N (length of issued session tokens, 880),
--strict-content-type / --no-strict-content-type, --group GROUP (the task's
Group in /meta/task: service:web), --family NAME (web), --verbose (log requests
on stderr). Requires Debian's python3-botocore, nothing else.

The code: this file holds the server, the routing, the faults, the control
API and main; the modules next to it hold the SSM operations (fake_ssm.py),
GetMetricData and EMF ingestion (fake_cloudwatch.py), the SigV4 check
(fake_sigv4.py), container credentials and task metadata (fake_meta.py), and
what they share (fake_common.py). State and Handler are made of their mixins.

SSM (what AWS does, as far as public evidence shows)
----------------------------------------------------
Operations: GetParameter (Name, optional ":<version>" selector, WithDecryption),
GetParameters (Names <= 10, InvalidParameters), PutParameter (Name, Value, Type
String|StringList|SecureString, Overwrite; Version +1 on every write;
{"Version": N, "Tier": "Standard"}), DeleteParameter. Parameters live per
region: the region of the request's credential scope picks the store, so one
fake can serve us-east-1 and us-west-2 with `--region us-east-1,us-west-2`; a
scope naming any other region is refused like AWS refuses a wrong region.
SecureString values come back in clear only with WithDecryption=true, else as
an opaque base64 "ciphertext".

Responses: Content-Type application/x-amz-json-1.1, x-amzn-RequestId (uuid),
Date (from the fake's clock, see skew), Server: Server. Errors are HTTP 400
(500 for InternalServerError) with {"__type": "<Name>", "message": "..."}:

  ParameterNotFound          (no message member in "plain" style: real SSM sends
                              {"__type":"ParameterNotFound"} and botocore prints
                              "...GetParameter operation: " with nothing after)
  ParameterVersionNotFound, ParameterAlreadyExists ("The parameter already
  exists. To overwrite this value, set the overwrite option in the request to
  true."), ValidationException, SerializationException,
  UnknownOperationException, ThrottlingException ("Rate exceeded"),
  InternalServerError (member "Message", capital M, as in the SSM model).

Authentication, checked in this order (all HTTP 400):
  MissingAuthenticationTokenException  no Authorization header
                                       ("Request is missing Authentication Token")
  IncompleteSignatureException         header not "AWS4-HMAC-SHA256 Credential=..,
                                       SignedHeaders=.., Signature=..", or no X-Amz-Date
  InvalidSignatureException            scope: "Credential should be scoped to a valid
                                       region, not 'xx-1'. ", "... correct service:
                                       'ssm'. ", "... with a valid terminator:
                                       'aws4_request', not 'x'. ", "Date in Credential
                                       scope does not match YYYYMMDD from ISO-8601
                                       version of date from HTTP: 'a' != 'b', from 'c'.",
                                       "'Host' or ':authority' must be a 'SignedHeader'
                                       in the AWS Authorization."
  UnrecognizedClientException          unknown access key id, or a session token that is
                                       missing/wrong for it ("The security token
                                       included in the request is invalid.")
  ExpiredTokenException                the credentials' Expiration has passed ("The
                                       security token included in the request is expired")
  InvalidSignatureException            clock skew > 5 min against the fake's clock:
                                       "Signature expired: 20150830T123600Z is now earlier
                                       than 20150830T124600Z (20150830T125100Z - 5 min.)"
                                       or "Signature not yet current: <t> is still later
                                       than <now+5m> (<now> + 5 min.)"
  InvalidSignatureException            signature mismatch: "The request signature we
                                       calculated does not match the signature you
                                       provided. Check your AWS Secret Access Key and
                                       signing method. Consult the service documentation
                                       for details.\n\nThe Canonical String for this
                                       request should have been\n'...'\n\nThe
                                       String-to-Sign should have been\n'...'\n"
The signature is recomputed with botocore.auth.SigV4Auth over exactly the
signed headers, the raw path and the body, at the request's X-Amz-Date
(request.context['timestamp'] pinned), and compared with hmac.compare_digest.
A signed X-Amz-Content-SHA256 that is not the body's hash is a mismatch.
Credential expiry uses the real clock; only the SigV4 skew check and the Date
header use the shifted clock.

--error-style coral (or PUT /_fake/config {"error_style": "coral"}) makes
__type namespaced the way Coral services send it -- "com.amazonaws.ssm#
ParameterNotFound", "com.amazon.coral.service#UnrecognizedClientException" --
always includes a message, and adds the header
"x-amzn-ErrorType: <Name>:http://internal.amazon.com/coral/<namespace>/", so
clients can prove they sanitize (cut at the first ':', keep what follows '#').

Content-Type must be application/x-amz-json-1.1 (else 400
UnknownOperationException; that strictness is the fake's choice and can be
turned off with --no-strict-content-type).

Container credentials
---------------------
GET /creds/<anything>: when --auth-token is set, the Authorization header must
equal it exactly (missing: 401, wrong: 403, body {"code": "AccessDenied",
"message": ...}). Every call issues NEW credentials (AccessKeyId ASIA...,
SecretAccessKey, Token, Expiration = now + creds_ttl as "YYYY-MM-DDTHH:MM:SSZ",
RoleArn); older ones stay valid until their own Expiration.

Task metadata
-------------
GET /meta/task -> {"Cluster": "arn:aws:ecs:<region>:<acct>:cluster/<cluster>",
"TaskARN": "arn:aws:ecs:<region>:<acct>:task/<cluster>/<id>", "Group"
("service:web": a task of a service; "family:NAME" for a RunTask one), "Family",
"Revision", "DesiredStatus", "KnownStatus", "AvailabilityZone": "<region>a",
"LaunchType": "FARGATE", "Containers": [...]}; GET /meta -> this container.
The cluster, task id, Group and Family are settable (--cluster, --task-id,
--group, --family, or PUT /_fake/config {"cluster", "task_id", "task_group",
"task_family"}); the fault meta_500 fails the next N metadata requests.

Control API (JSON in, JSON out, no auth; never counted as SSM traffic)
------------------------------------------------------------------
GET    /_fake/health                 {"ok": true, "port": N, "regions": [...]}
PUT    /_fake/param                  {"name", "value", "type"="String", "region"?}
                                     set directly (Version +1) -> {"Version": N}
GET    /_fake/param?name=N[&region=R] the stored parameter (+ "History"), 404 if none
DELETE /_fake/param?name=N[&region=R] remove it
GET    /_fake/counts                 {"ssm_total", "by_op", "by_key", "by_status",
                                      "by_error", "by_fault", "creds_issued",
                                      "creds_requests", "meta_requests"}
GET    /_fake/requests[?since=SEQ]   [{"seq", "t" (epoch s), "mono" (CLOCK_MONOTONIC s),
                                      "kind": ssm|creds|meta, "method", "path", "op",
                                      "akid", "region", "status", "error", "fault",
                                      "content_type", "target"}] (last 10000)
POST   /_fake/fault                  {"fault": F, "count": N|null, "seconds": S}
                                     arm fault F for the next N SSM requests (null or
                                     absent = until cleared). F is one of:
        throttle       400 ThrottlingException "Rate exceeded"
        500            500 InternalServerError
        garbage        200, Content-Type json, body of non-JSON bytes
        truncated      200 with Content-Length of a full GetParameter answer, half of
                       it sent, then the connection is closed
        stall          read the request, answer nothing until cleared (or for
                       "seconds"), then answer normally
        close          read the request and close the connection without answering
        nul            200 GetParameter answer whose Value holds a raw NUL byte
        nul_escaped    200 GetParameter answer whose Value holds "\\u0000"
        huge           200 valid GetParameter answer of 10 MiB (Value padded)
        skew           the fake's clock is off by "seconds" (may be negative) until
                       cleared: its Date header and its skew check use it, so a client
                       gets the skew error, can correct from Date and retry (count
                       ignored)
        expired_creds  the next N credentials issued are already expired
        creds_500      the next N credentials requests get 500
        meta_500       the next N task metadata requests get 500
     The request faults are consumed in the order they were armed, one per SSM
     request, before authentication; a faulted request is still counted.
GET    /_fake/faults                 armed faults and the skew
DELETE /_fake/fault?fault=F          disarm one fault
POST   /_fake/clear                  disarm all faults, skew 0, release stalled requests
POST   /_fake/reset                  clear + forget parameters, counters, issued creds
GET    /_fake/creds                  issued credentials (with secrets: it is a fake)
POST   /_fake/expire_creds           make every issued credential expired now
PUT    /_fake/config                 {"error_style": "plain"|"coral", "auth_token": T|null,
                                      "creds_ttl": S, "strict_content_type": bool,
                                      "cluster", "task_id", "task_group", "task_family",
                                      "get_rate_limit": N|null}
                                     get_rate_limit: GetParameter requests per second per
                                     region (token bucket of N, as SSM's 40 TPS quota);
                                     beyond it 400 ThrottlingException "Rate exceeded"
GET    /_fake/config                 current config
"""

import argparse
import email.utils
import http.server
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse

from fake_common import (AwsError, ERROR_NAMESPACE, HUGE_SIZE, JSON_11, MAX_BODY, MAX_RECORDS,
                         OTHER_FAULTS, REQUEST_FAULTS, SSM_NAMESPACE, rfc3339)
from fake_sigv4 import SigV4Handler
from fake_ssm import SsmHandler, SsmState
from fake_cloudwatch import CloudWatchHandler, CloudWatchState
from fake_meta import MetaHandler, MetaState

# Kept importable from here (tests/integration/test_fake_aws.py checks the signer).
from fake_sigv4 import expected_signature, parse_authorization  # noqa: F401


class State(SsmState, CloudWatchState, MetaState):
    """Everything the fake knows; one lock guards it all."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.regions = [r.strip() for r in args.region.split(",") if r.strip()]
        self.account = args.account
        self.cluster = args.cluster
        self.task_id = args.task_id or secrets.token_hex(16)
        self.config = {
            "error_style": args.error_style,
            "auth_token": args.auth_token,
            "creds_ttl": args.creds_ttl,
            "strict_content_type": args.strict_content_type,
            "token_len": args.token_len,
            "cluster": self.cluster,
            "task_id": self.task_id,
            "task_group": args.group,
            "task_family": args.family,
            # GetParameter requests per second per region (a token bucket of that
            # size, refilled continuously, as SSM's per-account-and-region quota);
            # beyond it ThrottlingException "Rate exceeded". null: no limit.
            "get_rate_limit": None,
        }
        self.buckets = {}  # region -> [tokens, last refill (monotonic s)]; reset empties it
        self.static_keys = {}
        for spec in args.static_key or []:
            parts = spec.split(":", 2)
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise SystemExit("--static-key wants AKID:SECRET[:TOKEN], got %r" % spec)
            self.static_keys[parts[0]] = {
                "AccessKeyId": parts[0], "SecretAccessKey": parts[1],
                "Token": parts[2] if len(parts) == 3 else None,
                "expires": None, "static": True}
        self.emf_files = list(args.emf_file or [])
        self.stall_release = threading.Event()
        self.stopping = threading.Event()
        self.reset_locked()

    def reset_locked(self):
        self.params = {r: {} for r in self.regions}
        self.emf_points = []  # (ts s, namespace, ((dim, value), ...), metric, value)
        self.emf_offsets = {}
        self.cloudwatch_500_left = 0
        self.buckets = {}
        self.issued = {}
        self.faults = []          # [{"fault", "remaining" (None = forever), "seconds"}]
        self.skew = 0.0
        self.expired_creds_left = 0
        self.creds_500_left = 0
        self.meta_500_left = 0
        self.records = []
        self.seq = 0
        self.counts = {"ssm_total": 0, "by_op": {}, "by_key": {}, "by_status": {},
                       "by_error": {}, "by_fault": {}, "creds_issued": 0,
                       "creds_requests": 0, "meta_requests": 0}
        self.release_stalls_locked()

    def release_stalls_locked(self):
        self.stall_release.set()
        self.stall_release = threading.Event()

    def now(self):
        """The fake's (possibly skewed) wall clock."""
        return time.time() + self.skew

    # -- faults -----------------------------------------------------------
    def take_request_fault_locked(self):
        for f in self.faults:
            if f["remaining"] is None or f["remaining"] > 0:
                if f["remaining"] is not None:
                    f["remaining"] -= 1
                fault = dict(f)
                self.faults = [x for x in self.faults
                               if x["remaining"] is None or x["remaining"] > 0]
                return fault
        return None

    # -- records ----------------------------------------------------------
    def record_locked(self, rec):
        self.seq += 1
        rec["seq"] = self.seq
        self.records.append(rec)
        if len(self.records) > MAX_RECORDS:
            del self.records[: len(self.records) - MAX_RECORDS]
        if rec["kind"] != "ssm":
            return
        c = self.counts
        c["ssm_total"] += 1
        for key, field in (("by_op", "op"), ("by_key", "akid"), ("by_status", "status"),
                           ("by_error", "error"), ("by_fault", "fault")):
            val = rec.get(field)
            if val is not None:
                c[key][str(val)] = c[key].get(str(val), 0) + 1


class Handler(SsmHandler, CloudWatchHandler, SigV4Handler, MetaHandler,
              http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Server"
    sys_version = ""

    # -- plumbing -----------------------------------------------------------
    @property
    def state(self):
        return self.server.state

    def version_string(self):
        return "Server"

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(self.state.now() if timestamp is None else timestamp,
                                      usegmt=True)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_aws: %s %s\n" % (self.address_string(), fmt % args))

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send_bytes(status, json.dumps(obj).encode(), "application/json", headers)

    # -- dispatch -----------------------------------------------------------
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def do_HEAD(self):
        self.route("HEAD")

    def route(self, method):
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send_json(413, {"message": "request body too large or malformed"})
            return
        if path == "/_fake/emf" and method == "POST":
            return self.emf_ingest_request(body)
        if path.startswith("/_fake/") or path == "/_fake":
            return self.control(method, path, body)
        if path.startswith("/creds/") and method == "GET":
            return self.creds(path)
        if path in ("/meta", "/meta/", "/meta/task") and method == "GET":
            return self.meta(path)
        if path.startswith("/meta/t/") and method == "GET":
            return self.meta_variant(path)
        if path == "/" and method == "POST" and self.is_cloudwatch(body):
            return self.cloudwatch(body)
        if path == "/" and method == "POST":
            return self.ssm(body)
        self.send_json(404, {"message": "not found: %s %s" % (method, path)})

    def send_aws_error(self, err, request_id):
        coral = self.state.config["error_style"] == "coral"
        namespace = ERROR_NAMESPACE.get(err.name, SSM_NAMESPACE)
        doc = {"__type": ("%s#%s" % (namespace, err.name)) if coral else err.name}
        message = err.message
        if message is None and coral:
            message = err.name
        if message is not None:
            doc[err.member] = message
        headers = {"x-amzn-RequestId": request_id}
        if coral:
            headers["x-amzn-ErrorType"] = "%s:http://internal.amazon.com/coral/%s/" % (
                err.name, namespace)
        self.send_bytes(err.status, json.dumps(doc).encode(), JSON_11, headers)

    def answer_fault(self, name, body, rec, request_id):
        hdrs = {"x-amzn-RequestId": request_id}
        if name == "throttle":
            rec["status"], rec["error"] = 400, "ThrottlingException"
            return self.send_aws_error(AwsError("ThrottlingException", "Rate exceeded"),
                                       request_id)
        if name == "500":
            rec["status"], rec["error"] = 500, "InternalServerError"
            return self.send_aws_error(
                AwsError("InternalServerError", "An internal error occurred.", 500,
                         "Message"), request_id)
        if name == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if name == "garbage":
            rec["status"] = 200
            junk = b"<html><body>\xff\xfe Service Unavailable }{ not json \x01\x02</body>"
            return self.send_bytes(200, junk, JSON_11, hdrs)
        doc = self.canned_parameter(body)
        if name == "truncated":
            full = json.dumps(doc).encode()
            rec["status"] = 200
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", JSON_11)
            self.send_header("Content-Length", str(len(full)))
            self.send_header("x-amzn-RequestId", request_id)
            self.end_headers()
            self.wfile.write(full[: len(full) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if name == "nul":
            # The stored value, a raw NUL byte, then more text: invalid JSON (a raw
            # control byte), and a C client that stops at the NUL sees a valid value.
            value = doc_value(doc)
            doc["Parameter"]["Value"] = "@@NUL@@"
            out = json.dumps(doc).encode().replace(
                b"@@NUL@@", value.encode() + b"\x00us-west-2")
            rec["status"] = 200
            return self.send_bytes(200, out, JSON_11, hdrs)
        if name == "nul_escaped":
            doc["Parameter"]["Value"] = doc_value(doc) + "\x00us-west-2"
            rec["status"] = 200
            return self.send_bytes(200, json.dumps(doc).encode(), JSON_11, hdrs)
        if name == "huge":
            base = json.dumps(doc).encode()
            pad = HUGE_SIZE - len(base)
            doc["Parameter"]["Value"] = doc_value(doc) + " " * max(0, pad)
            rec["status"] = 200
            return self.send_bytes(200, json.dumps(doc).encode(), JSON_11, hdrs)
        raise AssertionError("unknown fault " + name)

    def canned_parameter(self, body):
        """A GetParameter answer for the requested name (stored value if any)."""
        st = self.state
        try:
            name = json.loads(body or b"{}").get("Name") or "/fake/parameter"
        except (ValueError, AttributeError):
            name = "/fake/parameter"
        region = st.regions[0]
        with st.lock:
            cur = st.params[region].get(name)
            value = cur["Value"] if cur else region
            version = cur["Version"] if cur else 1
            ptype = cur["Type"] if cur else "String"
        doc = {"Parameter": {"Name": name, "Type": ptype, "Value": value,
                             "Version": version, "LastModifiedDate": round(time.time(), 3),
                             "ARN": st.arn(region, name), "DataType": "text"}}
        return doc

    # -- control API ----------------------------------------------------------
    def control(self, method, path, body):
        st = self.state
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        try:
            doc = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            return self.send_json(400, {"error": "body is not JSON"})
        route = (method, path.rstrip("/"))
        try:
            with st.lock:
                status, out = self.control_locked(route, query, doc)
        except (KeyError, TypeError, ValueError) as exc:
            status, out = 400, {"error": "bad control request: %r" % (exc,)}
        self.send_json(status, out)

    def control_locked(self, route, query, doc):
        st = self.state
        region = (doc.get("region") if isinstance(doc, dict) else None) \
            or query.get("region") or st.regions[0]
        if route[1] == "/_fake/param" and region not in st.regions:
            return 400, {"error": "region %s not served" % region}
        if route == ("POST", "/_fake/emf/files"):
            st.emf_files.extend(str(p) for p in doc["paths"])
            return 200, {"files": st.emf_files}
        if route == ("GET", "/_fake/health"):
            return 200, {"ok": True, "port": self.server.server_address[1],
                         "regions": st.regions}
        if route == ("PUT", "/_fake/param"):
            version = st.put_param_locked(region, doc["name"], str(doc["value"]),
                                          doc.get("type", "String"), True)
            return 200, {"Version": version}
        if route == ("GET", "/_fake/param"):
            cur = st.params[region].get(query["name"])
            if cur is None:
                return 404, {"error": "no such parameter"}
            return 200, cur
        if route == ("DELETE", "/_fake/param"):
            found = st.params[region].pop(query["name"], None) is not None
            return (200 if found else 404), {"deleted": found}
        if route == ("GET", "/_fake/counts"):
            return 200, json.loads(json.dumps(st.counts))
        if route == ("GET", "/_fake/requests"):
            since = int(query.get("since", 0))
            return 200, [dict(r) for r in st.records if r["seq"] > since]
        if route == ("POST", "/_fake/fault"):
            name = str(doc["fault"])
            count = doc.get("count")
            seconds = doc.get("seconds")
            if count is not None:
                count = int(count)
            if name == "skew":
                st.skew = float(seconds or 0)
            elif name == "expired_creds":
                st.expired_creds_left = 1 if count is None else count
            elif name == "creds_500":
                st.creds_500_left = 1 if count is None else count
            elif name == "meta_500":
                st.meta_500_left = 1 if count is None else count
            elif name in REQUEST_FAULTS:
                st.faults.append({"fault": name, "remaining": count,
                                  "seconds": None if seconds is None else float(seconds)})
            else:
                return 400, {"error": "unknown fault %r" % name,
                             "faults": list(REQUEST_FAULTS + OTHER_FAULTS)}
            return 200, self.faults_doc()
        if route == ("GET", "/_fake/faults"):
            return 200, self.faults_doc()
        if route == ("DELETE", "/_fake/fault"):
            name = query.get("fault") or doc.get("fault")
            if name == "skew":
                st.skew = 0.0
            elif name == "expired_creds":
                st.expired_creds_left = 0
            elif name == "creds_500":
                st.creds_500_left = 0
            elif name == "meta_500":
                st.meta_500_left = 0
            else:
                st.faults = [f for f in st.faults if f["fault"] != name]
                if name == "stall":
                    st.release_stalls_locked()
            return 200, self.faults_doc()
        if route == ("POST", "/_fake/clear"):
            st.faults, st.skew = [], 0.0
            st.expired_creds_left = st.creds_500_left = st.meta_500_left = 0
            st.release_stalls_locked()
            return 200, self.faults_doc()
        if route == ("POST", "/_fake/reset"):
            st.reset_locked()
            return 200, {"ok": True}
        if route == ("GET", "/_fake/creds"):
            now = time.time()
            return 200, [{"AccessKeyId": c["AccessKeyId"],
                          "SecretAccessKey": c["SecretAccessKey"], "Token": c["Token"],
                          "Expiration": rfc3339(c["expires"]),
                          "expired": now >= c["expires"]} for c in st.issued.values()]
        if route == ("POST", "/_fake/expire_creds"):
            for c in st.issued.values():
                c["expires"] = min(c["expires"], int(time.time()) - 1)
            return 200, {"expired": len(st.issued)}
        if route == ("PUT", "/_fake/config"):
            for key, val in doc.items():
                if key not in st.config:
                    return 400, {"error": "unknown config key %r" % key}
                if key == "error_style" and val not in ("plain", "coral"):
                    return 400, {"error": "error_style is plain or coral"}
                if key == "get_rate_limit" and val is not None and (
                        not isinstance(val, (int, float)) or val <= 0):
                    return 400, {"error": "get_rate_limit is a positive number or null"}
                st.config[key] = val
            return 200, dict(st.config)
        if route == ("GET", "/_fake/config"):
            return 200, dict(st.config)
        return 404, {"error": "no control route %s %s" % route}

    def faults_doc(self):
        st = self.state
        return {"faults": [dict(f) for f in st.faults], "skew": st.skew,
                "expired_creds": st.expired_creds_left, "creds_500": st.creds_500_left,
                "meta_500": st.meta_500_left}


def doc_value(doc):
    return doc["Parameter"]["Value"]


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that gave up (timeouts, stalls, truncation) is not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake SSM + ECS credentials + task metadata.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--auth-token")
    p.add_argument("--creds-ttl", type=int, default=3600)
    p.add_argument("--static-key", action="append")
    p.add_argument("--cluster", default="warden-test")
    p.add_argument("--task-id")
    p.add_argument("--group", default="service:web")
    p.add_argument("--family", default="web")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--error-style", choices=("plain", "coral"), default="plain")
    p.add_argument("--token-len", type=int, default=880)
    p.add_argument("--strict-content-type", dest="strict_content_type",
                   action="store_true", default=True)
    p.add_argument("--no-strict-content-type", dest="strict_content_type",
                   action="store_false")
    p.add_argument("--emf-file", action="append",
                   help="a file of EMF lines (a task's stdout) read at each GetMetricData")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = State(args)
    server = Server((args.host, args.port), Handler)
    server.state = state
    server.verbose = args.verbose
    port = server.server_address[1]

    def stop(_signum, _frame):
        state.stopping.set()
        with state.lock:
            state.release_stalls_locked()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
