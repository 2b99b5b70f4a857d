"""End to end: warden's http and tcp probes against loopback targets.

- http: up -> target answers 503 -> down (`http_status`) after `fall` rounds
  -> 200 again -> up after `rise` rounds; one `probe.transition` log event per
  transition, with from/to/reason.
- http keep-alive: many rounds over one TCP connection.
- tcp: up -> target closed (refused) -> down -> reopened -> up.
- http against a black hole and a slow-drip target: the probe fails with
  `timeout` while /livez and /readyz keep answering within the client's
  timeout (which is shorter than the probe's own).

No test asserts on absolute times.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import targets  # noqa: E402

FAST = "interval=500ms&timeout=300ms&rise=2&fall=2"
# For the hanging targets: the probe spends most of its time inside a run,
# and the health client's timeout (below) is shorter than the probe's.
SLOW = "interval=2s&timeout=1500ms&rise=2&fall=2"
CLIENT_TIMEOUT = 0.5


def transitions(warden, probe):
    """(from, to, reason) of every probe.transition event of `probe`, in order."""
    return [(e.get("from"), e.get("to"), e.get("reason"))
            for e in warden.events("probe.transition") if e.get("probe") == probe]


def wait_transitions(warden, probe, count, to=None, timeout=10):
    """transitions() once `count` of them (to `to`, if given) are logged. The
    engine publishes a change (what /status shows) before it logs it, so a
    test that has seen the change in /status waits for the line too."""
    def check():
        got = transitions(warden, probe)
        return got if len([t for t in got if to is None or t[1] == to]) >= count else None
    return harness.wait_until(check, timeout=timeout,
                              what="%d transitions of %s logged" % (count, probe))


class ProbeCase(unittest.TestCase):
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for fn in reversed(self.cleanups):
            fn()

    def start_warden(self, env):
        warden = harness.Warden(env=env)

        def stop():
            # Stop first: LeakSanitizer reports at exit.
            try:
                if warden.proc.poll() is None:
                    warden.signal()
                    warden.wait_exit(timeout=20)
                harness.check_sanitizer_log(self, warden)
            finally:
                warden.stop()
        self.cleanups.append(stop)
        return warden

    def start(self, obj):
        self.cleanups.append(obj.close)
        return obj

    def assert_health_answers(self, warden):
        """/livez and /readyz answer within CLIENT_TIMEOUT, whatever the probes do."""
        status, _, _ = warden.get("/livez", timeout=CLIENT_TIMEOUT)
        self.assertEqual(status, 200)
        status, _, _ = warden.get("/readyz", timeout=CLIENT_TIMEOUT)
        self.assertIn(status, (200, 503))
        return status


class TestHttpProbe(ProbeCase):
    def test_status_flip_and_transitions(self):
        target = self.start(targets.HttpTarget())
        warden = self.start_warden({"WARDEN_PROBE_WEB": target.url + "#" + FAST})
        warden.wait_probe("web", health="up", outcome="ok")
        self.assertEqual(warden.get("/readyz")[0], 200)

        before = target.counts()[1]
        target.set_status(503)
        # After one failed round the probe is still up (fall=2): if the target
        # has served exactly one 503 both before and after we read /status,
        # that /status saw at most one failure.
        harness.wait_until(lambda: target.counts()[1] > before, what="a 503 served")
        if target.counts()[1] == before + 1:
            p = warden.probe("web")
            if target.counts()[1] == before + 1:
                self.assertEqual(p["health"], "up")
        p = warden.wait_probe("web", health="down", outcome="http_status")
        self.assertGreaterEqual(target.counts()[1] - before, 2)
        self.assertEqual(p["last"].get("http_status"), 503)
        self.assertIn("HTTP 503 (want 200-399)", p["last"].get("detail", ""))
        self.assertEqual(warden.get("/readyz")[0], 503)

        before = target.counts()[1]
        target.set_status(200)
        harness.wait_until(lambda: target.counts()[1] > before, what="a 200 served")
        if target.counts()[1] == before + 1:
            p = warden.probe("web")
            if target.counts()[1] == before + 1:
                self.assertEqual(p["health"], "down")
        warden.wait_probe("web", health="up", outcome="ok")
        self.assertGreaterEqual(target.counts()[1] - before, 2)
        self.assertEqual(warden.get("/readyz")[0], 200)

        events = wait_transitions(warden, "web", 3)
        self.assertEqual(events, [("pending", "up", "ok"),
                                  ("up", "down", "http_status"),
                                  ("down", "up", "ok")])
        for e in warden.events("probe.transition"):
            self.assertNotIn("password", str(e).lower())
        self.assertTrue(all(ua.startswith("warden/") for ua in target.user_agents))

    def test_keepalive_reuses_one_connection(self):
        target = self.start(targets.HttpTarget())
        warden = self.start_warden({"WARDEN_PROBE_WEB": target.url + "#" + FAST})
        warden.wait_probe("web", health="up", outcome="ok")
        harness.wait_until(lambda: target.counts()[1] >= 8, timeout=15,
                           what="8 probe requests")
        connections, requests = target.counts()
        self.assertGreaterEqual(requests, 8)
        self.assertEqual(connections, 1, "each round should reuse the keep-alive connection")

    def test_password_never_shown(self):
        target = self.start(targets.HttpTarget())
        url = "http://app:hunter2uri@127.0.0.1:%d/health" % target.port
        warden = self.start_warden({"WARDEN_PROBE_WEB": url + "#" + FAST,
                                    "WARDEN_PROBE_WEB_PASSWORD": "hunter2env"})
        warden.wait_probe("web", health="up", outcome="ok")
        # The env password wins over the URI's: base64("app:hunter2env").
        self.assertIn("Basic YXBwOmh1bnRlcjJlbnY=", target.authorizations)
        text = warden.log_text() + warden.get("/status")[2]
        self.assertNotIn("hunter2", text)

    def test_black_hole_times_out_health_still_answers(self):
        hole = self.start(harness.BlackHole())
        warden = self.start_warden(
            {"WARDEN_PROBE_HOLE": "http://127.0.0.1:%d/#%s" % (hole.port, SLOW)})
        for _ in range(10):
            self.assert_health_answers(warden)
        warden.wait_probe("hole", health="down", outcome="timeout", timeout=20)
        for _ in range(10):
            self.assertEqual(self.assert_health_answers(warden), 503)
        wait_transitions(warden, "hole", 1, to="down")
        downs = [t for t in transitions(warden, "hole") if t[1] == "down"]
        self.assertEqual(len(downs), 1)
        self.assertEqual(downs[0][2], "timeout")

    def test_slow_drip_times_out_health_still_answers(self):
        drip = self.start(targets.SlowDrip())
        warden = self.start_warden(
            {"WARDEN_PROBE_DRIP": drip.url + "#" + SLOW})
        for _ in range(10):
            self.assert_health_answers(warden)
        p = warden.wait_probe("drip", health="down", outcome="timeout", timeout=20)
        self.assertEqual(p["last"].get("http_status", 0), 0)
        for _ in range(10):
            self.assertEqual(self.assert_health_answers(warden), 503)
        self.assertGreaterEqual(drip.connections, 1)


class TestTcpProbe(ProbeCase):
    def test_refused_then_back(self):
        target = self.start(targets.HttpTarget())
        warden = self.start_warden(
            {"WARDEN_PROBE_PORT": "tcp://127.0.0.1:%d#%s" % (target.port, FAST)})
        warden.wait_probe("port", health="up", outcome="ok")
        target.close()
        p = warden.wait_probe("port", health="down", outcome="refused")
        self.assertIn("refused", p["last"].get("detail", ""))
        target.open()
        warden.wait_probe("port", health="up", outcome="ok")
        self.assertEqual(wait_transitions(warden, "port", 3), [("pending", "up", "ok"),
                                                       ("up", "down", "refused"),
                                                       ("down", "up", "ok")])

    def test_bad_uri_is_a_config_error(self):
        proc = harness.Warden(env={"WARDEN_PROBE_PORT": "tcp://127.0.0.1#" + FAST},
                              args=("config",), wait=False)
        try:
            code = proc.wait_exit(timeout=10)
            self.assertEqual(code, 2)
            self.assertIn("port", proc.log_text())
        finally:
            proc.stop()


if __name__ == "__main__":
    harness.main()
