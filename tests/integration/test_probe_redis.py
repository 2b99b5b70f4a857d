#!/usr/bin/env python3
"""The redis probe end to end: the warden binary against real redis-servers.

Plain, ACL user + password from WARDEN_PROBE_CACHE_PASSWORD, a wrong password,
TLS with a test CA (trusted and untrusted), a replica's role, a restart, and
black holes (plain and TLS) that must time out while /livez and /readyz keep
answering. No password ever appears in warden's log or /status.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import redis_server  # noqa: E402

OPTIONS = "interval=500ms&timeout=300ms&rise=2&fall=2"


@unittest.skipUnless(redis_server.redis_available(), "redis-server is not installed")
class RedisProbeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = redis_server.TestCA()
        cls.server_cert = cls.ca.issue()

    @classmethod
    def tearDownClass(cls):
        cls.ca.cleanup()

    def setUp(self):
        self.secrets = []

    # -- helpers --------------------------------------------------------

    def redis(self, **kwargs):
        server = redis_server.RedisServer(**kwargs)
        self.addCleanup(server.cleanup)
        return server

    def warden(self, uri, password=None):
        """A warden whose one probe `cache` targets uri."""
        env = {"WARDEN_PROBE_CACHE": "%s#%s" % (uri, OPTIONS)}
        if password is not None:
            env["WARDEN_PROBE_CACHE_PASSWORD"] = password
            self.secrets.append(password)
        warden = harness.Warden(env=env)
        self.addCleanup(self._finish, warden)
        return warden

    def _finish(self, warden):
        try:
            self.assert_no_secret(warden)
            harness.check_sanitizer_log(self, warden)
        finally:
            warden.stop()

    def assert_no_secret(self, warden):
        """No password in the whole log nor in /status."""
        _, _, status_body = warden.get("/status")
        _, _, ready_body = warden.get("/readyz?verbose")
        log = warden.log_text()
        for secret in self.secrets:
            self.assertNotIn(secret, log, "a password is in warden's log")
            self.assertNotIn(secret, status_body, "a password is in /status")
            self.assertNotIn(secret, ready_body, "a password is in /readyz")

    def transitions(self, warden):
        return [e for e in warden.events("probe.transition") if e.get("probe") == "cache"]

    def assert_health_keeps_answering(self, warden, seconds=2.0):
        """/livez says 200 and /readyz answers (200 or 503) throughout."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status, _, _ = warden.get("/livez", timeout=2.0)
            self.assertEqual(status, 200)
            status, _, _ = warden.get("/readyz", timeout=2.0)
            self.assertIn(status, (200, 503))
            time.sleep(0.05)

    # -- tests ----------------------------------------------------------

    def test_plain_up_then_restart(self):
        server = self.redis()
        warden = self.warden("redis://127.0.0.1:%d" % server.port)
        probe = warden.wait_probe("cache", health="up", outcome="ok")
        self.assertEqual(probe["last"]["role"], "writer")

        server.stop()
        warden.wait_probe("cache", health="down", outcome="refused")
        server.start()
        warden.wait_probe("cache", health="up", outcome="ok")

        # /status shows a change before its log line is written: wait for it.
        harness.wait_until(lambda: [e.get("to") for e in self.transitions(warden)][-1:] == ["up"]
                           and any(e.get("to") == "down" for e in self.transitions(warden)),
                           what="the down and the up logged")
        tos = [(e.get("from"), e.get("to")) for e in self.transitions(warden)]
        # pending -> up may or may not be logged; after it, exactly one
        # down and one up, each logged once.
        if tos and tos[0][1] == "up" and tos[0][0] != "down":
            tos = tos[1:]
        self.assertEqual([t for _, t in tos], ["down", "up"], tos)
        down = [e for e in self.transitions(warden) if e.get("to") == "down"][0]
        self.assertEqual(down.get("reason"), "refused")

    def test_acl_user_with_password_from_env(self):
        server = self.redis(requirepass="adminpw-7d1f", users=[redis_server.ACL_PROBE_USER])
        self.secrets.append("adminpw-7d1f")
        user, password = redis_server.ACL_PROBE_USER
        warden = self.warden("redis://%s@127.0.0.1:%d/2" % (user, server.port),
                             password=password)
        probe = warden.wait_probe("cache", health="up", outcome="ok")
        self.assertEqual(probe["last"]["role"], "writer")

    def test_wrong_password_is_auth(self):
        server = self.redis(requirepass="adminpw-7d1f", users=[redis_server.ACL_PROBE_USER])
        self.secrets.append("adminpw-7d1f")
        warden = self.warden("redis://probe@127.0.0.1:%d" % server.port,
                             password="wrong-pw-51c3a9")
        warden.wait_probe("cache", health="down", outcome="auth")

    def test_wrong_password_in_uri_is_auth(self):
        server = self.redis(requirepass="adminpw-7d1f")
        self.secrets += ["adminpw-7d1f", "uri-pw-0b9e44"]
        warden = self.warden("redis://:uri-pw-0b9e44@127.0.0.1:%d" % server.port)
        warden.wait_probe("cache", health="down", outcome="auth")

    def test_no_password_is_auth(self):
        server = self.redis(requirepass="adminpw-7d1f")
        self.secrets.append("adminpw-7d1f")
        warden = self.warden("redis://127.0.0.1:%d" % server.port)
        warden.wait_probe("cache", health="down", outcome="auth")

    def test_tls_with_test_ca(self):
        server = self.redis(tls=self.server_cert)
        warden = self.warden("rediss://localhost:%d/0?cacert=%s"
                             % (server.port, self.ca.cert))
        probe = warden.wait_probe("cache", health="up", outcome="ok")
        self.assertEqual(probe["last"]["role"], "writer")

    def test_tls_untrusted_server_is_tls(self):
        other_ca = redis_server.TestCA("some-other-ca")
        self.addCleanup(other_ca.cleanup)
        server = self.redis(tls=other_ca.issue())
        warden = self.warden("rediss://localhost:%d/0?cacert=%s"
                             % (server.port, self.ca.cert))
        warden.wait_probe("cache", health="down", outcome="tls")

    def test_tls_without_the_ca_is_tls(self):
        server = self.redis(tls=self.server_cert)
        warden = self.warden("rediss://localhost:%d" % server.port)
        warden.wait_probe("cache", health="down", outcome="tls")

    def test_replica_is_reader(self):
        master = self.redis()
        replica = self.redis(replicaof=master)
        self.assertEqual(replica.role(), "slave")
        warden = self.warden("redis://127.0.0.1:%d" % replica.port)
        probe = warden.wait_probe("cache", health="up", outcome="ok")
        self.assertEqual(probe["last"]["role"], "reader")

    def _black_hole(self, scheme):
        hole = harness.BlackHole()
        self.addCleanup(hole.close)
        query = "?cacert=%s" % self.ca.cert if scheme == "rediss" else ""
        warden = self.warden("%s://localhost:%d/0%s" % (scheme, hole.port, query))
        warden.wait_probe("cache", health="down", outcome="timeout")
        self.assert_health_keeps_answering(warden)
        self.assertEqual(warden.probe("cache")["last"]["outcome"], "timeout")

    def test_black_hole_plain_times_out(self):
        self._black_hole("redis")

    def test_black_hole_tls_times_out(self):
        self._black_hole("rediss")


if __name__ == "__main__":
    harness.main()
