"""The health listener over real sockets: routes, methods, keep-alive, the
details rule, a listener under a flood of idle and slowloris connections,
and the lame duck on SIGTERM.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_http_server.py
Assertions are on behaviour (answered, status, body), never on latency.
"""

import http.client
import json
import os
import resource
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

IDLE_CONNECTIONS = 1500
IDLE_SOURCES = ["127.0.0.%d" % i for i in range(2, 31)]       # 29 addresses, ~52 each
SLOWLORIS_CONNECTIONS = 200
SLOWLORIS_SOURCES = ["127.0.0.%d" % i for i in range(31, 41)]  # 10 addresses, 20 each
FLOOD_ENV = {
    # Room for the whole flood plus the test's own requests; the per-IP cap
    # stays at its default, above what each source address opens.
    "WARDEN_HTTP_MAX_CONNECTIONS": "4096",
    "WARDEN_HTTP_MAX_CONNECTIONS_PER_IP": "128",
    "WARDEN_HTTP_IDLE_TIMEOUT": "60s",
}


def raise_nofile(want=8192):
    """Raise the soft RLIMIT_NOFILE (warden inherits it) for the many sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def non_loopback_ipv4():
    """An IPv4 address of this machine that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def stop_checked(warden):
    """Stop warden (SIGTERM, drain, exit) and fail on a non-zero exit or on any
    sanitizer report in its output (leaks are reported at exit)."""
    if warden.proc.poll() is None:
        warden.signal(signal.SIGTERM)
    try:
        rc = warden.wait_exit(timeout=20)
        text = warden.log_text()
    finally:
        warden.stop()
    for marker in SANITIZER_MARKERS:
        if marker in text:
            raise AssertionError("sanitizer report in warden's output:\n" + text)
    if rc != 0:
        raise AssertionError("warden exited with %d; output:\n%s" % (rc, text))


def connect_from(source, port, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def accept_queue(port):
    """Connections waiting in the accept queue of the IPv4 listener on `port`
    (the kernel's count, /proc/net/tcp), or None when nothing listens there."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return int(queues.split(":")[1], 16)  # rx_queue: the backlog now
    return None


def still_open(sock):
    """True unless the peer closed (EOF or reset) the connection."""
    sock.setblocking(False)
    try:
        data = sock.recv(1, socket.MSG_PEEK)
        return data != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


class Slowloris:
    """Clients that send a request header one byte per second, forever."""

    def __init__(self, port, count, sources):
        self.socks = []
        for i in range(count):
            s = connect_from(sources[i % len(sources)], port)
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: warden\r\nX-Slow: ")
            self.socks.append(s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self):
        while not self._stop.wait(1.0):
            for s in self.socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for s in self.socks:
            s.close()


class HttpServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nofile = raise_nofile()
        cls.warden = harness.Warden(env=dict(FLOOD_ENV, WARDEN_DRAIN_SECONDS="1"))

    @classmethod
    def tearDownClass(cls):
        stop_checked(cls.warden)

    def test_livez(self):
        status, headers, body = self.warden.get("/livez")
        self.assertEqual(status, 200)
        self.assertEqual(body, "ok\n")
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        status, _, body = self.warden.get("/livez", method="HEAD")
        self.assertEqual((status, body), (200, ""))

    def test_readyz_without_probes(self):
        status, headers, body = self.warden.get("/readyz")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/health+json")
        self.assertEqual(headers["cache-control"], "no-store")
        doc = json.loads(body)
        self.assertEqual(doc["status"], "pass")
        self.assertEqual(doc["checks"], {})
        self.assertEqual(self.warden.get("/readyz?verbose")[0], 200)

    def test_unknown_paths(self):
        # The admin endpoints do not exist without WARDEN_ADMIN_TOKEN.
        for path in ("/", "/nope", "/livez/", "/readyz/nope", "/readyz/", "/admin/drain",
                     "/admin/fence", "/admin/unfence", "/fence/", "/activez/x"):
            self.assertEqual(self.warden.get(path)[0], 404, path)
            self.assertEqual(self.warden.get(path, method="POST")[0], 404, path)

    def test_fence_without_flag(self):
        # No WARDEN_FLAG: health only; /fence says unknown, never writable.
        status, doc = self.warden.json("/fence")
        self.assertEqual(status, 200)
        self.assertEqual((doc["state"], doc["writable"]), ("unknown", False))
        self.assertEqual(self.warden.get("/activez")[0], 503)

    def test_wrong_method(self):
        for path in ("/livez", "/readyz", "/status", "/metrics"):
            for method in ("POST", "PUT", "DELETE", "OPTIONS"):
                status, headers, _ = self.warden.get(path, method=method)
                self.assertEqual(status, 405, "%s %s" % (method, path))
                self.assertEqual(headers.get("allow"), "GET, HEAD")

    def test_metrics(self):
        status, headers, body = self.warden.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        lines = body.splitlines()
        self.assertIn("warden_ready 1", lines)
        self.assertIn("warden_draining 0", lines)
        self.assertIn("# TYPE warden_probe_duration_seconds histogram", lines)

    def test_status(self):
        status, headers, body = self.warden.get("/status")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        doc = json.loads(body)
        self.assertTrue(doc["ready"])
        self.assertFalse(doc["draining"])
        self.assertEqual(doc["probes"], [])
        self.assertEqual(doc["config"]["listen"], "127.0.0.1:%d" % self.warden.port)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.warden.port, timeout=5)
        try:
            conn.request("GET", "/livez")
            first = conn.getresponse()
            self.assertEqual(first.read(), b"ok\n")
            self.assertNotEqual((first.getheader("connection") or "").lower(), "close")
            sock = conn.sock
            self.assertIsNotNone(sock, "the server closed the connection after one request")
            conn.request("GET", "/readyz")
            second = conn.getresponse()
            self.assertEqual(second.status, 200)
            second.read()
            self.assertIs(conn.sock, sock, "the second request needed a new connection")
        finally:
            conn.close()

    def test_request_body_is_discarded(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.warden.port, timeout=5)
        try:
            conn.request("GET", "/livez", body=b"x" * 1000)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"ok\n"))
            sock = conn.sock
            conn.request("GET", "/livez")  # the body did not poison the connection
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"ok\n"))
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()
        status, _, _ = self.warden.get("/livez", headers={"Content-Length": str(64 << 20)})
        self.assertEqual(status, 413)

    def test_flood_does_not_stop_readyz(self):
        port = self.warden.port
        self.assertGreater(self.nofile, IDLE_CONNECTIONS + SLOWLORIS_CONNECTIONS + 100,
                           "RLIMIT_NOFILE too low for the flood")
        idle = []
        slow = None
        try:
            for i in range(IDLE_CONNECTIONS):
                idle.append(connect_from(IDLE_SOURCES[i % len(IDLE_SOURCES)], port))
            slow = Slowloris(port, SLOWLORIS_CONNECTIONS, SLOWLORIS_SOURCES)
            # The server took every connection: none left in the accept queue.
            harness.wait_until(lambda: accept_queue(port) == 0, timeout=10,
                               what="the flood accepted")
            for attempt in range(3):
                status, _, body = harness.http_request(port, "/readyz", timeout=5.0)
                self.assertEqual(status, 200, "attempt %d" % attempt)
                self.assertEqual(json.loads(body)["status"], "pass")
                self.assertEqual(self.warden.get("/livez", timeout=5.0)[0], 200)
                time.sleep(0.5)
            # The flood was really held by the server, not refused.
            closed = sum(1 for s in idle if not still_open(s))
            self.assertEqual(closed, 0, "%d idle connections were closed" % closed)
            closed = sum(1 for s in slow.socks if not still_open(s))
            self.assertEqual(closed, 0, "%d slowloris connections were closed" % closed)
        finally:
            if slow is not None:
                slow.close()
            for s in idle:
                s.close()
        self.assertEqual(self.warden.get("/readyz")[0], 200)

    def test_details_only_for_loopback(self):
        addr = non_loopback_ipv4()
        if addr is None:
            self.skipTest("no non-loopback IPv4 address on this machine")
        refused = harness.free_port()  # nothing listens there: the probe fails, with output
        port = harness.free_port("0.0.0.0")
        warden = harness.Warden(env={
            "WARDEN_LISTEN": "0.0.0.0:%d" % port,
            "WARDEN_PROBE_GONE": "tcp://127.0.0.1:%d#timeout=200ms&interval=1s" % refused,
        }, port=port)
        try:
            local = json.loads(warden.get("/status")[2])
            self.assertEqual(local["probes"][0]["target"], "tcp://127.0.0.1:%d" % refused)
            status, _, body = harness.http_request(warden.port, "/status", host=addr)
            self.assertEqual(status, 200)
            self.assertNotIn("target", json.loads(body)["probes"][0])
            harness.wait_until(lambda: "output" in warden.get("/readyz?verbose")[2],
                               what="a verbose /readyz with output")
            _, _, body = harness.http_request(warden.port, "/readyz?verbose", host=addr)
            self.assertNotIn("output", body)
            _, _, body = warden.get("/readyz")
            self.assertNotIn("output", body)
        finally:
            stop_checked(warden)


ADMIN_TOKEN = "http-admin-token-5c1e9a7b"


def raw_request(port, data, timeout=5.0):
    """Send raw bytes on a fresh connection; return the status code of the reply
    (0 when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    if not reply.startswith(b"HTTP/1."):
        return 0
    return int(reply.split(b" ", 2)[1])


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks (/proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class HardeningTest(unittest.TestCase):
    """Issue 9: slowloris deadline, EMFILE, refusal logging, auth scheme,
    control bytes in the target, /readyz/<probe>."""

    def setUp(self):
        raise_nofile()

    def test_header_timeout_closes_tricklers(self):
        header_timeout = 2.0
        slack = 1.5
        warden = harness.Warden(env={"WARDEN_HTTP_HEADER_TIMEOUT": "2s",
                                     "WARDEN_HTTP_IDLE_TIMEOUT": "60s"})
        slow = None
        try:
            start = time.monotonic()
            slow = Slowloris(warden.port, 60, ["127.0.0.%d" % i for i in range(2, 8)])
            # A new client is served while they trickle.
            self.assertEqual(harness.http_request(warden.port, "/readyz",
                                                  source="127.0.0.9")[0], 200)
            harness.wait_until(lambda: all(not still_open(s) for s in slow.socks),
                               timeout=header_timeout + slack + 5, interval=0.05,
                               what="every trickling connection closed")
            elapsed = time.monotonic() - start
            self.assertLessEqual(elapsed, header_timeout + slack,
                                 "tricklers lived %.2fs, header timeout %.1fs"
                                 % (elapsed, header_timeout))
            self.assertEqual(warden.get("/livez")[0], 200)
        finally:
            if slow is not None:
                slow.close()
            stop_checked(warden)

    def test_header_timeout_keeps_idle_keep_alive(self):
        # Idle between requests is the idle timeout's business, not the header's.
        warden = harness.Warden(env={"WARDEN_HTTP_HEADER_TIMEOUT": "1s",
                                     "WARDEN_HTTP_IDLE_TIMEOUT": "30s"})
        conn = http.client.HTTPConnection("127.0.0.1", warden.port, timeout=5)
        try:
            conn.request("GET", "/livez")
            self.assertEqual(conn.getresponse().read(), b"ok\n")
            sock = conn.sock
            time.sleep(2.5)  # longer than the header timeout, idle
            self.assertTrue(still_open(sock), "an idle keep-alive connection was cut")
            conn.request("GET", "/livez")
            self.assertEqual(conn.getresponse().read(), b"ok\n")
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()
            stop_checked(warden)

    def test_header_timeout_setting(self):
        import subprocess
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        out = subprocess.run([harness.WARDEN_BIN, "config"], env=base, capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["http_header_timeout"], "10s")
        for bad in ("0s", "50ms", "2h", "10"):
            out = subprocess.run([harness.WARDEN_BIN, "config"],
                                 env=dict(base, WARDEN_HTTP_HEADER_TIMEOUT=bad),
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 2, bad)
            self.assertIn("WARDEN_HTTP_HEADER_TIMEOUT", out.stderr)

    def test_control_bytes_in_target(self):
        warden = harness.Warden()
        try:
            port = warden.port
            self.assertEqual(raw_request(port, b"GET /livez HTTP/1.1\r\nHost: w\r\n\r\n"), 200)
            for target in (b"/livez%00", b"/livez\x00x", b"/livez\x00", b"/livez%01",
                           b"/livez%1f", b"/livez%1F", b"/livez%7f", b"/livez\x01",
                           b"/livez\x7f", b"/livez?a=%00", b"/readyz%0a", b"/livez\tx",
                           b"/livez\x00HTTP/1.1"):
                status = raw_request(port, b"GET " + target +
                                     b" HTTP/1.1\r\nHost: w\r\n\r\n")
                self.assertEqual(status, 400, target)
            # Percent-encoded printable bytes are fine.
            self.assertEqual(raw_request(port, b"GET /livez?a=%20b HTTP/1.1\r\nHost: w\r\n\r\n"),
                             200)
            self.assertEqual(warden.get("/livez")[0], 200)
        finally:
            stop_checked(warden)

    def test_bearer_scheme_is_case_insensitive(self):
        warden = harness.Warden(env={"WARDEN_ADMIN_TOKEN": ADMIN_TOKEN})
        try:
            for auth in ("bearer " + ADMIN_TOKEN, "BEARER " + ADMIN_TOKEN,
                         "Bearer   " + ADMIN_TOKEN, "bEaReR " + ADMIN_TOKEN):
                status = warden.get("/admin/unfence", method="POST",
                                    headers={"Authorization": auth})[0]
                self.assertEqual(status, 204, auth)
            for auth in ("Bearer" + ADMIN_TOKEN, "Bearer\t" + ADMIN_TOKEN,
                         "Bearers " + ADMIN_TOKEN,
                         "Basic " + ADMIN_TOKEN, "bearer", "bearer "):
                status = warden.get("/admin/unfence", method="POST",
                                    headers={"Authorization": auth})[0]
                self.assertEqual(status, 401, auth)
        finally:
            stop_checked(warden)

    def test_refusals_logged_at_most_once_a_second(self):
        warden = harness.Warden(env={"WARDEN_ADMIN_TOKEN": ADMIN_TOKEN})
        try:
            start = time.monotonic()
            bad = 200
            for _ in range(bad):
                self.assertEqual(warden.get("/admin/fence", method="POST", headers={
                    "Authorization": "Bearer wrong-token-0123456789"})[0], 401)
            elapsed = time.monotonic() - start
            time.sleep(1.1)
            # One more after a quiet second: its line carries the suppressed count.
            warden.get("/admin/fence", method="POST")
            lines = harness.wait_until(
                lambda: (lambda e: e if sum(1 + x.get("suppressed", 0) for x in e) >= bad + 1
                         else None)(warden.events("admin.refused")),
                timeout=5, what="the refusal count in the log")
            self.assertLessEqual(len(lines), int(elapsed) + 3,
                                 "%d refusal lines in %.1fs" % (len(lines), elapsed))
            self.assertEqual(sum(1 + x.get("suppressed", 0) for x in lines), bad + 1)
        finally:
            stop_checked(warden)

    def test_readyz_probe_reports_its_own_health(self):
        refused = harness.free_port()  # nothing listens there
        warden = harness.Warden(env={
            "WARDEN_PROBE_GONE": "tcp://127.0.0.1:%d#timeout=200ms&interval=1s&critical=false"
                                 % refused,
        })
        try:
            warden.wait_probe("gone", health="down")
            self.assertEqual(warden.get("/readyz")[0], 200)  # non-critical: the whole warns
            status, _, body = warden.get("/readyz/gone")
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body)["status"], "fail")
            self.assertEqual(warden.get("/readyz/nope")[0], 404)
        finally:
            stop_checked(warden)

    def test_fd_limit_checked_at_start(self):
        import subprocess

        def limit(n):
            return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "WARDEN_LISTEN": "127.0.0.1:%d" % harness.free_port()}
        for args in (["config"], ["serve"]):
            out = subprocess.run([harness.WARDEN_BIN] + args, env=base, capture_output=True,
                                 text=True, timeout=20, preexec_fn=limit(256))
            self.assertEqual(out.returncode, 2, "%s: %s" % (args, out.stderr))
            err = out.stderr.strip()
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn("WARDEN_HTTP_MAX_CONNECTIONS", err)
            self.assertIn("1024", err)
            self.assertIn("256", err)
        # Small caps fit.
        out = subprocess.run([harness.WARDEN_BIN, "config"],
                             env=dict(base, WARDEN_HTTP_MAX_CONNECTIONS="64"),
                             capture_output=True, text=True, timeout=20, preexec_fn=limit(256))
        self.assertEqual(out.returncode, 0, out.stderr)
        # A low soft limit under a high hard one is raised, not refused.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard >= 4096:
            out = subprocess.run(
                [harness.WARDEN_BIN, "config"], env=base, capture_output=True, text=True,
                timeout=20,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))
            self.assertEqual(out.returncode, 0, out.stderr)

    def test_emfile_does_not_spin(self):
        warden = harness.Warden(env={"WARDEN_HTTP_IDLE_TIMEOUT": "60s"})
        flood = []
        try:
            pid = warden.proc.pid
            _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            # Every descriptor in use (as when the proxy or a probe took the
            # last ones): the soft limit drops to what is open now, so the
            # listener's very first accept() fails. It must wait, not spin.
            in_use = len(os.listdir("/proc/%d/fd" % pid))
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use, hard))
            for i in range(100):
                flood.append(connect_from("127.0.0.%d" % (2 + i % 10), warden.port))
            time.sleep(0.5)
            ticks = os.sysconf("SC_CLK_TCK")
            before = cpu_ticks(pid)
            t0 = time.monotonic()
            time.sleep(3.0)
            used = (cpu_ticks(pid) - before) / ticks / (time.monotonic() - t0)
            # A spin is a whole core; a waiting listener is near zero.
            self.assertLess(used, 0.25, "warden used %.0f%% of a core at EMFILE" % (used * 100))
            self.assertLess(len(warden.log_text().splitlines()), 50, "log flood at EMFILE")
            # Descriptors free again: /livez answers (behind the queued flood).
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 512, hard))
            harness.wait_until(lambda: warden.get("/livez", timeout=2)[0] == 200, timeout=10,
                               what="/livez once descriptors are free")
        finally:
            for s in flood:
                s.close()
            stop_checked(warden)


class LameDuckTest(unittest.TestCase):
    def test_sigterm_fails_readyz_then_exits_zero(self):
        warden = harness.Warden(env={"WARDEN_DRAIN_SECONDS": "1"})
        try:
            self.assertEqual(warden.get("/readyz")[0], 200)
            warden.signal(signal.SIGTERM)
            status, _, body = harness.wait_until(
                lambda: (lambda r: r if r[0] == 503 else None)(warden.get("/readyz")),
                timeout=1.0, interval=0.01, what="/readyz 503 after SIGTERM")
            self.assertEqual(json.loads(body)["status"], "fail")
            self.assertEqual(warden.get("/livez")[0], 200)
            self.assertIn("warden_draining 1", warden.get("/metrics")[2].splitlines())
            self.assertEqual(warden.wait_exit(timeout=15), 0)
        finally:
            stop_checked(warden)


if __name__ == "__main__":
    harness.main()
