#!/usr/bin/python3
"""`warden flag set B --wait --verify` against a small fleet (issue 12, "Fleet
acknowledgement"): 3 `warden serve` tasks in region A and 1 in region B,
WARDEN_EMF=on with a 1 s heartbeat, each with its own fake task metadata
(cluster/service/task id), a file: flag. Their stdout (the EMF lines, as the
awslogs driver would deliver them) is read by the fake AWS, whose CloudWatch
answers GetMetricData from those lines (SigV4 checked with botocore).

  01 every A task reports: old_region_writable 0 and old_region_reporting =
     the number of [Region=A] Writable samples in the window (one heartbeat
     per A task per 1 s window: at least 3), exit 0
  02 A's tasks are killed before the flip: old_region_reporting 0, a
     verify_error and a WARNING line; exit code still 0
  03 CloudWatch unreachable: the same, exit 0

Run: /usr/bin/python3 tests/integration/test_flag_verify.py
"""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import harness  # noqa: E402
from fake_aws_client import FakeAws  # noqa: E402

A, B = "us-east-1", "us-west-2"
AKID, SECRET = "AKIAWARDENVERIFY0001", "verify/Secret+0123456789abcdefghij"
KNOBS = {"WARDEN_FLAG_INTERVAL": "200ms", "WARDEN_FLAG_TIMEOUT": "100ms",
         "WARDEN_FLAG_TTL": "2s", "WARDEN_EMF": "on", "WARDEN_EMF_INTERVAL": "1s"}
TTL_S, SLACK_S = 2.0, 2.0


class FlagVerifyTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeAws(regions=(A, B), static_keys=[(AKID, SECRET)])
        self.addCleanup(self.fake.stop)
        self.tmp = harness.TempDir("warden-verify-")
        self.addCleanup(self.tmp.cleanup)
        self.flag_path = self.tmp.join("active-region")

    def env(self, region, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.tmp.path,
               "AWS_REGION": region, "AWS_ACCESS_KEY_ID": AKID,
               "AWS_SECRET_ACCESS_KEY": SECRET, "WARDEN_FLAG": "file:" + self.flag_path,
               "AWS_ENDPOINT_URL_MONITORING": self.fake.url}
        env.update(KNOBS)
        env.update(harness.base_env())
        env.update(extra)
        return env

    def flag(self, env, *args):
        proc = subprocess.run([harness.WARDEN_BIN, "flag"] + list(args), env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertNotIn(SECRET, proc.stdout + proc.stderr)
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc.returncode, doc, proc.stderr

    def fleet(self):
        """3 tasks in A, 1 in B; the fake reads their stdout (EMF lines)."""
        tasks = []
        for i, region in enumerate((A, A, A, B)):
            meta = "%s/meta/t/cluster-%s/web/task%d" % (self.fake.url, region, i)
            w = harness.Warden(env=self.env(region, ECS_CONTAINER_METADATA_URI_V4=meta))
            self.addCleanup(w.stop)
            tasks.append((region, w))
        status, _ = self.fake._control("POST", "emf/files",
                          {"paths": [w.log_path for _, w in tasks]})
        self.assertEqual(status, 200)
        for region, w in tasks:
            harness.wait_until(lambda w=w, region=region: w.json("/fence")[1].get(
                "writable") == (region == A) or None, timeout=TTL_S + SLACK_S,
                what="task fence state")
        return tasks

    def test_01_every_old_task_reports_writable_0(self):
        rc, _, err = self.flag(self.env(A), "set", A, "--epoch", "1")
        self.assertEqual(rc, 0, err)
        tasks = self.fleet()
        rc, doc, err = self.flag(self.env(A), "set", B, "--wait", "--verify")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["old_region"], A)
        self.assertTrue(doc["verify"])
        self.assertIsNone(doc["verify_error"], err)
        self.assertEqual(doc["old_region_writable"], 0, err)
        # one heartbeat per A task per 1 s window (a fixed schedule): >= 3, and no
        # more than 2 per task (a beat exactly on both edges cannot happen in [s, e)).
        self.assertGreaterEqual(doc["old_region_reporting"], 3, err)
        self.assertLessEqual(doc["old_region_reporting"], 6, err)
        self.assertEqual(doc["verify_window"]["period_s"], 1)
        self.assertIn("verify: %s: Sum(Writable) = 0" % A, err)
        # The window starts at or after safe_at.
        self.assertGreaterEqual(doc["verify_window"]["start"][:19], doc["safe_at"][:19])
        # The fake answered from the fleet's lines, signed for "monitoring" in A.
        recs = self.fake.get_requests(kind="cloudwatch")
        self.assertEqual([(r["region"], r["status"]) for r in recs], [(A, 200)])
        self.assertEqual(len(tasks), 4)

    def test_02_old_region_not_reporting(self):
        rc, _, err = self.flag(self.env(A), "set", A, "--epoch", "1")
        self.assertEqual(rc, 0, err)
        tasks = self.fleet()
        for region, w in tasks:
            if region == A:
                w.stop()
        rc, doc, err = self.flag(self.env(A), "set", B, "--wait", "--verify")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["old_region_reporting"], 0)
        self.assertIsNone(doc["old_region_writable"])
        self.assertIn("no data", doc["verify_error"])
        self.assertIn("WARNING: verify: the old region %s is not reporting" % A, err)

    def test_03_cloudwatch_unreachable(self):
        hole = harness.BlackHole()
        self.addCleanup(hole.close)
        rc, _, err = self.flag(self.env(A), "set", A, "--epoch", "1")
        self.assertEqual(rc, 0, err)
        env = self.env(A, AWS_ENDPOINT_URL_MONITORING="http://127.0.0.1:%d" % hole.port)
        rc, doc, err = self.flag(env, "set", B, "--verify")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["old_region_reporting"], 0)
        self.assertIn("CloudWatch unreachable", doc["verify_error"])
        self.assertIn("timeout", doc["verify_error"])
        self.assertIn("WARNING", err)


if __name__ == "__main__":
    harness.main()
