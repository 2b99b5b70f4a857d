#!/usr/bin/python3
"""EMF output end to end: `warden serve` with WARDEN_EMF=on, a file: flag and
the fake task metadata (tests/fakes/fake_aws.py), and EVERY line it writes
checked: each EMF line against the EMF specification and botocore's
CloudWatch limits (emf_spec.py), each other line still a plain JSON log line.

  01 heartbeats and a transition line at the flag flip; dimensions from the
     task metadata (Cluster from the ARN, Service from "service:NAME"); the
     plain log lines unchanged (one fence.transition per EMF transition)
  02 metadata that fails twice is learned on a later attempt; a task not in
     a service keeps its Group ("family:cron")
  03 metadata that never answers: serve starts at once, Cluster and Service
     stay "unknown", one warning after the bounded attempts
  04 WARDEN_EMF off (the default): no EMF line at all

Run: /usr/bin/python3 tests/integration/test_emf.py
"""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

import emf_spec  # noqa: E402
import harness  # noqa: E402
from fake_aws_client import FakeAws  # noqa: E402

REGION = "us-east-1"
OTHER = "us-west-2"
KNOBS = {"WARDEN_FLAG_INTERVAL": "200ms", "WARDEN_FLAG_TIMEOUT": "100ms",
         "WARDEN_FLAG_TTL": "3s", "WARDEN_EMF_INTERVAL": "1s"}
LOG_KEYS = {"ts", "level", "msg", "event"}


def write_flag(path, region, epoch):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"active_region": region, "epoch": epoch}, f)
    os.rename(tmp, path)


class EmfTest(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.TempDir("warden-emf-")
        self.flag = self.tmp.join("active-region")
        write_flag(self.flag, REGION, 1)
        self.wardens = []
        self.fake = None

    def tearDown(self):
        for w in self.wardens:
            harness.check_sanitizer_log(self, w)
            w.stop()
        if self.fake is not None:
            self.fake.stop()
        self.tmp.cleanup()

    def start_fake(self, **config):
        self.fake = FakeAws(regions=(REGION,), extra_args=("--cluster", "prod",
                                                             "--task-id", "f00d"))
        if config:
            self.fake.config(**config)
        return self.fake

    def start(self, emf="on", meta=True, extra=None):
        env = dict(KNOBS)
        env.update({"AWS_REGION": REGION, "WARDEN_FLAG": "file:" + self.flag,
                    "WARDEN_EMF": emf})
        if meta:
            env["ECS_CONTAINER_METADATA_URI_V4"] = self.fake.meta_url
        env.update(extra or {})
        w = harness.Warden(env=env)
        self.wardens.append(w)
        return w

    def finish(self, w):
        """SIGTERM, wait for the exit (drain 0 s); the log stays readable."""
        w.signal()
        self.assertEqual(w.wait_exit(timeout=20), 0)

    def lines(self, w):
        """(EMF documents, plain log objects) of everything w wrote so far."""
        emf, plain = [], []
        for line in w.log_text().splitlines():
            if emf_spec.is_emf(line):
                emf.append(json.loads(line))
            else:
                plain.append(json.loads(line))  # every line is JSON
        return emf, plain

    def check_every_line(self, w):
        """Every line: a valid EMF document, or a plain JSON log line."""
        text = w.log_text()
        count = 0
        for line in text.splitlines(keepends=True):
            if emf_spec.is_emf(line):
                count += 1
                self.assertEqual(emf_spec.validate(line.encode()), [], line)
                doc = json.loads(line)
                self.assertEqual(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Warden")
                self.assertTrue(doc["event"].startswith("emf."), line)
            else:
                doc = json.loads(line)
                self.assertIsInstance(doc, dict, line)
                self.assertTrue(LOG_KEYS <= set(doc), line)
                self.assertFalse(doc["event"].startswith("emf.") and
                                 doc["event"] not in ("emf.dimensions", "emf.error"), line)
        return count

    def emf_events(self, w, event):
        return [d for d in self.lines(w)[0] if d["event"] == event]

    def test_01_heartbeats_and_a_transition_at_the_flip(self):
        self.start_fake()
        w = self.start()
        harness.wait_until(lambda: w.json("/fence")[1]["writable"], timeout=10,
                           what="writable")
        # Heartbeats carry the dimensions once the metadata is learned.
        beat = harness.wait_until(
            lambda: [d for d in self.emf_events(w, "emf.heartbeat") if d["Cluster"] == "prod"],
            timeout=10, what="a heartbeat with Cluster=prod")[-1]
        self.assertEqual((beat["Region"], beat["Service"]), (REGION, "web"))
        self.assertEqual(beat["TaskArn"], "arn:aws:ecs:%s:123456789012:task/prod/f00d" % REGION)
        self.assertEqual((beat["Writable"], beat["Ready"], beat["SplitBrain"],
                          beat["DemotionPending"], beat["FlagEpoch"]), (1, 1, 0, 0, 1))
        self.assertEqual(beat["State"], "active")
        self.assertLess(beat["FlagAgeSeconds"], 3.0)  # within the TTL: reads are valid

        write_flag(self.flag, OTHER, 2)
        harness.wait_until(lambda: not w.json("/fence")[1]["writable"], timeout=10,
                           what="not writable after the flip")
        flip = harness.wait_until(
            lambda: [d for d in self.emf_events(w, "emf.transition") if d["From"] == "active"],
            timeout=5, what="an EMF transition line at the flip")
        self.assertEqual(len(flip), 1)
        self.assertEqual((flip[0]["State"], flip[0]["Writable"], flip[0]["FlagEpoch"],
                          flip[0]["ActiveRegion"]), ("passive", 0, 2, OTHER))
        after = harness.wait_until(
            lambda: [d for d in self.emf_events(w, "emf.heartbeat")
                     if d["_aws"]["Timestamp"] > flip[0]["_aws"]["Timestamp"]],
            timeout=5, what="a heartbeat after the flip")
        self.assertEqual((after[0]["Writable"], after[0]["State"]), (0, "passive"))

        self.finish(w)
        self.assertGreaterEqual(self.check_every_line(w), 4)
        emf, plain = self.lines(w)
        # One EMF transition line per fence.transition log line, in the same order.
        logged = [(p["from"], p["to"]) for p in plain if p["event"] == "fence.transition"]
        emitted = [(d["From"], d["State"]) for d in emf if d["event"] == "emf.transition"]
        self.assertEqual(logged, emitted)
        self.assertEqual(logged, [("unknown", "active"), ("active", "passive")])
        # The heartbeats follow one fixed schedule: none lost, none doubled.
        beats = [d["_aws"]["Timestamp"] for d in emf if d["event"] == "emf.heartbeat"]
        self.assertEqual(beats, sorted(beats))

    def test_02_metadata_learned_after_failures(self):
        fake = self.start_fake(task_group="family:cron")
        fake.inject("meta_500", count=2)
        w = self.start()
        dims = harness.wait_until(
            lambda: [e for e in w.events("emf.dimensions") if e.get("cluster")],
            timeout=15, what="dimensions learned")[0]
        self.assertEqual((dims["cluster"], dims["service"]), ("prod", "family:cron"))
        self.assertEqual(fake.get_counts()["meta_requests"], 3)
        beat = harness.wait_until(
            lambda: [d for d in self.emf_events(w, "emf.heartbeat") if d["Cluster"] == "prod"],
            timeout=10, what="a heartbeat with the dimensions")[-1]
        self.assertEqual(beat["Service"], "family:cron")
        self.finish(w)
        self.check_every_line(w)

    def test_03_metadata_never_answers(self):
        fake = self.start_fake()
        fake.inject("meta_500", count=1000)
        w = self.start()  # returns once /livez answers: serve did not wait for metadata
        warn = harness.wait_until(
            lambda: [e for e in w.events("emf.dimensions") if e["level"] == "warn"],
            timeout=20, what="the warning after the bounded attempts")
        self.assertEqual(len(warn), 1)
        self.assertIn("5 attempts", warn[0]["msg"])
        self.assertEqual(fake.get_counts()["meta_requests"], 5)
        beat = harness.wait_until(lambda: self.emf_events(w, "emf.heartbeat"), timeout=10,
                                  what="a heartbeat")[-1]
        self.assertEqual((beat["Region"], beat["Cluster"], beat["Service"]),
                         (REGION, "unknown", "unknown"))
        self.assertNotIn("TaskArn", beat)
        self.finish(w)
        self.check_every_line(w)

    def test_04_off_by_default(self):
        self.start_fake()
        w = self.start(emf="off")
        harness.wait_until(lambda: w.json("/fence")[1]["writable"], timeout=10,
                           what="writable")
        write_flag(self.flag, OTHER, 2)
        harness.wait_until(lambda: len(w.events("fence.transition")) == 2, timeout=10,
                           what="two transitions")
        self.finish(w)
        self.assertEqual(self.check_every_line(w), 0)
        self.assertEqual([e for e in self.lines(w)[1] if e["event"].startswith("emf.")], [])
        self.assertEqual(self.fake.get_counts()["meta_requests"], 0)


class SpecValidatorTest(unittest.TestCase):
    """The validator itself refuses what the specification refuses."""

    GOOD = {"_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [
        {"Namespace": "Warden", "Dimensions": [["Region"]],
         "Metrics": [{"Name": "Writable", "Unit": "Count"}]}]},
        "Region": "us-east-1", "Writable": 1}

    def bad(self, mutate):
        doc = json.loads(json.dumps(self.GOOD))
        mutate(doc)
        return emf_spec.validate(json.dumps(doc))

    def test_good(self):
        self.assertEqual(emf_spec.validate(json.dumps(self.GOOD) + "\n"), [])

    def test_refusals(self):
        d = lambda doc: doc["_aws"]["CloudWatchMetrics"][0]  # noqa: E731
        cases = {
            "seconds timestamp": lambda doc: doc["_aws"].update(Timestamp=1700000000),
            "float timestamp": lambda doc: doc["_aws"].update(Timestamp=1.7e12),
            "unit": lambda doc: d(doc)["Metrics"][0].update(Unit="Counts"),
            "dimension missing": lambda doc: doc.pop("Region"),
            "dimension number": lambda doc: doc.update(Region=1),
            "dimension blank": lambda doc: doc.update(Region="  "),
            "dimension non-ascii": lambda doc: doc.update(Region="\u00e9"),
            "dimension too long": lambda doc: doc.update(Region="x" * 1025),
            "metric string": lambda doc: doc.update(Writable="1"),
            "metric bool": lambda doc: doc.update(Writable=True),
            "metric missing": lambda doc: doc.pop("Writable"),
            "31 dimensions": lambda doc: (d(doc).update(Dimensions=[["D%d" % i for i in
                                                                     range(31)]]),
                                          doc.update({"D%d" % i: "v" for i in range(31)})),
            "101 metrics": lambda doc: (d(doc).update(Metrics=[{"Name": "M%d" % i} for i in
                                                               range(101)]),
                                        doc.update({"M%d" % i: 1 for i in range(101)})),
            "extra member": lambda doc: d(doc).update(Extra=1),
            "namespace": lambda doc: d(doc).update(Namespace=""),
        }
        for name, mutate in cases.items():
            self.assertNotEqual(self.bad(mutate), [], name)
        self.assertNotEqual(emf_spec.validate("x" * (1024 * 1024)), [])
        self.assertNotEqual(emf_spec.validate(json.dumps(self.GOOD) + " {}"), [])


if __name__ == "__main__":
    harness.main()
