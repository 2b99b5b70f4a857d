"""The fake AWS's SigV4 check: the signature recomputed by botocore's own signer
over the request as received (see fake_aws.py "Authentication")."""

import calendar
import hashlib
import hmac
import re
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fake_common import (AwsError, MSG_BAD_SIGNATURE, MSG_EXPIRED_TOKEN, MSG_INVALID_TOKEN,
                         SIGV4_TIMESTAMP, SKEW_LIMIT, utc_stamp)


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


class SigV4Handler:
    """Handler's authentication of a request: SigV4 checked by botocore."""

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
