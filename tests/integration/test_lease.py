"""The singleton lease against a real Postgres (primary + streaming standby).

Each lease runs in its own process, $WARDEN_TOOLS_DIR/lease_driver, whose
fence view is a state file (`writable` or `fenced`) that the test flips. A
driver prints one JSON line per change of its lease_status, stamped with
CLOCK_MONOTONIC (`t_ms`, the same clock as time.monotonic()) and, on a loss,
the last poll at which it was still held (`last_held_ms`). From those lines
the test rebuilds, per driver, the intervals during which it reported the
lease held; "two holders at once" is then an overlap of two drivers'
intervals, checked at every sampled instant and over the whole run.

Run: WARDEN_TOOLS_DIR=build/tests /usr/bin/python3 tests/integration/test_lease.py
Timing assertions are only the structural ones of the lease (takeover after
the TTL, well before it after a release), with generous slack.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import pg  # noqa: E402

TOOLS_DIR = os.environ.get("WARDEN_TOOLS_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "tests")
DRIVER = os.path.join(TOOLS_DIR, "lease_driver")

PASSWORD = "L3ase-Pw-Qz81x"
LIMITED_PASSWORD = "L1mit-Pw-Uy72c"
TTL_MS = 3000
TIMEOUT_MS = 300
# The table as lease.h documents it, for a test that plays the operator.
CREATE_TABLE = ("CREATE TABLE warden_lease (name text PRIMARY KEY, holder text NOT NULL,"
                " generation bigint NOT NULL, expires_at timestamptz NOT NULL)")


def now_ms():
    return time.monotonic() * 1000.0


class Driver:
    """One lease_driver process; its status lines and log events, parsed."""

    def __init__(self, tmp, name, holder, uri, ttl_ms=TTL_MS, password=PASSWORD,
                 writable=True, timeout_ms=TIMEOUT_MS):
        self.holder = holder
        self.state_path = os.path.join(tmp, "state-%s-%s" % (name, holder))
        self.set_writable(writable)
        self.lock = threading.Lock()
        self.statuses = []  # parsed status lines, in order
        self.events = []    # parsed log lines (lease.acquired, ...)
        self.raw = []       # every line, for the secret check
        env = harness.base_env()
        if password:
            env["LEASE_DRIVER_PASSWORD"] = password
        self.proc = subprocess.Popen(
            [DRIVER, "--name", name, "--holder", holder, "--ttl-ms", str(ttl_ms),
             "--timeout-ms", str(timeout_ms), "--uri", uri, "--state", self.state_path],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            with self.lock:
                self.raw.append(line)
                if isinstance(obj, dict) and "event" in obj:
                    self.events.append(obj)
                elif isinstance(obj, dict) and "t_ms" in obj:
                    self.statuses.append(obj)

    def set_writable(self, writable):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("writable\n" if writable else "fenced\n")
        os.rename(tmp, self.state_path)

    def current(self):
        with self.lock:
            return dict(self.statuses[-1]) if self.statuses else {}

    def held(self):
        return self.current().get("held") is True

    def wait_status(self, predicate, timeout, what):
        def check():
            if self.proc.poll() is not None:
                raise AssertionError("lease_driver %s exited (%s):\n%s"
                                     % (self.holder, self.proc.returncode, self.output()))
            status = self.current()
            return status if status and predicate(status) else None
        return harness.wait_until(check, timeout=timeout, what="%s: %s" % (self.holder, what))

    def events_named(self, event):
        with self.lock:
            return [e for e in self.events if e.get("event") == event]

    def output(self):
        with self.lock:
            return "\n".join(self.raw)

    def intervals(self, end_ms):
        """[(start_ms, end_ms, generation)] during which it reported held,
        from the status lines printed up to end_ms."""
        out = []
        start = gen = None
        with self.lock:
            statuses = [s for s in self.statuses if s["t_ms"] <= end_ms]
        for s in statuses:
            if start is not None and (not s["held"] or s["generation"] != gen):
                out.append((start, s["last_held_ms"], gen))
                start = None
            if s["held"] and start is None:
                start, gen = s["t_ms"], s["generation"]
        if start is not None:
            out.append((start, end_ms, gen))
        return out

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        self.reader.join(timeout=5)
        return rc

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()
        self.reader.join(timeout=5)
        self.proc.stdout.close()


def held_at(intervals, t):
    return [iv for iv in intervals if iv[0] <= t <= iv[1]]


@unittest.skipUnless(pg.available(), "PostgreSQL server binaries not installed")
@unittest.skipUnless(os.access(DRIVER, os.X_OK), "lease_driver not built")
class LeaseTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.PgCluster()
        cls.tmp = harness.TempDir("warden-lease-")
        try:
            cls.primary = cls.cluster.primary(users={"leaser": PASSWORD,
                                                     "limited": LIMITED_PASSWORD})
            # leaser may create the table (PG 15 grants no CREATE on public).
            cls.primary.sql("GRANT CREATE ON SCHEMA public TO leaser")
            cls.standby = cls.cluster.standby(cls.primary)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()
        cls.tmp.cleanup()

    def setUp(self):
        # The cluster is shared (it is slow to start); its state is not: every
        # test starts without the table, as on a fresh database.
        self.primary.sql("DROP TABLE IF EXISTS warden_lease")
        self.drivers = []

    def tearDown(self):
        for d in self.drivers:
            d.stop()
        for d in self.drivers:
            for line in d.raw:
                self.assertNotIn(PASSWORD, line)
                self.assertNotIn(LIMITED_PASSWORD, line)
            for marker in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
                self.assertNotIn(marker, d.output())
            self.assertIn(d.proc.returncode, (0, -signal.SIGKILL), d.output())

    # -- helpers -----------------------------------------------------------

    def driver(self, name, holder, server=None, **kwargs):
        server = server or self.primary
        d = Driver(self.tmp.path, name, holder, server.uri(kwargs.pop("user", "leaser")),
                   **kwargs)
        self.drivers.append(d)
        return d

    def row(self, name):
        """(holder, generation, unexpired) of the lease row, or None."""
        if self.primary.sql("SELECT to_regclass('warden_lease') IS NULL") == "t":
            return None
        out = self.primary.sql("SELECT holder, generation, expires_at > now() FROM "
                               "warden_lease WHERE name = '%s'" % name)
        if not out:
            return None
        holder, generation, unexpired = out.split("|")
        return holder, int(generation), unexpired == "t"

    def expires_ms(self, name):
        """The row's expires_at, in ms since the epoch on the database's clock."""
        return float(self.primary.sql("SELECT EXTRACT(EPOCH FROM expires_at) * 1000 FROM "
                                      "warden_lease WHERE name = '%s'" % name))

    def assert_claimed_after(self, name, ttl_ms, old_expires_ms):
        """The row was claimed (expires_at - ttl, on the database's clock) no
        earlier than old_expires_ms: the old holder's time had run out."""
        claimed = self.expires_ms(name) - ttl_ms
        self.assertGreaterEqual(claimed, old_expires_ms - 1,
                                "claimed %.0f ms before the old row expired"
                                % (old_expires_ms - claimed))

    def one_holder(self, a, b, timeout=10):
        """Wait until exactly one of a, b holds; return (holder, other)."""
        harness.wait_until(lambda: a.held() != b.held(), timeout=timeout,
                           what="one of two drivers holding")
        return (a, b) if a.held() else (b, a)

    # -- tests (each on its own: setUp drops the table) -------------------

    def test_01_exactly_one_holds(self):
        a = self.driver("cron", "task-a")
        b = self.driver("cron", "task-b")
        holder, other = self.one_holder(a, b)
        other.wait_status(lambda s: "held by another task: %s" % holder.holder in s["error"],
                          timeout=5, what="names the holder")
        for _ in range(20):  # 1 s: still exactly one
            self.assertNotEqual(a.held(), b.held())
            time.sleep(0.05)
        self.assertEqual(self.row("cron"), (holder.holder, 1, True))
        self.assertEqual(holder.current()["generation"], 1)
        self.assertEqual(holder.current()["holder"], holder.holder)
        self.assertGreater(holder.current()["expires_in_ms"], 0)
        self.assertLessEqual(holder.current()["expires_in_ms"], TTL_MS)
        self.assertEqual(len(holder.events_named("lease.acquired")), 1)
        self.assertFalse(other.events_named("lease.acquired"))

    def test_02_kill9_takeover_after_ttl(self):
        a = self.driver("kill9", "task-a")
        b = self.driver("kill9", "task-b")
        holder, other = self.one_holder(a, b)
        generation = holder.current()["generation"]
        t0 = now_ms()
        holder.kill()
        old_expires = self.expires_ms("kill9")  # frozen: its holder is dead
        s = other.wait_status(lambda s: s["held"], timeout=TTL_MS * 2 / 1000.0,
                              what="takeover after kill -9")
        self.assert_claimed_after("kill9", TTL_MS, old_expires)
        elapsed = s["t_ms"] - t0
        # The dead holder renewed at most ttl/3 before it died: its row
        # lives at least 2/3 of the TTL longer, on the database's clock.
        self.assertGreaterEqual(elapsed, TTL_MS * 2 / 3 - 150, "took over before the TTL")
        self.assertGreater(s["generation"], generation)
        self.assertEqual(self.row("kill9"), (other.holder, s["generation"], True))
        self.assertEqual(other.events_named("lease.acquired")[-1]["generation"],
                         s["generation"])

    def test_03_sigterm_releases(self):
        a = self.driver("term", "task-a")
        b = self.driver("term", "task-b")
        holder, other = self.one_holder(a, b)
        generation = holder.current()["generation"]
        t0 = now_ms()
        self.assertEqual(holder.terminate(), 0)
        released = holder.events_named("lease.released")
        self.assertEqual(len(released), 1, holder.output())
        self.assertEqual(released[0]["reason"], "shutdown")
        self.assertEqual(released[0]["generation"], generation)
        s = other.wait_status(lambda s: s["held"], timeout=TTL_MS / 1000.0,
                              what="takeover after release")
        # Without the release the row would live >= 2/3 TTL after SIGTERM.
        self.assertLess(s["t_ms"] - t0, TTL_MS * 2 / 3 - 150, "not taken over at once")
        self.assertGreater(s["generation"], generation)
        self.assertEqual(self.row("term"), (other.holder, s["generation"], True))

    def test_04_standby_never_holds(self):
        refused_before = self.standby.log_text().count("read-only transaction")
        s = self.driver("standby", "task-s", server=self.standby)
        s.wait_status(lambda st: "reader" in st["error"], timeout=5, what="reader error")
        self.assertIn("25006", s.current()["error"])
        # Several attempts (one every ttl/3), writable all along: each one
        # is refused in the standby's log.
        harness.wait_until(lambda: self.standby.log_text().count("read-only transaction")
                           >= refused_before + 3, timeout=TTL_MS * 3 / 1000.0,
                           what="three attempts refused by the standby")
        self.assertFalse(any(st["held"] for st in s.statuses), s.output())
        self.assertFalse(s.events_named("lease.acquired"))
        self.assertIsNone(self.row("standby"))

    def test_05_fenced_stops_at_once(self):
        a = self.driver("fence", "task-a")
        b = self.driver("fence", "task-b")
        holder, other = self.one_holder(a, b)
        generation = holder.current()["generation"]
        t0 = now_ms()
        holder.set_writable(False)
        s = holder.wait_status(lambda s: not s["held"], timeout=1, what="not held once fenced")
        self.assertLess(s["t_ms"] - t0, 500)
        self.assertIn("not writable", s["error"])
        harness.wait_until(lambda: holder.events_named("lease.lost"), timeout=2,
                           what="lease.lost logged")
        self.assertIn("not writable", holder.events_named("lease.lost")[0]["reason"])
        # The fenced holder gives the row up once every "held" it reported
        # has run out (the driver's verdict is writable for 1 s from each
        # poll), not when the row would expire TTL after its last renewal.
        lost = holder.wait_status(lambda s: not s["held"], timeout=1, what="lost")
        promised_until = lost["last_held_ms"] + 1000
        released = harness.wait_until(lambda: holder.events_named("lease.released"),
                                      timeout=3, what="released on demotion")
        self.assertEqual((released[0]["reason"], released[0]["generation"]),
                         ("demoted", generation), released)
        s = other.wait_status(lambda s: s["held"], timeout=TTL_MS * 2 / 1000.0,
                              what="takeover after the release")
        self.assertGreaterEqual(s["t_ms"], promised_until - 5,
                                "taken over while the fenced holder's word still stood")
        self.assertLess(s["t_ms"] - t0, TTL_MS + 500, "takeover took too long")
        self.assertGreater(s["generation"], generation)
        # Writable again: the row is the other's now.
        holder.set_writable(True)
        holder.wait_status(lambda s: "held by another task: %s" % other.holder in s["error"],
                           timeout=3, what="sees the new holder")
        self.assertFalse(holder.held())

    def test_06_no_create_privilege(self):
        # An operator created the table; `limited` may not create in public
        # (42501) but may use the table the operator granted. Its password is
        # in the URI this time.
        self.primary.sql(CREATE_TABLE)
        self.primary.sql("GRANT SELECT, INSERT, UPDATE ON warden_lease TO limited")
        uri = "postgres://limited:%s@127.0.0.1:%d/postgres" % (LIMITED_PASSWORD,
                                                                self.primary.port)
        d = Driver(self.tmp.path, "limited", "task-l", uri, password=None)
        self.drivers.append(d)
        s = d.wait_status(lambda s: s["held"], timeout=5, what="held without CREATE")
        self.assertEqual(self.row("limited"), ("task-l", s["generation"], True))

    def test_07_never_two_holders(self):
        duration = 60.0  # the issue: "over a minute of random flag flips"
        ttl = 2000
        rng = harness.seeded_random(self.id())
        a = self.driver("flip", "task-a", ttl_ms=ttl)
        b = self.driver("flip", "task-b", ttl_ms=ttl)
        drivers = [a, b]
        next_flip = [now_ms() + rng.uniform(200, 3000) for _ in drivers]
        writable = [True, True]
        samples = []  # (t, [held per driver as last printed])
        db_samples = []  # (t0, t1, row)
        end = now_ms() + duration * 1000
        while now_ms() < end:
            t = now_ms()
            for i, d in enumerate(drivers):
                if t >= next_flip[i]:
                    writable[i] = not writable[i]
                    d.set_writable(writable[i])
                    next_flip[i] = t + rng.uniform(200, 4000)
            samples.append((t, [d.held() for d in drivers]))
            if len(samples) % 2 == 0:
                t0 = now_ms()
                row = self.row("flip")
                db_samples.append((t0, now_ms(), row))
            time.sleep(0.05)
        for d in drivers:
            self.assertIsNone(d.proc.poll(), d.output())
        t_end = now_ms()
        for d in drivers:  # every line printed before t_end read: EOF
            self.assertEqual(d.terminate(), 0, d.output())
        intervals = [d.intervals(t_end) for d in drivers]

        # 1. No instant at which both reported it held: the intervals of the
        #    two drivers never overlap (this covers every sampled instant).
        for ia in intervals[0]:
            for ib in intervals[1]:
                self.assertFalse(ia[0] <= ib[1] and ib[0] <= ia[1],
                                 "both held: a %r, b %r" % (ia, ib))
        for t, _ in samples:
            self.assertLessEqual(sum(1 for iv in intervals if held_at(iv, t)), 1, t)

        # 2. A driver held all through a database read is the row's holder,
        #    with the generation it reports, unexpired.
        checked = 0
        for t0, t1, row in db_samples:
            for d, ivs in zip(drivers, intervals):
                for start, stop, gen in ivs:
                    if start <= t0 and t1 <= stop:
                        checked += 1
                        self.assertEqual(row, (d.holder, gen, True), (t0, t1, start, stop))
        self.assertGreater(checked, 0)

        # 3. Generations: never back; a new holder always a higher one.
        timeline = sorted((iv[0], iv[2], d.holder)
                          for d, ivs in zip(drivers, intervals) for iv in ivs)
        takeovers = 0
        for (_, gen1, who1), (_, gen2, who2) in zip(timeline, timeline[1:]):
            self.assertGreaterEqual(gen2, gen1, timeline)
            if who1 != who2:
                takeovers += 1
                self.assertGreater(gen2, gen1, timeline)
        self.assertGreaterEqual(takeovers, 2, "too few takeovers to mean anything: %r"
                                % timeline)
        print("lease flips: %d held intervals, %d takeovers, %d db checks"
              % (len(timeline), takeovers, checked), file=sys.stderr)


if __name__ == "__main__":
    harness.main()
