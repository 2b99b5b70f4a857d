#!/usr/bin/python3
"""Write the hand-made SigV4 golden cases of tests/unit/test_sigv4.c with botocore.

The expected values must not come from warden's own signer, so this script
signs each request with botocore's SigV4Auth (Debian 12: python3-botocore
1.29) and writes, per case, into tests/data/sigv4/<case>/:

  <case>.req     the request, in the AWS suite's .req format (warden's input)
  <case>.params  the signing parameters, one key=value a line
  <case>.creq    botocore's canonical request
  <case>.sts     botocore's string to sign
  <case>.authz   botocore's Authorization header value
  <case>.added   the headers botocore added to the request, "Name:value" a line

Run: /usr/bin/python3 tests/data/sigv4/make_golden.py   (re-running is idempotent)
The credentials are fake; nothing here talks to AWS.
"""
import datetime
import os
import sys
import types

import botocore
from botocore import auth as botocore_auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))

AMZ_DATE = "20240229T235959Z"  # a leap day, one second before midnight UTC
FIXED_NOW = datetime.datetime(2024, 2, 29, 23, 59, 59)


class _FixedDatetime(datetime.datetime):
    """botocore's SigV4Auth.add_auth reads datetime.datetime.utcnow(): pin it."""

    @classmethod
    def utcnow(cls):
        return FIXED_NOW


botocore_auth.datetime = types.SimpleNamespace(datetime=_FixedDatetime)


class _RecordingSigV4Auth(SigV4Auth):
    """SigV4Auth that keeps its canonical request and string to sign."""

    def canonical_request(self, request):
        self.recorded_creq = super().canonical_request(request)
        return self.recorded_creq

    def string_to_sign(self, request, canonical_request):
        self.recorded_sts = super().string_to_sign(request, canonical_request)
        return self.recorded_sts


CASES = [
    {
        # What warden's SSM client sends: GetParameter with temporary
        # credentials (ECS task role), so X-Amz-Security-Token is signed.
        "name": "ssm-get-parameter",
        "method": "POST",
        "host": "ssm.eu-west-1.amazonaws.com",
        "target": "/",
        "headers": [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Host", "ssm.eu-west-1.amazonaws.com"),
            ("X-Amz-Target", "AmazonSSM.GetParameter"),
        ],
        "body": b'{"Name":"/platform/prod/active-region","WithDecryption":false}',
        "access_key_id": "ASIAWARDENEXAMPLE0001",
        "secret_access_key": "wardenFakeSecretKey/0123456789+abcdefghijk",
        "session_token": "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQDwardenfaketoken+/=",
        "region": "eu-west-1",
        "service": "ssm",
    },
    {
        # Non-S3 path rules checked against botocore rather than the suite:
        # an already-encoded path is encoded again (%20 -> %2520), dot
        # segments and "//" go, raw UTF-8 is encoded, '~' stays, and the
        # query is sorted by key then value. Long-term keys: no token.
        "name": "get-path-double-encode",
        "method": "GET",
        "host": "example.amazonaws.com",
        "target": "/a%20b/./c//d/../e~f/\u1234/?b=2&a=x%20y&a=1",
        "headers": [
            ("Host", "example.amazonaws.com"),
            ("My-Header", "  two   words\there "),
        ],
        "body": b"",
        "access_key_id": "AKIAWARDENEXAMPLE002",
        "secret_access_key": "wardenFakeSecretKey/secondCase+0123456789",
        "session_token": "",
        "region": "us-west-2",
        "service": "execute-api",
    },
]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make(case):
    creds = Credentials(case["access_key_id"], case["secret_access_key"],
                        case["session_token"] or None)
    url = "https://" + case["host"] + case["target"]
    request = AWSRequest(method=case["method"], url=url,
                         headers=dict(case["headers"]), data=case["body"])
    signer = _RecordingSigV4Auth(creds, case["service"], case["region"])
    before = set(k.lower() for k in request.headers.keys())
    signer.add_auth(request)
    authz = request.headers["Authorization"]
    added = [(k, v) for k, v in request.headers.items()
             if k.lower() not in before]

    out = os.path.join(HERE, case["name"])
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, case["name"])
    req = "%s %s HTTP/1.1\n" % (case["method"], case["target"])
    req += "\n".join("%s:%s" % hv for hv in case["headers"])
    req = req.encode("utf-8")
    if case["body"]:
        req += b"\n\n" + case["body"]
    write(stem + ".req", req)
    params = [
        ("access_key_id", case["access_key_id"]),
        ("secret_access_key", case["secret_access_key"]),
        ("session_token", case["session_token"]),
        ("token_mode", "signed"),
        ("region", case["region"]),
        ("service", case["service"]),
        ("amz_date", AMZ_DATE),
    ]
    write(stem + ".params", "".join("%s=%s\n" % kv for kv in params).encode())
    write(stem + ".creq", signer.recorded_creq.encode("utf-8"))
    write(stem + ".sts", signer.recorded_sts.encode("utf-8"))
    write(stem + ".authz", authz.encode("utf-8"))
    write(stem + ".added", "".join("%s:%s\n" % kv for kv in added).encode("utf-8"))
    print("%s: %s" % (case["name"], authz.rsplit("=", 1)[1]))


def main():
    print("botocore %s" % botocore.__version__, file=sys.stderr)
    for case in CASES:
        make(case)


if __name__ == "__main__":
    main()
