"""`warden check`: the ECS health check finds the listener the way `serve` does.

A warden whose port comes only from its WARDEN_CONFIG file ("listen") must be
found by `warden check` given the same environment; WARDEN_LISTEN still
overrides the file; a config that does not load is unhealthy (exit 1, one
line on stderr), never a probe of some default port.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_check.py
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def check(env, *args):
    full = harness.base_env()
    full.update(env)
    return subprocess.run([harness.WARDEN_BIN, "check", *args], env=full, capture_output=True,
                          text=True, timeout=10)


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.TempDir("warden-check-")
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
        self.tmp.cleanup()

    def config_file(self, doc):
        path = self.tmp.join("warden-%d.json" % len(os.listdir(self.tmp.path)))
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def serve_from_file(self, host="127.0.0.1"):
        """A warden whose listener comes from its config file alone (no WARDEN_LISTEN)."""
        for _ in range(5):   # the free port may be taken before warden binds it
            port = harness.free_port()
            path = self.config_file({"listen": "%s:%d" % (host, port)})
            env = harness.base_env(WARDEN_CONFIG=path, WARDEN_DRAIN_SECONDS="0")
            proc = subprocess.Popen([harness.WARDEN_BIN, "serve"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(proc)

            def live():
                if proc.poll() is not None:
                    raise EOFError
                try:
                    return harness.http_request(port, "/livez", timeout=1)[0] == 200
                except OSError:
                    return False
            try:
                harness.wait_until(live, timeout=15, what="warden on %d" % port)
                return port, path
            except EOFError:
                continue
        self.fail("warden did not start on a free port")

    def test_listen_from_the_config_file(self):
        port, path = self.serve_from_file()
        proc = check({"WARDEN_CONFIG": path})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")

    def test_wildcard_listen_in_the_file_is_asked_on_loopback(self):
        port, path = self.serve_from_file(host="0.0.0.0")
        self.assertEqual(check({"WARDEN_CONFIG": path}).returncode, 0)

    def test_warden_listen_overrides_the_file(self):
        port, path = self.serve_from_file()
        dead = harness.free_port()
        proc = check({"WARDEN_CONFIG": path, "WARDEN_LISTEN": "127.0.0.1:%d" % dead})
        self.assertEqual(proc.returncode, 1)
        self.assertIn(":%d/livez" % dead, proc.stderr)
        proc = check({"WARDEN_CONFIG": self.config_file({"listen": "127.0.0.1:%d" % dead}),
                      "WARDEN_LISTEN": str(port)})
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_config_that_does_not_load_is_unhealthy(self):
        cases = [
            ({"WARDEN_CONFIG": self.tmp.join("missing.json")}, "WARDEN_CONFIG"),
            ({"WARDEN_CONFIG": self.config_file("{not json")}, "config file"),
            ({"WARDEN_CONFIG": self.config_file({"listen": "nonsense"})}, "listen"),
            ({"WARDEN_LISTEN": "127.0.0.1:99999"}, "WARDEN_LISTEN"),
        ]
        for env, named in cases:
            with self.subTest(env=env):
                proc = check(env)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertEqual(proc.stderr.count("\n"), 1, proc.stderr)
                self.assertIn("warden check: config:", proc.stderr)
                self.assertIn(named, proc.stderr)

    def test_explicit_url_needs_no_config(self):
        port, _ = self.serve_from_file()
        proc = check({"WARDEN_CONFIG": self.tmp.join("missing.json")},
                     "http://127.0.0.1:%d/livez" % port)
        self.assertEqual(proc.returncode, 0, proc.stderr)


if __name__ == "__main__":
    harness.main()
