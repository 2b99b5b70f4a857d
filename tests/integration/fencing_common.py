"""Shared by the fencing tests (test_fencing.py, test_fencing_pg.py): the
contract's timing, the wardens they start (Run), the secrets no warden log may
hold, and FencingBase, whose tearDown stops a test's wardens and fakes and
checks every log of the run against every secret known by then.

Every warden runs with WARDEN_FLAG_INTERVAL=500ms, WARDEN_FLAG_TIMEOUT=300ms,
WARDEN_FLAG_TTL=3s (typical fence 900 ms, worst case 3 s). Tests assert
behaviour and order, never an absolute latency: a wait is bounded only by a
generous multiple of the contract, and the times measured are printed for
information ([info] lines on stderr).

Transitions are logged by a 100 ms tick, so a test lets each state settle
(Run.settle) before it causes the next one.
"""

import calendar
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

import harness  # noqa: E402
from fake_aws_client import FakeAws  # noqa: E402

AWS_CLI = "/usr/bin/aws"
INTERVAL = 0.5
TIMEOUT = 0.3
TTL = 3.0
TYPICAL = INTERVAL * 1.2 + TIMEOUT          # the contract's typical fence time
FLAG_KNOBS = {"WARDEN_FLAG_INTERVAL": "500ms", "WARDEN_FLAG_TIMEOUT": "300ms",
              "WARDEN_FLAG_TTL": "3s"}
FOLLOW = 3 * TYPICAL                        # generous: how long a flip may take to show
HOME, OTHER = "us-east-1", "us-west-2"
NAME = "/platform/test/active-region"
CONTAINER_TOKEN = "container-auth-Tk-5e8f0a7c2d"
ADMIN_TOKEN = "admin-Bearer-Tk-91f3c0d7e2b6"
PG_PASSWORD = "Fence-Pg-Pw-4hQ8z"
STATIC_AKID, STATIC_SECRET = "AKIAWARDENFENCE00001", "fence/Static+Secret0123456789abcd"

# Shared by all tests: every log is checked against every secret known when
# its test ends (FencingBase.tearDown).
LOGS = []            # (name, warden log text), in the order they stopped
SECRETS = {}         # secret -> where it came from
_SHARED = threading.Lock()


def note(fmt, *args):
    """Information for the reader of the test output (measured times)."""
    sys.stderr.write("    [info] " + (fmt % args) + "\n")
    sys.stderr.flush()


def add_secret(value, where):
    if value:
        with _SHARED:
            SECRETS[value] = where


def write_flag(path, value):
    """Write the flag file as an operator would: a temp file renamed into place."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))
    os.rename(tmp, path)


def epoch_value(region, epoch):
    return json.dumps({"active_region": region, "epoch": epoch})


class Run:
    """A warden whose log is kept (for the secret check) when it stops."""

    def __init__(self, name, env):
        self.name = name
        full = dict(FLAG_KNOBS)
        full.update(env)
        self.w = harness.Warden(env=full)

    def fence(self):
        return self.w.json("/fence")[1]

    def activez(self):
        return self.w.get("/activez")[0]

    def status(self):
        return self.w.status()

    def source(self, i=0):
        return self.status()["flag"][i]

    def metrics(self):
        return self.w.get("/metrics")[2]

    def events(self, event=None):
        return self.w.events(event)

    def wait_events(self, event, count, what, timeout=2.0):
        """Wait for `count` log events of one kind (logged by the 100 ms tick)."""
        try:
            return harness.wait_until(lambda: len(self.events(event)) >= count
                                      and self.events(event), timeout=timeout, what=what)
        except AssertionError as exc:
            raise AssertionError("%s; %s events so far: %s" % (
                exc, event, json.dumps(self.events(event), indent=1))) from None

    def settle(self, count):
        """Wait until the tick has logged `count` transitions: a state must last a
        tick (100 ms) to be logged, so a test lets each one settle before the next."""
        return self.wait_events("fence.transition", count, "%d transitions" % count)

    def wait_fence(self, timeout, what, **want):
        def check():
            doc = self.fence()
            return doc if all(doc.get(k) == v for k, v in want.items()) else None
        try:
            return harness.wait_until(check, timeout=timeout, interval=0.01, what=what)
        except AssertionError as exc:
            raise AssertionError("%s\n/fence: %s\n/status flag: %s" % (
                exc, self.fence(), self.status().get("flag"))) from None

    def stop(self):
        """Stop warden and keep its whole log (exit reports included); AssertionError
        if the sanitizers reported anything."""
        proc = self.w.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        text = self.w.log_text()
        with _SHARED:
            LOGS.append((self.name, text))
        self.w.stop()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if marker in text:
                at = text.index(marker)
                raise AssertionError("sanitizer report in warden %s's log:\n%s"
                                     % (self.name, text[max(0, at - 200):at + 3000]))
        if proc.returncode != 0:
            raise AssertionError("warden %s exited with %s:\n%s"
                                 % (self.name, proc.returncode, text[-3000:]))


def keep_fake_secrets(fake, where):
    """Record every credential the fake handed out (before it stops)."""
    try:
        issued = fake.issued_creds()
    except Exception:  # noqa: BLE001 - a stopped fake has nothing more to give
        return
    items = issued.values() if isinstance(issued, dict) else issued
    for cred in items:
        if isinstance(cred, dict):
            add_secret(cred.get("SecretAccessKey"), where + " secret key")
            add_secret(cred.get("Token"), where + " session token")


def ts_seconds(event):
    """A log line's wall-clock `ts`, in seconds since the epoch."""
    when = datetime.datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(when.timetuple()) + when.microsecond / 1e6


def metric(text, metric_name, **labels):
    """The value of one sample of /metrics, or None."""
    want = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$', line)
        if not m or m.group(1) != metric_name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


def gaps(stamps):
    return [b - a for a, b in zip(stamps, stamps[1:])]


def reads_total(run, source=None):
    """warden's read attempts of one source (None: of all): the sum of
    warden_flag_reads_total."""
    total = 0
    prefix = 'warden_flag_reads_total{' + ('source="%s",' % source if source else "")
    for line in run.metrics().splitlines():
        if line.startswith(prefix):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def wait_reads(run, count, what, source=None, timeout=30):
    """Wait until warden has finished `count` more flag reads (of `source`, or
    of any) than now: the condition that 'a few reads' have happened."""
    before = reads_total(run, source)
    return harness.wait_until(lambda: reads_total(run, source) >= before + count,
                              timeout=timeout, what="%d more reads: %s" % (count, what))


def quiet_point(run, fake, source="ssm:" + NAME, timeout=30):
    """(warden's read attempts so far, the fake's last request seq) at a moment
    when no read is in flight: the attempt count is the same before and after
    reading the fake's log (which records a call once it is answered)."""
    deadline = time.monotonic() + timeout
    while True:
        before = reads_total(run, source)
        time.sleep(0.1)
        seq = max([r["seq"] for r in fake.get_requests()] + [0])
        time.sleep(0.1)
        if reads_total(run, source) == before:
            return before, seq
        if time.monotonic() > deadline:
            raise AssertionError("no quiet moment between reads")


# The fake stamps a call when its handler runs, and warden schedules a read from
# the moment it starts it (before signing and connecting). On a loaded machine
# (this test runs 9 wardens and 9 fakes at once, and CI shares the box) one call
# can reach the fake a few hundred ms late: its gap before grows and its gap
# after shrinks by as much. So a gap below its floor passes only when the gap
# before it makes up for it exactly that way (a late stamp); a call sent twice
# (a retry) or a loop without a sleep cannot. The exact one-call-per-read rule
# is checked by counting (quiet_point).
SPACING_TOL = 0.03


def assert_spacing(test, stamps, floors, what):
    """stamps: sorted call times; floors: the least gap before each call after the
    first (one per gap, or one number for all). The first gap is only context."""
    g = gaps(stamps)
    if not isinstance(floors, list):
        floors = [floors] * len(g)
    for i in range(1, len(g)):
        if g[i] >= floors[i] - SPACING_TOL:
            continue
        test.assertGreaterEqual(g[i - 1] + g[i], floors[i - 1] + floors[i] - SPACING_TOL,
                                "%s: call %d came %.3fs after the one before (floor %.3fs), "
                                "and no late stamp explains it; gaps %s"
                                % (what, i + 1, g[i], floors[i], [round(x, 3) for x in g]))


class FencingBase(unittest.TestCase):
    """Each test's directories, wardens and fakes; the secret check."""
    @classmethod
    def setUpClass(cls):
        add_secret(CONTAINER_TOKEN, "container authorization token")
        add_secret(ADMIN_TOKEN, "admin token")
        add_secret(PG_PASSWORD, "postgres password")
        add_secret(STATIC_SECRET, "static secret key")

    def setUp(self):
        # Each test on its own: its own directories (flag files, the CLI's home).
        self.tmp = tempfile.mkdtemp(prefix="warden-fencing-")
        with _SHARED:
            self.logs_from = len(LOGS)  # the logs of this test's wardens follow
        self.t0 = time.monotonic()
        self.runs = []
        self.fakes = []

    def tearDown(self):
        problems = []
        for run in self.runs:
            try:
                run.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                problems.append(str(exc))
        for fake, where in self.fakes:
            keep_fake_secrets(fake, where)
            fake.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        note("%s took %.1fs", self._testMethodName, time.monotonic() - self.t0)
        with _SHARED:
            logs = LOGS[self.logs_from:]
        problems.extend(self.leaks(logs))
        if problems:
            self.fail("\n".join(problems))

    @staticmethod
    def leaks(logs):
        """'name: what' for every known secret found in one of the logs
        [(name, text)]."""
        with _SHARED:
            secrets = dict(SECRETS)
        issued = sum(1 for w in secrets.values() if "session token" in w)
        note("secret check: %d logs, %d secrets (%d session tokens)", len(logs), len(secrets),
             issued)
        leaks = []
        for name, text in logs:
            for secret, where in secrets.items():
                # The whole secret, or a telling part of it (a truncated copy).
                probes = {secret} | ({secret[:16], secret[-16:]} if len(secret) >= 24 else set())
                for p in probes:
                    if p in text:
                        leaks.append("a secret in warden %s's log: %s" % (name, where))
                        break
        return leaks

    def start(self, name, env):
        run = Run(name, env)
        self.runs.append(run)
        return run

    def fake(self, where, **kw):
        fake = FakeAws(**kw)
        self.fakes.append((fake, where))
        return fake

    def dir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def ssm_env(self, fake, extra=None):
        env = fake.client_env(self.dir("home"), base={})
        env.update({"WARDEN_FLAG": "ssm:" + NAME})
        env.update(extra or {})
        return env
