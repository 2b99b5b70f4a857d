#!/usr/bin/python3
"""Proves tests/fakes/fake_aws.py faithful: the real AWS CLI (Debian's awscli v2,
/usr/bin/aws) and botocore's own signer talk to it exactly as they talk to AWS.

The CLI gets its credentials only from the fake's ECS container credentials
endpoint (no config files, no AWS_* keys), so a CLI success proves the
credentials shape and the SigV4 verification together.
Run: /usr/bin/python3 tests/integration/test_fake_aws.py
"""

import email.utils
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
from fake_aws_client import FakeAws  # noqa: E402

AWS_CLI = "/usr/bin/aws"
TOKEN = "container-token-0123456789"
NAME = "/platform/test/active-region"
STATIC_AKID, STATIC_SECRET = "AKIAWARDENSTATIC0001", "static/secret+key"
BAD_SIG = ("The request signature we calculated does not match the signature you "
           "provided. Check your AWS Secret Access Key and signing method.")


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


class FakeAwsTest(unittest.TestCase):
    fake = None

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(AWS_CLI):
            raise unittest.SkipTest("Debian awscli (/usr/bin/aws) is not installed")
        cls.home = tempfile.mkdtemp(prefix="fake-aws-test-")
        cls.fake = FakeAws(regions=("us-east-1", "us-west-2"), auth_token=TOKEN,
                           static_keys=[(STATIC_AKID, STATIC_SECRET)])

    @classmethod
    def tearDownClass(cls):
        if cls.fake:
            cls.fake.stop()
        shutil.rmtree(cls.home, ignore_errors=True)

    def setUp(self):
        self.fake.reset()
        self.fake.config(error_style="plain")

    # -- helpers -------------------------------------------------------------------
    def cli(self, *args, token=None, extra_env=None, region=None):
        env = self.fake.client_env(self.home, token=token)
        # Only --endpoint-url points the CLI at the fake (as the brief's commands do).
        env.pop("AWS_ENDPOINT_URL", None)
        env.pop("AWS_ENDPOINT_URL_SSM", None)
        env["AWS_MAX_ATTEMPTS"] = "1"
        env["AWS_RETRY_MODE"] = "standard"
        if region:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
        env.update(extra_env or {})
        proc = subprocess.run(
            [AWS_CLI, "--endpoint-url", self.fake.url, "--cli-read-timeout", "5",
             "--cli-connect-timeout", "5", "--output", "json", "ssm"] + list(args),
            env=env, capture_output=True, text=True, timeout=60)
        out = None
        if proc.returncode == 0 and proc.stdout.strip():
            out = json.loads(proc.stdout)
        return proc.returncode, out, proc.stderr

    def creds(self):
        status, doc = self.fake.fetch_creds()
        self.assertEqual(status, 200, doc)
        return doc

    def call(self, op="GetParameter", payload=None, creds=None, **kw):
        c = creds or self.creds()
        return self.fake.ssm_call(op, payload if payload is not None else {"Name": NAME},
                                  kw.pop("access_key", c["AccessKeyId"]),
                                  kw.pop("secret_key", c["SecretAccessKey"]),
                                  kw.pop("token", c["Token"]), **kw)

    def assert_aws_error(self, result, status, type_, message_re=None):
        code, headers, doc = result
        self.assertEqual(code, status, doc)
        self.assertIsInstance(doc, dict, doc)
        self.assertEqual(doc.get("__type"), type_, doc)
        self.assertTrue(headers.get("x-amzn-requestid"), headers)
        self.assertEqual(headers.get("content-type"), "application/x-amz-json-1.1")
        self.assertTrue(headers.get("date"), headers)
        if message_re:
            msg = doc.get("message", doc.get("Message", ""))
            self.assertRegex(msg, message_re)
        return doc

    # -- the AWS CLI round trip ----------------------------------------------------------
    def test_cli_put_get_versions_and_not_found(self):
        rc, out, err = self.cli("put-parameter", "--name", NAME, "--value", "us-east-1",
                                "--type", "String", "--overwrite")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, {"Version": 1, "Tier": "Standard"})

        rc, out, err = self.cli("get-parameter", "--name", NAME)
        self.assertEqual(rc, 0, err)
        p = out["Parameter"]
        self.assertEqual((p["Name"], p["Value"], p["Type"], p["Version"], p["DataType"]),
                         (NAME, "us-east-1", "String", 1, "text"))
        self.assertEqual(p["ARN"],
                         "arn:aws:ssm:us-east-1:123456789012:parameter" + NAME)
        self.assertIn("LastModifiedDate", p)

        rc, out, err = self.cli("put-parameter", "--name", NAME, "--value", "us-west-2",
                                "--type", "String", "--overwrite")
        self.assertEqual((rc, out["Version"]), (0, 2), err)
        # (Further reads by botocore-signed requests: the CLI costs ~1 s a call.)
        doc = self.call()[2]["Parameter"]
        self.assertEqual((doc["Value"], doc["Version"]), ("us-west-2", 2))
        doc = self.call(payload={"Name": NAME + ":1"})[2]["Parameter"]
        self.assertEqual((doc["Value"], doc["Version"], doc["Selector"]), ("us-east-1", 1, ":1"))
        self.assert_aws_error(self.call(payload={"Name": NAME + ":7"}), 400,
                              "ParameterVersionNotFound")
        self.assert_aws_error(
            self.call("PutParameter", {"Name": NAME, "Value": "x", "Type": "String"}), 400,
            "ParameterAlreadyExists", "^The parameter already exists. To overwrite this value")

        rc, out, err = self.cli("get-parameter", "--name", "/platform/test/missing")
        self.assertIn(rc, (254, 255), err)
        self.assertIn("(ParameterNotFound)", err)

        # Every SSM call was signed with credentials the fake issued to the CLI.
        counts = self.fake.get_counts()
        self.assertEqual(counts["by_op"], {"PutParameter": 3, "GetParameter": 5})
        self.assertGreaterEqual(counts["creds_issued"], 1)
        issued = {c["AccessKeyId"] for c in self.fake.issued_creds()}
        self.assertTrue(set(counts["by_key"]) <= issued, (counts, issued))
        self.assertNotIn("InvalidSignatureException", counts["by_error"])
        recs = self.fake.get_requests(kind="ssm")
        self.assertEqual(len(recs), 8)
        self.assertTrue(all(r["content_type"] == "application/x-amz-json-1.1" for r in recs))
        monos = [r["mono"] for r in recs]
        self.assertEqual(monos, sorted(monos))

    def test_cli_securestring_getparameters_and_regions(self):
        put = self.call("PutParameter", {"Name": "/s/secret", "Value": "hunter2",
                                         "Type": "SecureString"})
        self.assertEqual(put[2], {"Version": 1, "Tier": "Standard"})
        doc = self.call(payload={"Name": "/s/secret"})[2]["Parameter"]
        self.assertEqual(doc["Type"], "SecureString")
        self.assertNotEqual(doc["Value"], "hunter2")
        rc, out, err = self.cli("get-parameter", "--name", "/s/secret", "--with-decryption")
        self.assertEqual(out["Parameter"]["Value"], "hunter2", err)

        self.fake.set_param(NAME, "us-east-1")
        rc, out, err = self.cli("get-parameters", "--names", NAME, "/nope")
        self.assertEqual(rc, 0, err)
        self.assertEqual([p["Name"] for p in out["Parameters"]], [NAME])
        self.assertEqual(out["InvalidParameters"], ["/nope"])

        # Per-region stores: the parameter exists in us-east-1 only.
        self.assert_aws_error(self.call(region="us-west-2"), 400, "ParameterNotFound")
        self.fake.set_param(NAME, "us-west-2", region="us-west-2")
        rc, out, err = self.cli("get-parameter", "--name", NAME, region="us-west-2")
        self.assertEqual(out["Parameter"]["Value"], "us-west-2", err)
        self.assertTrue(out["Parameter"]["ARN"].startswith("arn:aws:ssm:us-west-2:"))
        # A region the fake does not serve is refused like AWS refuses a wrong scope.
        rc, _, err = self.cli("get-parameter", "--name", NAME, region="eu-west-1")
        self.assertEqual(rc, 254)
        self.assertIn("InvalidSignatureException", err)
        self.assertIn("Credential should be scoped to a valid region, not 'eu-west-1'", err)

    def test_cli_wrong_container_token_fails(self):
        self.fake.set_param(NAME, "us-east-1")
        rc, _, err = self.cli("get-parameter", "--name", NAME, token="wrong-token")
        self.assertNotEqual(rc, 0)
        self.assertRegex(err.lower(), "credential")
        counts = self.fake.get_counts()
        self.assertEqual(counts["ssm_total"], 0)
        self.assertEqual(counts["creds_issued"], 0)
        self.assertGreaterEqual(counts["creds_requests"], 1)
        statuses = {r["status"] for r in self.fake.get_requests(kind="creds")}
        self.assertEqual(statuses, {403})

    def test_cli_throttle(self):
        self.fake.set_param(NAME, "us-east-1")
        self.fake.inject("throttle", count=1)
        rc, _, err = self.cli("get-parameter", "--name", NAME)
        self.assertEqual(rc, 254, err)
        self.assertIn("(ThrottlingException)", err)
        self.assertIn("Rate exceeded", err)
        self.assertEqual(self.fake.get_counts()["by_fault"], {"throttle": 1})
        rc, out, err = self.cli("get-parameter", "--name", NAME)   # fault consumed
        self.assertEqual(rc, 0, err)

    def test_cli_put_parameter_json_value_as_flag_set_writes_it(self):
        """`aws ssm put-parameter --endpoint-url` with the value `warden flag set`
        writes: accepted, signed by the CLI, Version +1 on every overwrite."""
        value = json.dumps({"active_region": "us-west-2", "epoch": 7, "set_at":
                            "2026-01-01T00:00:00.000Z", "by": "test", "reason": "drill"})
        for version in (1, 2):
            rc, out, err = self.cli("put-parameter", "--name", NAME, "--value", value,
                                    "--type", "String", "--overwrite", region="us-west-2")
            self.assertEqual(rc, 0, err)
            self.assertEqual(out["Version"], version)
        doc = self.call(payload={"Name": NAME}, region="us-west-2")[2]["Parameter"]
        self.assertEqual((json.loads(doc["Value"])["epoch"], doc["Version"]), (7, 2))
        self.assertEqual(self.fake.get_counts()["by_error"], {})

    def test_get_rate_limit_per_region(self):
        """get_rate_limit: a token bucket per region for GetParameter, as SSM's quota."""
        self.fake.set_param(NAME, "us-east-1")
        self.fake.set_param(NAME, "us-east-1", region="us-west-2")
        self.fake.config(get_rate_limit=2)
        try:
            east = [self.call()[0] for _ in range(12)]
            # The bucket holds 2; the calls take a few ms each, refilling at most one.
            self.assertEqual(east[:2], [200, 200], east)
            self.assertIn(east.count(200), (2, 3), east)
            self.assertEqual(east.count(400), 12 - east.count(200), east)
            self.assert_aws_error(self.call(), 400, "ThrottlingException", "^Rate exceeded$")
            # Another region has its own bucket; PutParameter is not limited.
            self.assertEqual(self.call(region="us-west-2")[0], 200)
            put = self.call("PutParameter", {"Name": NAME, "Value": "us-west-2",
                                             "Type": "String", "Overwrite": True})
            self.assertEqual(put[0], 200, put)
            time.sleep(0.6)  # refills at 2/s: at least one more token
            self.assertEqual(self.call()[0], 200)
        finally:
            self.fake.config(get_rate_limit=None)
        self.assertEqual([self.call()[0] for _ in range(10)], [200] * 10)

    def test_cli_parses_coral_style_errors(self):
        self.fake.config(error_style="coral")
        rc, _, err = self.cli("get-parameter", "--name", "/missing")
        self.assertEqual(rc, 254, err)
        self.assertIn("(ParameterNotFound)", err)
        code, headers, doc = self.call(payload={"Name": "/missing"})
        self.assertEqual(doc["__type"], "com.amazonaws.ssm#ParameterNotFound")
        self.assertEqual(headers["x-amzn-errortype"],
                         "ParameterNotFound:http://internal.amazon.com/coral/com.amazonaws.ssm/")
        code, headers, doc = self.call(access_key="AKIAUNKNOWNKEY000000")
        self.assertEqual(doc["__type"], "com.amazon.coral.service#UnrecognizedClientException")

    # -- SigV4 verification with botocore-signed raw requests ------------------------------------
    def test_valid_signature_and_plain_not_found_shape(self):
        self.fake.set_param(NAME, "us-east-1")
        code, headers, doc = self.call()
        self.assertEqual(code, 200, doc)
        self.assertEqual(doc["Parameter"]["Value"], "us-east-1")
        self.assertTrue(headers["x-amzn-requestid"])
        self.assertEqual(headers["content-type"], "application/x-amz-json-1.1")
        doc = self.assert_aws_error(self.call(payload={"Name": "/missing"}), 400,
                                    "ParameterNotFound")
        self.assertEqual(doc, {"__type": "ParameterNotFound"})

    def test_wrong_secret_is_invalid_signature(self):
        c = self.creds()
        doc = self.assert_aws_error(
            self.call(creds=c, secret_key=c["SecretAccessKey"] + "x"),
            400, "InvalidSignatureException", re.escape(BAD_SIG))
        self.assertIn("The Canonical String for this request should have been\n'POST\n/\n",
                      doc["message"])
        self.assertIn("The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n",
                      doc["message"])
        # A body changed after signing is caught too.
        from fake_aws_client import sign_ssm_request
        body = json.dumps({"Name": NAME}).encode()
        hdrs = sign_ssm_request(self.fake.url, "GetParameter", body, c["AccessKeyId"],
                                c["SecretAccessKey"], c["Token"])
        code, _, data = self.fake.request("POST", "/", body=body.replace(b"}", b" }"),
                                          headers=hdrs)
        self.assertEqual((code, json.loads(data)["__type"]),
                         (400, "InvalidSignatureException"))

    def test_unknown_key_wrong_token_missing_auth(self):
        self.assert_aws_error(self.call(access_key="AKIAIOSFODNN7EXAMPLE", token=None),
                              400, "UnrecognizedClientException",
                              r"^The security token included in the request is invalid\.$")
        self.assert_aws_error(self.call(token="not-the-issued-token"), 400,
                              "UnrecognizedClientException")
        code, headers, data = self.fake.request(
            "POST", "/", body=b"{}", headers={"Content-Type": "application/x-amz-json-1.1",
                                              "X-Amz-Target": "AmazonSSM.GetParameter"})
        self.assertEqual((code, json.loads(data)),
                         (400, {"__type": "MissingAuthenticationTokenException",
                                "message": "Request is missing Authentication Token"}))

    def test_expired_credentials(self):
        self.fake.inject("expired_creds", count=1)
        c = self.creds()
        exp = time.mktime(time.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        self.assertLess(exp, time.time())
        self.assert_aws_error(self.call(creds=c), 400, "ExpiredTokenException",
                              "^The security token included in the request is expired$")
        fresh = self.creds()   # the fault was for one issue only
        self.assertEqual(self.call(creds=fresh)[0], 400)  # ParameterNotFound, not expired
        self.assertEqual(self.call(creds=fresh)[2]["__type"], "ParameterNotFound")
        self.fake.expire_creds()
        self.assertEqual(self.call(creds=fresh)[2]["__type"], "ExpiredTokenException")

    def test_credentials_rotate_and_static_keys(self):
        a, b = self.creds(), self.creds()
        self.assertEqual(set(a), {"AccessKeyId", "SecretAccessKey", "Token", "Expiration",
                                  "RoleArn"})
        self.assertNotEqual(a["AccessKeyId"], b["AccessKeyId"])
        self.assertRegex(a["AccessKeyId"], r"^ASIA[A-Z2-7]{16}$")
        self.assertRegex(a["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        exp = time.mktime(time.strptime(a["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        self.assertAlmostEqual(exp - time.time(), 3600, delta=5)
        self.fake.set_param(NAME, "us-east-1")
        self.assertEqual(self.call(creds=a)[0], 200)   # old one still valid
        self.assertEqual(self.call(creds=b)[0], 200)
        # --static-key credentials: no session token, never expire.
        self.assertEqual(self.call(access_key=STATIC_AKID, secret_key=STATIC_SECRET,
                                   token=None)[0], 200)
        self.assertEqual(self.call(access_key=STATIC_AKID, secret_key=STATIC_SECRET,
                                   token="unexpected")[2]["__type"],
                         "UnrecognizedClientException")
        self.assertEqual(self.fake.fetch_creds(token="")[0], 401)
        self.assertEqual(self.fake.fetch_creds(token="nope")[0], 403)

    def test_minimal_signed_headers_and_host_required(self):
        """A C client may sign only host and x-amz-date; host itself is mandatory."""
        from fake_aws_client import sign_ssm_request
        self.fake.set_param(NAME, "us-east-1")
        c = self.creds()
        body = json.dumps({"Name": NAME}).encode()
        # Sign a request that carries only Host (+ the X-Amz-Date and token botocore adds).
        hdrs = sign_ssm_request(self.fake.url, "GetParameter", body, c["AccessKeyId"],
                                c["SecretAccessKey"], c["Token"])
        signed = re.search(r"SignedHeaders=([^,]+)", hdrs["Authorization"]).group(1)
        self.assertIn("x-amz-target", signed)
        minimal = {"Host": hdrs["Host"]}
        import fake_aws
        amz_date = hdrs["X-Amz-Date"]
        pairs = [("host", hdrs["Host"]), ("x-amz-date", amz_date),
                 ("x-amz-security-token", c["Token"])]
        sig = fake_aws.expected_signature("POST", "/", pairs, body, c["AccessKeyId"],
                                          c["SecretAccessKey"], c["Token"], "us-east-1",
                                          "ssm", amz_date)[0]
        scope = "%s/%s/us-east-1/ssm/aws4_request" % (c["AccessKeyId"], amz_date[:8])
        minimal.update({
            "X-Amz-Date": amz_date, "X-Amz-Security-Token": c["Token"],
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.GetParameter",
            "Authorization": "AWS4-HMAC-SHA256 Credential=%s,SignedHeaders=host;x-amz-date;"
                             "x-amz-security-token,Signature=%s" % (scope, sig)})
        code, _, data = self.fake.request("POST", "/", body=body, headers=minimal)
        self.assertEqual(code, 200, data)
        minimal["Authorization"] = minimal["Authorization"].replace(
            "host;x-amz-date", "x-amz-date")
        code, _, data = self.fake.request("POST", "/", body=body, headers=minimal)
        self.assertEqual((code, json.loads(data)["__type"]),
                         (400, "InvalidSignatureException"))
        self.assertIn("'Host' or ':authority' must be a 'SignedHeader'", data.decode())

    def test_verifier_matches_aws_sigv4_test_suite(self):
        """The fake's verifier (botocore's signer) reproduces every official vector."""
        import glob
        import fake_aws
        # The same suite unit.test_sigv4 reads: $SIGV4_SUITE_DIR, else
        # ../shared/sigv4-suite beside the repository.
        suite = next((d for d in (os.environ.get("SIGV4_SUITE_DIR"),
                                  os.path.join(HERE, "..", "..", "..", "shared", "sigv4-suite"))
                      if d and os.path.isdir(d)), None)
        if suite is None:
            self.skipTest("no SigV4 test suite found")
        cases = sorted(glob.glob(os.path.join(suite, "*", "*.req")))
        self.assertGreaterEqual(len(cases), 20)
        for req in cases:
            stem = req[:-4]
            head, _, body = read(req).partition("\n\n")
            lines = head.split("\n")
            method, _, rest = lines[0].partition(" ")
            target = rest.rsplit(" HTTP/1.1", 1)[0]
            headers = []
            for line in lines[1:]:
                if line[:1] in (" ", "\t"):     # obs-fold: a further value (suite rule)
                    headers.append((headers[-1][0], line.strip()))
                else:
                    name, _, value = line.partition(":")
                    headers.append((name.lower(), value))
            parts = fake_aws.parse_authorization(read(stem + ".authz"))
            signed = parts["SignedHeaders"].split(";")
            amz_date = dict(headers)["x-amz-date"]
            sig, creq, sts = fake_aws.expected_signature(
                method, target, [(n, v) for n, v in headers if n in signed], body.encode(),
                "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None,
                "us-east-1", "service", amz_date)
            with self.subTest(case=os.path.basename(os.path.dirname(req))):
                self.assertEqual(creq, read(stem + ".creq"))
                self.assertEqual(sts, read(stem + ".sts"))
                self.assertEqual(sig, parts["Signature"])

    def test_scope_errors(self):
        self.assert_aws_error(self.call(region="ap-south-1"), 400,
                              "InvalidSignatureException",
                              r"^Credential should be scoped to a valid region, not 'ap-south-1'\. $")

    # -- clock skew --------------------------------------------------------------------------------
    def test_skew_error_date_header_and_correction(self):
        self.fake.set_param(NAME, "us-east-1")
        self.fake.set_skew(900)            # the fake's clock is 15 minutes ahead
        c = self.creds()
        code, headers, doc = self.call(creds=c)
        self.assert_aws_error((code, headers, doc), 400, "InvalidSignatureException",
                              r"^Signature expired: \d{8}T\d{6}Z is now earlier than "
                              r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$")
        server_now = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
        offset = server_now - time.time()
        self.assertAlmostEqual(offset, 900, delta=5)
        # A client that corrects its signing clock from Date and retries succeeds.
        code, _, doc = self.call(creds=c, timestamp=time.time() + offset)
        self.assertEqual(code, 200, doc)

        # botocore (and so the AWS CLI) does NOT correct skew (boto/boto3#1252): it fails.
        rc, _, err = self.cli("get-parameter", "--name", NAME)
        self.assertEqual(rc, 254, err)
        self.assertIn("(InvalidSignatureException)", err)
        self.assertIn("Signature expired", err)

        self.fake.set_skew(-900)           # the fake's clock is behind
        self.assert_aws_error(self.call(creds=c), 400, "InvalidSignatureException",
                              r"^Signature not yet current: \d{8}T\d{6}Z is still later "
                              r"than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$")
        self.fake.set_skew(120)            # within 5 minutes: accepted
        self.assertEqual(self.call(creds=c)[0], 200)
        self.fake.clear()
        rc, out, err = self.cli("get-parameter", "--name", NAME)
        self.assertEqual(rc, 0, err)

    # -- fault injection ---------------------------------------------------------------------------
    def test_faults_answer_as_promised(self):
        self.fake.set_param(NAME, "us-east-1")
        c = self.creds()
        self.fake.inject("500", count=1)
        doc = self.assert_aws_error(self.call(creds=c), 500, "InternalServerError")
        self.assertIn("Message", doc)

        self.fake.inject("garbage", count=1)
        code, _, body = self.call(creds=c)
        self.assertEqual(code, 200)
        self.assertIsInstance(body, bytes)      # not JSON

        self.fake.inject("nul", count=1)
        code, _, body = self.call(creds=c)
        self.assertEqual(code, 200)
        self.assertIn(b"us-east-1\x00us-west-2", body)

        self.fake.inject("nul_escaped", count=1)
        code, _, doc = self.call(creds=c)
        self.assertEqual(doc["Parameter"]["Value"], "us-east-1\x00us-west-2")

        self.fake.inject("huge", count=1)
        code, _, doc = self.call(creds=c)
        self.assertEqual(code, 200)
        self.assertGreaterEqual(len(json.dumps(doc)), 10 * 1024 * 1024)

        self.fake.inject("truncated", count=1)
        with self.assertRaises(http.client.IncompleteRead):
            self.call(creds=c)

        self.fake.inject("close", count=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.call(creds=c)

        self.fake.inject("stall")             # until cleared
        with self.assertRaises(socket.timeout):
            self._call_with_timeout(c, 0.5)
        self.fake.clear()
        self.assertEqual(self.call(creds=c)[0], 200)

        self.fake.inject("stall", count=1, seconds=0.3)   # a bounded stall then answers
        t0 = time.monotonic()
        self.assertEqual(self.call(creds=c)[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)

        self.fake.inject("throttle", count=2)
        self.assertEqual(self.call(creds=c)[2]["message"], "Rate exceeded")
        self.assertEqual(self.call(creds=c)[2]["__type"], "ThrottlingException")
        self.assertEqual(self.call(creds=c)[0], 200)

        self.fake.inject("creds_500", count=1)
        self.assertEqual(self.fake.fetch_creds()[0], 500)
        self.assertEqual(self.fake.fetch_creds()[0], 200)

        counts = self.fake.get_counts()
        self.assertEqual(counts["by_fault"], {
            "500": 1, "garbage": 1, "nul": 1, "nul_escaped": 1, "huge": 1, "truncated": 1,
            "close": 1, "stall": 2, "throttle": 2})

    def _call_with_timeout(self, c, timeout):
        from fake_aws_client import sign_ssm_request
        body = json.dumps({"Name": NAME}).encode()
        hdrs = sign_ssm_request(self.fake.url, "GetParameter", body, c["AccessKeyId"],
                                c["SecretAccessKey"], c["Token"])
        return self.fake.request("POST", "/", body=body, headers=hdrs, timeout=timeout)

    # -- task metadata -------------------------------------------------------------------
    def test_task_metadata(self):
        code, _, data = self.fake.request("GET", "/meta/task")
        self.assertEqual(code, 200)
        doc = json.loads(data)
        self.assertRegex(doc["TaskARN"],
                         r"^arn:aws:ecs:us-east-1:123456789012:task/warden-test/[0-9a-f]{32}$")
        self.assertEqual(doc["Cluster"],
                         "arn:aws:ecs:us-east-1:123456789012:cluster/warden-test")
        self.assertEqual(doc["AvailabilityZone"], "us-east-1a")
        self.assertEqual(json.loads(self.fake.request("GET", "/meta")[2])["Name"], "warden")
        self.assertEqual(self.fake.get_counts()["meta_requests"], 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
