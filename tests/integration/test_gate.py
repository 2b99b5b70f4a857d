"""`warden gate` against a fake sidecar and a real one, with real child processes.

The fake sidecar (fake_sidecar.py) answers GET /fence as the test says:
writable or not, lease held or not, writable_for_ms, hang, 500, garbage - or
is SIGKILLed. The children are small shell scripts that append what happens
to them ("start PID EPOCH TOKEN DEADLINE", "term PID") to a file and trap
SIGTERM.

BoundTest runs a real `warden serve` (file flag, interval 200 ms, TTL 3 s)
behind a relay that records every /fence answer the gate got, and a child
that ignores SIGTERM and records the time every 50 ms; the sidecar is then
SIGSTOPped, or the flag flipped, and the child's last record must be no
later than the last writable_until the gate saw + SLACK.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_gate.py
Assertions are on behaviour and on the order of events, and on the one
bound of the contract (writable_until) with a stated slack; waits are
generous.
"""

import datetime
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from fake_sidecar import FakeSidecar  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""#!/bin/sh
# usage: child.sh OUT MODE   (MODE: trap | ignore | crash | done)
out="$1"
echo "start $$ $WARDEN_EPOCH $WARDEN_FENCING_TOKEN $WARDEN_DEADLINE" >> "$out"
case "$2" in
ignore) trap 'echo "term $$" >> "$out"' TERM ;;
crash) exit 1 ;;
done) exit 0 ;;
*) trap 'echo "term $$" >> "$out"; exit 7' TERM ;;
esac
while :; do sleep 0.05; done
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def rfc3339(text):
    """Seconds since the epoch of "2026-12-02T04:12:04.123Z"."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Gate:
    """A `warden gate` process, its JSON log in a file, its child's record in another."""

    def __init__(self, sidecar_url, mode="trap", singleton=None, grace="1s", poll="100ms",
                 cmd=None, once=False):
        self.tmp = harness.TempDir("warden-gate-")
        self.out = self.tmp.join("child.out")
        self.log_path = self.tmp.join("gate.log")
        script = self.tmp.join("child.sh")
        with open(script, "w") as f:
            f.write(CHILD)
        os.chmod(script, 0o755)
        args = [harness.WARDEN_BIN, "gate", "--sidecar", sidecar_url, "--grace=" + grace,
                "--poll", poll]
        if singleton:
            args += ["--singleton", singleton]
        if once:
            args += ["--once"]
        args += ["--"] + (cmd or [script, self.out, mode])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               # The gate must replace these, never pass ours through.
               "WARDEN_EPOCH": "999", "WARDEN_FENCING_TOKEN": "999",
               "WARDEN_DEADLINE": "1999-01-01T00:00:00.000Z"}
        env.update(harness.base_env())
        self._log = open(self.log_path, "wb")
        self._err = open(self.tmp.join("gate.err"), "wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=self._err)

    def stderr_text(self):
        self._err.flush()
        with open(self.tmp.join("gate.err"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_text(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def events(self, event=None, **fields):
        out = []
        for line in self.log_text().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict) or not str(obj.get("event", "")).startswith("gate."):
                continue
            if event is not None and obj.get("event") != event:
                continue
            if all(obj.get(k) == v for k, v in fields.items()):
                out.append(obj)
        return out

    def wait_event(self, event, count=1, timeout=15, **fields):
        """Wait until `count` lines of `event` with `fields` are logged; return them."""
        def check():
            if self.proc.poll() is not None and len(self.events(event, **fields)) < count:
                raise AssertionError("gate exited (%s) before %s %r; log:\n%s"
                                     % (self.proc.returncode, event, fields, self.log_text()))
            found = self.events(event, **fields)
            return found if len(found) >= count else None
        try:
            return harness.wait_until(check, timeout=timeout,
                                      what="%d x %s %r" % (count, event, fields))
        except AssertionError as exc:
            raise AssertionError("%s; log:\n%s" % (exc, self.log_text())) from None

    def sequence(self):
        """(event, reason) of every start/stop/kill/exit line, in order."""
        return [(e["event"], e.get("reason")) for e in self.events()
                if e["event"] in ("gate.start", "gate.stop", "gate.kill", "gate.exit")]

    def records(self):
        """The child's record: lists like ["start", pid, epoch, token] or ["term", pid]."""
        try:
            with open(self.out) as f:
                return [line.split() for line in f.read().splitlines() if line.strip()]
        except FileNotFoundError:
            return []

    def starts(self):
        return [r for r in self.records() if r[0] == "start"]

    def wait_record(self, kind, count=1, timeout=15):
        def check():
            found = [r for r in self.records() if r[0] == kind]
            return found if len(found) >= count else None
        try:
            return harness.wait_until(check, timeout=timeout,
                                      what="%d x '%s' in the child's record" % (count, kind))
        except AssertionError as exc:
            raise AssertionError("%s; log:\n%s" % (exc, self.log_text())) from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self._err.close()
        self.tmp.cleanup()


class GateTest(unittest.TestCase):
    def setUp(self):
        self.sidecar = FakeSidecar()
        self.gates = []

    def tearDown(self):
        for gate in self.gates:
            gate.close()
        self.sidecar.close()

    def gate(self, **kwargs):
        gate = Gate(kwargs.pop("url", self.sidecar.url), **kwargs)
        self.gates.append(gate)
        return gate

    def writable(self, epoch=42, writable_for_ms=2500, ttl_ms=3000):
        self.sidecar.set(writable=True, epoch=epoch, writable_for_ms=writable_for_ms,
                         ttl_ms=ttl_ms, active_region="us-east-1")

    def fenced(self, epoch=42):
        self.sidecar.set(writable=False, state="passive", epoch=epoch,
                         active_region="us-west-2")

    def wait_polls(self, n):
        seen = self.sidecar.requests
        harness.wait_until(lambda: self.sidecar.requests >= seen + n, timeout=10,
                           what="%d more polls of /fence" % n)

    # ------------------------------------------------------------------

    def test_bad_arguments(self):
        cases = [
            (["gate", "sleep", "1"], "--"),
            (["gate", "--grace", "5s"], "--"),
            (["gate", "--"], "CMD"),
            (["gate", "--grace", "soon", "--", "true"], "--grace"),
            (["gate", "--grace=", "--", "true"], "--grace"),
            (["gate", "--poll=1ms", "--", "true"], "--poll"),
            (["gate", "--sidecar", "ftp://x", "--", "true"], "--sidecar"),
            (["gate", "--singleton", "a b", "--", "true"], "--singleton"),
            (["gate", "--frobnicate", "--", "true"], "--frobnicate"),
            (["gate", "--singleton", "--", "true"], "--singleton"),
        ]
        for args, named in cases:
            proc = subprocess.run([harness.WARDEN_BIN] + args, capture_output=True, text=True,
                                  timeout=10, env={"PATH": os.environ.get("PATH", "")})
            self.assertEqual(proc.returncode, 2, (args, proc.stderr))
            self.assertIn(named, proc.stderr, args)
            self.assertEqual(proc.stderr.count("\n"), 1, proc.stderr)

    def test_starts_only_when_writable_and_exports_the_epoch(self):
        self.fenced()
        gate = self.gate()
        self.wait_polls(5)
        self.assertEqual(gate.starts(), [])
        self.assertEqual(gate.events("gate.start"), [])
        self.writable(epoch=42)
        before = time.time()
        start = gate.wait_record("start")[0]
        self.assertEqual(start[2:4], ["42", "42"])  # WARDEN_EPOCH, WARDEN_FENCING_TOKEN
        # WARDEN_DEADLINE: the verdict's writable_until, RFC 3339 UTC with milliseconds,
        # within writable_for_ms (2.5 s) of the answer.
        self.assertRegex(start[4], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        deadline = rfc3339(start[4])
        self.assertGreater(deadline, before - 0.5)
        self.assertLessEqual(deadline, time.time() + 2.5 + 0.1)
        event = gate.wait_event("gate.start")[0]
        self.assertEqual((event["pid"], event["epoch"], event["fencing_token"]),
                         (int(start[1]), 42, 42))
        # The child inherits stdio, not the gate's own sockets or signalfd.
        fd_dir = "/proc/%s/fd" % start[1]
        targets = [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]
        self.assertFalse([t for t in targets if t.startswith(("socket:", "anon_inode:"))],
                         targets)

    def test_fenced_stops_and_writable_restarts(self):
        self.writable()
        gate = self.gate()
        first = gate.wait_record("start")[0]
        self.fenced()
        gate.wait_event("gate.stop", reason="fenced")
        gate.wait_record("term")
        gate.wait_event("gate.exit", reason="fenced")
        harness.wait_until(lambda: not alive(int(first[1])), what="first child gone")
        self.wait_polls(3)
        self.assertEqual(len(gate.starts()), 1, "no restart while fenced")
        self.writable()
        second = gate.wait_record("start", count=2)[1]
        self.assertNotEqual(first[1], second[1])
        self.assertEqual(gate.records()[:3], [first, ["term", first[1]], second])
        # The child writes its record before the gate's log line may have been
        # read: wait for the line, then compare the sequence (a race under load).
        gate.wait_event("gate.start", count=2)
        self.assertEqual(gate.sequence()[:4], [("gate.start", None), ("gate.stop", "fenced"),
                                               ("gate.exit", "fenced"), ("gate.start", None)])
        exit_event = gate.events("gate.exit")[0]
        self.assertEqual(exit_event["status"], 7)

    def test_new_epoch_restarts_with_the_new_token(self):
        self.writable(epoch=42)
        gate = self.gate()
        gate.wait_record("start")
        self.writable(epoch=43)
        gate.wait_event("gate.stop", reason="token_changed")
        second = gate.wait_record("start", count=2)[1]
        self.assertEqual(second[2:4], ["43", "43"])

    def test_child_ignoring_sigterm_gets_sigkill_after_grace(self):
        self.writable()
        gate = self.gate(mode="ignore", grace="1s")
        pid = int(gate.wait_record("start")[0][1])
        self.fenced()
        gate.wait_record("term")
        self.assertTrue(alive(pid), "it ignores SIGTERM, so it lives until the grace ends")
        exit_event = gate.wait_event("gate.exit", reason="fenced")[0]
        self.assertEqual(exit_event["signal"], "SIGKILL")
        self.assertEqual(exit_event["status"], 137)
        self.assertFalse(alive(pid))
        self.assertEqual(gate.sequence()[:4], [("gate.start", None), ("gate.stop", "fenced"),
                                               ("gate.kill", "fenced"), ("gate.exit", "fenced")])

    def test_singleton_needs_the_lease(self):
        self.writable(epoch=42)
        gate = self.gate(singleton="cron")
        self.wait_polls(4)
        self.sidecar.set_lease("cron", held=False, generation=6, expires_in_ms=0)
        self.sidecar.set_lease("other", held=True, generation=1, expires_in_ms=5000)
        self.wait_polls(4)
        self.assertEqual(gate.starts(), [], "writable, but the lease is not held")
        self.sidecar.set_lease("cron", held=True, generation=7, expires_in_ms=5000)
        start = gate.wait_record("start")[0]
        self.assertEqual(start[2:4], ["42", "7"])  # WARDEN_EPOCH=epoch, TOKEN=generation
        self.sidecar.set_lease("cron", held=False, generation=7, expires_in_ms=0)
        gate.wait_event("gate.stop", reason="lease_lost")
        gate.wait_record("term")
        gate.wait_event("gate.exit", reason="lease_lost")
        # Taken over and back: a new generation is a new token.
        self.sidecar.set_lease("cron", held=True, generation=9, expires_in_ms=5000)
        self.assertEqual(gate.wait_record("start", count=2)[1][2:4], ["42", "9"])

    def test_sidecar_hanging_or_failing_stops_the_child(self):
        for mode in ("hang", "500", "garbage"):
            with self.subTest(mode=mode):
                self.sidecar.set_mode("ok")
                # The TTL is long: a stop within the wait below comes from writable_for_ms.
                self.writable(writable_for_ms=2500, ttl_ms=60000)
                gate = self.gate()
                gate.wait_record("start")
                self.sidecar.set_mode(mode)
                gate.wait_event("gate.stop", reason="sidecar_unreachable", timeout=10)
                gate.wait_record("term")
                gate.wait_event("gate.exit", reason="sidecar_unreachable")
                self.assertEqual(gate.wait_event("gate.sidecar", reachable=False)[0]["level"],
                                 "warn")
                self.sidecar.set_mode("ok")
                gate.wait_record("start", count=2)
                gate.close()

    def test_sidecar_killed_stops_the_child(self):
        port = harness.free_port()
        sidecar = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_sidecar.py"),
                                    str(port)], stdout=subprocess.PIPE, text=True)
        try:
            self.assertTrue(sidecar.stdout.readline().startswith("ready"))
            body = json.dumps({"answer": {"writable": True, "epoch": 5,
                                          "writable_for_ms": 1500, "ttl_ms": 60000}}).encode()
            urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d/control" % port, data=body, method="POST"), timeout=5)
            gate = self.gate(url="http://127.0.0.1:%d" % port)
            pid = int(gate.wait_record("start")[0][1])
            sidecar.kill()
            sidecar.wait()
            gate.wait_event("gate.stop", reason="sidecar_unreachable", timeout=10)
            gate.wait_record("term")
            harness.wait_until(lambda: not alive(pid), what="child gone")
            self.assertEqual(len(gate.starts()), 1)
        finally:
            if sidecar.poll() is None:
                sidecar.kill()
                sidecar.wait()
            sidecar.stdout.close()

    def test_verdict_runs_out_between_polls(self):
        # The sidecar answers promptly, but its verdict lasts less than a poll:
        # SIGTERM at its deadline - grace (400 ms), SIGKILL due at the deadline.
        self.writable(writable_for_ms=600, ttl_ms=60000)
        gate = self.gate(poll="3s", grace="200ms")
        gate.wait_record("start")
        stop = gate.wait_event("gate.stop", reason="deadline", timeout=10)[0]
        self.assertLessEqual(stop["kill_in_ms"], 200)
        gate.wait_record("term")
        self.assertEqual(gate.events("gate.sidecar", reachable=False), [])

    def test_crash_loop_backs_off(self):
        self.writable(writable_for_ms=60000, ttl_ms=60000)
        gate = self.gate(mode="crash")
        starts = gate.wait_event("gate.start", count=4, timeout=30)
        exits = gate.events("gate.exit", reason="exited")
        self.assertGreaterEqual(len(exits), 3)
        delays = [e["restart_in_ms"] for e in exits[:3]]
        self.assertEqual(delays, [1000, 2000, 4000])
        self.assertTrue(all(e["exit_code"] == 1 for e in exits))

        def ts(event):
            return datetime.datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        gaps = [(ts(starts[i + 1]) - ts(exits[i])).total_seconds() * 1000 for i in range(3)]
        for gap, delay in zip(gaps, delays):
            self.assertGreaterEqual(gap, delay * 0.9, (gaps, delays))
        self.assertLess(gaps[0], gaps[2], gaps)

    def test_sigterm_to_gate_is_forwarded_and_its_status_returned(self):
        self.writable()
        gate = self.gate(mode="trap")
        pid = int(gate.wait_record("start")[0][1])
        gate.proc.send_signal(signal.SIGTERM)
        self.assertEqual(gate.proc.wait(timeout=15), 7)  # the child's trap exits 7
        self.assertIn(["term", str(pid)], gate.records())
        self.assertFalse(alive(pid))
        self.assertEqual(gate.sequence()[-2:], [("gate.stop", "signal"),
                                                ("gate.exit", "signal")])

    def test_child_killed_by_sigterm_gives_128_plus_signal(self):
        self.writable()
        gate = self.gate(cmd=["sleep", "60"])
        gate.wait_event("gate.start")
        gate.proc.send_signal(signal.SIGINT)
        self.assertEqual(gate.proc.wait(timeout=15), 128 + signal.SIGTERM)

    def test_sigterm_with_no_child_exits_0(self):
        self.fenced()
        gate = self.gate()
        self.wait_polls(2)
        gate.proc.send_signal(signal.SIGTERM)
        self.assertEqual(gate.proc.wait(timeout=15), 0)
        self.assertEqual(gate.starts(), [])

    # -- --once ---------------------------------------------------------------

    def test_once_exit_0_is_not_restarted(self):
        self.writable()
        gate = self.gate(mode="done", once=True)
        self.assertEqual(gate.proc.wait(timeout=15), 0, gate.log_text())
        self.assertEqual(len(gate.starts()), 1)
        self.assertEqual(gate.sequence(), [("gate.start", None), ("gate.exit", "exited")])
        done = gate.events("gate.done")[0]
        self.assertEqual((done["exit_code"], done["reason"]), (0, "exited"))

    def test_once_crash_gives_its_status_and_is_not_retried(self):
        self.writable()
        gate = self.gate(mode="crash", once=True)
        self.assertEqual(gate.proc.wait(timeout=15), 1, gate.log_text())
        self.assertEqual(len(gate.starts()), 1)
        self.assertNotIn("restart_in_ms", gate.events("gate.exit")[0])

    def test_once_cannot_start_exits_127(self):
        self.writable()
        gate = self.gate(cmd=["/nonexistent/job"], once=True)
        self.assertEqual(gate.proc.wait(timeout=15), 127, gate.log_text())
        self.assertEqual(gate.events("gate.start"), [])

    def test_once_waits_while_fenced_then_runs_and_a_fence_stop_exits_75(self):
        self.fenced()
        gate = self.gate(mode="trap", once=True)
        self.wait_polls(5)
        self.assertEqual(gate.starts(), [], "fenced: waits, does not start")
        self.assertIsNone(gate.proc.poll(), "fenced: waits, does not exit")
        self.writable()
        pid = int(gate.wait_record("start")[0][1])
        self.fenced()
        self.assertEqual(gate.proc.wait(timeout=15), 75, gate.log_text())
        self.assertFalse(alive(pid))
        self.assertEqual(len(gate.starts()), 1)
        self.assertEqual(gate.sequence(), [("gate.start", None), ("gate.stop", "fenced"),
                                           ("gate.exit", "fenced")])
        done = gate.events("gate.done")[0]
        self.assertEqual((done["exit_code"], done["reason"], done["level"]),
                         (75, "fenced", "info"))

    def test_once_sigterm_while_waiting_exits_0(self):
        self.fenced()
        gate = self.gate(once=True)
        self.wait_polls(2)
        gate.proc.send_signal(signal.SIGTERM)
        self.assertEqual(gate.proc.wait(timeout=15), 0)
        self.assertEqual(gate.starts(), [])

    # -- --grace against the sidecar's numbers ---------------------------------

    def test_grace_that_leaves_no_room_is_refused_before_start(self):
        self.writable(ttl_ms=3000)
        self.sidecar.set(typical_fence_ms=1000)
        gate = self.gate(grace="2s")
        self.assertEqual(gate.proc.wait(timeout=15), 2, gate.log_text())
        err = gate.stderr_text()
        self.assertEqual(err.count("\n"), 1, err)
        for text in ("--grace 2s", "ttl 3s", "typical fence time 1s", "= 2s"):
            self.assertIn(text, err)
        self.assertEqual(gate.starts(), [])
        self.assertEqual(gate.events("gate.start"), [])
        self.assertEqual(gate.events("gate.refused")[0]["level"], "error")
        # Just below: accepted, and the child runs.
        ok = self.gate(grace="1999ms")
        ok.wait_record("start")

    def test_gate_killed_outright_takes_the_child_along(self):
        self.writable(writable_for_ms=60000, ttl_ms=60000)
        gate = self.gate()
        pid = int(gate.wait_record("start")[0][1])
        gate.proc.kill()
        gate.proc.wait()
        harness.wait_until(lambda: not alive(pid), timeout=10,
                           what="child killed by PR_SET_PDEATHSIG")


# ---------------------------------------------------------------- the bound

TICKER = r"""
import os, signal, sys, time
# Ignores SIGTERM: only SIGKILL ends it. Records the time every 50 ms.
signal.signal(signal.SIGTERM, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, ("start %d %s\n" % (os.getpid(), os.environ.get("WARDEN_DEADLINE"))).encode())
while True:
    os.write(fd, ("t %.6f\n" % time.time()).encode())
    time.sleep(0.05)
"""

SLACK = 0.15           # s: the gate's wake-up and SIGKILL delivery after writable_until
BOUND_KNOBS = {"WARDEN_FLAG_INTERVAL": "200ms", "WARDEN_FLAG_TIMEOUT": "300ms",
               "WARDEN_FLAG_TTL": "3s"}
BOUND_TYPICAL_MS = 200 * 1.2 + 300   # interval x 1.2 + timeout


class Relay:
    """GET /fence relayed to a real sidecar; keeps every answer the gate was given."""

    def __init__(self, target_port):
        self.answers = []      # (time relayed, parsed /fence)
        self.lock = threading.Lock()
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    status, _, text = harness.http_request(target_port, self.path, timeout=5)
                    body = text.encode()
                except OSError:
                    self.close_connection = True
                    return
                if status == 200 and self.path == "/fence":
                    with relay.lock:
                        relay.answers.append((time.time(), json.loads(body)))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass   # the gate gave up on this request: it never saw the answer

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.port = harness.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def last_writable_until(self):
        """The latest writable_until relayed (the gate's deadline is no later)."""
        with self.lock:
            untils = [doc["writable_until"] for _, doc in self.answers
                      if doc.get("writable") and doc.get("writable_until")]
        return rfc3339(untils[-1]) if untils else None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class BoundTest(unittest.TestCase):
    """The child is dead by the last writable_until the gate saw, whatever the sidecar does."""

    def setUp(self):
        self.tmp = harness.TempDir("warden-bound-")
        self.flag = self.tmp.join("active-region")
        self.write_flag("us-east-1")
        env = dict(BOUND_KNOBS, AWS_REGION="us-east-1", WARDEN_FLAG="file:" + self.flag)
        self.warden = harness.Warden(env=env)
        self.relay = Relay(self.warden.port)
        self.gates = []

    def tearDown(self):
        if self.warden.proc.poll() is None:
            os.kill(self.warden.proc.pid, signal.SIGCONT)
        for gate in self.gates:
            gate.close()
        self.relay.close()
        self.warden.stop()
        self.tmp.cleanup()

    def write_flag(self, value):
        with open(self.flag + ".tmp", "w") as f:
            f.write(value)
        os.rename(self.flag + ".tmp", self.flag)

    def wait_writable(self):
        return harness.wait_until(lambda: (lambda d: d if d["writable"] else None)(
            self.warden.json("/fence")[1]), timeout=10, what="sidecar writable")

    def ticker_gate(self, grace="1s"):
        script = self.tmp.join("ticker.py")
        with open(script, "w") as f:
            f.write(TICKER)
        self.ticks_path = self.tmp.join("ticks.out")
        gate = Gate(self.relay.url, grace=grace, poll="100ms",
                    cmd=[sys.executable, script, self.ticks_path])
        self.gates.append(gate)
        return gate

    def ticks(self, gate):
        with open(self.ticks_path) as f:
            lines = f.read().split("\n")
        return [float(line.split()[1]) for line in lines if line.startswith("t ")]

    def assert_dead_by_deadline(self, gate, pid, stop_reason):
        exit_event = gate.wait_event("gate.exit", timeout=15)[0]
        until = self.relay.last_writable_until()
        self.assertIsNotNone(until)
        harness.wait_until(lambda: not alive(pid), timeout=5, what="child reaped")
        last_tick = self.ticks(gate)[-1]
        stop = gate.events("gate.stop")[0]
        kill = gate.events("gate.kill")
        sys.stderr.write("    [info] %s: last tick %+.3f s, SIGTERM %+.3f s, SIGKILL %s, "
                         "reaped %+.3f s from the last writable_until seen\n" % (
                             stop_reason, last_tick - until, rfc3339(stop["ts"]) - until,
                             "%+.3f s" % (rfc3339(kill[0]["ts"]) - until) if kill else "-",
                             rfc3339(exit_event["ts"]) - until))
        self.assertEqual(stop["reason"], stop_reason)
        self.assertEqual(exit_event["signal"], "SIGKILL")   # it ignores SIGTERM
        self.assertLessEqual(last_tick, until + SLACK,
                             "the child wrote %.3f s after writable_until" % (last_tick - until))
        self.assertLessEqual(rfc3339(exit_event["ts"]), until + SLACK)
        # SIGTERM no later than writable_until - grace (1 s).
        self.assertLessEqual(rfc3339(stop["ts"]), until - 1.0 + SLACK)

    def test_typical_fence_ms_in_fence(self):
        doc = self.warden.json("/fence")[1]
        self.assertEqual((doc["ttl_ms"], doc["typical_fence_ms"]), (3000, BOUND_TYPICAL_MS))

    def test_sigstopped_sidecar_child_dead_by_writable_until(self):
        self.wait_writable()
        gate = self.ticker_gate()
        pid = int(gate.wait_event("gate.start")[0]["pid"])
        harness.wait_until(lambda: len(self.ticks(gate)) >= 10, what="ticks")
        os.kill(self.warden.proc.pid, signal.SIGSTOP)
        try:
            self.assert_dead_by_deadline(gate, pid, "sidecar_unreachable")
        finally:
            os.kill(self.warden.proc.pid, signal.SIGCONT)

    def test_flag_flip_child_dead_by_writable_until(self):
        self.wait_writable()
        gate = self.ticker_gate()
        pid = int(gate.wait_event("gate.start")[0]["pid"])
        harness.wait_until(lambda: len(self.ticks(gate)) >= 10, what="ticks")
        self.write_flag("us-west-2")
        self.assert_dead_by_deadline(gate, pid, "fenced")

    def test_real_numbers_refuse_a_grace_without_room(self):
        self.wait_writable()
        # ttl 3 s - typical 540 ms = 2.46 s: 2.5 s leaves no room.
        gate = Gate(self.relay.url, grace="2500ms")
        self.gates.append(gate)
        self.assertEqual(gate.proc.wait(timeout=15), 2, gate.log_text())
        self.assertIn("--grace 2500ms leaves no room", gate.stderr_text())
        self.assertIn("= 2460ms", gate.stderr_text())
        self.assertEqual(gate.records(), [])


if __name__ == "__main__":
    harness.main()
