#!/usr/bin/python3
"""Fencing with a real Postgres (tests/integration/pg.py): the split-brain alarm,
the role check and the singleton lease; the rest of fencing is test_fencing.py.
Timings and helpers as there (fencing_common.py).

  07 split-brain alarm and the role check with a real Postgres primary
  12 the singleton lease with a real Postgres: an error other than another
     holder is loud (/fence, metrics, one log line per reason); the row is
     released on demotion
  99 no secret handed out (AWS keys and tokens, container token, admin token,
     postgres password) in any warden log of the run

Run: /usr/bin/python3 tests/integration/test_fencing_pg.py
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

import harness  # noqa: E402
import pg  # noqa: E402
from fencing_common import (FencingBase, FOLLOW, HOME, OTHER, PG_PASSWORD, TTL, metric, note,
                            ts_seconds, wait_reads, write_flag)  # noqa: E402


class FencingPgTest(FencingBase):
    # -- 7 ---------------------------------------------------------------------------
    @unittest.skipUnless(pg.available(), "PostgreSQL server binaries not installed")
    def test_07_split_brain_and_role_check_with_postgres(self):
        cluster = pg.PgCluster()
        try:
            primary = cluster.primary(users={"probe": PG_PASSWORD})
            flag = os.path.join(self.dir("pg"), "active-region")
            write_flag(flag, OTHER)
            window = 2.0  # WARDEN_SPLIT_BRAIN_AFTER
            run = self.start("split-brain", {
                "AWS_REGION": HOME, "WARDEN_FLAG": "file:" + flag,
                "WARDEN_SPLIT_BRAIN_AFTER": "2s",
                "WARDEN_PROBE_DB": "%s#interval=500ms&timeout=300ms&rise=1&fall=1"
                                   % primary.uri("probe"),
                "WARDEN_PROBE_DB_PASSWORD": PG_PASSWORD})
            run.w.wait_probe("db", outcome="ok")
            # Passive with a writer database: a failover in progress (the
            # orchestrator has not demoted it yet), not an alarm.
            doc = run.wait_fence(FOLLOW + TTL, "demotion pending", state="passive",
                                 demotion_pending=True)
            self.assertFalse(doc["split_brain"], doc)
            self.assertFalse(doc["writable"])
            st = run.status()
            self.assertTrue(st["fence"]["demotion_pending"], st["fence"])
            self.assertFalse(st["fence"]["split_brain"], st["fence"])
            self.assertEqual(metric(run.metrics(), "warden_split_brain"), 0)
            self.assertEqual(run.events("fence.split_brain"), [])
            pending = run.wait_events("fence.demotion_pending", 1, "demotion_pending logged")
            self.assertEqual((pending[0]["level"], pending[0]["demotion_pending"]),
                             ("warn", True), pending)
            self.assertFalse([e for e in run.events() if e.get("level") == "error"],
                             run.events())

            # Still a writer after the window: the alarm, once.
            doc = run.wait_fence(window + FOLLOW, "split brain", state="passive",
                                 split_brain=True)
            self.assertFalse(doc["demotion_pending"], doc)
            self.assertFalse(doc["writable"])
            st = run.status()
            self.assertTrue(st["fence"]["split_brain"], st["fence"])
            self.assertEqual(metric(run.metrics(), "warden_split_brain"), 1)
            wait_reads(run, 4, "after the alarm")   # raised once, not once per tick
            alarms = run.events("fence.split_brain")
            self.assertEqual(len(alarms), 1, alarms)
            self.assertEqual((alarms[0]["level"], alarms[0]["split_brain"]), ("error", True))
            self.assertEqual(alarms[0]["active_region"], OTHER)
            self.assertEqual(len(run.events("fence.demotion_pending")), 1)
            # Never before the window, counted from the moment the task became
            # passive (both lines come from the 100 ms tick).
            passive = [e for e in run.events("fence.transition") if e["to"] == "passive"]
            waited = ts_seconds(alarms[0]) - ts_seconds(passive[0])
            note("split-brain alarm %.0f ms after the task became passive (window %.0f ms)",
                 waited * 1000, window * 1000)
            self.assertGreaterEqual(waited, window - 0.15)

            # The flag names this region: the writer makes it writable.
            write_flag(flag, HOME)
            doc = run.wait_fence(FOLLOW, "active with a writer", state="active", writable=True)
            self.assertFalse(doc["split_brain"])
            self.assertEqual(metric(run.metrics(), "warden_split_brain"), 0)
            alarms = run.wait_events("fence.split_brain", 2, "the alarm cleared")
            self.assertEqual([(a["level"], a["split_brain"]) for a in alarms],
                             [("error", True), ("info", False)])

            # The database goes away: still active, no longer writable.
            primary.stop()
            doc = run.wait_fence(FOLLOW + 3, "active without a writer", state="active",
                                 writable=False)
            self.assertIn("not a writer", doc["reason"])
            self.assertEqual(run.activez(), 503)
            last = run.wait_events("fence.transition", 3, "writable -> not writable")[-1]
            self.assertEqual((last["from"], last["to"], last["writable"], last["was_writable"]),
                             ("active", "active", False, True))
            primary.start()
            run.wait_fence(15, "writable again", state="active", writable=True)
        finally:
            cluster.cleanup()

    # -- 12 --------------------------------------------------------------------------
    @unittest.skipUnless(pg.available(), "PostgreSQL server binaries not installed")
    def test_12_lease_errors_are_loud_and_released_on_demotion(self):
        cluster = pg.PgCluster()
        try:
            # The role ecs/cron.json probes with, granted by ecs/warden_lease.sql.
            primary = cluster.primary(users={"warden_lease": PG_PASSWORD})
            flag = os.path.join(self.dir("lease"), "active-region")
            write_flag(flag, HOME)
            run = self.start("lease", {
                "AWS_REGION": HOME, "WARDEN_FLAG": "file:" + flag,
                "WARDEN_PROBE_DB": "%s#interval=500ms&timeout=300ms&rise=1&fall=1"
                                   % primary.uri("warden_lease"),
                "WARDEN_PROBE_DB_PASSWORD": PG_PASSWORD,
                # Longer than the flag's TTL: a demoted task must not leave the
                # row to expire on its own (attempts every 3 s).
                "WARDEN_SINGLETON": "cron", "WARDEN_SINGLETON_TTL": "9s"})

            def lease():
                return run.fence()["leases"]["cron"]

            def errors(reason):
                return metric(run.metrics(), "warden_lease_errors_total",
                              **{"name": "cron", "reason": reason})

            # No table, and no right to create one (PG 15: no CREATE on public).
            harness.wait_until(lambda: lease()["error"] == "undefined_table", timeout=FOLLOW + 3,
                               what="undefined_table in /fence")
            self.assertFalse(lease()["held"])
            # The table, but no grant on it: the shipped examples' old mistake.
            primary.sql("CREATE TABLE warden_lease (name text PRIMARY KEY, holder text NOT NULL,"
                        " generation bigint NOT NULL, expires_at timestamptz NOT NULL)")
            harness.wait_until(lambda: lease()["error"] == "permission_denied", timeout=5,
                               what="permission_denied in /fence")
            before = errors("permission_denied")
            harness.wait_until(lambda: errors("permission_denied") >= before + 2, timeout=9,
                               what="every attempt counted")
            self.assertGreaterEqual(errors("undefined_table"), 1)
            st = run.w.json("/status?verbose")[1]
            self.assertIn("permission denied", st["fence"]["leases"]["cron"]["detail"])
            # One error line per change of reason, not one per attempt.
            self.assertEqual([(e["level"], e["reason"]) for e in run.events("lease.error")],
                             [("error", "undefined_table"), ("error", "permission_denied")])

            # The shipped migration fixes it.
            with open(os.path.join(HERE, "..", "..", "ecs", "warden_lease.sql")) as f:
                primary.sql(f.read())
            run.wait_fence(3, "writable", writable=True)
            harness.wait_until(lambda: lease()["held"], timeout=5, what="lease held")
            self.assertIsNone(lease()["error"])
            cleared = run.wait_events("lease.error_cleared", 1, "error cleared")
            self.assertEqual(cleared[0]["was"], "permission_denied")
            self.assertEqual(len(run.events("lease.error")), 2)

            # Held is never reported past writable_until.
            for _ in range(50):
                doc = run.fence()
                held = doc["leases"]["cron"]
                if held["held"]:
                    self.assertLessEqual(held["expires_in_ms"], doc["writable_for_ms"], doc)
                time.sleep(0.01)
            generation = lease()["generation"]

            # Demoted: the row is released in the database once every "held"
            # reported has run out (at the latest the last writable_until),
            # not left to expire 9 s after its last renewal.
            t0 = time.monotonic()
            write_flag(flag, OTHER)
            run.wait_fence(FOLLOW, "passive", state="passive")
            self.assertFalse(lease()["held"])
            released = run.wait_events("lease.released", 1, "released on demotion",
                                       timeout=TTL + 2)
            self.assertEqual((released[0]["reason"], released[0]["generation"]),
                             ("demoted", generation), released)
            row = primary.sql("SELECT holder, generation, expires_at <= now() FROM warden_lease"
                              " WHERE name = 'cron'").split("|")
            self.assertEqual((int(row[1]), row[2]), (generation, "t"), row)
            note("lease released %.0f ms after the flip (worst case %.0f ms)",
                 (time.monotonic() - t0) * 1000, TTL * 1000)
            self.assertLess(time.monotonic() - t0, TTL + 1.0)
            self.assertEqual(len(run.events("lease.error")), 2)
        finally:
            cluster.cleanup()


if __name__ == "__main__":
    harness.main()
