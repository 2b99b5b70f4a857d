"""warden flag get / flag set against three fake SSM regions (one fake AWS per
region), and a `warden serve` task reading the same three sources.

- a flip confirmed on 2 of 3 with the third region black-holed: exit 0;
  on 1 of 3: exit 1 (and without --epoch, no quorum of reads: exit 2);
- two writers racing at one epoch (each reaching a different part of the
  sources, --epoch N for both) leave a conflict that flag get and a serve
  task show; the next flag set clears it;
- a task cut off from two of three sources (their requests stall: a black
  hole, not a refused connection) fences within the TTL while its own
  region's parameter still names it;
- --wait exits no earlier than safe_at; the same with file: sources.

Timings: TTL 4 s, interval 1 s, timeout 500 ms; bounds are asserted with
the slack stated next to them.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import harness  # noqa: E402
from fake_aws_client import FakeAws  # noqa: E402

NAME = "/platform/test/active-region"
EAST, WEST, WITNESS = "us-east-1", "us-west-2", "eu-west-1"
AKID, SECRET = "AKIAWARDENFLAGCMD001", "flag/Cmd+Secret0123456789abcdefgh"
TTL_S = 4.0
SLACK_S = 1.0  # scheduling on a loaded 2-core machine, and one poll of /fence


def value(region, epoch):
    return json.dumps({"active_region": region, "epoch": epoch})


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class FlagCmdTest(unittest.TestCase):
    fakes = {}

    @classmethod
    def setUpClass(cls):
        for region in (EAST, WEST, WITNESS):
            cls.fakes[region] = FakeAws(regions=(region,), static_keys=[(AKID, SECRET)])
        cls.tmp = harness.TempDir("warden-flag-cmd-")

    @classmethod
    def tearDownClass(cls):
        for fake in cls.fakes.values():
            fake.clear()
            fake.stop()
        cls.tmp.cleanup()

    def setUp(self):
        for fake in self.fakes.values():
            fake.reset()

    # -- helpers -----------------------------------------------------------------------
    def flag_list(self, down=()):
        """WARDEN_FLAG: one source per region; a region in `down` points at a
        black hole (connects, never answers)."""
        parts = []
        for region in (EAST, WEST, WITNESS):
            url = self.fakes[region].url
            if region in down:
                hole = harness.BlackHole()
                self.addCleanup(hole.close)
                url = "http://127.0.0.1:%d" % hole.port
            parts.append("ssm:%s?region=%s&endpoint=%s" % (NAME, region, url))
        return ",".join(parts)

    def env(self, flag, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": EAST,
               "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
               "HOME": self.tmp.path, "WARDEN_FLAG": flag, "WARDEN_FLAG_TTL": "4s",
               "WARDEN_FLAG_INTERVAL": "1s", "WARDEN_FLAG_TIMEOUT": "500ms"}
        env.update(harness.base_env())
        env.update(extra)
        return env

    def flag(self, env, *args):
        proc = subprocess.run([harness.WARDEN_BIN, "flag"] + list(args), env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertNotIn(SECRET, proc.stdout + proc.stderr)
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc.returncode, doc, proc.stderr

    def seed(self, region, epoch, regions=(EAST, WEST, WITNESS)):
        for r in regions:
            self.fakes[r].set_param(NAME, value(region, epoch), region=r)

    def stored(self, region):
        return json.loads(self.fakes[region].get_param(NAME, region=region)["Value"])

    def serve(self, flag):
        w = harness.Warden(env=self.env(flag))
        self.addCleanup(w.stop)
        return w

    def wait_fence(self, w, timeout, **want):
        def check():
            doc = w.json("/fence")[1]
            return doc if all(doc.get(k) == v for k, v in want.items()) else None
        return harness.wait_until(check, timeout=timeout, what="/fence %r" % (want,))

    # -- tests ---------------------------------------------------------------------------
    def test_01_confirmed_on_two_of_three(self):
        self.seed(EAST, 3)
        rc, doc, err = self.flag(self.env(self.flag_list(down=(WITNESS,))), "set", WEST,
                                 "--reason", "drill")
        self.assertEqual(rc, 0, err)
        self.assertEqual((doc["ok"], doc["epoch"], doc["quorum"]),
                         (True, 4, {"needed": 2, "of": 3, "confirmed": 2}))
        self.assertEqual([s["written"] for s in doc["sources"]], [True, True, False])
        self.assertEqual([s["confirmed"] for s in doc["sources"]], [True, True, False])
        self.assertIn("timeout", doc["sources"][2]["write_error"])
        self.assertEqual(doc["sources"][0]["version"], 2)  # PutParameter's new Version
        self.assertAlmostEqual(parse_ts(doc["safe_at"]) - parse_ts(doc["confirmed_at"]),
                               TTL_S, places=3)
        for region in (EAST, WEST):
            stored = self.stored(region)
            self.assertEqual((stored["active_region"], stored["epoch"], stored["reason"]),
                             (WEST, 4, "drill"))
            self.assertIn("set_at", stored)
            self.assertIn("by", stored)
        self.assertEqual(self.stored(WITNESS)["epoch"], 3)
        self.assertIn("confirmed epoch 4", err)

        # flag get with the same view: a quorum agrees.
        rc, doc, err = self.flag(self.env(self.flag_list(down=(WITNESS,))), "get")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["verdict"]["state"], "agreed")
        self.assertEqual(doc["verdict"]["quorum"]["missing"], [3])
        self.assertEqual([s["version"] for s in doc["sources"][:2]], [2, 2])

    def test_02_one_of_three_exits_1(self):
        self.seed(EAST, 3)
        env = self.env(self.flag_list(down=(WEST, WITNESS)))
        rc, doc, err = self.flag(env, "set", WEST)
        self.assertEqual(rc, 2, err)   # no quorum of reads, no --epoch: refused
        self.assertEqual(doc["status"], "refused")
        self.assertIn("--epoch", err)
        self.assertEqual(self.stored(EAST)["epoch"], 3)   # nothing written
        rc, doc, err = self.flag(env, "set", WEST, "--epoch", "9")
        self.assertEqual(rc, 1, err)
        self.assertEqual((doc["ok"], doc["status"], doc["quorum"]["confirmed"]),
                         (False, "unconfirmed", 1))
        self.assertIn("run flag set again", doc["message"])
        self.assertIsNone(doc["safe_at"])
        self.assertEqual(self.stored(EAST)["epoch"], 9)
        rc, doc, err = self.flag(env, "get")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["verdict"]["quorum"]["missing"], [2, 3])

    def test_03_racing_writers_conflict_until_the_next_set(self):
        self.seed(EAST, 6)
        task = self.serve(self.flag_list())
        self.wait_fence(task, TTL_S + SLACK_S, state="active", writable=True, epoch=6)
        # Two orchestrators race at epoch 7, each reaching part of the sources.
        rc_a, doc_a, err_a = self.flag(self.env(self.flag_list(down=(WITNESS,))), "set", EAST,
                                       "--epoch", "7")
        rc_b, doc_b, err_b = self.flag(self.env(self.flag_list(down=(EAST, WEST))), "set",
                                       WEST, "--epoch", "7")
        self.assertEqual((rc_a, rc_b), (0, 1), err_a + err_b)
        rc, doc, err = self.flag(self.env(self.flag_list()), "get")
        self.assertEqual(rc, 1, err)
        self.assertTrue(doc["verdict"]["conflict"], doc)
        self.assertIn("at epoch 7", doc["verdict"]["reason"])
        fence = self.wait_fence(task, 2 * SLACK_S + 1, state="conflict", writable=False)
        self.assertEqual(fence["epoch"], 7)
        # The next flag set (all sources reachable) clears it.
        rc, doc, err = self.flag(self.env(self.flag_list()), "set", EAST)
        self.assertEqual((rc, doc["epoch"]), (0, 8), err)
        rc, doc, err = self.flag(self.env(self.flag_list()), "get")
        self.assertEqual((rc, doc["verdict"]["state"], doc["verdict"]["epoch"]),
                         (0, "agreed", 8), err)
        self.wait_fence(task, 2 * SLACK_S + 1, state="active", writable=True, epoch=8)

    def test_04_cut_off_task_fences_within_ttl(self):
        """A task whose requests to two of three regions stall (a black hole)
        fences within the TTL of the cut, although its own region's
        parameter still names it."""
        self.seed(EAST, 5)
        task = self.serve(self.flag_list())
        self.wait_fence(task, TTL_S + SLACK_S, state="active", writable=True, epoch=5)
        fence = task.json("/fence")[1]
        self.assertEqual(fence["quorum"], {"needed": 2, "met": True, "counted": [1, 2, 3]})
        cut = time.time()
        for region in (WEST, WITNESS):
            self.fakes[region].inject("stall")   # until cleared: requests hang
        # The other two regions flip the flag among themselves.
        for region in (WEST, WITNESS):
            self.fakes[region].set_param(NAME, value(WEST, 6), region=region)
        last_until = 0.0
        while True:
            fence = task.json("/fence")[1]
            if not fence["writable"]:
                break
            last_until = max(last_until, parse_ts(fence["writable_until"]))
            self.assertLess(time.time() - cut, TTL_S + SLACK_S, fence)
            time.sleep(0.05)
        fenced = time.time()
        self.assertLessEqual(fenced - cut, TTL_S + SLACK_S)
        # Every writable_until it announced ended within the TTL of the cut
        # (its last reads of the stalled sources were sent before it).
        self.assertLessEqual(last_until, cut + TTL_S + 0.1)   # 0.1 s: clock rounding
        self.assertEqual(fence["state"], "stale")
        self.assertIn("missing source 2, 3", fence["reason"])
        self.assertEqual(self.stored(EAST), {"active_region": EAST, "epoch": 5})
        status = task.status()
        self.assertEqual([s["counts"] for s in status["flag"]], [True, False, False])
        for region in (WEST, WITNESS):
            self.fakes[region].clear()

    def test_05_wait_exits_no_earlier_than_safe_at(self):
        self.seed(EAST, 1)
        rc, doc, err = self.flag(self.env(self.flag_list()), "set", WEST, "--wait")
        done = time.time()
        self.assertEqual(rc, 0, err)
        self.assertTrue(doc["wait"])
        self.assertGreaterEqual(done, parse_ts(doc["safe_at"]))
        # With WARDEN_ON_STALE=hold there is no safe_at: --wait refuses.
        rc, doc, err = self.flag(self.env(self.flag_list(), WARDEN_ON_STALE="hold"), "set",
                                 EAST, "--wait")
        self.assertEqual(rc, 2)
        self.assertIn("--wait refused", err)
        self.assertEqual(self.stored(EAST)["active_region"], WEST)  # nothing written

    def test_06_file_sources(self):
        paths = [self.tmp.join("flag-%d" % i) for i in range(3)]
        flag = ",".join("file:" + p for p in paths)
        env = self.env(flag)
        rc, doc, err = self.flag(env, "set", EAST, "--epoch", "1")
        self.assertEqual(rc, 0, err)
        task = self.serve(flag)
        self.wait_fence(task, TTL_S + SLACK_S, state="active", writable=True, epoch=1)
        rc, doc, err = self.flag(env, "set", WEST, "--reason", "file drill", "--wait")
        self.assertEqual((rc, doc["epoch"]), (0, 2), err)
        self.assertFalse(task.json("/fence")[1]["writable"])   # fenced by safe_at
        self.wait_fence(task, SLACK_S, state="passive", epoch=2)
        os.unlink(paths[1])
        os.unlink(paths[2])
        rc, doc, err = self.flag(env, "get")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["verdict"]["quorum"]["missing"], [2, 3])
        with open(paths[0]) as f:
            self.assertEqual(json.load(f)["reason"], "file drill")

    def test_08_throttled_reads_and_writes_are_tried_again(self):
        """The fleet may use up a region's SSM quota on the day of the flip:
        a throttled read or write is tried again (with back-off, within the
        read-back's time) instead of failing the flip for want of a quorum."""
        self.seed(EAST, 5)
        # Two regions throttle their next 3 requests each: the first read of
        # both fails, so without a retry there is no quorum of reads (exit 2).
        for region in (WEST, WITNESS):
            self.fakes[region].inject("throttle", count=3)
        rc, doc, err = self.flag(self.env(self.flag_list()), "set", WEST)
        self.assertEqual(rc, 0, err)
        self.assertEqual((doc["ok"], doc["epoch"]), (True, 6))
        self.assertIn("retry", err)
        for region in (WEST, WITNESS):
            counts = self.fakes[region].get_counts()
            self.assertEqual(counts["by_error"].get("ThrottlingException"), 3, counts)
        # A region that keeps throttling is left behind once a quorum took the
        # write; the others confirm and the report names it.
        self.fakes[WITNESS].inject("throttle")
        rc, doc, err = self.flag(self.env(self.flag_list()), "set", EAST)
        self.fakes[WITNESS].clear()
        self.assertEqual(rc, 0, err)
        self.assertEqual([s["written"] for s in doc["sources"]], [True, True, False])
        self.assertTrue(doc["sources"][2]["write_error"].startswith("throttled"), doc)

    def test_07_usage(self):
        env = self.env(self.flag_list())
        for args in (("set",), ("set", "mars-1"), ("set", EAST, "--epoch", "0"),
                     ("set", EAST, "--bogus"), ("get", "x"), ("frob",)):
            rc, _, err = self.flag(env, *args)
            self.assertEqual(rc, 2, (args, err))
        rc, _, err = self.flag(self.env(self.flag_list(), WARDEN_FLAG_QUORUM="4"), "get")
        self.assertEqual(rc, 2)
        self.assertIn("WARDEN_FLAG_QUORUM", err)


if __name__ == "__main__":
    harness.main()
