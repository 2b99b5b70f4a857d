"""Shared pieces of warden's integration tests (python3 standard library only).

Everything runs on loopback, on ports picked free at run time, in temporary
directories that are removed at the end. Servers (Postgres, Redis, targets)
are started by the test modules through the helpers in pg.py, redis_server.py
and targets.py; this module holds what every test needs: the warden process,
HTTP requests to it, waiting, and the black-hole target.
"""

import json
import os
import random
import sys
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import http.client

WARDEN_BIN = os.environ.get("WARDEN_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "warden")


def base_env(**extra):
    """The environment a warden process starts from: PATH and this run's
    sanitizer options (ASan, UBSan, LSan), then extra."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value; return that value.

    Raises AssertionError naming `what` when timeout passes first.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last error: %r)"
                                 % (timeout, what, last_exc))
        time.sleep(interval)


def http_request(port, path, method="GET", host="127.0.0.1", headers=None, timeout=5.0,
                 source=None):
    """One request on a fresh connection: (status, headers dict lowercased, body str)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


class TempDir:
    """A temporary directory removed by cleanup()."""

    def __init__(self, prefix="warden-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Warden:
    """A warden process on a free loopback port, its stdout logged to a file.

    env: extra environment (WARDEN_* settings). The process environment is
    not inherited except PATH, so that a developer's WARDEN_* never leaks in.
    """

    # Tries when the free port picked for the listener is taken before warden
    # binds it (another test picked it too): a race of free_port(), not a bug.
    PORT_TRIES = 5

    def __init__(self, env=None, args=("serve",), port=None, wait=True):
        self.tmp = TempDir("warden-run-")
        self.log_path = self.tmp.join("warden.log")
        for attempt in range(self.PORT_TRIES):
            self.port = port or free_port()
            full_env = base_env(WARDEN_LISTEN="127.0.0.1:%d" % self.port,
                                WARDEN_DRAIN_SECONDS="0")
            full_env.update(env or {})
            self.env = full_env
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen([WARDEN_BIN] + list(args), env=full_env,
                                         stdout=self._log, stderr=subprocess.STDOUT)
            if not wait:
                return
            try:
                wait_until(self._live, timeout=15,
                           what="warden /livez on port %d" % self.port)
                return
            except AssertionError:
                lost_race = (port is None and self.proc.poll() is not None and
                             "Address already in use" in self.log_text() and
                             attempt + 1 < self.PORT_TRIES)
                if not lost_race:
                    raise
                self._log.close()

    def _live(self):
        if self.proc.poll() is not None:
            raise AssertionError("warden exited with %s; log:\n%s"
                                 % (self.proc.returncode, self.log_text()))
        return self.get("/livez", timeout=1)[0] == 200

    def get(self, path, method="GET", headers=None, timeout=5.0, source=None):
        return http_request(self.port, path, method=method, headers=headers,
                            timeout=timeout, source=source)

    def json(self, path, timeout=5.0):
        status, _, body = self.get(path, timeout=timeout)
        return status, json.loads(body)

    def status(self):
        """The /status document (from loopback, so with details)."""
        return self.json("/status")[1]

    def probe(self, name):
        """The /status entry of probe `name`."""
        for probe in self.status()["probes"]:
            if probe["name"] == name:
                return probe
        raise AssertionError("no probe %r in /status" % name)

    def wait_probe(self, name, health=None, outcome=None, timeout=15.0):
        """Wait until probe `name` has the given health ("up", "down", "pending")
        and/or last outcome ("ok", "timeout", ...); return its /status entry."""
        def check():
            p = self.probe(name)
            if health is not None and p.get("health") != health:
                return None
            if outcome is not None and (p.get("last") or {}).get("outcome") != outcome:
                return None
            return p
        return wait_until(check, timeout=timeout,
                          what="probe %s health=%s outcome=%s" % (name, health, outcome))

    def log_text(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def events(self, event=None):
        """Parsed JSON log lines (optionally only those of one event)."""
        out = []
        for line in self.log_text().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if event is None or obj.get("event") == event:
                out.append(obj)
        return out

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        """Stop (SIGTERM, then SIGKILL) and clean up; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.tmp.cleanup()
        return self.proc.returncode


class BlackHole:
    """A TCP server that accepts connections and never sends a byte.

    The kernel completes the handshake (listen backlog), and an accept thread
    holds every accepted socket open until close(), so a client sees a live
    peer that never answers: the worst a dependency can do.
    """

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        for conn in self.held:
            conn.close()
        self.sock.close()


def check_sanitizer_log(testcase, warden):
    """Fail the test if the sanitizers reported anything in warden's output."""
    text = warden.log_text()
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        testcase.assertNotIn(marker, text, "sanitizer report in warden's log")


def seeded_random(what):
    """A random.Random for `what`'s random choices, and its seed printed first.

    The seed is WARDEN_TEST_SEED when set, else taken from the clock; it is
    printed (stderr, shown by ctest on failure) so that a failing run can be
    replayed: WARDEN_TEST_SEED=<seed> python3 tests/integration/test_x.py Class.test
    """
    text = os.environ.get("WARDEN_TEST_SEED", "").strip()
    seed = int(text) if text else time.time_ns() % 1000000000
    print("%s: random seed %d (replay with WARDEN_TEST_SEED=%d)" % (what, seed, seed),
          file=sys.stderr, flush=True)
    return random.Random(seed)


def main():
    """Run the calling module's tests; exit non-zero on any failure."""
    unittest.main(verbosity=2)
