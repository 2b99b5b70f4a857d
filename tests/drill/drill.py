#!/usr/bin/python3
"""warden's own failover drill: two regions on one machine, writes never stopping.

What it proves (DESIGN.md, "The safety contract"): once the flag names the
other region at time t, no task of the old region writes after
t + worst_case - its proxy forwards no byte of a write, its gated processes
are dead, it holds no lease - and the new region takes over once its
database is promoted, as the runbook does it.

The world (all on loopback, in temporary directories):

  region A = us-east-1                      region B = us-west-2
  Postgres primary  ---- streaming ---->    Postgres hot standby
  app A (app.py) writes to A's database     app B writes to B's database
  warden serve A: proxy -> app A,           warden serve B: the same, on B's
    postgres probe on A's database,           database
    WARDEN_SINGLETON=cron
  warden gate --singleton cron --grace 1s   the same two gates against
    -- cron.py  ("polite": dies of TERM)      warden B, writing to B's
    -- cron.py under trap '' TERM             database
       ("stubborn": only SIGKILL ends it)

  The flag: one `file:` source shared by both sides, JSON
  {"active_region": ..., "epoch": N}; WARDEN_FLAG_INTERVAL 200ms,
  WARDEN_FLAG_TIMEOUT 100ms, WARDEN_FLAG_TTL 3s (interval + 2 x timeout =
  400 ms <= ttl), so worst_case = 3 s (read from `warden config`). Each
  side reads it through its own symlink (its "view" of the store), so a
  scenario can cut one side off from the store.

  Traffic, to both sides' proxies all the time (B refuses until promoted):
  plain POSTs (2 clients, keep-alive, one every 50 ms), slow chunked uploads
  (2 clients, a chunk every 100 ms, 8 s long, one row when complete) and
  WebSockets (2 clients, a message every 100 ms, one row per message;
  reconnecting when closed, as a client that Global Accelerator has not
  moved yet would: such a tunnel, opened while fenced, is read-only). The
  app bounds each request's transaction by X-Warden-Deadline when the proxy
  sends it (see app.py) and records the receive time of every byte of every
  write.

The sequence, per scenario:

  1. start   both databases, both sides; A active at epoch 1.
  2. load    traffic on both sides until writes flow on A (rows of every kind)
             and at least one upload and one WebSocket on A are in flight
             with more to send than worst_case (asserted: a drill without
             writes in flight across the flip proves nothing).
  3. flip    write {"active_region": "us-west-2", "epoch": 2} (temp file +
             rename); t = the moment the rename returned (for a file source
             that is "confirmed"). partition: `warden flag set`, t = its
             confirmed_at.
  4. wait    until t + worst_case (the runbook's one rule; partition: until
             `flag set --wait` returns at safe_at).
  5. promote B's database (pg_ctl promote).
  6. takeover  wait until B is writable, B's proxy forwards writes that land
             in B's database, and B's cron holds the lease and writes there.
  7. measure with the traffic still running for a moment, then stop it.

Scenarios:

  flip     the planned failover: both sides read the flip.
  cut-off  side A loses the flag store just before the flip (its view
           points nowhere): it never reads epoch 2 and must fence itself when
           its last valid read expires - the worst case the bound is for.
  partition  the flag lives in three SSM regions (one fake AWS each, SigV4
           checked): us-east-1 (A), us-west-2 (B) and the witness us-east-2,
           values {"active_region", "epoch"}, WARDEN_FLAG_QUORUM majority,
           WARDEN_FLAG_TIMEOUT 400ms (interval + 2 x timeout = 1 s <= ttl).
           Each side reaches its own region's SSM directly and the others'
           through a Link; at the flip every Link into or out of region A
           turns into a black hole (connections accepted, never answered),
           so A reaches only its own SSM. The orchestrator runs
           `warden flag set us-west-2 --reason drill --wait` from B's side
           (A's SSM is a black hole in its WARDEN_FLAG too): it must confirm
           2 of 3 (exit 0); t = its confirmed_at, and B's database is
           promoted when --wait returns at safe_at (= t + worst_case). A
           cannot see the flip - its own region's parameter still names it
           - and must fence by losing its quorum: `stale`, naming the
           missing sources 2 and 3.

Checks (FAIL = exit 1, with the numbers): the contract's three clauses on
side A after t + worst_case (+ SLACK_S for process scheduling on a loaded
2-core machine): no row reached A's database, no byte of a write reached
app A, no gated process of A was alive, A's sidecar held no lease; and the
sanity checks above (writes flowed, uploads and WebSockets in flight across
the flip, B took over); for partition also: flag set exited 0 with 2 of 3
confirmed and --wait returned at safe_at, A's own region's parameter still
names A at epoch 1, and A's sidecar went active -> stale (never passive),
stale after the bound with "missing source 2, 3" in its reason. Times are
wall clock: the database's clock_timestamp(), the app's receive times and t
come from one machine's clock.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/drill/drill.py [flip|cut-off|partition ...]
(DRILL_KEEP=1 keeps the logs of wardens, gates and apps, and says where.)
"""

import datetime
import http.client
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

import harness  # noqa: E402
import pg  # noqa: E402
from fake_aws_client import FakeAws  # noqa: E402

from drill_world import (AFTER_TAKEOVER_S, AWS_AKID, AWS_SECRET, FLAG_KNOBS, FLAG_NAME, Link,
                         MIN_LOAD_S, PG_PASSWORD, PG_USER, READY_TIMEOUT_S, REGION_A,
                         REGION_B, REGION_W, SANITIZER_MARKERS, SLACK_S, SSM_FLAG_KNOBS, Side,
                         TAKEOVER_TIMEOUT_S, WRITE_KINDS, Watch, child_env, lease_held, log,
                         point, write_flag)  # noqa: E402
from drill_traffic import Traffic  # noqa: E402
from drill_checks import checks, fmt_counts, fmt_t, parse_time, rel  # noqa: E402


# ------------------------------------------------------------------ phases

class Drill:
    """One scenario: its world, its phases, its measurements."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.tmp = harness.TempDir("warden-drill-")
        self.cluster = pg.PgCluster()
        self.sides = []
        self.traffic = None
        self.watch = None
        self.t_flip = None
        self.worst_case = None
        self.t_promote = None
        self.t_writable_b = None
        self.t_takeover = None
        self.takeover_error = None
        self.sanitizer = []
        # partition only
        self.fakes = {}           # region -> FakeAws (one SSM region each)
        self.links = {}           # (side letter, region) -> Link
        self.holes = []           # harness.BlackHole of the orchestrator
        self.orchestrator_env = None
        self.flag_set = None      # {rc, doc, started, returned}
        self.safe_at = None

    # -- 1. start --------------------------------------------------------

    def start(self):
        primary = self.cluster.primary(users={PG_USER: PG_PASSWORD})
        primary.sql("GRANT CREATE ON SCHEMA public TO %s" % PG_USER)
        primary.sql("CREATE TABLE drill_writes (id bigserial PRIMARY KEY, region text NOT NULL,"
                    " kind text NOT NULL, ref text, at timestamptz NOT NULL,"
                    " deadline timestamptz)")
        standby = self.cluster.standby(primary)
        if self.scenario == "partition":
            flags = self._ssm_flags()
        else:
            flags = self._file_flags()
        self.a = Side("A", REGION_A, primary, flags[REGION_A], self.tmp.path)
        self.b = Side("B", REGION_B, standby, flags[REGION_B], self.tmp.path)
        self.sides = [self.a, self.b]
        for side in self.sides:
            side.start()
        self.worst_case = self._worst_case()
        self.watch = Watch(self.sides)
        self.watch.start()
        harness.wait_until(lambda: (self.watch.last_fence("A") or {}).get("writable") and
                           lease_held(self.watch.last_fence("A")),
                           timeout=READY_TIMEOUT_S, what="A writable and holding the lease")
        harness.wait_until(lambda: (self.watch.last_fence("B") or {}).get("state") == "passive",
                           timeout=READY_TIMEOUT_S, what="B passive")

    def _file_flags(self):
        """One file: store, each side reading it through its own view; the
        flag env of each side's region."""
        store = self.tmp.join("flag.json")
        write_flag(store, REGION_A, 1)
        views = {}
        for region in (REGION_A, REGION_B):
            views[region] = self.tmp.join("view-%s.json" % region)
            point(views[region], store)
        self.store = store
        self.views = views
        return {region: dict(FLAG_KNOBS, WARDEN_FLAG="file:" + view)
                for region, view in views.items()}

    def _ssm_flags(self):
        """Three SSM regions (one fake AWS each) at epoch 1 naming A; each
        side reads the other region's SSM through a Link, its own region's
        and the witness's directly (A: the witness too through a Link, as
        A's region is the one cut off). The orchestrator, on B's side,
        reaches A's SSM only through a black hole."""
        for region in (REGION_A, REGION_B, REGION_W):
            fake = FakeAws(regions=(region,), static_keys=[(AWS_AKID, AWS_SECRET)])
            self.fakes[region] = fake
            fake.set_param(FLAG_NAME, json.dumps({"active_region": REGION_A, "epoch": 1}),
                           region=region)
        for letter, region in (("A", REGION_B), ("A", REGION_W), ("B", REGION_A)):
            self.links[(letter, region)] = Link(self.fakes[region].port)
        hole = harness.BlackHole()
        self.holes.append(hole)

        def flag(endpoints):
            return ",".join("ssm:%s?region=%s&endpoint=%s"
                            % (FLAG_NAME, region, endpoints[region])
                            for region in (REGION_A, REGION_B, REGION_W))

        def env(endpoints):
            return dict(SSM_FLAG_KNOBS, WARDEN_FLAG=flag(endpoints), AWS_ACCESS_KEY_ID=AWS_AKID,
                        AWS_SECRET_ACCESS_KEY=AWS_SECRET, HOME=self.tmp.path)
        direct = {region: fake.url for region, fake in self.fakes.items()}
        flags = {
            REGION_A: env(dict(direct, **{r: self.links[("A", r)].url
                                          for r in (REGION_B, REGION_W)})),
            REGION_B: env(dict(direct, **{REGION_A: self.links[("B", REGION_A)].url})),
        }
        self.orchestrator_env = dict(child_env(), AWS_REGION=REGION_B,
                                     **env(dict(direct, **{REGION_A: "http://127.0.0.1:%d"
                                                           % hole.port})))
        return flags

    def _worst_case(self):
        """worst_case in seconds, as `warden config` states it for side A."""
        proc = subprocess.run([harness.WARDEN_BIN, "config"], env=self.a.warden.env,
                              capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise AssertionError("warden config failed: %s" % proc.stderr)
        ms = json.loads(proc.stdout)["timing_contract"]["worst_case_fence_ms"]
        if not isinstance(ms, int):
            raise AssertionError("worst_case is not bounded: %r" % ms)
        return ms / 1000.0

    # -- 2. load ---------------------------------------------------------

    def load(self):
        self.traffic = Traffic(self.sides)
        self.traffic.start()
        started = time.time()

        def ready():
            if time.time() - started < MIN_LOAD_S:
                return False
            kinds = self.row_counts(self.a, until=time.time())
            if any(kinds.get(k, 0) == 0 for k in WRITE_KINDS):
                return False
            return self.in_flight(time.time())
        harness.wait_until(ready, timeout=READY_TIMEOUT_S,
                           what="writes of every kind on A, and an upload and a WebSocket "
                                "in flight")

    def in_flight(self, now):
        """An upload on A with more than worst_case (+1 s) still to stream, and a
        WebSocket open on A."""
        rec = self.traffic.record
        with rec.lock:
            uploads = [u for u in rec.inflight_uploads.values()
                       if u["side"] == "A" and u["planned_end"] > now + self.worst_case + 1.0]
            sockets = [w for w in rec.open_ws.values() if w["side"] == "A"]
        return bool(uploads) and bool(sockets)

    # -- 3. flip ---------------------------------------------------------

    def flip(self):
        if self.scenario == "partition":
            self._partition_flip()
            return
        if self.scenario == "cut-off":
            point(self.views[REGION_A], self.tmp.join("unreachable.json"))
        self.t_flip = write_flag(self.store, REGION_B, 2)
        log("flip to %s at epoch 2 (%s) at %s", REGION_B, self.scenario,
            datetime.datetime.fromtimestamp(self.t_flip, datetime.timezone.utc).isoformat())

    def _partition_flip(self):
        """Cut region A off (its links to the other two SSM regions, and B's
        to A's, black-hole from now on), then the orchestrator, from B's
        side, runs `warden flag set us-west-2 --reason drill --wait`: it
        reaches B's and the witness's SSM only. t = its confirmed_at."""
        for link in self.links.values():
            link.cut()
        started = time.time()
        proc = subprocess.run([harness.WARDEN_BIN, "flag", "set", REGION_B, "--reason", "drill",
                               "--wait"], env=self.orchestrator_env, capture_output=True,
                              text=True, timeout=60)
        returned = time.time()
        with open(self.tmp.join("flag-set.log"), "w") as f:
            f.write(proc.stderr)
            f.write(proc.stdout)
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            doc = None
        self.flag_set = {"rc": proc.returncode, "doc": doc, "started": started,
                         "returned": returned,
                         "secret_echoed": AWS_SECRET in proc.stdout + proc.stderr}
        if proc.returncode != 0 or not doc or not doc.get("confirmed_at"):
            raise AssertionError("warden flag set exited %d: %s%s"
                                 % (proc.returncode, proc.stderr[-2000:], proc.stdout[-2000:]))
        self.t_flip = parse_time(doc["confirmed_at"])
        self.safe_at = parse_time(doc["safe_at"])
        log("flag set confirmed %s at epoch %s on %s of %s at %s; "
            "--wait returned at safe_at%+.3fs",
            REGION_B, doc.get("epoch"), doc["quorum"]["confirmed"], doc["quorum"]["of"],
            doc["confirmed_at"], returned - self.safe_at)

    # -- 4. wait, 5. promote ---------------------------------------------

    def promote(self):
        # partition: `flag set --wait` returned at safe_at (= t + worst_case)
        delay = max(self.t_flip + self.worst_case, self.safe_at or 0) - time.time()
        if delay > 0:
            time.sleep(delay)  # the runbook's rule: promote only after t + worst_case
        self.t_promote = time.time()
        self.b.db.promote()
        log("promoted B's database at t + %.3fs", self.t_promote - self.t_flip)

    # -- 6. takeover -----------------------------------------------------

    def takeover(self):
        def writable():
            return (self.watch.last_fence("B") or {}).get("writable")

        def everywhere():
            after = self.t_promote
            kinds = self.row_counts(self.b, since=after)
            return (lease_held(self.watch.last_fence("B")) and kinds.get("post", 0) > 0 and
                    kinds.get("cron:polite", 0) + kinds.get("cron:stubborn", 0) > 0)
        try:
            harness.wait_until(writable, timeout=TAKEOVER_TIMEOUT_S, what="B writable")
            self.t_writable_b = time.time()
            harness.wait_until(everywhere, timeout=TAKEOVER_TIMEOUT_S,
                               what="B's proxy and cron writing to B's database")
            self.t_takeover = time.time()
        except AssertionError as exc:
            self.takeover_error = str(exc)
        time.sleep(AFTER_TAKEOVER_S)  # keep the old side under load a moment longer

    # -- 7. measure ------------------------------------------------------

    def stop_load(self):
        self.traffic.stop()
        self.watch.stop()

    def row_counts(self, side, since=None, until=None):
        """{kind: rows} in side's database, at > since and <= until (POSIX times)."""
        where = []
        if since is not None:
            where.append("at > to_timestamp(%.6f)" % since)
        if until is not None:
            where.append("at <= to_timestamp(%.6f)" % until)
        sql = "SELECT kind, count(*) FROM drill_writes %s GROUP BY kind" % (
            ("WHERE " + " AND ".join(where)) if where else "")
        out = {}
        for line in side.db.sql(sql).splitlines():
            kind, count = line.split("|")
            out[kind] = int(count)
        return out

    def last_row(self, side, since):
        """(POSIX time, kind) of the latest row after since, or (None, None)."""
        line = side.db.sql("SELECT extract(epoch FROM at), kind FROM drill_writes "
                           "WHERE at > to_timestamp(%.6f) ORDER BY at DESC LIMIT 1" % since)
        if not line:
            return None, None
        at, kind = line.split("|")
        return float(at), kind

    def measure(self):
        """Everything the summary prints and the checks judge."""
        t = self.t_flip
        bound = t + self.worst_case
        m = {"scenario": self.scenario, "t": t, "worst_case": self.worst_case,
             "slack": SLACK_S, "bound": bound}
        # A's last writable_until of epoch 1: the latest one /fence showed.
        untils = [parse_time((doc or {}).get("writable_until"))
                  for _, doc in self.watch.fence_samples("A")]
        untils = [u for u in untils if u is not None]
        m["a_writable_until"] = rel(max(untils), t) if untils else None
        m["a_rows_before"] = self.row_counts(self.a, until=t)
        m["a_rows_after"] = self.row_counts(self.a, since=t)
        m["a_rows_late"] = self.row_counts(self.a, since=bound + SLACK_S)
        at, kind = self.last_row(self.a, t)
        m["a_last_row"], m["a_last_row_kind"] = rel(at, t), kind
        late = [e for e in self.a.events() if e["t"] > t]
        last = max(late, key=lambda e: e["t"]) if late else None
        m["a_last_byte"] = rel(last["t"], t) if last else None
        m["a_last_byte_kind"] = last["kind"] if last else None
        m["a_bytes_late"] = {}
        for e in late:
            if e["t"] > bound + SLACK_S:
                m["a_bytes_late"][e["kind"]] = m["a_bytes_late"].get(e["kind"], 0) + e["n"]
        with_deadline = self.a.db.sql("SELECT count(deadline), count(*) FROM drill_writes "
                                      "WHERE kind IN ('post', 'upload')").split("|")
        m["a_deadline_rows"] = (int(with_deadline[0]), int(with_deadline[1]))
        alive_at = list(self.watch.cron_alive["A"].values())
        m["a_cron_last_alive"] = rel(max(alive_at), t) if alive_at else None
        held = [ts for ts, doc in self.watch.fence_samples("A") if ts > t and lease_held(doc)]
        m["a_lease_last_held"] = rel(max(held), t) if held else None
        writable = [ts for ts, doc in self.watch.fence_samples("A")
                    if ts > t and doc and doc.get("writable")]
        m["a_last_writable"] = rel(max(writable), t) if writable else None
        m["a_clients"] = self._client_outcomes("A", t)
        m["b_clients_before"] = self._client_outcomes("B", 0, until=self.t_promote)
        m["crossing"] = self._crossing(t)
        m["promote"] = rel(self.t_promote, t)
        m["b_writable"] = rel(self.t_writable_b, t)
        m["b_takeover"] = rel(self.t_takeover, t)
        m["b_takeover_error"] = self.takeover_error
        m["b_rows_after_promote"] = self.row_counts(self.b, since=self.t_promote)
        m["b_lease"] = ((self.watch.last_fence("B") or {}).get("leases") or {}).get("cron")
        if self.scenario == "partition":
            m["partition"] = self._partition_numbers(t, bound)
        return m

    def _partition_numbers(self, t, bound):
        """What the partition adds: flag set's result, the three parameters,
        and the states A's sidecar went through after the cut."""
        fs, doc = self.flag_set, self.flag_set["doc"]
        cut = min(link.cut_at for link in self.links.values())
        p = {"cut": rel(cut, t), "set_started": rel(fs["started"], t), "rc": fs["rc"],
             "epoch": doc.get("epoch"), "quorum": doc.get("quorum"),
             "written": [src.get("written") for src in doc.get("sources", [])],
             "confirmed": [src.get("confirmed") for src in doc.get("sources", [])],
             "safe_minus_confirmed": self.safe_at - t,
             "wait_returned": fs["returned"] - self.safe_at,
             "secret_echoed": fs["secret_echoed"]}
        p["params"] = {}
        for region, fake in self.fakes.items():
            try:
                stored = fake.get_param(FLAG_NAME, region=region)
                p["params"][region] = json.loads(stored["Value"])
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                p["params"][region] = None
        samples = [(ts, d) for ts, d in self.watch.fence_samples("A") if ts > cut and d]
        states = []
        for _, d in samples:
            if not states or states[-1] != d.get("state"):
                states.append(d.get("state"))
        p["a_states"] = states
        fenced = [ts for ts, d in samples if not d.get("writable")]
        p["a_fenced"] = rel(min(fenced), t) if fenced else None
        late = [d for ts, d in samples if ts > bound + SLACK_S]
        p["a_late_states"] = sorted({d.get("state") for d in late})
        last = samples[-1][1] if samples else {}
        p["a_last"] = {k: last.get(k) for k in ("state", "reason", "quorum", "epoch",
                                                   "active_region")}
        try:
            flag = self.a.warden.status().get("flag", [])
            p["a_counts"] = [src.get("counts") for src in flag]
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            p["a_counts"] = None
        return p

    def _client_outcomes(self, letter, since, until=None):
        """Outcome counts of a side's writes, by kind: POSTs sent, uploads and
        WebSocket sessions ended, in (since, until]."""
        until = until if until is not None else float("inf")
        rec = self.traffic.record
        out = {}
        with rec.lock:
            items = ([("post", p["sent"], p) for p in rec.posts] +
                     [("upload", u["end"], u) for u in rec.uploads] +
                     [("ws", w["closed"] or 0, w) for w in rec.ws])
        for kind, when, item in items:
            if item["side"] == letter and since < when <= until:
                key = "%s %s" % (kind, item["outcome"])
                out[key] = out.get(key, 0) + 1
        return out

    def _crossing(self, t):
        """A's uploads and WebSockets in flight across the flip."""
        rec = self.traffic.record
        with rec.lock:
            uploads = [u for u in rec.uploads if u["side"] == "A" and u["start"] < t < u["end"]]
            long_ones = [u for u in uploads if u["planned_end"] > t + self.worst_case]
            sockets = [w for w in rec.ws if w["side"] == "A" and w["opened"] and
                       w["opened"] < t < w["closed"]]
        return {"uploads": len(uploads), "uploads_past_bound": len(long_ones),
                "upload_outcomes": sorted(u["outcome"] for u in uploads),
                "upload_last_chunk": max((rel(u["last_chunk"], t) for u in uploads
                                          if u["last_chunk"]), default=None),
                "websockets": len(sockets),
                "ws_closed_at": sorted(round(w["closed"] - t, 3) for w in sockets)}

    def cleanup(self):
        for link in self.links.values():
            link.close()
        for hole in self.holes:
            hole.close()
        if self.traffic is not None:
            self.traffic.stopping.set()
        if self.watch is not None:
            self.watch.stopping.set()
        for side in self.sides:
            try:
                side.stop()
            except Exception as exc:  # noqa: BLE001 - teardown goes on
                log("stopping side %s: %r", side.letter, exc)
        self.sanitizer = self._sanitizer_reports()
        for fake in self.fakes.values():
            fake.stop()
        self.cluster.cleanup()
        if os.environ.get("DRILL_KEEP"):
            log("logs kept in %s", self.tmp.path)
        else:
            self.tmp.cleanup()

    def _sanitizer_reports(self):
        """The warden and gate logs in which a sanitizer reported something."""
        found = []
        for name in sorted(os.listdir(self.tmp.path)):
            if name.endswith(".log") and name.startswith(("warden-", "gate-", "flag-set")):
                with open(self.tmp.join(name), errors="replace") as f:
                    text = f.read()
                if any(marker in text for marker in SANITIZER_MARKERS):
                    found.append(name)
        return found

    def run(self):
        self.start()
        self.load()
        self.flip()
        self.promote()
        self.takeover()
        self.stop_load()
        return self.measure()


def summary(results, elapsed):
    """Print the table; True when every check of every scenario passed."""
    all_ok = True
    print()
    print("=" * 100)
    print("warden failover drill  (times relative to t = the flag file renamed into place;")
    print("                        partition: t = confirmed_at of warden flag set)")
    print("=" * 100)
    for m, rows in results:
        print()
        print("scenario %-8s  flip at t = %s  worst_case %.3fs  slack %.3fs"
              % (m["scenario"], datetime.datetime.fromtimestamp(
                  m["t"], datetime.timezone.utc).isoformat(timespec="milliseconds"),
                 m["worst_case"], m["slack"]))
        print("  A's last writable_until %s; A last seen writable %s; B's database promoted at %s"
              % (fmt_t(m["a_writable_until"]), fmt_t(m["a_last_writable"]),
                 fmt_t(m["promote"])))
        if "partition" in m:
            p = m["partition"]
            last = m["a_last_row"]
            print("  partition: A cut off at %s; flag set started at %s, confirmed at t, "
                  "safe_at = t%+.3fs; A fenced at %s"
                  % (fmt_t(p["cut"]), fmt_t(p["set_started"]), p["safe_minus_confirmed"],
                     fmt_t(p["a_fenced"])))
            print("  partition: last write to the old primary %s = safe_at%s"
                  % (fmt_t(last), "-" if last is None else "%+.3fs" % (last - m["worst_case"])))
        print("  A's writes after t (refused = the proxy's 503, late = the app's, cut, ...): %s"
              % (fmt_counts(m["a_clients"]) or "none"))
        print("  A's rows after t: %s" % (fmt_counts(m["a_rows_after"]) or "none"))
        print("  A's request rows that carried X-Warden-Deadline: %d of %d"
              % m["a_deadline_rows"])
        print("  B's writes before its promotion: %s" % (fmt_counts(m["b_clients_before"])
                                                        or "none"))
        print("  %-4s  %-66s  %s" % ("", "check", "numbers"))
        for name, ok, numbers in rows:
            all_ok = all_ok and ok
            print("  %-4s  %-66s  %s" % ("ok" if ok else "FAIL", name, numbers))
    print()
    failed = sum(1 for _, rows in results for _, ok, _ in rows if not ok)
    passed = sum(1 for _, rows in results for _, ok, _ in rows if ok)
    print("drill: %s in %.1fs" % ("PASS" if all_ok else "FAIL", elapsed))
    print("%d passed, %d failed" % (passed, failed))
    return all_ok


SCENARIOS = ("flip", "cut-off", "partition")


def main(argv):
    if not pg.available():
        print("drill: Postgres server binaries not installed (make deps)")
        return 1
    scenarios = argv[1:] or list(SCENARIOS)
    for s in scenarios:
        if s not in SCENARIOS:
            print("drill: unknown scenario %r (known: %s)" % (s, ", ".join(SCENARIOS)))
            return 2
    started = time.monotonic()
    results = []
    failed = []
    for scenario in scenarios:
        log("scenario %s", scenario)
        drill = Drill(scenario)
        try:
            m = drill.run()
        except AssertionError as exc:
            # A phase that never got where it waits for: the drill itself
            # failed (its world did not come up, or writes never flowed).
            log("scenario %s did not run through: %s", scenario, exc)
            for side in drill.sides:
                if side.warden is not None:
                    log("warden %s log (tail):\n%s", side.letter, side.warden.log_text()[-3000:])
            failed.append(scenario)
            continue
        finally:
            drill.cleanup()
        m["sanitizer"] = drill.sanitizer
        results.append((m, checks(m)))
    ok = summary(results, time.monotonic() - started)
    for scenario in failed:
        print("drill: scenario %s FAILED before its checks (see above)" % scenario)
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
