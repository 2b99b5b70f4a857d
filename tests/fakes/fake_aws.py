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
import base64
import calendar
import datetime
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
SKEW_LIMIT = 300  # seconds, as AWS
MAX_BODY = 1 << 20
MAX_RECORDS = 10000
HUGE_SIZE = 10 * 1024 * 1024
JSON_11 = "application/x-amz-json-1.1"
JSON_10 = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded"
CW_TARGET_PREFIX = "GraniteServiceVersion20100801."
CW_XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def cw_time(value):
    """A GetMetricData timestamp: epoch seconds (JSON) or ISO 8601 (query)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            text = value.replace("Z", "+00:00")
            return datetime.datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


def query_to_doc(form):
    """The query protocol's flattened members (MetricDataQueries.member.1.Id=..) as JSON."""
    doc = {}
    for key, values in form.items():
        node, parts = doc, key.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "member":
                continue
            nxt = parts[i + 1] if not last else None
            if nxt == "member":
                node = node.setdefault(part, {})
                continue
            if last:
                node[part] = values[0]
            else:
                node = node.setdefault(part, {})

    def lists(node):
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [lists(node[k]) for k in sorted(node, key=int)]
            return {k: lists(v) for k, v in node.items()}
        return node
    return lists(doc)


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def results_to_xml(results, request_id):
    out = ["<GetMetricDataResponse xmlns=\"%s\"><GetMetricDataResult><MetricDataResults>"
           % CW_XMLNS]
    for r in results:
        out.append("<member><Id>%s</Id><Label>%s</Label><Timestamps>" % (
            xml_escape(r["Id"]), xml_escape(r["Label"])))
        out.extend("<member>%s</member>" % utc_iso(t) for t in r["Timestamps"])
        out.append("</Timestamps><Values>")
        out.extend("<member>%r</member>" % v for v in r["Values"])
        out.append("</Values><StatusCode>%s</StatusCode></member>" % r["StatusCode"])
    out.append("</MetricDataResults><Messages/></GetMetricDataResult><ResponseMetadata>"
               "<RequestId>%s</RequestId></ResponseMetadata></GetMetricDataResponse>"
               % request_id)
    return "".join(out)


def utc_iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))

REQUEST_FAULTS = ("throttle", "500", "garbage", "truncated", "stall", "close",
                  "nul", "nul_escaped", "huge")
OTHER_FAULTS = ("skew", "expired_creds", "creds_500", "meta_500")

# Where each error __type lives in Coral style.
CORAL_SERVICE = "com.amazon.coral.service"
CORAL_VALIDATE = "com.amazon.coral.validate"
SSM_NAMESPACE = "com.amazonaws.ssm"
ERROR_NAMESPACE = {
    "MissingAuthenticationTokenException": CORAL_SERVICE,
    "IncompleteSignatureException": CORAL_SERVICE,
    "InvalidSignatureException": CORAL_SERVICE,
    "UnrecognizedClientException": CORAL_SERVICE,
    "ExpiredTokenException": CORAL_SERVICE,
    "ThrottlingException": CORAL_SERVICE,
    "SerializationException": CORAL_SERVICE,
    "UnknownOperationException": CORAL_SERVICE,
    "ValidationException": CORAL_VALIDATE,
}

MSG_BAD_SIGNATURE = ("The request signature we calculated does not match the signature "
                     "you provided. Check your AWS Secret Access Key and signing method. "
                     "Consult the service documentation for details.")
MSG_INVALID_TOKEN = "The security token included in the request is invalid."
MSG_EXPIRED_TOKEN = "The security token included in the request is expired"


def utc_stamp(epoch):
    return time.strftime(SIGV4_TIMESTAMP, time.gmtime(epoch))


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class AwsError(Exception):
    """An error answered in awsJson 1.1 shape."""

    def __init__(self, name, message=None, status=400, member="message"):
        super().__init__(name)
        self.name = name
        self.message = message
        self.status = status
        self.member = member


class State:
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

    # -- parameters -------------------------------------------------------
    def put_param_locked(self, region, name, value, ptype, overwrite=True):
        store = self.params[region]
        cur = store.get(name)
        if cur is not None and not overwrite:
            raise AwsError("ParameterAlreadyExists",
                           "The parameter already exists. To overwrite this value, set "
                           "the overwrite option in the request to true.")
        if cur is None and not ptype:
            raise AwsError("ValidationException",
                           "A parameter type is required when you create a parameter.")
        version = 1 if cur is None else cur["Version"] + 1
        entry = {"Name": name, "Type": ptype or cur["Type"], "Value": value,
                 "Version": version, "LastModifiedDate": round(time.time(), 3),
                 "DataType": "text"}
        history = (cur["History"] if cur is not None else [])
        history.append(dict(entry))
        entry["History"] = history
        store[name] = entry
        return version

    # -- EMF store: what CloudWatch would have made of the fleet's EMF lines ----
    def emf_ingest_locked(self, lines):
        """Keep every valid EMF line: (ts s, namespace, dimension sets, metrics, doc)."""
        n = 0
        for line in lines:
            line = line.strip()
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            try:
                doc = json.loads(line)
                aws = doc["_aws"]
                ts = float(aws["Timestamp"]) / 1000.0
                for directive in aws["CloudWatchMetrics"]:
                    names = [m["Name"] for m in directive["Metrics"]]
                    for dimset in directive["Dimensions"]:
                        dims = tuple(sorted((d, str(doc[d])) for d in dimset))
                        for name in names:
                            if isinstance(doc.get(name), (int, float)):
                                self.emf_points.append(
                                    (ts, directive["Namespace"], dims, name,
                                     float(doc[name])))
                n += 1
            except (ValueError, KeyError, TypeError):
                continue
        return n

    def emf_tail_locked(self):
        for path in self.emf_files:
            try:
                with open(path, "rb") as f:
                    f.seek(self.emf_offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # whole lines only
            self.emf_offsets[path] = self.emf_offsets.get(path, 0) + end
            self.emf_ingest_locked(data[:end].decode("utf-8", "replace").splitlines())

    def take_cloudwatch_fault_locked(self):
        if self.cloudwatch_500_left > 0:
            self.cloudwatch_500_left -= 1
            return True
        return False

    def get_metric_data_locked(self, region, doc):
        """Each MetricStat query's datapoints over [StartTime, EndTime) by Period."""
        if not isinstance(doc, dict) or "MetricDataQueries" not in doc:
            raise AwsError("ValidationException", "MetricDataQueries is required")
        start, end = cw_time(doc.get("StartTime")), cw_time(doc.get("EndTime"))
        if start is None or end is None or end <= start:
            raise AwsError("ValidationException",
                           "The parameter StartTime must be less than the parameter EndTime.")
        results = []
        for q in doc["MetricDataQueries"]:
            stat = q.get("MetricStat")
            if not isinstance(stat, dict):
                raise AwsError("ValidationException", "fake: only MetricStat queries")
            metric = stat.get("Metric") or {}
            period = int(stat.get("Period") or 0)
            if period not in (1, 5, 10, 20, 30) and (period < 60 or period % 60):
                raise AwsError("ValidationException",
                               "The parameter Period must be a multiple of 60.")
            want = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            buckets = {}
            for ts, ns, dims, name, value in self.emf_points:
                if (ns == metric.get("Namespace") and name == metric.get("MetricName")
                        and dims == want and start <= ts < end):
                    k = start + int((ts - start) // period) * period
                    buckets.setdefault(k, []).append(value)
            fn = {"Sum": sum, "SampleCount": len, "Average": lambda v: sum(v) / len(v),
                  "Minimum": min, "Maximum": max}.get(stat.get("Stat"))
            if fn is None:
                raise AwsError("ValidationException", "fake: unsupported Stat")
            keys = sorted(buckets, reverse=doc.get("ScanBy") != "TimestampAscending")
            results.append({"Id": q["Id"], "Label": metric.get("MetricName", ""),
                            "Timestamps": keys,
                            "Values": [float(fn(buckets[k])) for k in keys],
                            "StatusCode": "Complete"})
        return results

    def take_get_token_locked(self, region):
        """False when the region's GetParameter rate limit is exhausted."""
        limit = self.config.get("get_rate_limit")
        if not limit:
            return True
        now = time.monotonic()
        tokens, last = self.buckets.get(region, [float(limit), now])
        tokens = min(float(limit), tokens + (now - last) * float(limit))
        if tokens < 1.0:
            self.buckets[region] = [tokens, now]
            return False
        self.buckets[region] = [tokens - 1.0, now]
        return True

    def arn(self, region, name):
        path = name if name.startswith("/") else "/" + name
        return "arn:aws:ssm:%s:%s:parameter%s" % (region, self.account, path)

    # -- credentials ----------------------------------------------------------
    def issue_creds_locked(self):
        now = time.time()
        if self.expired_creds_left > 0:
            self.expired_creds_left -= 1
            expires = int(now) - 60
        else:
            expires = int(now) + int(self.config["creds_ttl"])
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        akid = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        secret = base64.b64encode(secrets.token_bytes(30)).decode()
        raw = secrets.token_bytes(max(16, int(self.config["token_len"]) * 3 // 4))
        token = base64.b64encode(raw).decode()[: int(self.config["token_len"])]
        cred = {"AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                "expires": expires, "static": False}
        self.issued[akid] = cred
        self.counts["creds_issued"] += 1
        return cred

    def lookup_key_locked(self, akid):
        return self.issued.get(akid) or self.static_keys.get(akid)

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


class PinnedSigV4(SigV4Auth):
    """botocore's SigV4 signer, with the request timestamp pinned to X-Amz-Date."""

    def compute(self, request, amz_date):
        request.context["timestamp"] = amz_date
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        return self.signature(string_to_sign, request), canonical, string_to_sign


def expected_signature(method, target, signed_headers, body, access_key, secret_key,
                       token, region, service, amz_date):
    """What botocore's SigV4 signer computes for this request.

    target is the request-target as received (path and query); signed_headers is
    a list of (lowercase name, value) pairs of the headers named in SignedHeaders,
    repeats in order, "host" among them (else botocore would invent one). The path is used as received (botocore quotes it once more,
    which is the double encoding AWS expects for every service but S3); query
    pairs are percent-decoded and re-encoded canonically by botocore. Returns
    (signature hex, canonical request, string to sign).
    """
    path, _, query = target.partition("?")  # not urlsplit: "//x" is not a netloc here
    params = []
    if query:
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            params.append((urllib.parse.unquote(key), urllib.parse.unquote(value)))
    request = AWSRequest(method=method, url="http://fake" + (path or "/"),
                         data=body, params=params)
    for name, value in signed_headers:
        request.headers[name] = value  # HTTPHeaders appends: repeats are kept
    signer = PinnedSigV4(Credentials(access_key, secret_key, token), service, region)
    return signer.compute(request, amz_date)


AUTH_RE = re.compile(r"^\s*AWS4-HMAC-SHA256\s+(.*)$", re.S)


def parse_authorization(value):
    """Split 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'."""
    m = AUTH_RE.match(value)
    if not m:
        algo = value.split(" ", 1)[0]
        raise AwsError("IncompleteSignatureException",
                       "Unsupported AWS 'algorithm': '%s'." % algo)
    parts = {}
    for item in m.group(1).split(","):
        item = item.strip()
        if "=" in item:
            k, _, v = item.partition("=")
            parts[k.strip()] = v.strip()
    missing = [p for p in ("Credential", "Signature", "SignedHeaders") if p not in parts]
    if missing:
        msg = " ".join("Authorization header requires '%s' parameter." % p for p in missing)
        raise AwsError("IncompleteSignatureException", "%s Authorization=%s" % (msg, value))
    return parts


class Handler(http.server.BaseHTTPRequestHandler):
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

    # -- SSM ----------------------------------------------------------------
    def ssm(self, body):
        st = self.state
        rec = {"t": time.time(), "mono": time.monotonic(), "kind": "ssm",
               "method": self.command, "path": self.path, "op": None, "akid": None,
               "region": None, "status": None, "error": None, "fault": None,
               "target": self.headers.get("X-Amz-Target"),
               "content_type": self.headers.get("Content-Type")}
        target = rec["target"] or ""
        if target.startswith("AmazonSSM."):
            rec["op"] = target[len("AmazonSSM."):]
        # Best effort, so that faulted requests are counted per key too.
        m = re.search(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/",
                      self.headers.get("Authorization") or "")
        if m:
            rec["akid"], rec["region"] = m.group(1), m.group(2)
        with st.lock:
            fault = st.take_request_fault_locked()
            stall_event = st.stall_release
        if fault:
            rec["fault"] = fault["fault"]
            if fault["fault"] == "stall":
                stall_event.wait(fault.get("seconds"))
                if st.stopping.is_set():
                    self.close_connection = True
                    return
                fault = None
        request_id = str(uuid.uuid4())
        try:
            if fault:
                return self.answer_fault(fault["fault"], body, rec, request_id)
            try:
                region, akid = self.authenticate(body, rec)
                rec["region"], rec["akid"] = region, akid
                if rec["op"] == "GetParameter":
                    with st.lock:
                        allowed = st.take_get_token_locked(region)
                    if not allowed:
                        raise AwsError("ThrottlingException", "Rate exceeded")
                result = self.ssm_operation(region, body)
                out = json.dumps(result).encode()
                rec["status"] = 200
                self.send_bytes(200, out, JSON_11, {"x-amzn-RequestId": request_id})
            except AwsError as err:
                rec["status"], rec["error"] = err.status, err.name
                self.send_aws_error(err, request_id)
        finally:
            with st.lock:
                if rec["status"] is None and rec["fault"]:
                    rec["status"] = "none"
                st.record_locked(rec)

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

    def authenticate(self, body, rec, expected_service="ssm"):
        """Verify SigV4 exactly as botocore signs; return (region, akid) or raise."""
        st = self.state
        auth = self.headers.get("Authorization")
        if not auth:
            raise AwsError("MissingAuthenticationTokenException",
                           "Request is missing Authentication Token")
        parts = parse_authorization(auth)
        amz_date = self.headers.get("X-Amz-Date")
        if not amz_date:
            raise AwsError("IncompleteSignatureException",
                           "Authorization header requires existence of either a "
                           "'X-Amz-Date' or a 'Date' header. Authorization=%s" % auth)
        try:
            req_epoch = calendar.timegm(time.strptime(amz_date, SIGV4_TIMESTAMP))
        except ValueError:
            raise AwsError("IncompleteSignatureException",
                           "Date must be in ISO-8601 'basic format'. Got '%s'. See "
                           "http://en.wikipedia.org/wiki/ISO_8601" % amz_date)
        scope = parts["Credential"].split("/")
        if len(scope) != 5:
            raise AwsError("IncompleteSignatureException",
                           "Credential must have exactly 5 slash-delimited elements, "
                           "e.g. keyid/date/region/service/term, got '%s'"
                           % parts["Credential"])
        akid, scope_date, region, service, terminator = scope
        rec["akid"] = akid
        if terminator != "aws4_request":
            raise AwsError("InvalidSignatureException",
                           "Credential should be scoped with a valid terminator: "
                           "'aws4_request', not '%s'. " % terminator)
        if service != expected_service:
            raise AwsError("InvalidSignatureException",
                           "Credential should be scoped to correct service: '%s'. "
                           % expected_service)
        if region not in st.regions:
            raise AwsError("InvalidSignatureException",
                           "Credential should be scoped to a valid region, not '%s'. "
                           % region)
        if scope_date != amz_date[:8]:
            raise AwsError("InvalidSignatureException",
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                           "version of date from HTTP: '%s' != '%s', from '%s'."
                           % (scope_date, amz_date[:8], amz_date))
        signed = [h for h in parts["SignedHeaders"].split(";") if h]
        if "host" not in signed:
            raise AwsError("InvalidSignatureException",
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                           "Authorization.")
        with st.lock:
            cred = st.lookup_key_locked(akid)
            cred = dict(cred) if cred else None
        if cred is None:
            raise AwsError("UnrecognizedClientException", MSG_INVALID_TOKEN)
        token = self.headers.get("X-Amz-Security-Token")
        if (cred["Token"] or None) != (token or None):
            raise AwsError("UnrecognizedClientException", MSG_INVALID_TOKEN)
        if cred["expires"] is not None and time.time() >= cred["expires"]:
            raise AwsError("ExpiredTokenException", MSG_EXPIRED_TOKEN)
        now = st.now()
        if req_epoch < now - SKEW_LIMIT:
            raise AwsError("InvalidSignatureException",
                           "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                           % (amz_date, utc_stamp(now - SKEW_LIMIT), utc_stamp(now)))
        if req_epoch > now + SKEW_LIMIT:
            raise AwsError("InvalidSignatureException",
                           "Signature not yet current: %s is still later than %s (%s + 5 min.)"
                           % (amz_date, utc_stamp(now + SKEW_LIMIT), utc_stamp(now)))
        # Rebuild the request from exactly what was signed, and let botocore sign it.
        pairs = []
        for name in signed:
            for value in self.headers.get_all(name) or [""]:
                pairs.append((name, value))
        expected, canonical, string_to_sign = expected_signature(
            self.command, self.path, pairs, body, akid, cred["SecretAccessKey"],
            cred["Token"], region, expected_service, amz_date)
        sha_hdr = self.headers.get("X-Amz-Content-SHA256")
        body_ok = sha_hdr is None or sha_hdr == hashlib.sha256(body).hexdigest()
        if not (body_ok and hmac.compare_digest(expected.encode(),
                                                parts["Signature"].encode())):
            raise AwsError("InvalidSignatureException",
                           "%s\n\nThe Canonical String for this request should have been\n"
                           "'%s'\n\nThe String-to-Sign should have been\n'%s'\n"
                           % (MSG_BAD_SIGNATURE, canonical, string_to_sign))
        return region, akid

    def ssm_operation(self, region, body):
        st = self.state
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if st.config["strict_content_type"] and ctype != JSON_11:
            raise AwsError("UnknownOperationException")
        target = self.headers.get("X-Amz-Target") or ""
        if not target.startswith("AmazonSSM."):
            raise AwsError("UnknownOperationException")
        op = target[len("AmazonSSM."):]
        handler = {"GetParameter": self.op_get_parameter,
                   "GetParameters": self.op_get_parameters,
                   "PutParameter": self.op_put_parameter,
                   "DeleteParameter": self.op_delete_parameter}.get(op)
        if handler is None:
            raise AwsError("UnknownOperationException")
        try:
            doc = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            raise AwsError("SerializationException")
        if not isinstance(doc, dict):
            raise AwsError("SerializationException")
        return handler(region, doc)

    def present(self, region, entry, decrypt, selector=None):
        value = entry["Value"]
        if entry["Type"] == "SecureString" and not decrypt:
            blob = b"\x01\x02\x02\x00x" + hashlib.sha256(
                ("%s:%s:%d" % (entry["Name"], value, entry["Version"])).encode()).digest()
            value = base64.b64encode(blob).decode()
        out = {"Name": entry["Name"], "Type": entry["Type"], "Value": value,
               "Version": entry["Version"], "LastModifiedDate": entry["LastModifiedDate"],
               "ARN": self.state.arn(region, entry["Name"]), "DataType": entry["DataType"]}
        if selector:
            out["Selector"] = selector
        return out

    def lookup(self, region, name):
        """(entry, selector) for 'name' or 'name:version'; raise like GetParameter."""
        selector = None
        base = name
        if ":" in name:
            base, _, sel = name.rpartition(":")
            selector = ":" + sel
        with self.state.lock:
            cur = self.state.params[region].get(base)
            cur = {**cur, "History": list(cur["History"])} if cur else None
        if cur is None:
            raise AwsError("ParameterNotFound", None)
        if selector is None:
            return cur, None
        if not selector[1:].isdigit():
            raise AwsError("ParameterNotFound", None)  # labels are not modelled
        version = int(selector[1:])
        for h in cur["History"]:
            if h["Version"] == version:
                return h, selector
        raise AwsError("ParameterVersionNotFound",
                       "Systems Manager could not find version %d of %s. Verify the "
                       "version and try again." % (version, base))

    def op_get_parameter(self, region, doc):
        name = doc.get("Name")
        if not isinstance(name, str) or not name:
            raise AwsError("ValidationException",
                           "1 validation error detected: Value null at 'name' failed to "
                           "satisfy constraint: Member must not be null")
        entry, selector = self.lookup(region, name)
        return {"Parameter": self.present(region, entry, bool(doc.get("WithDecryption")),
                                          selector)}

    def op_get_parameters(self, region, doc):
        names = doc.get("Names")
        if not isinstance(names, list) or not names or len(names) > 10:
            raise AwsError("ValidationException",
                           "1 validation error detected: Value at 'names' failed to satisfy "
                           "constraint: Member must have length less than or equal to 10 "
                           "and greater than or equal to 1")
        found, invalid = [], []
        for name in names:
            try:
                entry, selector = self.lookup(region, str(name))
                found.append(self.present(region, entry, bool(doc.get("WithDecryption")),
                                          selector))
            except AwsError:
                invalid.append(name)
        return {"Parameters": found, "InvalidParameters": invalid}

    def op_put_parameter(self, region, doc):
        name, value, ptype = doc.get("Name"), doc.get("Value"), doc.get("Type")
        if not isinstance(name, str) or not name or ":" in name:
            raise AwsError("ValidationException",
                           "Parameter name must be a fully qualified name.")
        if not isinstance(value, str) or not value:
            raise AwsError("ValidationException",
                           "1 validation error detected: Value at 'value' failed to "
                           "satisfy constraint: Member must have length greater than or "
                           "equal to 1")
        if len(value) > 4096:
            raise AwsError("ValidationException",
                           "Standard tier parameters support a maximum parameter value of "
                           "4096 characters. To create a larger parameter value, upgrade "
                           "the parameter to use the advanced-parameter tier.")
        if ptype is not None and ptype not in ("String", "StringList", "SecureString"):
            raise AwsError("ValidationException",
                           "1 validation error detected: Value '%s' at 'type' failed to "
                           "satisfy constraint: Member must satisfy enum value set: "
                           "[SecureString, StringList, String]" % ptype)
        with self.state.lock:
            version = self.state.put_param_locked(region, name, value, ptype,
                                                  bool(doc.get("Overwrite")))
        return {"Version": version, "Tier": "Standard"}

    def op_delete_parameter(self, region, doc):
        name = doc.get("Name")
        with self.state.lock:
            if not isinstance(name, str) or name not in self.state.params[region]:
                raise AwsError("ParameterNotFound", None)
            del self.state.params[region][name]
        return {}

    # -- container credentials ----------------------------------------------------
    def creds(self, path):
        st = self.state
        rec = {"t": time.time(), "mono": time.monotonic(), "kind": "creds",
               "method": "GET", "path": path, "op": None, "akid": None, "region": None,
               "status": None, "error": None, "fault": None, "target": None,
               "content_type": None}
        with st.lock:
            st.counts["creds_requests"] += 1
            want = st.config["auth_token"]
            got = self.headers.get("Authorization")
            if want and not got:
                status, doc = 401, {"code": "AccessDenied",
                                    "message": "Authorization header is missing"}
            elif want and not hmac.compare_digest(got.encode(), want.encode()):
                status, doc = 403, {"code": "AccessDenied",
                                    "message": "Authorization token is invalid"}
            elif st.creds_500_left > 0:
                st.creds_500_left -= 1
                rec["fault"] = "creds_500"
                status, doc = 500, {"code": "InternalError",
                                    "message": "Internal error fetching credentials"}
            else:
                cred = st.issue_creds_locked()
                status = 200
                doc = {"RoleArn": "arn:aws:iam::%s:role/warden-task-role" % st.account,
                       "AccessKeyId": cred["AccessKeyId"],
                       "SecretAccessKey": cred["SecretAccessKey"],
                       "Token": cred["Token"],
                       "Expiration": rfc3339(cred["expires"])}
                rec["akid"] = cred["AccessKeyId"]
            rec["status"] = status
            st.record_locked(rec)
        self.send_json(status, doc)

    # -- task metadata -----------------------------------------------------------
    def meta_variant(self, path):
        """/meta/t/<cluster>/<service>/<task id>[/task]: one fake, many tasks."""
        parts = path.split("/")[3:]
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "task") \
                or not all(parts[:3]):
            return self.send_json(404, {"message": "not found: %s" % path})
        return self.meta("/meta/task" if len(parts) == 4 else "/meta",
                         (parts[0], "service:" + parts[1], parts[2]))

    def meta(self, path, variant=None):
        st = self.state
        region = st.regions[0]
        with st.lock:
            cluster, task_id = st.config["cluster"], st.config["task_id"]
            group, family = st.config["task_group"], st.config["task_family"]
        if variant is not None:
            cluster, group, task_id = variant
        with st.lock:
            failing = st.meta_500_left > 0
            if failing:
                st.meta_500_left -= 1
        cluster_arn = "arn:aws:ecs:%s:%s:cluster/%s" % (region, st.account, cluster)
        task_arn = "arn:aws:ecs:%s:%s:task/%s/%s" % (region, st.account, cluster, task_id)
        container = {
            "DockerId": "%s-0000000001" % task_id, "Name": "warden",
            "DockerName": "warden", "Image": "warden:test", "Labels": {
                "com.amazonaws.ecs.cluster": cluster_arn,
                "com.amazonaws.ecs.container-name": "warden",
                "com.amazonaws.ecs.task-arn": task_arn,
                "com.amazonaws.ecs.task-definition-family": family,
                "com.amazonaws.ecs.task-definition-version": "1"},
            "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
            "Limits": {"CPU": 2}, "Type": "NORMAL",
            "ContainerARN": "arn:aws:ecs:%s:%s:container/%s/%s/%s" % (
                region, st.account, cluster, task_id, uuid.uuid4()),
            "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["127.0.0.1"]}]}
        if path == "/meta/task":
            doc = {"Cluster": cluster_arn, "TaskARN": task_arn, "Family": family,
                   "Revision": "1", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
                   "Limits": {"CPU": 0.25, "Memory": 512},
                   "PullStartedAt": rfc3339(time.time() - 60),
                   "PullStoppedAt": rfc3339(time.time() - 55),
                   "AvailabilityZone": region + "a", "LaunchType": "FARGATE",
                   "Containers": [container], "ClockDrift": {
                       "ClockErrorBound": 0.5, "ReferenceTimestamp": rfc3339(time.time()),
                       "ClockSynchronizationStatus": "SYNCHRONIZED"}}
            if group:
                doc["Group"] = group
        else:
            doc = container
        status = 200
        if failing:
            status, doc = 500, {"code": "InternalError", "message": "metadata unavailable"}
        with st.lock:
            st.counts["meta_requests"] += 1
            st.record_locked({"t": time.time(), "mono": time.monotonic(), "kind": "meta",
                              "method": "GET", "path": path, "op": None, "akid": None,
                              "region": None, "status": status, "error": None,
                              "fault": "meta_500" if failing else None,
                              "target": None, "content_type": None})
        self.send_json(status, doc)


    # -- CloudWatch (GetMetricData from the EMF lines the fleet wrote) --------
    def is_cloudwatch(self, body):
        target = self.headers.get("X-Amz-Target") or ""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return target.startswith(CW_TARGET_PREFIX) or (
            ctype == FORM and b"Action=GetMetricData" in body)

    def emf_ingest_request(self, body):
        with self.state.lock:
            n = self.state.emf_ingest_locked(body.decode("utf-8", "replace").splitlines())
        self.send_json(200, {"ingested": n})

    def cloudwatch(self, body):
        """GetMetricData, JSON 1.0 (current botocore, warden) or query (Debian botocore)."""
        st = self.state
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        query_protocol = ctype == FORM
        request_id = str(uuid.uuid4())
        rec = {"t": time.time(), "mono": time.monotonic(), "kind": "cloudwatch",
               "method": self.command, "path": self.path, "op": "GetMetricData",
               "akid": None, "region": None, "status": None, "error": None, "fault": None,
               "target": self.headers.get("X-Amz-Target"), "content_type": ctype}
        try:
            region, akid = self.authenticate(body, rec, "monitoring")
            rec["region"], rec["akid"] = region, akid
            if query_protocol:
                doc = query_to_doc(urllib.parse.parse_qs(body.decode("utf-8")))
            else:
                if ctype != JSON_10 or (self.headers.get("X-Amz-Target") or "") \
                        != CW_TARGET_PREFIX + "GetMetricData":
                    raise AwsError("UnknownOperationException")
                try:
                    doc = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise AwsError("SerializationException")
            with st.lock:
                st.emf_tail_locked()
                with_fault = st.take_cloudwatch_fault_locked()
                results = st.get_metric_data_locked(region, doc)
            if with_fault:
                raise AwsError("InternalServiceError", "fake: injected", 500)
            rec["status"] = 200
            if query_protocol:
                self.send_bytes(200, results_to_xml(results, request_id).encode(), "text/xml",
                                {"x-amzn-RequestId": request_id})
            else:
                self.send_bytes(200, json.dumps({"MetricDataResults": results,
                                                 "Messages": []}).encode(), JSON_10,
                                {"x-amzn-RequestId": request_id})
        except AwsError as err:
            rec["status"], rec["error"] = err.status, err.name
            if query_protocol:
                xml = ("<ErrorResponse xmlns=\"%s\"><Error><Type>Sender</Type><Code>%s</Code>"
                       "<Message>%s</Message></Error><RequestId>%s</RequestId>"
                       "</ErrorResponse>" % (CW_XMLNS, err.name, xml_escape(err.message or ""),
                                             request_id))
                self.send_bytes(err.status, xml.encode(), "text/xml",
                                {"x-amzn-RequestId": request_id})
            else:
                doc = {"__type": err.name}
                if err.message is not None:
                    doc["message"] = err.message
                self.send_bytes(err.status, json.dumps(doc).encode(), JSON_10,
                                {"x-amzn-RequestId": request_id,
                                 "x-amzn-query-error": "%s;Sender" % err.name})
        finally:
            with st.lock:
                st.record_locked(rec)

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
