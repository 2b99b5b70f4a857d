"""Test-side helper for tests/fakes/fake_aws.py (python3 stdlib; botocore only for
sign_ssm_request).

    from fake_aws_client import FakeAws
    with FakeAws(auth_token="tok") as aws:
        aws.set_param("/platform/test/active-region", "us-east-1")
        env = aws.client_env()          # AWS_* variables for warden or the AWS CLI
        ...
        aws.inject("throttle", count=2)
        aws.get_counts()["by_op"]["GetParameter"]

FakeAws starts the fake as a subprocess (/usr/bin/python3 fake_aws.py) on a free
loopback port, waits for its {"port": N} line, and wraps the control API that the
fake documents in its module docstring.
"""

import http.client
import json
import os
import select
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_aws.py")
PYTHON = "/usr/bin/python3"


class FakeAws:
    """A running fake_aws.py; stop() (or the with-block) ends it."""

    def __init__(self, regions=("us-east-1",), auth_token=None, creds_ttl=None,
                 static_keys=(), error_style=None, extra_args=(), start_timeout=10.0,
                 verbose=False):
        self.regions = list(regions)
        self.region = self.regions[0]
        self.auth_token = auth_token
        cmd = [PYTHON, FAKE, "--port", "0", "--region", ",".join(self.regions)]
        if auth_token:
            cmd += ["--auth-token", auth_token]
        if creds_ttl is not None:
            cmd += ["--creds-ttl", str(int(creds_ttl))]
        for akid, secret in static_keys:
            cmd += ["--static-key", "%s:%s" % (akid, secret)]
        if error_style:
            cmd += ["--error-style", error_style]
        if verbose:
            cmd.append("--verbose")
        cmd += list(extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.port = self._read_port(start_timeout)
        self.host = "127.0.0.1"
        self.url = "http://127.0.0.1:%d" % self.port
        self.creds_url = self.url + "/creds/warden-task"
        self.meta_url = self.url + "/meta"

    def _read_port(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("fake_aws did not start (exit %r)" % self.proc.returncode)
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    continue
                line += chunk
        return int(json.loads(line.decode())["port"])

    # -- lifecycle --------------------------------------------------------------
    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- raw HTTP -----------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=10.0):
        """One request on a fresh connection: (status, headers dict lowercased, bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict(headers or {}, **{"Content-Type": "application/json"})
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def _control(self, method, path, body=None):
        status, _, data = self.request(method, "/_fake/" + path, body)
        doc = json.loads(data.decode()) if data else None
        if status >= 400 and status != 404:
            raise RuntimeError("fake_aws %s %s -> %d %r" % (method, path, status, doc))
        return status, doc

    # -- control API ----------------------------------------------------------------
    def set_param(self, name, value, type="String", region=None):
        """Write a parameter directly (Version +1); returns the new Version."""
        _, doc = self._control("PUT", "param", {"name": name, "value": value, "type": type,
                                               "region": region or self.region})
        return doc["Version"]

    def get_param(self, name, region=None):
        """The stored parameter dict (with History), or None."""
        q = urllib.parse.urlencode({"name": name, "region": region or self.region})
        status, doc = self._control("GET", "param?" + q)
        return doc if status == 200 else None

    def delete_param(self, name, region=None):
        q = urllib.parse.urlencode({"name": name, "region": region or self.region})
        status, _ = self._control("DELETE", "param?" + q)
        return status == 200

    def get_counts(self):
        return self._control("GET", "counts")[1]

    def get_requests(self, since=0, kind=None):
        recs = self._control("GET", "requests?since=%d" % since)[1]
        return [r for r in recs if kind is None or r["kind"] == kind]

    def inject(self, fault, count=None, seconds=None):
        """Arm a fault (see fake_aws.py); count=None means until clear()."""
        body = {"fault": fault}
        if count is not None:
            body["count"] = count
        if seconds is not None:
            body["seconds"] = seconds
        return self._control("POST", "fault", body)[1]

    def set_skew(self, seconds):
        return self.inject("skew", seconds=seconds)

    def faults(self):
        return self._control("GET", "faults")[1]

    def clear(self):
        return self._control("POST", "clear")[1]

    def reset(self):
        return self._control("POST", "reset")[1]

    def issued_creds(self):
        return self._control("GET", "creds")[1]

    def expire_creds(self):
        return self._control("POST", "expire_creds")[1]

    def config(self, **changes):
        if changes:
            return self._control("PUT", "config", changes)[1]
        return self._control("GET", "config")[1]

    def fetch_creds(self, token=None):
        """GET the credentials endpoint as a client would: (status, dict)."""
        tok = self.auth_token if token is None else token
        headers = {"Authorization": tok} if tok else {}
        status, _, data = self.request("GET", "/creds/warden-task", headers=headers)
        return status, json.loads(data.decode())

    # -- environments -------------------------------------------------------------------
    def client_env(self, home, token=None, base=None):
        """A clean environment for an AWS client (warden, the AWS CLI) that reaches
        SSM, container credentials and task metadata only through this fake."""
        env = {k: v for k, v in (base if base is not None else os.environ).items()
               if not k.startswith("AWS_") and not k.startswith("ECS_")}
        env.update({
            "HOME": home,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ENDPOINT_URL_SSM": self.url,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.creds_url,
            "ECS_CONTAINER_METADATA_URI_V4": self.meta_url,
            "AWS_PAGER": "",
        })
        tok = self.auth_token if token is None else token
        if tok:
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = tok
        return env

    # -- signed SSM calls from the test itself ------------------------------------------
    def ssm_call(self, op, payload, access_key, secret_key, token=None, region=None,
                 timestamp=None, headers=None, content_type="application/x-amz-json-1.1"):
        """POST a SigV4-signed SSM request (botocore's signer, optional pinned
        timestamp as epoch seconds): (status, headers, parsed-or-raw body)."""
        body = json.dumps(payload).encode()
        hdrs = sign_ssm_request(self.url, op, body, access_key, secret_key, token,
                                region or self.region, timestamp, content_type, headers)
        status, rh, data = self.request("POST", "/", body=body, headers=hdrs)
        try:
            doc = json.loads(data.decode())
        except ValueError:
            doc = data
        return status, rh, doc


def sign_ssm_request(url, op, body, access_key, secret_key, token=None,
                     region="us-east-1", timestamp=None,
                     content_type="application/x-amz-json-1.1", extra_headers=None):
    """Headers of an SSM request signed by botocore at `timestamp` (epoch s, default now)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class PinnedSigV4(SigV4Auth):
        def __init__(self, creds, service, region_name, when):
            super().__init__(creds, service, region_name)
            self.when = when

        def add_auth(self, request):
            request.context["timestamp"] = time.strftime(
                "%Y%m%dT%H%M%SZ", time.gmtime(self.when))
            self._modify_request_before_signing(request)
            canonical = self.canonical_request(request)
            sts = self.string_to_sign(request, canonical)
            self._inject_signature_to_request(request, self.signature(sts, request))

    netloc = urllib.parse.urlsplit(url).netloc
    headers = {"Content-Type": content_type, "X-Amz-Target": "AmazonSSM." + op,
               "Host": netloc}
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=url.rstrip("/") + "/", data=body, headers=headers)
    when = time.time() if timestamp is None else timestamp
    PinnedSigV4(Credentials(access_key, secret_key, token), "ssm", region, when).add_auth(req)
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}


if __name__ == "__main__":
    # Smoke: start, print the URL, wait for Ctrl-C.
    with FakeAws(auth_token=sys.argv[1] if len(sys.argv) > 1 else None) as fake:
        print(fake.url, flush=True)
        try:
            fake.proc.wait()
        except KeyboardInterrupt:
            pass
