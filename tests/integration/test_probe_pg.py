"""The postgres probe end to end: a real primary and a streaming standby
(tests/integration/pg.py), one warden process watching them through several
probes, /status read over HTTP.

Probes (all interval=500ms, timeout=300ms, rise=2, fall=2):
  db             primary, password from WARDEN_PROBE_DB_PASSWORD (stop/start)
  replica        standby, expect=any (role reader and lag)
  replica_writer standby, expect=writer   -> unexpected_role
  primary_reader primary, expect=reader   -> unexpected_role
  laggy          standby, expect=reader, max_lag=1s (replay paused -> lagging)
  hung           primary; postmaster and its backend SIGSTOPped -> timeout
  urlpw          primary, password inside the URI
  badpw          primary, wrong password  -> auth
  hole           a black hole             -> timeout

The tests share the servers and the warden (slow to start) but each runs on
its own, in any order: a test that stops, freezes or pauses a server restores
it before it ends, and the promotion (which cannot be undone) gets a standby
and a warden of its own. After every test, no password in the log, /status
or /metrics. Never an absolute latency: only "answered within the client
timeout".
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import pg  # noqa: E402

PASSWORD = "Pr0be-Pw-7kQz9"
URI_PASSWORD = "Ur1-Pw-x4Rt2"
WRONG_PASSWORD = "Wr0ng-Pw-p2Lm5"
OPTIONS = "interval=500ms&timeout=300ms&rise=2&fall=2"


@unittest.skipUnless(pg.available(), "PostgreSQL server binaries not installed")
class PostgresProbeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.PgCluster()
        cls.hole = None
        cls.warden = None
        cls.stopped_pids = []
        try:
            cls.primary = cls.cluster.primary(users={"probe": PASSWORD, "urlprobe": URI_PASSWORD})
            cls.primary.sql("CREATE TABLE ticks (x int)")
            cls.standby = cls.cluster.standby(cls.primary)
            cls.hole = harness.BlackHole()
            p, s = cls.primary, cls.standby
            env = {
                "WARDEN_PROBE_DB": "%s#%s" % (p.uri("probe"), OPTIONS),
                "WARDEN_PROBE_DB_PASSWORD": PASSWORD,
                "WARDEN_PROBE_REPLICA": "%s#%s&expect=any" % (s.uri("probe"), OPTIONS),
                "WARDEN_PROBE_REPLICA_PASSWORD": PASSWORD,
                "WARDEN_PROBE_REPLICA_WRITER": "%s#%s&expect=writer" % (s.uri("probe"), OPTIONS),
                "WARDEN_PROBE_REPLICA_WRITER_PASSWORD": PASSWORD,
                "WARDEN_PROBE_PRIMARY_READER": "%s#%s&expect=reader" % (p.uri("probe"), OPTIONS),
                "WARDEN_PROBE_PRIMARY_READER_PASSWORD": PASSWORD,
                "WARDEN_PROBE_LAGGY": "%s#%s&expect=reader&max_lag=1s" % (s.uri("probe"),
                                                                           OPTIONS),
                "WARDEN_PROBE_LAGGY_PASSWORD": PASSWORD,
                "WARDEN_PROBE_HUNG": "%s?application_name=warden_hung#%s&critical=false"
                                     % (p.uri("probe"), OPTIONS),
                "WARDEN_PROBE_HUNG_PASSWORD": PASSWORD,
                "WARDEN_PROBE_URLPW": "postgres://urlprobe:%s@127.0.0.1:%d/postgres#%s"
                                      % (URI_PASSWORD, p.port, OPTIONS),
                "WARDEN_PROBE_BADPW": "%s#%s&critical=false" % (p.uri("probe"), OPTIONS),
                "WARDEN_PROBE_BADPW_PASSWORD": WRONG_PASSWORD,
                "WARDEN_PROBE_HOLE": "postgres://probe@127.0.0.1:%d/postgres#%s&critical=false"
                                     % (cls.hole.port, OPTIONS),
                "WARDEN_PROBE_HOLE_PASSWORD": PASSWORD,
            }
            cls.warden = harness.Warden(env=env)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.resume_stopped()
        if cls.warden is not None:
            cls.warden.stop()
        if cls.hole is not None:
            cls.hole.close()
        cls.cluster.cleanup()

    # -- helpers -----------------------------------------------------------

    @classmethod
    def resume_stopped(cls):
        for pid in cls.stopped_pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        cls.stopped_pids = []

    def last(self, name):
        return self.warden.probe(name).get("last") or {}

    def transitions(self, name):
        return [e for e in self.warden.events("probe.transition") if e.get("probe") == name]

    def assert_no_secret(self, warden):
        text = warden.log_text()
        status_body = warden.get("/status?verbose")[2]
        metrics_body = warden.get("/metrics")[2]
        for secret in (PASSWORD, URI_PASSWORD, WRONG_PASSWORD):
            self.assertNotIn(secret, text, "a password in warden's log")
            self.assertNotIn(secret, status_body, "a password in /status")
            self.assertNotIn(secret, metrics_body, "a password in /metrics")
        harness.check_sanitizer_log(self, warden)

    def assert_health_endpoints_answer(self):
        """/livez and /readyz answer (within the client timeout) whatever the probes do."""
        for path in ("/livez", "/readyz"):
            status, _, _ = self.warden.get(path, timeout=2.0)
            self.assertIn(status, (200, 503), path)
        self.assertEqual(self.warden.get("/livez", timeout=2.0)[0], 200)

    # -- tests (each on its own: the shared servers are left as found) -----

    def test_01_primary_is_writer(self):
        p = self.warden.wait_probe("db", health="up", outcome="ok")
        self.assertEqual(p["last"]["role"], "writer")
        self.assertNotIn("lag_seconds", p["last"])
        p = self.warden.wait_probe("urlpw", health="up", outcome="ok")
        self.assertEqual(p["last"]["role"], "writer")

    def test_02_standby_is_reader_with_lag(self):
        self.warden.wait_probe("replica", health="up", outcome="ok")
        # Caught up (nothing written): lag is reported, and it is 0.
        p = harness.wait_until(
            lambda: (lambda q: q if q["last"].get("lag_seconds") == 0 else None)(
                self.warden.probe("replica")),
            timeout=10, what="replica lag 0")
        self.assertEqual(p["last"]["role"], "reader")

    def test_03_unexpected_roles(self):
        p = self.warden.wait_probe("replica_writer", health="down", outcome="unexpected_role")
        self.assertEqual(p["last"]["role"], "reader")
        p = self.warden.wait_probe("primary_reader", health="down", outcome="unexpected_role")
        self.assertEqual(p["last"]["role"], "writer")
        status, _, _ = self.warden.get("/readyz/replica_writer")
        self.assertEqual(status, 503)

    def test_04_wrong_password_is_auth(self):
        p = self.warden.wait_probe("badpw", health="down", outcome="auth")
        self.assertEqual(p["last"]["role"], "unknown")

    def test_05_black_hole_times_out_and_health_keeps_answering(self):
        self.warden.wait_probe("hole", health="down", outcome="timeout")
        for _ in range(10):
            self.assert_health_endpoints_answer()
            time.sleep(0.05)

    def test_06_hung_server_times_out(self):
        """Freeze the postmaster (new connections hang after the TCP handshake)
        and then the probe's own backend (its next query hangs mid-reply)."""
        self.warden.wait_probe("hung", health="up", outcome="ok")
        backend = int(harness.wait_until(
            lambda: self.primary.sql("SELECT pid FROM pg_stat_activity "
                                     "WHERE application_name = 'warden_hung'"),
            timeout=5, what="the hung probe's backend"))
        postmaster = self.primary.postmaster_pid()
        type(self).stopped_pids = [postmaster, backend]
        for pid in self.stopped_pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            self.warden.wait_probe("hung", health="down", outcome="timeout")
            self.assert_health_endpoints_answer()
            # Probes whose connection is already open keep working.
            self.assertEqual(self.last("db").get("outcome"), "ok")
        finally:
            self.resume_stopped()
        self.warden.wait_probe("hung", health="up", outcome="ok", timeout=20)

    def test_07_lagging_replica(self):
        # A replayed commit gives the lag its reference time (without one,
        # the probe reports no lag value and cannot judge max_lag).
        self.primary.sql("INSERT INTO ticks VALUES (1)")
        self.standby.wait_replayed(self.primary)
        self.assertNotEqual(self.standby.sql("SELECT pg_last_xact_replay_timestamp()"), "")
        self.warden.wait_probe("laggy", health="up", outcome="ok")
        self.standby.sql("SELECT pg_wal_replay_pause()")
        try:
            self.primary.sql("INSERT INTO ticks VALUES (2)")
            p = self.warden.wait_probe("laggy", health="down", outcome="lagging")
            self.assertGreater(p["last"]["lag_seconds"], 1.0)
            self.assertEqual(p["last"]["role"], "reader")
        finally:
            self.standby.sql("SELECT pg_wal_replay_resume()")
        p = self.warden.wait_probe("laggy", health="up", outcome="ok")
        self.assertLessEqual(p["last"]["lag_seconds"], 1.0)

    def test_08_primary_stop_and_start(self):
        self.warden.wait_probe("db", health="up", outcome="ok")
        before = len(self.transitions("db"))
        self.primary.stop()
        try:
            self.warden.wait_probe("db", health="down", outcome="refused")
            self.assert_health_endpoints_answer()
        finally:
            self.primary.start()
        # The reconnect backoff is at most 10 s; a short outage costs far less.
        self.warden.wait_probe("db", health="up", outcome="ok", timeout=20)
        # /status shows a change before its log line is written: wait for both.
        events = harness.wait_until(
            lambda: (lambda t: t if len(t) >= 2 else None)(self.transitions("db")[before:]),
            what="two transitions of db logged")
        self.assertEqual([(e["from"], e["to"]) for e in events],
                         [("up", "down"), ("down", "up")], events)
        self.assertEqual(events[0]["reason"], "refused")
        self.assertEqual(events[1]["reason"], "ok")

    def test_09_promoted_standby_is_writer(self):
        # A promotion cannot be undone: a standby and a warden of its own, so
        # that the shared standby stays a reader for the other tests.
        standby = self.cluster.standby(self.primary, name="promoted")
        warden = harness.Warden(env={
            "WARDEN_PROBE_REPLICA": "%s#%s&expect=any" % (standby.uri("probe"), OPTIONS),
            "WARDEN_PROBE_REPLICA_PASSWORD": PASSWORD,
            "WARDEN_PROBE_LAGGY": "%s#%s&expect=reader&max_lag=1s" % (standby.uri("probe"),
                                                                       OPTIONS),
            "WARDEN_PROBE_LAGGY_PASSWORD": PASSWORD,
        })
        try:
            warden.wait_probe("replica", health="up", outcome="ok")
            standby.promote()
            p = harness.wait_until(
                lambda: (lambda q: q if (q.get("last") or {}).get("role") == "writer" else None)(
                    warden.probe("replica")),
                timeout=15, what="replica reports writer")
            self.assertEqual(p["last"]["outcome"], "ok")
            warden.wait_probe("replica", health="up", outcome="ok")
            warden.wait_probe("laggy", health="down", outcome="unexpected_role")
            self.assert_no_secret(warden)
        finally:
            warden.stop()

    def tearDown(self):
        # After every test (not once at the end, which only a full run in
        # name order would reach): no secret shown, no sanitizer report.
        self.assert_no_secret(self.warden)


if __name__ == "__main__":
    harness.main()
