"""The write-fencing proxy against a real upstream on loopback (python3 stdlib only).

The proxy runs as $WARDEN_TOOLS_DIR/proxy_driver with a state file for its
fence view ("writable epoch active_region state"); the app is upstream.py in
this process. Tests flip the state file to fence and unfence.
"""

import calendar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream import Upstream, BufferedConn, ws_frame, ws_read_frame  # noqa: E402
import harness  # noqa: E402

TOOLS_DIR = os.environ.get("WARDEN_TOOLS_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build-proxy", "tests")
DRIVER = os.path.join(TOOLS_DIR, "proxy_driver")

WRITABLE = "1 7 us-east-1 active\n"
FENCED = "0 8 us-east-1 passive\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """proxy_driver in a subprocess; stdout lines collected by a thread."""

    def __init__(self, upstream_port, state_path, *args):
        self.proc = subprocess.Popen(
            [DRIVER, "--upstream", "127.0.0.1:%d" % upstream_port, "--state", state_path,
             "--region", "us-west-2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, WARDEN_LOG_LEVEL="info"))
        self.lines = []
        self.cond = threading.Condition()
        self.port = None
        threading.Thread(target=self._read, daemon=True).start()
        with self.cond:
            if not self.cond.wait_for(lambda: self.port is not None or self.proc.poll() is not None,
                                      timeout=10):
                raise AssertionError("proxy_driver did not start")
        if self.port is None:
            raise AssertionError("proxy_driver failed: %s" % self.lines)

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                if line.startswith('{"port"'):
                    self.port = json.loads(line)["port"]
                self.cond.notify_all()

    def stats(self):
        with self.cond:
            before = len([l for l in self.lines if l.startswith('{"stats"')])
        self.proc.send_signal(signal.SIGUSR1)
        with self.cond:
            self.cond.wait_for(
                lambda: len([l for l in self.lines if l.startswith('{"stats"')]) > before,
                timeout=5)
            return json.loads([l for l in self.lines if l.startswith('{"stats"')][-1])["stats"]

    def wait_stat(self, name, value, timeout=5.0):
        """The counter `name` once it reaches `value`: an exchange is counted
        when it completes, just after its last byte is sent to the client."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.stats()[name]
            if got >= value or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def hwm_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stdout.close()
        return rc


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(f, method="GET", count_only=False, interim=False):
    """(status, headers dict lowercased, body bytes or length) from a socket file."""
    line = f.readline()
    if not line:
        raise EOFError("connection closed before a response")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, v = h.decode("latin-1").split(":", 1)
        k = k.strip().lower()
        headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
    if 100 <= status < 200:
        if interim or status == 101:
            return status, headers, b""
        return read_response(f, method, count_only)
    body = bytearray()
    total = 0

    def take(data):
        nonlocal total
        total += len(data)
        if not count_only:
            body.extend(data)

    if method == "HEAD" or status in (204, 304):
        pass
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                break
            take(f.read(size))
            f.readline()
    elif "content-length" in headers:
        left = int(headers["content-length"])
        while left > 0:
            data = f.read(min(left, 1 << 20))
            if not data:
                raise EOFError("short body")
            take(data)
            left -= len(data)
    else:
        while True:
            data = f.read(1 << 20)
            if not data:
                break
            take(data)
    return status, headers, (total if count_only else bytes(body))


def request(port, method, path, headers=None, body=b"", version="HTTP/1.1"):
    """One request on a fresh connection."""
    with connect(port) as s:
        f = s.makefile("rb")
        hdrs = {"Host": "app"}
        hdrs.update(headers or {})
        if body:
            hdrs["Content-Length"] = str(len(body))
        head = "%s %s %s\r\n" % (method, path, version)
        head += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
        s.sendall(head.encode() + body)
        return read_response(f, method)


def raw_exchange(port, data, timeout=5.0):
    """Send raw bytes; return everything until the proxy closes (or timeout)."""
    with connect(port, timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            out += b"<timeout>"
        return out


def echo_headers(body):
    doc = json.loads(body)
    return doc, {k.lower(): v for k, v in doc["headers"]}


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(DRIVER, os.X_OK):
            raise unittest.SkipTest("no proxy_driver in %s" % TOOLS_DIR)
        cls.tmp = tempfile.mkdtemp(prefix="warden-proxy-test-")
        cls.state = os.path.join(cls.tmp, "state")
        cls.set_state(WRITABLE)
        cls.up = Upstream().start()
        cls.proxy = Proxy(cls.up.port, cls.state, "--threads", "2",
                          "--allow", "/health/,/webhooks", "--upstream-timeout-ms", "1000",
                          "--header-timeout-ms", "3000", "--retry-after", "7")
        cls.port = cls.proxy.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.proxy.stop()
        cls.up.stop()
        for name in os.listdir(cls.tmp):
            os.unlink(os.path.join(cls.tmp, name))
        os.rmdir(cls.tmp)
        assert rc == 0, "proxy_driver exited %d" % rc

    @classmethod
    def set_state(cls, text):
        tmp = cls.state + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, cls.state)
        time.sleep(0.03)  # the driver re-reads at most every 10 ms

    def setUp(self):
        self.set_state(WRITABLE)

    # --- fencing ---------------------------------------------------------

    def test_methods_writable(self):
        for method in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
            status, headers, body = request(self.port, method, "/m",
                                            body=b"abc" if method in ("POST", "PUT") else b"")
            self.assertEqual(status, 200, method)
            if method != "HEAD":
                doc, h = echo_headers(body)
                self.assertEqual(doc["method"], method)
                self.assertEqual(h["x-warden-writable"], "true")
                self.assertEqual(h["x-warden-epoch"], "7")

    def test_methods_fenced(self):
        self.set_state(FENCED)
        for method in ("GET", "HEAD", "OPTIONS"):
            status, headers, body = request(self.port, method, "/r")
            self.assertEqual(status, 200, method)
            if method != "HEAD":
                self.assertEqual(echo_headers(body)[1]["x-warden-writable"], "false")
        for method in ("POST", "PUT", "PATCH", "DELETE", "PURGE"):
            status, headers, body = request(self.port, method, "/w", body=b"x" * 10)
            self.assertEqual(status, 503, method)
            self.assertEqual(headers["retry-after"], "7")
            self.assertEqual(headers["content-type"], "application/problem+json")
            doc = json.loads(body)
            self.assertEqual(doc["type"], "urn:warden:problem:fenced")
            self.assertEqual(doc["title"], "Writes are fenced in this region")
            self.assertEqual(doc["status"], 503)
            self.assertEqual(doc["region"], "us-west-2")
            self.assertEqual(doc["active_region"], "us-east-1")
            self.assertEqual(doc["epoch"], 8)
            self.assertEqual(doc["state"], "passive")
            self.assertIn("detail", doc)

    def test_fenced_body_is_drained_and_connection_kept(self):
        self.set_state(FENCED)
        with connect(self.port) as s:
            f = s.makefile("rb")
            chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            s.sendall(b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
                      + b"z" * 100000
                      + b"PUT /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + chunked + b"GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(read_response(f)[0], 503)
            self.assertEqual(read_response(f)[0], 503)
            status, _, body = read_response(f)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["path"], "/c")

    def test_fenced_expect_continue_closes(self):
        self.set_state(FENCED)
        with connect(self.port) as s:
            f = s.makefile("rb")
            s.sendall(b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            status, headers, _ = read_response(f)
            self.assertEqual(status, 503)
            self.assertEqual(headers.get("connection"), "close")

    def test_allow_list(self):
        self.set_state(FENCED)
        for path, want in (("/health/x", 200), ("/health/", 200), ("/webhooks", 200),
                           ("/webhooks/stripe?a=1", 200), ("/health", 503),
                           ("/healthz", 503), ("/webhooksx", 503),
                           ("/health/../admin", 503), ("/health/%2e%2e/admin", 503),
                           ("/health/%2E%2e/admin", 503), ("/health/..%2fadmin", 503),
                           ("/health/..;/admin", 503), ("/health/./x", 503),
                           ("/admin", 503)):
            status, _, body = request(self.port, "POST", path, body=b"{}")
            self.assertEqual(status, want, path)
            if want == 200:
                self.assertEqual(echo_headers(body)[1]["x-warden-writable"], "false")
        stats = self.proxy.stats()
        self.assertGreater(stats["allowed"], 0)
        self.assertGreater(stats["fenced"], 0)

    # --- headers ---------------------------------------------------------

    def test_headers(self):
        status, _, body = request(self.port, "GET", "/h", headers={
            "X-Warden-Writable": "false", "X-Warden-Epoch": "999",
            "X-Forwarded-For": "203.0.113.9", "Connection": "keep-alive, X-Secret",
            "X-Secret": "drop me", "Keep-Alive": "timeout=5", "TE": "trailers",
            "Proxy-Authorization": "Basic x", "Upgrade": "h2c"})
        self.assertEqual(status, 200)
        doc, h = echo_headers(body)
        names = [k.lower() for k, _ in doc["headers"]]
        self.assertEqual(names.count("x-warden-writable"), 1)
        self.assertEqual(names.count("x-warden-epoch"), 1)
        self.assertEqual(h["x-warden-writable"], "true")
        self.assertEqual(h["x-warden-epoch"], "7")
        self.assertEqual(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1")
        self.assertEqual(h["x-forwarded-proto"], "http")
        for gone in ("x-secret", "keep-alive", "te", "proxy-authorization", "upgrade"):
            self.assertNotIn(gone, h)
        self.assertNotIn("close", h.get("connection", ""))
        # the ALB's X-Forwarded-Proto is kept
        _, _, body = request(self.port, "GET", "/h", headers={"X-Forwarded-Proto": "https"})
        self.assertEqual(echo_headers(body)[1]["x-forwarded-proto"], "https")

    # --- framing and connections ----------------------------------------

    def test_keep_alive_reuse(self):
        with connect(self.port) as s:
            f = s.makefile("rb")
            conn_ids = set()
            for i in range(5):
                s.sendall(b"GET /k%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
                status, _, body = read_response(f)
                self.assertEqual(status, 200)
                doc = json.loads(body)
                self.assertEqual(doc["path"], "/k%d" % i)
                conn_ids.add(doc["conn_id"])
            self.assertEqual(len(conn_ids), 1, "the upstream connection was not reused")

    def test_pipelined(self):
        with connect(self.port) as s:
            f = s.makefile("rb")
            s.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(4))
                      + b"POST /p4 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                      + b"HEAD /p5 HTTP/1.1\r\nHost: a\r\n\r\nGET /p6 HTTP/1.1\r\nHost: a\r\n\r\n")
            for i in range(7):
                status, _, body = read_response(f, "HEAD" if i == 5 else "GET")
                self.assertEqual(status, 200)
                if i != 5:
                    self.assertEqual(json.loads(body)["path"], "/p%d" % i)

    def test_head_and_http10(self):
        with connect(self.port) as s:
            f = s.makefile("rb")
            s.sendall(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n")
            status, headers, body = read_response(f, "HEAD")
            self.assertEqual((status, body), (200, b""))
            self.assertGreater(int(headers["content-length"]), 0)
            self.assertEqual(json.loads(read_response(f)[2])["path"], "/y")
        out = raw_exchange(self.port, b"GET /old HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:100])
        self.assertIn(b'"/old"', out)
        # a chunked answer to an HTTP/1.0 client is de-chunked and ends with the close
        out = raw_exchange(self.port, b"GET /chunked?n=3&size=4 HTTP/1.0\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertNotIn(b"chunked", head.lower())
        self.assertEqual(body, b"xxxx" * 3)
        # 1.0 keep-alive when asked
        with connect(self.port) as s:
            f = s.makefile("rb")
            for _ in range(2):
                s.sendall(b"GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                status, headers, _ = read_response(f)
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("connection", "").lower(), "keep-alive")

    def test_chunked_trailers_eof_and_continue(self):
        status, headers, body = request(self.port, "GET", "/chunked?n=5&size=1000")
        self.assertEqual((status, len(body)), (200, 5000))
        with connect(self.port) as s:
            s.sendall(b"GET /trailers HTTP/1.1\r\nHost: a\r\n\r\n")
            data = b""
            while not data.endswith(b"0\r\nX-Sum: 5\r\n\r\n"):
                chunk = s.recv(4096)
                self.assertTrue(chunk, data)
                data += chunk
        status, headers, body = request(self.port, "GET", "/eof?bytes=3000")
        self.assertEqual((status, len(body)), (200, 3000))
        self.assertEqual(headers.get("connection"), "close")
        with connect(self.port) as s:
            f = s.makefile("rb")
            s.sendall(b"PUT /c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            status, _, _ = read_response(f, interim=True)
            self.assertEqual(status, 100)
            s.sendall(b"hello")
            status, _, body = read_response(f)
            self.assertEqual((status, json.loads(body)["body_len"]), (200, 5))
        # chunked upload with trailers (dropped) and an extension
        with connect(self.port) as s:
            f = s.makefile("rb")
            s.sendall(b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(json.loads(read_response(f)[2])["body_len"], 3)
            self.assertEqual(json.loads(read_response(f)[2])["path"], "/after")

    def test_early_answer(self):
        with connect(self.port) as s:
            f = s.makefile("rb")
            s.sendall(b"POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
            status, headers, _ = read_response(f)
            self.assertEqual(status, 413)

    def test_large_streams_bounded_memory(self):
        total = 200 * 1024 * 1024
        with connect(self.port, timeout=60) as s:
            f = s.makefile("rb")
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            block = b"u" * (1 << 20)
            chunk = b"%x\r\n" % len(block) + block + b"\r\n"
            for _ in range(total // len(block)):
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
            status, _, body = read_response(f)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["body_len"], total)
            s.sendall(b"GET /download?bytes=%d HTTP/1.1\r\nHost: a\r\n\r\n" % total)
            status, _, length = read_response(f, count_only=True)
            self.assertEqual((status, length), (200, total))
        hwm = self.proxy.hwm_kib()
        self.assertLess(hwm, 32 * 1024, "proxy VmHWM %d KiB" % hwm)

    # --- errors and limits ------------------------------------------------

    def test_limits(self):
        big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"
        self.assertTrue(raw_exchange(self.port, big).startswith(b"HTTP/1.1 431"))
        many = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(
            b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n"
        self.assertTrue(raw_exchange(self.port, many).startswith(b"HTTP/1.1 431"))

    def test_smuggling(self):
        cases = [
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n0\r\n\r\nG",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n"
            b"\r\n0\r\n\r\nG",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header: x\r\nHost: a\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        ]
        for data in cases:
            out = raw_exchange(self.port, data)
            self.assertTrue(out.startswith(b"HTTP/1.1 400"), (data, out[:200]))
            self.assertIn(b"Connection: close", out)
        self.assertTrue(raw_exchange(self.port, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
                        .startswith(b"HTTP/1.1 505"))
        self.assertTrue(raw_exchange(self.port, b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n")
                        .startswith(b"HTTP/1.1 501"))

    def test_upstream_timeout(self):
        started = time.monotonic()
        status, headers, body = request(self.port, "GET", "/stall")
        self.assertEqual(status, 504)
        self.assertEqual(headers["content-type"], "application/problem+json")
        self.assertLess(time.monotonic() - started, 5)
        # slow, but within the timeout
        self.assertEqual(request(self.port, "GET", "/slow?ms=300")[0], 200)

    def test_upstream_down(self):
        state = os.path.join(self.tmp, "state")
        down = Proxy(free_port(), state)
        try:
            status, headers, body = request(down.port, "GET", "/")
            self.assertEqual(status, 502)
            self.assertEqual(json.loads(body)["status"], 502)
            self.assertEqual(down.wait_stat("upstream_error", 1), 1)
        finally:
            self.assertEqual(down.stop(), 0)
        # an upstream that closes without answering
        self.assertEqual(request(self.port, "GET", "/close")[0], 502)

    def test_max_connections(self):
        small = Proxy(self.up.port, self.state, "--max-connections", "2")
        try:
            a, b = connect(small.port), connect(small.port)
            time.sleep(0.1)
            status, headers, body = request(small.port, "GET", "/")
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body)["detail"], "too many connections")
            self.assertEqual(small.stats()["overloaded"], 1)
            a.close()
            b.close()
            wait_for(lambda: request(small.port, "GET", "/")[0] == 200, what="a free slot")
        finally:
            self.assertEqual(small.stop(), 0)

    def test_slowloris_does_not_block(self):
        slow = connect(self.port)
        stop = threading.Event()

        def drip():
            for byte in b"GET /slow HTTP/1.1\r\nHost: a\r\nX-Long: " + b"z" * 100:
                if stop.is_set():
                    return
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

        t = threading.Thread(target=drip)
        t.start()
        try:
            for _ in range(10):
                started = time.monotonic()
                self.assertEqual(request(self.port, "GET", "/fast")[0], 200)
                self.assertLess(time.monotonic() - started, 1.0)
            # the header timeout (3 s here) ends the slow one with 408
            slow.settimeout(6)
            data = b""
            while True:
                chunk = slow.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:80])
        finally:
            stop.set()
            t.join()
            slow.close()

    # --- demotion and WebSocket ------------------------------------------

    def ws_open(self):
        s = connect(self.port)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        conn = BufferedConn(s)
        head = conn.read_until(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        self.assertIn(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head)
        return s, conn

    def test_websocket_echo_and_close_on_fence(self):
        s, conn = self.ws_open()
        try:
            for payload in (b"hello", b"x" * 70000):
                s.sendall(ws_frame(1, payload))
                self.assertEqual(ws_read_frame(conn, expect_mask=False), (1, payload))
            self.assertGreaterEqual(self.proxy.stats()["tunnels_open"], 1)
            before = self.proxy.stats()["closed_on_fence"]
            self.set_state(FENCED)
            s.settimeout(3)
            self.assertEqual(s.recv(100), b"")  # the tunnel is cut on demotion
            self.assertGreater(self.proxy.stats()["closed_on_fence"], before)
            # a tunnel carries writes: no upgrade while fenced
            status, headers, body = request(
                self.port, "GET", "/ws", {"Upgrade": "websocket", "Connection": "Upgrade",
                                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                          "Sec-WebSocket-Version": "13"})
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body)["type"], "urn:warden:problem:fenced")
        finally:
            s.close()

    def test_demotion_closes_idle_keepalive_not_inflight(self):
        idle = connect(self.port)
        fi = idle.makefile("rb")
        idle.sendall(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(read_response(fi)[0], 200)
        busy = connect(self.port)
        fb = busy.makefile("rb")
        busy.sendall(b"GET /slow?ms=800 HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.2)
        self.set_state(FENCED)
        idle.settimeout(3)
        self.assertEqual(idle.recv(100), b"")  # closed on demotion
        status, headers, body = read_response(fb)  # in flight: completes
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["path"], "/slow?ms=800")
        self.assertEqual(headers.get("connection"), "close")
        idle.close()
        busy.close()

    def test_head_straddling_demotion_is_closed_after_its_answer(self):
        """A head half-read at the demotion is judged with the new verdict and its
        connection is closed after the answer, like the idle ones."""
        for method, want in (("POST", 503), ("GET", 200)):
            self.set_state(WRITABLE)
            half = connect(self.port)
            fh = half.makefile("rb")
            half.sendall(b"%s /straddle HTTP/1.1\r\nHost: a\r\n" % method.encode())
            probe = connect(self.port)  # an idle keep-alive: closed once the demotion is seen
            fp = probe.makefile("rb")
            probe.sendall(b"GET /probe HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(read_response(fp)[0], 200)
            time.sleep(0.15)  # both threads' ticks have seen "writable"
            self.set_state(FENCED)
            probe.settimeout(3)
            self.assertEqual(probe.recv(100), b"")
            time.sleep(0.15)  # the other thread's tick has seen the demotion too
            half.sendall(b"Content-Length: 0\r\n\r\n")
            status, headers, body = read_response(fh, method)
            self.assertEqual(status, want, method)
            self.assertEqual(headers.get("connection"), "close", method)
            half.settimeout(3)
            self.assertEqual(half.recv(100), b"", method)
            if want == 200:
                self.assertEqual(echo_headers(body)[1]["x-warden-writable"], "false")
            half.close()
            probe.close()

    def test_write_never_retried_read_retried(self):
        """A pooled connection the app drops after reading the request: a write
        gets 502 and reached the app once; a read is re-sent once."""
        for method, sent, want in (("DELETE", 1, 502), ("POST", 1, 502), ("GET", 2, 502)):
            with connect(self.port) as s:
                f = s.makefile("rb")
                s.sendall(b"GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")  # pools a connection
                self.assertEqual(read_response(f)[0], 200)
                path = "/close?%s=%f" % (method, time.monotonic())
                s.sendall(b"%s %s HTTP/1.1\r\nHost: a\r\n\r\n" % (method.encode(), path.encode()))
                self.assertEqual(read_response(f, method)[0], want, method)
            with self.up.lock:
                got = [r for r in self.up.requests if r[2] == path]
            self.assertEqual(len(got), sent, "%s reached the app %d times" % (method, len(got)))

    def test_http10_without_host_names_the_upstream(self):
        status, headers, body = raw_response(self.port, b"GET /h10 HTTP/1.0\r\n\r\n")
        self.assertEqual(status, 200)
        h = [v for k, v in json.loads(body)["headers"] if k.lower() == "host"]
        self.assertEqual(h, ["127.0.0.1:%d" % self.up.port])

    def test_equal_content_lengths_forwarded_as_one(self):
        for lines in (b"Content-Length: 3, 3\r\n", b"Content-Length: 3\r\nContent-Length: 3\r\n"):
            status, headers, body = raw_response(
                self.port, b"POST /cl HTTP/1.1\r\nHost: a\r\n" + lines +
                b"Connection: close\r\n\r\nabc")
            self.assertEqual(status, 200, lines)
            doc = json.loads(body)
            cl = [v for k, v in doc["headers"] if k.lower() == "content-length"]
            self.assertEqual(cl, ["3"], lines)
            self.assertEqual(doc["body_len"], 3)
        status, _, _ = raw_response(self.port, b"POST /cl HTTP/1.1\r\nHost: a\r\n"
                                    b"Content-Length: 3, 4\r\n\r\nabcd")
        self.assertEqual(status, 400)  # differing values stay refused (smuggling)

    def test_deadline_headers_replaced(self):
        """Client copies of every X-Warden header are dropped, whatever the case.
        proxy_driver's writable verdict has no writable_until (as under hold): no
        deadline at all; not writable: Writable-For-Ms 0 and no deadline."""
        forged = {"x-WARDEN-deadline": "2000-01-01T00:00:00.000Z",
                  "X-Warden-Writable-For-MS": "999999", "X-WARDEN-EPOCH": "99"}
        for state, want in ((WRITABLE, None), (FENCED, "0")):
            self.set_state(state)
            status, _, body = request(self.port, "GET", "/dl", forged)
            self.assertEqual(status, 200)
            headers = json.loads(body)["headers"]
            dl = [v for k, v in headers if k.lower() == "x-warden-deadline"]
            left = [v for k, v in headers if k.lower() == "x-warden-writable-for-ms"]
            self.assertEqual(dl, [])
            self.assertEqual(left, [want] if want else [])
            self.assertEqual([v for k, v in headers if k.lower() == "x-warden-epoch"],
                             ["7" if state == WRITABLE else "8"])


def raw_response(port, data):
    """One raw request on a fresh connection: (status, headers, body)."""
    with connect(port) as s:
        f = s.makefile("rb")
        s.sendall(data)
        return read_response(f)


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class EmfileTest(unittest.TestCase):
    """Out of descriptors (RLIMIT_NOFILE 64) under a connection flood, the proxy
    pauses accepting instead of spinning on its level-triggered listener, and
    serves again once the flood is gone."""

    def test_no_spin_on_emfile(self):
        if not os.access(DRIVER, os.X_OK):
            self.skipTest("no proxy_driver in %s" % TOOLS_DIR)
        import resource
        tmp = tempfile.mkdtemp(prefix="warden-proxy-emfile-")
        state = os.path.join(tmp, "state")
        with open(state, "w") as f:
            f.write(WRITABLE)
        up = Upstream().start()
        proc = subprocess.Popen(
            [DRIVER, "--upstream", "127.0.0.1:%d" % up.port, "--state", state, "--threads", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
        flood = []
        try:
            port = None
            while port is None:
                line = proc.stdout.readline()
                self.assertTrue(line, "proxy_driver did not start")
                if line.startswith('{"port"'):
                    port = json.loads(line)["port"]
            for _ in range(150):
                flood.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            time.sleep(0.5)  # the proxy has met EMFILE by now
            cpu0, t0 = proc_cpu_seconds(proc.pid), time.monotonic()
            time.sleep(2.0)
            share = (proc_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
            sys.stderr.write("[info] proxy CPU under an EMFILE flood: %.1f %% of a core\n"
                             % (100 * share))
            self.assertLess(share, 0.30, "the proxy spins on EMFILE")
            for s in flood:
                s.close()
            flood = []
            status, _, body = request(port, "GET", "/after-flood")
            self.assertEqual(status, 200)
        finally:
            for s in flood:
                s.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out = proc.stdout.read()
            proc.stdout.close()
            up.stop()
            os.unlink(state)
            os.rmdir(tmp)
        self.assertLessEqual(out.count("proxy.accept_paused"), 2, out[-2000:])


class DeadlineTest(unittest.TestCase):
    """warden itself (a file: flag, interval 200 ms, TTL 3 s) in front of the app:
    the bound is the contract's, t + TTL, where t is when the flag flip is written.
    The app notes the receive time of every byte; SLACK covers scheduling."""

    TTL = 3.0
    SLACK = 0.2

    @classmethod
    def setUpClass(cls):
        if not os.access(harness.WARDEN_BIN, os.X_OK):
            raise unittest.SkipTest("no warden at %s" % harness.WARDEN_BIN)
        cls.up = Upstream().start()

    @classmethod
    def tearDownClass(cls):
        cls.up.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="warden-proxy-deadline-")
        self.flag = os.path.join(self.tmp, "active-region")
        self.write_flag("us-east-1")
        self.port = free_port()
        self.warden = harness.Warden(env={
            "AWS_REGION": "us-east-1", "WARDEN_FLAG": "file:" + self.flag,
            "WARDEN_FLAG_INTERVAL": "200ms", "WARDEN_FLAG_TIMEOUT": "100ms",
            "WARDEN_FLAG_TTL": "3s", "WARDEN_PROXY_LISTEN": "127.0.0.1:%d" % self.port,
            "WARDEN_PROXY_UPSTREAM": "http://127.0.0.1:%d" % self.up.port,
            "WARDEN_LOG_LEVEL": "info"})
        def writable():
            try:
                return request(self.port, "POST", "/ready", body=b"x")[0] == 200
            except OSError:
                return False  # the proxy is not listening yet
        wait_for(writable, timeout=10, what="warden's proxy writable")

    def tearDown(self):
        self.warden.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_flag(self, region):
        tmp = self.flag + ".tmp"
        with open(tmp, "w") as f:
            f.write(region)
        os.rename(tmp, self.flag)
        return time.monotonic()  # the flip is written: the contract's t is no later

    def flip_while(self, sock, pieces, every):
        """Send pieces every `every` s from a thread; flip the flag 0.3 s in.
        Returns (t_flip, thread)."""
        def feed():
            for piece in pieces:
                try:
                    sock.sendall(piece)
                except OSError:
                    return
                time.sleep(every)
        th = threading.Thread(target=feed, daemon=True)
        th.start()
        time.sleep(0.3)
        return self.write_flag("us-west-2"), th

    def assert_cut(self, tag, t_flip):
        rec = wait_for(lambda: self.up.records.get(tag) if (self.up.records.get(tag) or {}).get(
            "eof_at") or (self.up.records.get(tag) or {}).get("complete") else None,
            timeout=self.TTL + 5, what="the app's record of " + tag)
        bound = t_flip + self.TTL + self.SLACK
        last = max(t for t, _ in rec["times"])
        sys.stderr.write("[info] %s: last byte %.3f s after the flip, app saw EOF %.3f s after\n"
                         % (tag, last - t_flip, (rec["eof_at"] or 0) - t_flip))
        self.assertFalse(rec["complete"], "the whole write reached the app")
        self.assertLessEqual(last, bound, "a byte of the write reached the app after t + TTL")
        self.assertLessEqual(rec["eof_at"], bound, "the app's connection outlived t + TTL")

    def read_503(self, sock):
        sock.settimeout(self.TTL + 5)
        status, headers, body = read_response(sock.makefile("rb"))
        self.assertEqual(status, 503)
        self.assertEqual(headers["content-type"], "application/problem+json")
        self.assertEqual(json.loads(body)["type"], "urn:warden:problem:fenced")

    def test_chunked_write_cut_at_writable_until(self):
        s = connect(self.port)
        s.sendall(b"POST /record?tag=chunked HTTP/1.1\r\nHost: a\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        t_flip, th = self.flip_while(s, [b"a\r\n0123456789\r\n"] * 80, 0.1)
        self.read_503(s)
        self.assert_cut("chunked", t_flip)
        s.close()

    def test_content_length_write_cut_at_writable_until(self):
        s = connect(self.port)
        s.sendall(b"POST /record?tag=length HTTP/1.1\r\nHost: a\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        t_flip, th = self.flip_while(s, [b"x" * 1000] * 80, 0.1)
        self.read_503(s)
        self.assert_cut("length", t_flip)
        s.close()

    def test_stalled_upload_cut_at_writable_until(self):
        """The client stops sending mid-body: nothing arrives, the cut still comes."""
        s = connect(self.port)
        s.sendall(b"POST /record?tag=stalled HTTP/1.1\r\nHost: a\r\n"
                  b"Content-Length: 100000\r\n\r\n" + b"x" * 500)
        t_flip, th = self.flip_while(s, [], 0.1)
        self.read_503(s)
        self.assert_cut("stalled", t_flip)
        s.close()

    def test_websocket_accepted_after_demotion_is_refused(self):
        s = connect(self.port)
        s.sendall(b"GET /ws?delay_ms=2000 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        time.sleep(0.3)
        self.write_flag("us-west-2")
        self.read_503(s)
        s.settimeout(3)
        self.assertEqual(s.recv(100), b"")
        s.close()

    def test_deadline_headers(self):
        before = time.time()
        status, _, body = request(self.port, "POST", "/dl", {"X-Warden-Deadline": "forged"},
                                  body=b"x")
        self.assertEqual(status, 200)
        headers = json.loads(body)["headers"]
        dl = [v for k, v in headers if k.lower() == "x-warden-deadline"]
        left = [int(v) for k, v in headers if k.lower() == "x-warden-writable-for-ms"]
        self.assertEqual(len(dl), 1, headers)
        self.assertRegex(dl[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        wall = calendar.timegm(time.strptime(dl[0][:19], "%Y-%m-%dT%H:%M:%S")) + \
            int(dl[0][20:23]) / 1000.0
        self.assertEqual(len(left), 1)
        self.assertTrue(0 < left[0] <= self.TTL * 1000, left)
        self.assertLessEqual(wall, time.time() + self.TTL + 0.05)
        self.assertGreater(wall, before)
        self.assertLess(abs((wall - time.time()) * 1000 - left[0]), 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
