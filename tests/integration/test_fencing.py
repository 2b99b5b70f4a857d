#!/usr/bin/python3
"""Fencing end to end: the flag sources (file:, ssm: through tests/fakes/fake_aws.py),
the decision, the transitions, the fence file, the admin endpoints. The
split-brain alarm and the lease with a real Postgres are test_fencing_pg.py,
the helpers both share fencing_common.py.

Every warden runs with WARDEN_FLAG_INTERVAL=500ms, WARDEN_FLAG_TIMEOUT=300ms,
WARDEN_FLAG_TTL=3s (typical fence 900 ms, worst case 3 s). Tests assert
behaviour and order, never an absolute latency: a wait is bounded only by a
generous multiple of the contract, and the times measured are printed for
information ([info] lines on stderr).

  01 file: flips, /activez + /fence + metrics follow, epochs never go back,
     one fence.transition per change, the fence file never partial
  02 ssm: flipped with the real AWS CLI; /fence epoch = SSM Version
  03 every fault of the fake (9 wardens and 9 fakes at once): stale by the
     TTL, the source's result, one call per read (counted exactly), calls at
     least 0.8 x interval apart, back-off for throttle/500, recovery
     (FENCING_FAULTS=close,stall runs only those)
  03b a connection closed unanswered costs one SSM call, not two (libcurl
     resends on reused connections: the SSM client never reuses one)
  04 two ssm: sources on two fakes: epochs, conflicts, one source dead
  05 credentials rotate inside the 5-minute window; a failed refresh keeps
     the cached ones; ExpiredToken + dead new credentials within the TTL
  06 clock skew +900/0/-900 s corrected from Date, one retry each
  08 admin endpoints (404 without a token, 401, 204, forced, drain)
  10 WARDEN_ON_STALE=hold (unsafe: stays writable while stale)
  11 `warden config`: the timing rule, the timing and the safety contract
  99 no secret handed out (AWS keys and tokens, container token, admin token,
     postgres password) in any warden log of the run

Transitions are logged by a 100 ms tick, so a test lets each state settle
(Run.settle) before it causes the next one.
Run: /usr/bin/python3 tests/integration/test_fencing.py
"""

import calendar
import json
import os
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

import harness  # noqa: E402
from fake_aws_client import FakeAws  # noqa: E402
from fencing_common import (FencingBase, ADMIN_TOKEN, AWS_CLI, CONTAINER_TOKEN, FLAG_KNOBS,
                            FOLLOW, HOME, INTERVAL, NAME, OTHER, Run, STATIC_AKID,
                            STATIC_SECRET, TTL, TYPICAL, assert_spacing, epoch_value, gaps,
                            keep_fake_secrets, metric, note, quiet_point, wait_reads,
                            write_flag)  # noqa: E402


class FencingTest(FencingBase):
    # -- 1 ---------------------------------------------------------------------------
    def test_01_file_source_flips_fence_file_and_transitions(self):
        d = self.dir("file")
        flag, fence_file = os.path.join(d, "active-region"), os.path.join(d, "fence.json")
        write_flag(flag, HOME)
        run = self.start("file", {"AWS_REGION": HOME, "WARDEN_FLAG": "file:" + flag,
                                  "WARDEN_FENCE_FILE": fence_file})
        doc = run.wait_fence(FOLLOW + TTL, "first read", state="active", writable=True)
        self.assertEqual((doc["region"], doc["active_region"], doc["epoch"]), (HOME, HOME, 0))
        self.assertEqual(run.activez(), 200)

        # A reader of the fence file in a tight loop: never a partial document.
        seen, bad, stop = [], [], threading.Event()

        def read_fence_file():
            while not stop.is_set():
                try:
                    with open(fence_file, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    continue
                try:
                    d = json.loads(data.decode())
                    if not seen or seen[-1] != (d["state"], d["epoch"]):
                        seen.append((d["state"], d["epoch"]))
                except (ValueError, KeyError) as exc:
                    bad.append((repr(exc), data[:200]))
        reader = threading.Thread(target=read_fence_file, daemon=True)
        reader.start()

        flips = [(OTHER, 1, "passive", 503), (HOME, 2, "active", 200),
                 (OTHER, 3, "passive", 503), (HOME, 4, "active", 200),
                 (OTHER, 5, "passive", 503)]
        took = []
        run.settle(1)
        try:
            for n, (region, epoch, state, code) in enumerate(flips):
                t = time.monotonic()
                write_flag(flag, epoch_value(region, epoch))
                harness.wait_until(lambda: run.activez() == code, timeout=FOLLOW, interval=0.005,
                                   what="/activez %d after flag -> %s" % (code, region))
                took.append(time.monotonic() - t)
                doc = run.fence()
                self.assertEqual((doc["state"], doc["active_region"], doc["epoch"],
                                  doc["writable"]), (state, region, epoch, code == 200), doc)
                harness.wait_until(lambda: seen and seen[-1] == (state, epoch), timeout=FOLLOW,
                                   what="fence file says %s epoch %d" % (state, epoch))
                run.settle(n + 2)
                # A few reads at the same epoch: the file is rewritten (writable_until).
                wait_reads(run, 2, "at epoch %d" % epoch)
        finally:
            stop.set()
            reader.join(5)
        note("file flips: write -> /activez %s ms (contract typical %d ms)",
             [int(x * 1000) for x in took], round(TYPICAL * 1000))
        self.assertEqual(bad, [], "partial or invalid fence file seen")
        with open(fence_file) as f:
            final = json.load(f)
        self.assertEqual((final["state"], final["epoch"], final["active_region"]),
                         ("passive", 5, OTHER))
        for key in ("writable", "state", "region", "active_region", "epoch",
                    "writable_until", "reason", "since", "leases"):
            self.assertIn(key, final)

        # One fence.transition per change, in order, with from/to/reason/epoch.
        events = run.events("fence.transition")
        got = [(e["from"], e["to"], e["epoch"]) for e in events]
        want = [("unknown", "active", 0)]
        prev = "active"
        for region, epoch, state, _ in flips:
            want.append((prev, state, epoch))
            prev = state
        self.assertEqual(got, want, events)
        for e in events:
            self.assertTrue(e.get("reason"), e)
            self.assertEqual(e.get("region"), HOME, e)
        self.assertEqual(events[1]["reason"], "active region is %s" % OTHER)
        self.assertEqual(events[1]["level"], "warn")
        self.assertEqual(events[2]["level"], "info")
        self.assertEqual(run.status()["fence"]["transitions"], len(want))
        m = run.metrics()
        self.assertEqual(metric(m, "warden_writable"), 0)
        self.assertEqual(metric(m, "warden_flag_epoch"), 5)
        self.assertEqual(metric(m, "warden_fence_state", state="passive"), 1)
        self.assertEqual(metric(m, "warden_fence_state", state="active"), 0)
        self.assertGreater(metric(m, "warden_flag_reads_total", source="file:" + flag,
                                  result="ok"), len(flips))
        self.assertIsNotNone(metric(m, "warden_flag_age_seconds", source="file:" + flag))

        # An older epoch never wins again (epochs never go back).
        write_flag(flag, epoch_value(HOME, 4))
        run.wait_fence(FOLLOW + TTL + 1, "older epoch refused", state="stale", writable=False)
        write_flag(flag, epoch_value(HOME, 6))
        run.wait_fence(FOLLOW, "newer epoch wins", state="active", writable=True, epoch=6)

    # -- 2 ---------------------------------------------------------------------------
    def cli(self, fake, *args):
        env = fake.client_env(self.dir("cli-home"))
        env.pop("AWS_ENDPOINT_URL", None)
        env.pop("AWS_ENDPOINT_URL_SSM", None)
        env["AWS_MAX_ATTEMPTS"] = "1"
        proc = subprocess.run(
            [AWS_CLI, "--endpoint-url", fake.url, "--cli-read-timeout", "5",
             "--cli-connect-timeout", "5", "--output", "json", "ssm"] + list(args),
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    @unittest.skipUnless(os.path.exists(AWS_CLI), "Debian awscli (/usr/bin/aws) not installed")
    def test_02_ssm_flipped_with_the_aws_cli(self):
        fake = self.fake("ssm-cli fake", auth_token=CONTAINER_TOKEN)
        first = self.cli(fake, "put-parameter", "--name", NAME, "--value", HOME,
                         "--type", "String", "--overwrite")["Version"]
        run = self.start("ssm-cli", self.ssm_env(fake))
        doc = run.wait_fence(FOLLOW + TTL, "first ssm read", state="active", writable=True)
        self.assertEqual(doc["epoch"], first)
        src = run.source()
        self.assertEqual((src["result"], src["version"], src["epoch"]), ("ok", first, first))
        self.assertTrue(src["aws_request_id"])
        took = []
        run.settle(1)
        for n, (region, code, state) in enumerate(((OTHER, 503, "passive"), (HOME, 200, "active"),
                                                   (OTHER, 503, "passive"))):
            t = time.monotonic()
            version = self.cli(fake, "put-parameter", "--name", NAME, "--value", region,
                               "--type", "String", "--overwrite")["Version"]
            harness.wait_until(lambda: run.activez() == code, timeout=FOLLOW, interval=0.01,
                               what="/activez %d after aws ssm put-parameter %s" % (code, region))
            took.append(time.monotonic() - t)
            doc = run.fence()
            self.assertEqual((doc["state"], doc["active_region"], doc["epoch"]),
                             (state, region, version), doc)
            run.settle(n + 2)
        note("ssm flips (aws CLI exit -> /activez): %s ms", [int(x * 1000) for x in took])
        # The fake saw only signed GetParameter calls from warden, each a success.
        counts = fake.get_counts()
        self.assertEqual(counts["by_status"].get("200", 0) + 0, counts["ssm_total"], counts)
        self.assertGreaterEqual(counts["by_op"]["GetParameter"], 4)
        transitions = run.wait_events("fence.transition", 4, "four transitions")
        self.assertEqual([(t["to"], t["epoch"]) for t in transitions],
                         [("active", first), ("passive", first + 1), ("active", first + 2),
                          ("passive", first + 3)])

    # -- 3 ---------------------------------------------------------------------------
    FAULTS = {
        # fault: (the /status result while it lasts, backs off?)
        "throttle": ("throttled", True),
        "500": ("server_error", True),
        "garbage": ("bad_reply", False),
        "truncated": (("bad_reply", "network"), False),
        "stall": ("timeout", False),
        "close": ("network", False),
        "nul": ("bad_reply", False),
        "huge": (("bad_reply", "timeout"), False),   # timeout: a slow fake, a loaded box
        "expired_creds": (("credentials", "auth"), False),
    }

    def one_fault(self, fault, out):
        """Run one fault against its own fake and warden; out[fault] = report."""
        report = out[fault] = {"error": None}
        fake = FakeAws(auth_token=CONTAINER_TOKEN)
        run = None
        try:
            fake.set_param(NAME, HOME)
            run = Run("fault-" + fault, self.ssm_env(fake))
            run.wait_fence(FOLLOW + TTL, "first read", state="active", writable=True)
            expect, backoff = self.FAULTS[fault]
            expect = expect if isinstance(expect, tuple) else (expect,)
            attempts0, since = quiet_point(run, fake)
            t = time.monotonic()
            # expired_creds with no count arms one; this one lasts until clear().
            fake.inject(fault, count=1000 if fault == "expired_creds" else None)
            if fault == "expired_creds":
                fake.expire_creds()   # the cached ones die too: warden must fetch anew
            doc = run.wait_fence(TTL + FOLLOW + 2, "stale under %s" % fault, state="stale",
                                 writable=False)
            report["to_stale"] = time.monotonic() - t
            self.assertEqual(run.activez(), 503)
            src = run.source()
            report["result"] = src["result"]
            report["error_text"] = src["error"]
            self.assertIn(src["result"], expect, src)
            self.assertTrue(src["error"], src)
            self.assertGreaterEqual(src["failures_in_row"], 1, src)
            self.assertIn("no valid read", doc["reason"])
            m = run.metrics()
            self.assertGreaterEqual(metric(m, "warden_flag_reads_total", source="ssm:" + NAME,
                                           result=src["result"]) or 0, 1, m)
            self.assertEqual(metric(m, "warden_fence_state", state="stale"), 1)
            self.assertEqual(metric(m, "warden_writable"), 0)
            kind = "creds" if fault == "expired_creds" else "ssm"
            # Enough calls under the fault to see the rate (and the back-off). The
            # fake logs a stalled call only once it is released.
            if fault == "stall":
                wait_reads(run, 4, "under %s" % fault, source="ssm:" + NAME)
            else:
                harness.wait_until(lambda: len(fake.get_requests(since, kind=kind)) >= 4,
                                   timeout=30, what="4 calls under %s" % fault)
            fake.clear()
            t = time.monotonic()
            # After a back-off of n failures the next call may be 2^n intervals away.
            run.wait_fence(40, "recovery after %s" % fault, state="active", writable=True)
            report["to_recover"] = time.monotonic() - t
            attempts1, upto = quiet_point(run, fake)
            history = sorted((r for r in fake.get_requests() if r["seq"] <= upto),
                             key=lambda r: r["mono"])
            reqs = [r for r in history if r["seq"] > since]
            report["attempts"] = attempts1 - attempts0
            # One call per read: never more SSM (or credentials) calls than reads.
            for k in ("ssm", "creds"):
                calls = [r for r in reqs if r["kind"] == k]
                report[k + "_calls"] = len(calls)
                report[k + "_gaps"] = [round(g, 3) for g in gaps([r["mono"] for r in calls])]
                extra = len(calls) - report["attempts"]
                if fault == "close" and k == "ssm" and extra == 1:
                    report["libcurl_retries"] = 1   # the known bug test_03b pins
                    extra = 0
                self.assertLessEqual(extra, 0, "%s: %d %s calls for %d reads"
                                     % (fault, len(calls), k, report["attempts"]))
                # ...and calls at least 0.8 x interval apart, over the whole run.
                stamps = [r["mono"] for r in history if r["kind"] == k]
                if report.get("libcurl_retries") and k == "ssm":
                    first = [r["mono"] for r in reqs if r["fault"] == "close"][0]
                    stamps = [t for t in stamps if not 0 < t - first < 0.3]
                assert_spacing(self, stamps, 0.8 * INTERVAL, "%s: %s calls" % (fault, k))
            if backoff:
                ssm = report["ssm_gaps"]
                # Full jitter: beyond the interval's +-20 % at some point...
                self.assertGreater(max(ssm), 1.2 * INTERVAL,
                                   "%s: no back-off beyond the jitter: %s" % (fault, ssm))
                # ...and never faster than the interval, up to the first good read.
                before = [r["mono"] for r in history if r["kind"] == "ssm" and r["seq"] <= since]
                backing = before[-1:]
                for r in (r for r in reqs if r["kind"] == "ssm"):
                    backing.append(r["mono"])
                    if r["status"] == 200:
                        break
                floors = [0.8 * INTERVAL] + [INTERVAL] * (len(backing) - 2)
                assert_spacing(self, backing, floors, "%s: back-off" % fault)
            if fault == "expired_creds":
                self.assertGreaterEqual(fake.get_counts()["creds_issued"], 3)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            report["error"] = exc
        finally:
            if run is not None:
                try:
                    run.stop()
                except Exception as exc:  # noqa: BLE001 - reported by the main thread
                    report["error"] = report["error"] or exc
            keep_fake_secrets(fake, "fault-" + fault + " fake")
            fake.stop()

    def test_03_fault_modes_go_stale_at_one_call_per_interval_and_recover(self):
        out = {}
        only = os.environ.get("FENCING_FAULTS")   # a comma list, to debug one fault
        faults = only.split(",") if only else list(self.FAULTS)
        threads = [threading.Thread(target=self.one_fault, args=(f, out), daemon=True)
                   for f in faults]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        failures = []
        for fault in faults:
            r = out.get(fault, {"error": "did not finish"})
            note("fault %-13s result=%-12s stale after %.1fs, active again %.1fs after clear; "
                 "%s reads, %s ssm + %s creds calls%s; ssm gaps %s creds gaps %s", fault,
                 r.get("result"), r.get("to_stale", -1), r.get("to_recover", -1),
                 r.get("attempts"), r.get("ssm_calls"), r.get("creds_calls"),
                 " (+1 libcurl retry)" if r.get("libcurl_retries") else "",
                 r.get("ssm_gaps"), r.get("creds_gaps"))
            if r["error"] is not None:
                failures.append("%s: %s" % (fault, r["error"]))
        self.assertEqual(failures, [])

    def test_03b_a_closed_connection_is_not_called_twice(self):
        """libcurl resends a request at once when a reused keep-alive connection
        is closed before any answer, which would make one read cost two SSM
        calls; the SSM client uses one connection per call, so it cannot."""
        fake = self.fake("close-retry fake", auth_token=CONTAINER_TOKEN)
        fake.set_param(NAME, HOME)
        run = self.start("close-retry", self.ssm_env(fake))
        run.wait_fence(FOLLOW + TTL, "first read", state="active", writable=True)
        extra = []
        for _ in range(2):
            attempts0, since = quiet_point(run, fake)
            fake.inject("close", count=1)
            harness.wait_until(lambda: any(r["status"] == 200 for r in
                                           fake.get_requests(since, kind="ssm")),
                               timeout=FOLLOW * 2, what="a good read after close")
            attempts1, upto = quiet_point(run, fake)
            calls = [r for r in fake.get_requests(since, kind="ssm") if r["seq"] <= upto]
            extra.append(len(calls) - (attempts1 - attempts0))
        m = run.metrics()
        note("close on a reused connection: SSM calls beyond one per read: %s; reads that "
             "saw the close: %s", extra,
             metric(m, "warden_flag_reads_total", source="ssm:" + NAME, result="network"))
        self.assertEqual(extra, [0, 0])

    # -- 4 ---------------------------------------------------------------------------
    def test_04_two_sources_epochs_and_conflicts(self):
        east = self.fake("east fake", regions=(HOME,), static_keys=[(STATIC_AKID, STATIC_SECRET)])
        west = self.fake("west fake", regions=(OTHER,), static_keys=[(STATIC_AKID, STATIC_SECRET)])
        east.set_param(NAME, epoch_value(HOME, 1))
        west.set_param(NAME, epoch_value(HOME, 1))
        flag = "ssm:%s?region=%s&endpoint=%s,ssm:%s?region=%s&endpoint=%s" % (
            NAME, HOME, east.url, NAME, OTHER, west.url)
        # `any`: the highest epoch among whatever is readable (the rule before
        # WARDEN_FLAG_QUORUM; the majority default is tested in test_flag_cmd.py).
        run = self.start("two-sources", {
            "WARDEN_FLAG": flag, "WARDEN_FLAG_QUORUM": "any", "AWS_REGION": HOME,
            "AWS_ACCESS_KEY_ID": STATIC_AKID,
            "AWS_SECRET_ACCESS_KEY": STATIC_SECRET, "HOME": self.dir("home")})
        run.wait_fence(FOLLOW + TTL, "both agree", state="active", writable=True, epoch=1)
        run.settle(1)
        st = run.status()["flag"]
        self.assertEqual([s["result"] for s in st], ["ok", "ok"], st)
        self.assertEqual([s["epoch"] for s in st], [1, 1], st)

        # The higher epoch wins, whichever source holds it.
        west.set_param(NAME, epoch_value(OTHER, 2))
        run.wait_fence(FOLLOW, "west's epoch 2 wins", state="passive", epoch=2,
                       active_region=OTHER)
        run.settle(2)
        east.set_param(NAME, epoch_value(HOME, 3))
        run.wait_fence(FOLLOW, "east's epoch 3 wins", state="active", writable=True, epoch=3)
        run.settle(3)

        # Same epoch, two regions: conflict, not writable.
        west.set_param(NAME, epoch_value(OTHER, 3))
        doc = run.wait_fence(FOLLOW, "conflict at epoch 3", state="conflict", writable=False)
        self.assertIn("epoch 3", doc["reason"])
        self.assertEqual(run.activez(), 503)
        run.settle(4)

        # A value without an epoch among several sources: conflict.
        west.set_param(NAME, epoch_value(HOME, 4))
        run.wait_fence(FOLLOW, "agree at 4", state="active", writable=True, epoch=4)
        run.settle(5)
        east.set_param(NAME, HOME)
        doc = run.wait_fence(FOLLOW, "no epoch -> conflict", state="conflict", writable=False)
        self.assertIn("no epoch", doc["reason"])
        run.settle(6)

        # One source dies: the other still decides (after the dead one's TTL).
        east.set_param(NAME, epoch_value(HOME, 4))
        run.wait_fence(FOLLOW, "agree at 4 again", state="active", writable=True, epoch=4)
        run.settle(7)
        keep_fake_secrets(west, "west fake")
        west.stop()
        t = time.monotonic()
        deadline = t + TTL + FOLLOW + 1
        while time.monotonic() < deadline:   # writable all along: east alone decides
            self.assertEqual(run.fence()["state"], "active")
            time.sleep(0.05)
        st = run.status()["flag"]
        self.assertEqual(st[0]["result"], "ok", st)
        self.assertNotEqual(st[1]["result"], "ok", st)
        self.assertEqual(run.activez(), 200)
        # ...and the higher epoch still wins on the live one.
        east.set_param(NAME, epoch_value(OTHER, 5))
        run.wait_fence(FOLLOW, "east's epoch 5 alone", state="passive", epoch=5)
        events = run.wait_events("fence.transition", 8, "eight transitions")
        self.assertEqual([(e["to"], e["epoch"]) for e in events],
                         [("active", 1), ("passive", 2), ("active", 3), ("conflict", 3),
                          ("active", 4), ("conflict", 0), ("active", 4), ("passive", 5)])

    # -- 5 ---------------------------------------------------------------------------
    def test_05_credentials_rotate_before_expiry(self):
        # 302 s: inside the 5-minute refresh window about 2 s after each issue.
        fake = self.fake("rotation fake", auth_token=CONTAINER_TOKEN, creds_ttl=302)
        fake.set_param(NAME, HOME)
        run = self.start("rotation", self.ssm_env(fake))
        run.wait_fence(FOLLOW + TTL, "first read", state="active", writable=True)
        since = max(r["seq"] for r in fake.get_requests())
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end:
            self.assertEqual(run.activez(), 200)
            time.sleep(0.05)
        reqs = fake.get_requests(since)
        creds = [r for r in reqs if r["kind"] == "creds"]
        ssm = [r for r in reqs if r["kind"] == "ssm"]
        akids = []
        for r in ssm:
            if not akids or akids[-1] != r["akid"]:
                akids.append(r["akid"])
        note("rotation: %d creds calls, %d ssm calls, %d keys used in 5 s",
             len(creds), len(ssm), len(akids))
        self.assertTrue(all(r["status"] == 200 for r in ssm), ssm)
        self.assertGreaterEqual(len(akids), 2, "warden never used fresh credentials")
        self.assertLess(len(creds), len(ssm), "refreshed on every read, not when due")
        # Each switch came inside the 5-minute window, before the old key expired.
        issued = fake.issued_creds()
        issued = list(issued.values() if isinstance(issued, dict) else issued)
        self.assertTrue(set(akids) <= {c["AccessKeyId"] for c in issued})
        expiry = {c["AccessKeyId"]: calendar.timegm(time.strptime(
            c["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) for c in issued}
        first_use = {r["akid"]: r["t"] for r in reversed(ssm)}
        for old, new in zip(akids, akids[1:]):
            left = expiry[old] - first_use[new]
            self.assertTrue(0 < left <= 300 + 1, "switched %s -> %s with %.0fs left"
                            % (old, new, left))

        # A refresh that fails while the cached credentials are still valid: keep them
        # (and do not ask again for a while: AWS_CREDS_RETRY_MS).
        fake.inject("creds_500", count=1)
        refused = run.wait_events("aws.credentials_refresh_failed", 1, "a failed refresh",
                                  timeout=FOLLOW + 2)
        self.assertEqual(len(refused), 1, refused)
        self.assertEqual(run.activez(), 200)

        # AWS says the credentials expired early, and the endpoint's next ones are dead
        # (no refresh can take them first: the failed one above holds refreshes back).
        fake.inject("expired_creds", count=1)
        fake.expire_creds()
        t_end = time.monotonic() + 4 * INTERVAL * 1.2 + 0.5
        while time.monotonic() < t_end:
            self.assertEqual(run.activez(), 200, "two failed reads within the TTL must not fence")
            time.sleep(0.05)
        st = run.source()
        self.assertEqual(st["result"], "ok", st)
        m = run.metrics()
        self.assertEqual(metric(m, "warden_flag_reads_total", source="ssm:" + NAME,
                                result="auth"), 1, m)
        self.assertEqual(metric(m, "warden_flag_reads_total", source="ssm:" + NAME,
                                result="credentials"), 1, m)
        self.assertEqual(fake.get_counts()["by_error"].get("ExpiredTokenException", 0), 1)

    # -- 6 ---------------------------------------------------------------------------
    def test_06_clock_skew_corrected_from_date(self):
        fake = self.fake("skew fake", auth_token=CONTAINER_TOKEN)
        fake.set_param(NAME, HOME)
        run = self.start("skew", self.ssm_env(fake))
        run.wait_fence(FOLLOW + TTL, "first read", state="active", writable=True)
        for skew in (900, 0, -900):
            before = fake.get_counts()
            since = max(r["seq"] for r in fake.get_requests())
            fake.set_skew(skew)

            def refused_then_retried():
                # A read already in flight when the skew was set may still
                # answer 200 (it was signed before): look for the refusal and
                # the first good read that started after it.
                reqs = [r for r in fake.get_requests(since, kind="ssm") if r["seq"] > since]
                for r in reqs:
                    if r["error"] == "InvalidSignatureException":
                        retry = [q for q in reqs if q["seq"] > r["seq"]]
                        return (r, retry[0], reqs) if retry else None
                return None

            refusal, retry, reqs = harness.wait_until(
                refused_then_retried, timeout=FOLLOW * 2,
                what="a refusal and its retry under skew %d" % skew)
            self.assertEqual(run.activez(), 200)
            after = fake.get_counts()
            refused = (after["by_error"].get("InvalidSignatureException", 0)
                       - before["by_error"].get("InvalidSignatureException", 0))
            self.assertEqual(refused, 1, reqs)
            # The retry follows the refusal at once (one attempt, two calls),
            # not at the next scheduled read (INTERVAL x 0.8 at the earliest).
            self.assertEqual(retry["status"], 200, reqs)
            self.assertLess(retry["mono"] - refusal["mono"], INTERVAL * 0.8, reqs)
            note("skew %+d s: refused, then retried after %.0f ms", skew,
                 (retry["mono"] - refusal["mono"]) * 1000)
        corrections = run.events("aws.clock_skew_corrected")
        self.assertEqual(len(corrections), 3, corrections)
        for e, skew in zip(corrections, (900, 0, -900)):
            self.assertLess(abs(e["skew_ms"] - skew * 1000), 5000, e)
        self.assertEqual([e["to"] for e in run.events("fence.transition")], ["active"])

    # -- 8 ---------------------------------------------------------------------------
    def test_08_admin_endpoints(self):
        d = self.dir("admin")
        flag = os.path.join(d, "active-region")
        write_flag(flag, HOME)
        plain = self.start("admin-none", {"AWS_REGION": HOME, "WARDEN_FLAG": "file:" + flag})
        for path in ("/admin/drain", "/admin/fence", "/admin/unfence"):
            self.assertEqual(plain.w.get(path, method="POST")[0], 404, path)
            self.assertEqual(plain.w.get(path, method="POST", headers={
                "Authorization": "Bearer " + ADMIN_TOKEN})[0], 404, path)

        token_file = os.path.join(d, "token")
        with open(token_file, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        run = self.start("admin", {"AWS_REGION": HOME, "WARDEN_FLAG": "file:" + flag,
                                   "WARDEN_ADMIN_TOKEN_FILE": token_file})
        run.wait_fence(FOLLOW + TTL, "active", state="active", writable=True)
        run.wait_events("fence.transition", 1, "the first transition")

        def post(path, token=None, raw=None):
            headers = {}
            if raw is not None:
                headers["Authorization"] = raw
            elif token is not None:
                headers["Authorization"] = "Bearer " + token
            return run.w.get(path, method="POST", headers=headers)[0]

        for path in ("/admin/drain", "/admin/fence", "/admin/unfence"):
            self.assertEqual(post(path), 401, path)
            self.assertEqual(post(path, token="wrong-token-0123456789"), 401, path)
            self.assertEqual(post(path, token=ADMIN_TOKEN + "x"), 401, path)
            self.assertEqual(post(path, raw=ADMIN_TOKEN), 401, path)
            self.assertEqual(post(path, raw="Basic " + ADMIN_TOKEN), 401, path)
            self.assertEqual(run.w.get(path)[0], 405, path)
        self.assertEqual(run.fence()["state"], "active", "a refused call changed nothing")

        def settle(states):
            """The transitions so far (the tick logs them within 100 ms)."""
            try:
                got = run.wait_events("fence.transition", len(states),
                                      "transition to " + states[-1])
            except AssertionError as exc:
                raise AssertionError("%s\nlog:\n%s" % (exc, run.w.log_text())) from None
            self.assertEqual([e["to"] for e in got], states)

        self.assertEqual(post("/admin/fence", ADMIN_TOKEN), 204)
        doc = run.fence()
        self.assertEqual((doc["state"], doc["writable"], doc["forced"]), ("forced", False, True))
        self.assertEqual(run.activez(), 503)
        settle(["active", "forced"])
        wait_reads(run, 2, "while forced")   # new reads do not lift it
        self.assertEqual(run.fence()["state"], "forced")
        self.assertEqual(post("/admin/unfence", ADMIN_TOKEN), 204)
        doc = run.fence()
        self.assertEqual((doc["state"], doc["writable"], doc["forced"]), ("active", True, False))
        self.assertEqual(run.activez(), 200)
        settle(["active", "forced", "active"])

        # Unfence never makes a passive task writable.
        write_flag(flag, OTHER)
        run.wait_fence(FOLLOW, "passive", state="passive")
        settle(["active", "forced", "active", "passive"])
        self.assertEqual(post("/admin/fence", ADMIN_TOKEN), 204)
        self.assertEqual(run.fence()["state"], "forced")
        settle(["active", "forced", "active", "passive", "forced"])
        self.assertEqual(post("/admin/unfence", ADMIN_TOKEN), 204)
        doc = run.fence()
        self.assertEqual((doc["state"], doc["writable"]), ("passive", False))
        self.assertEqual(post("/admin/unfence", ADMIN_TOKEN), 204)
        self.assertEqual(run.fence()["state"], "passive")
        self.assertEqual(run.activez(), 503)
        settle(["active", "forced", "active", "passive", "forced", "passive"])

        self.assertEqual(run.w.get("/readyz")[0], 200)
        self.assertEqual(post("/admin/drain", ADMIN_TOKEN), 204)
        self.assertEqual(run.w.get("/readyz")[0], 503)
        self.assertEqual(run.w.get("/livez")[0], 200)
        self.assertEqual(run.fence()["state"], "passive", "drain is not a fence")
        actions = [(e["event"], e["action"]) for e in run.events()
                   if e.get("event") in ("admin.action", "admin.refused")]
        # 15 refusals, logged at most once a second with a count (the count of
        # the last second waits for the next refusal): a line or a few, never 15.
        refused = run.events("admin.refused")
        self.assertGreaterEqual(len(refused), 1)
        self.assertLess(len(refused), 15)
        self.assertLessEqual(sum(1 + e.get("suppressed", 0) for e in refused), 15)
        self.assertEqual([a[1] for a in actions if a[0] == "admin.action"],
                         ["fence", "unfence", "fence", "unfence", "unfence", "drain"])

    # -- 10 --------------------------------------------------------------------------
    def test_10_on_stale_hold_keeps_writable(self):
        flag = os.path.join(self.dir("hold"), "active-region")
        write_flag(flag, HOME)
        run = self.start("hold", {"AWS_REGION": HOME, "WARDEN_FLAG": "file:" + flag,
                                  "WARDEN_ON_STALE": "hold"})
        run.wait_fence(FOLLOW + TTL, "active", state="active", writable=True)
        os.unlink(flag)
        doc = run.wait_fence(TTL + FOLLOW, "stale but held", state="stale")
        self.assertTrue(doc["writable"], doc)
        self.assertEqual(doc["active_region"], HOME)
        self.assertIn("holding", doc["reason"])
        # /status says what that costs: no bound.
        sc = run.status()["safety_contract"]
        self.assertEqual((sc["worst_case"], sc["worst_case_ms"]), ("unbounded", None), sc)
        self.assertIsNone(run.status()["timing_contract"]["worst_case_fence_ms"])
        t_end = time.monotonic() + TTL
        while time.monotonic() < t_end:   # still writable well past the TTL
            self.assertEqual(run.activez(), 200)
            time.sleep(0.05)
        self.assertEqual(run.source()["result"], "not_found")
        m = run.metrics()
        self.assertEqual((metric(m, "warden_writable"), metric(m, "warden_fence_state",
                                                               state="stale")), (1, 1))
        last = run.settle(2)[-1]
        self.assertEqual((last["from"], last["to"], last["writable"]), ("active", "stale", True))
        # Holding a passive verdict keeps it passive.
        write_flag(flag, OTHER)
        run.wait_fence(FOLLOW, "passive", state="passive", writable=False)
        os.unlink(flag)
        doc = run.wait_fence(TTL + FOLLOW, "stale, passive held", state="stale")
        self.assertFalse(doc["writable"], doc)

    # -- 11 --------------------------------------------------------------------------
    def test_11_config_timing_contract(self):
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": HOME,
                "WARDEN_FLAG": "file:/nonexistent/flag"}
        bad = dict(base, WARDEN_FLAG_INTERVAL="5s", WARDEN_FLAG_TIMEOUT="2s",
                   WARDEN_FLAG_TTL="8s")
        proc = subprocess.run([harness.WARDEN_BIN, "config"], env=bad, capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        err = proc.stderr.strip()
        self.assertEqual(len(err.splitlines()), 1, err)
        for text in ("WARDEN_FLAG_TTL", "5s", "2s", "8s"):
            self.assertIn(text, err)

        good = dict(base, **FLAG_KNOBS)
        proc = subprocess.run([harness.WARDEN_BIN, "config"], env=good, capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        tc = doc["timing_contract"]
        self.assertEqual((tc["typical_fence_ms"], tc["worst_case_fence_ms"]),
                         (round(TYPICAL * 1000), round(TTL * 1000)), tc)
        self.assertIn("worst_case_fence", tc["rule"])
        # The safety contract: worst_case per effector (gate always; no proxy,
        # no lease configured), typical, the window and the orchestrator's rule.
        sc = doc["safety_contract"]
        self.assertEqual((sc["worst_case"], sc["worst_case_ms"], sc["typical_fence_ms"]),
                         ("3s", round(TTL * 1000), round(TYPICAL * 1000)), sc)
        self.assertEqual(sorted(sc["effectors"]), ["gate"], sc)
        self.assertEqual(sc["effectors"]["gate"]["worst_case_ms"], round(TTL * 1000))
        self.assertEqual(sc["split_brain_after_ms"], round(TTL * 1000) + 120000, sc)
        self.assertIn("t + 3s", sc["rule"])
        self.assertIn("promote the other region's database or start its cron", sc["rule"])

        # Every effector configured; WARDEN_ON_STALE=hold: no bound at all.
        full = dict(good, WARDEN_PROXY_LISTEN="127.0.0.1:18080",
                    WARDEN_PROXY_UPSTREAM="http://127.0.0.1:3000", WARDEN_SINGLETON="cron",
                    WARDEN_PROBE_DB="postgres://u@127.0.0.1:5432/db#timeout=1s",
                    WARDEN_ON_STALE="hold")
        proc = subprocess.run([harness.WARDEN_BIN, "config"], env=full, capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        sc = doc["safety_contract"]
        self.assertEqual((sc["worst_case"], sc["worst_case_ms"]), ("unbounded", None), sc)
        self.assertEqual(sorted(sc["effectors"]), ["gate", "lease", "proxy"], sc)
        for name, effector in sc["effectors"].items():
            self.assertIsNone(effector["worst_case_ms"], name)
            self.assertTrue(effector["how"], name)
        self.assertIn("hold", sc["rule"])
        self.assertEqual(doc["timing_contract"]["worst_case_fence_ms"], None)
        # Without the setting the window is ttl + 2m under hold too; set, it is the value.
        self.assertEqual(sc["split_brain_after_ms"], round(TTL * 1000) + 120000, sc)
        proc = subprocess.run([harness.WARDEN_BIN, "config"],
                              env=dict(full, WARDEN_SPLIT_BRAIN_AFTER="45s"),
                              capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(proc.stdout)["safety_contract"]["split_brain_after_ms"],
                         45000)

        good["WARDEN_FLAG_INTERVAL"] = "99ms"
        proc = subprocess.run([harness.WARDEN_BIN, "config"], env=good, capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("WARDEN_FLAG_INTERVAL", proc.stderr)


if __name__ == "__main__":
    harness.main()
