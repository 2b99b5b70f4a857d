#!/usr/bin/python3
"""fleet.py - the fleet benchmark behind tests/bench/fleet.sh (issue 11).

N `warden serve` processes (half with AWS_REGION us-east-1, half us-west-2)
read one flag from three fake SSM regions (one fake_aws.py each: us-east-1
primary, us-west-2 standby, us-east-2 witness; WARDEN_FLAG lists the three
as ssm: sources with ?region=&endpoint=, quorum majority). Every fake limits
GetParameter to --rate per second (its token bucket: ThrottlingException
beyond, as SSM's 40 TPS quota does).

Phases:
  steady   --steady seconds with nothing happening: GetParameter calls/s,
           answered/s and throttled/s per region (from GET /_fake/counts).
  flip 1   `warden flag set us-west-2 --reason bench`: for every task of the
           old region (us-east-1), the time from the command's confirmed_at to
           its `fence.transition` log line to not writable (the log's ts;
           /fence is swept too, to know when all are fenced and to check the
           end state). p50 / p99 / max against worst_case (warden config's
           worst_case_fence_ms, = ttl), and fenced_within_worst_case N/N.
  flip 2   back to us-east-1 (not measured: it makes the old region
           writable again for flip 3).
  flip 3   to us-west-2 again with the primary's SSM (us-east-1, the old
           region's own) degraded for the whole flip: --fault throttle sets
           its get_rate_limit to 1/s, stop SIGSTOPs its fake (a black hole:
           connections hang), stall arms the fake's stall fault. The flip must
           still confirm 2 of 3 and the tasks still fence within worst_case.

Prints one table; exits 1 when a task did not fence within worst_case or a
flip did not confirm (the only bounds it asserts: behaviour, not speed).
Every process it starts is written to --pidfile (fleet.sh's trap stops them
by id, should this script die) and stopped here on exit.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
from fake_aws_client import FakeAws  # noqa: E402

NAME = "/platform/bench/active-region"
EAST, WEST, WITNESS = "us-east-1", "us-west-2", "us-east-2"
REGIONS = (EAST, WEST, WITNESS)
AKID, SECRET = "AKIAWARDENFLEETBENCH", "fleet/Bench+Secret0123456789abcdefghij"


def log(msg):
    print("fleet: " + msg, file=sys.stderr, flush=True)


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return None
    rank = max(1, min(len(s), int(-(-p * len(s) // 100))))
    return s[rank - 1]


def free_ports(n):
    """n bindable loopback ports below the ephemeral range: an ephemeral one,
    free when probed, may be taken by another warden's outgoing connection
    before its own warden listens on it."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    ports, port = [], max(1024, low - 10000)
    while len(ports) < n and port < low:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            ports.append(port)
        except OSError:
            pass
        finally:
            s.close()
        port += 1
    if len(ports) < n:
        raise RuntimeError("only %d free ports below the ephemeral range" % len(ports))
    return ports


class Fleet:
    def __init__(self, args):
        self.args = args
        self.fakes = {}
        self.tasks = []  # dicts: region, port, proc, log
        self.pidfile = open(args.pidfile, "a")
        self.stopped_fake = None
        self.results = {}
        self.failures = []

    # -- processes -----------------------------------------------------------------
    def note_pid(self, pid):
        self.pidfile.write("%d\n" % pid)
        self.pidfile.flush()

    def flag_list(self):
        return ",".join("ssm:%s?region=%s&endpoint=%s" % (NAME, r, self.fakes[r].url)
                        for r in REGIONS)

    def env(self, region, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.args.tmp,
               "AWS_REGION": region, "AWS_ACCESS_KEY_ID": AKID,
               "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "WARDEN_FLAG": self.flag_list(),
               "WARDEN_FLAG_INTERVAL": self.args.interval,
               "WARDEN_FLAG_TIMEOUT": self.args.timeout, "WARDEN_FLAG_TTL": self.args.ttl}
        env.update(extra)
        return env

    def start_fakes(self):
        for r in REGIONS:
            fake = FakeAws(regions=(r,), static_keys=[(AKID, SECRET)])
            self.note_pid(fake.proc.pid)
            self.fakes[r] = fake
            fake.config(get_rate_limit=self.args.rate)
            fake.set_param(NAME, json.dumps({"active_region": EAST, "epoch": 1}), region=r)

    def start_tasks(self):
        n = self.args.tasks
        ports = free_ports(n)
        spread = self.args.stagger / max(1, n)
        for i, port in enumerate(ports):
            region = EAST if i < (n + 1) // 2 else WEST
            path = os.path.join(self.args.tmp, "task-%03d.log" % i)
            out = open(path, "wb")
            env = self.env(region, WARDEN_LISTEN="127.0.0.1:%d" % port,
                           WARDEN_HTTP_THREADS="1", WARDEN_HTTP_MAX_CONNECTIONS="16",
                           WARDEN_HTTP_MAX_CONNECTIONS_PER_IP="0",
                           WARDEN_DRAIN_SECONDS="0", WARDEN_LOG_LEVEL="info")
            proc = subprocess.Popen([self.args.warden, "serve"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            out.close()
            self.note_pid(proc.pid)
            self.tasks.append({"i": i, "region": region, "port": port, "proc": proc,
                               "log": path})
            time.sleep(spread)

    def stop(self):
        if self.stopped_fake is not None:
            os.kill(self.stopped_fake.proc.pid, signal.SIGCONT)
        for t in self.tasks:
            if t["proc"].poll() is None:
                t["proc"].terminate()
        deadline = time.monotonic() + 10
        for t in self.tasks:
            try:
                t["proc"].wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                t["proc"].kill()
                t["proc"].wait()
        for fake in self.fakes.values():
            try:
                fake.clear()
            except OSError:
                pass
            fake.stop()
        self.pidfile.write("stopped\n")
        self.pidfile.flush()

    # -- observation ----------------------------------------------------------------
    @staticmethod
    def fence(port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/fence")
            resp = conn.getresponse()
            return json.loads(resp.read().decode())
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()

    def sweep(self, tasks):
        """Every task's /fence, concurrently: {i: doc or None}."""
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            docs = pool.map(lambda t: self.fence(t["port"]), tasks)
            return {t["i"]: d for t, d in zip(tasks, docs)}

    def of(self, region):
        return [t for t in self.tasks if t["region"] == region]

    def wait_roles(self, active, timeout):
        """Until every task of `active` is writable and every other one is not."""
        deadline = time.monotonic() + timeout
        while True:
            docs = self.sweep(self.tasks)
            bad = [t for t in self.tasks
                   if docs[t["i"]] is None
                   or docs[t["i"]].get("writable") != (t["region"] == active)]
            if not bad or time.monotonic() > deadline:
                return len(self.tasks) - len(bad), bad
            time.sleep(1)

    def dead(self):
        return [t for t in self.tasks if t["proc"].poll() is not None]

    def counts(self):
        out = {}
        for r, fake in self.fakes.items():
            if fake is self.stopped_fake:
                out[r] = None  # SIGSTOPped: it cannot answer
                continue
            c = fake.get_counts()
            out[r] = (c["by_op"].get("GetParameter", 0),
                      c["by_error"].get("ThrottlingException", 0), time.monotonic())
        return out

    @staticmethod
    def rates(before, after):
        res = {}
        for r in REGIONS:
            if before[r] is None or after[r] is None:
                res[r] = None
                continue
            gets = after[r][0] - before[r][0]
            thr = after[r][1] - before[r][1]
            dt = after[r][2] - before[r][2]
            res[r] = (gets / dt, (gets - thr) / dt, thr / dt, dt)
        return res

    @staticmethod
    def mem_kb(pids, path="status", key="VmRSS:"):
        """Sum of one /proc/<pid>/<path> line over pids (kB)."""
        total = 0
        for pid in pids:
            try:
                with open("/proc/%d/%s" % (pid, path)) as f:
                    for line in f:
                        if line.startswith(key):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def rss_kb(self, pids):
        return self.mem_kb(pids)

    def resources(self):
        pids = [t["proc"].pid for t in self.tasks if t["proc"].poll() is None]
        fds, threads = [], []
        for pid in pids:
            try:
                fds.append(len(os.listdir("/proc/%d/fd" % pid)))
                threads.append(len(os.listdir("/proc/%d/task" % pid)))
            except OSError:
                pass
        return {"alive": len(pids), "rss_kb": self.rss_kb(pids),
                "pss_kb": self.mem_kb(pids, "smaps_rollup", "Pss:"),
                "fake_rss_kb": self.rss_kb([f.proc.pid for f in self.fakes.values()]),
                "fds_max": max(fds or [0]), "fds_total": sum(fds),
                "threads_max": max(threads or [0]), "threads_total": sum(threads)}

    def transitions(self, task, since_wall):
        """(first time not writable after since_wall, first time writable after it)."""
        fenced = unfenced = None
        with open(task["log"], "rb") as f:
            for raw in f:
                if b'"fence.transition"' not in raw:
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                ts = parse_ts(line["ts"])
                if ts < since_wall:
                    continue
                if fenced is None and line.get("was_writable") and not line.get("writable"):
                    fenced = ts
                if unfenced is None and line.get("writable") and not line.get("was_writable"):
                    unfenced = ts
        return fenced, unfenced

    # -- the flips ------------------------------------------------------------------
    def flag_set(self, region):
        env = self.env(EAST)
        proc = subprocess.run([self.args.warden, "flag", "set", region, "--reason", "bench"],
                              env=env, capture_output=True, text=True, timeout=120)
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            doc = {}
        if SECRET in proc.stdout + proc.stderr:
            self.failures.append("flag set printed the secret")
        return proc.returncode, doc, proc.stderr

    def flip(self, label, to, old, worst_ms):
        # A task of the old region may already be fenced when the flip starts
        # (stale: with the quota overrun it cannot keep a quorum of valid
        # reads). It has no transition after the flip, and it is fenced.
        pre = self.sweep(self.of(old))
        start_wall = time.time()
        before = self.counts()
        rc, doc, err = self.flag_set(to)
        res = {"rc": rc, "confirmed": (doc.get("quorum") or {}).get("confirmed"),
               "of": (doc.get("quorum") or {}).get("of"), "epoch": doc.get("epoch")}
        if rc != 0 or not doc.get("confirmed_at"):
            self.failures.append("%s: flag set exit %d: %s" % (label, rc, last_line(err)))
            res["ok"] = False
            self.results[label] = res
            return res
        confirmed = parse_ts(doc["confirmed_at"])
        res["confirmed_at"] = doc["confirmed_at"]
        res["set_ms"] = (confirmed - start_wall) * 1000.0
        res["sources"] = [(s.get("written"), s.get("confirmed")) for s in doc["sources"]]
        # Sweep until every old-region task is fenced, or worst_case + slack.
        deadline_wall = confirmed + worst_ms / 1000.0 + self.args.slack
        # (and every new-region task writable: the flip's other half, reported only).
        olds, news = self.of(old), self.of(to)
        while True:
            docs = self.sweep(self.tasks)
            writable = [t for t in olds if docs[t["i"]] is None or docs[t["i"]]["writable"]]
            waiting = [t for t in news if docs[t["i"]] is None or not docs[t["i"]]["writable"]]
            if (not writable and not waiting) or time.time() > deadline_wall:
                break
            time.sleep(1)
        res["still_writable_at_end"] = len(writable)
        after = self.counts()
        res["rates"] = self.rates(before, after)
        fence_ms, within, already = [], 0, 0
        for t in olds:
            fenced, _ = self.transitions(t, start_wall - 0.5)
            if fenced is None:
                was = pre.get(t["i"])
                if was is not None and not was["writable"] and t not in writable:
                    already += 1  # not writable before the flip, nor after it
                    within += 1
                continue
            ms = (fenced - confirmed) * 1000.0
            fence_ms.append(ms)
            if ms <= worst_ms and t not in writable:
                within += 1
        res["fence_ms"] = fence_ms
        res["within"] = within
        res["already"] = already
        res["n_old"] = len(olds)
        new_ms = []
        for t in news:
            _, unfenced = self.transitions(t, start_wall - 0.5)
            if unfenced is not None:
                new_ms.append((unfenced - confirmed) * 1000.0)
        res["new_ms"] = new_ms
        res["n_new"] = len(news)
        res["ok"] = within == len(olds)
        if not res["ok"]:
            self.failures.append("%s: %d of %d old-region tasks fenced within worst_case"
                                 % (label, within, len(olds)))
        self.results[label] = res
        return res

    def degrade(self, fake):
        mode = self.args.fault
        if mode == "throttle":
            fake.config(get_rate_limit=self.args.fault_rate)
        elif mode == "stall":
            fake.inject("stall")
        elif mode == "stop":
            os.kill(fake.proc.pid, signal.SIGSTOP)
            self.stopped_fake = fake

    def restore(self, fake):
        mode = self.args.fault
        if mode == "stop":
            os.kill(fake.proc.pid, signal.SIGCONT)
            self.stopped_fake = None
        fake.clear()
        fake.config(get_rate_limit=self.args.rate)

    # -- the run ----------------------------------------------------------------------
    def run(self):
        a = self.args
        t0 = time.monotonic()
        self.start_fakes()
        cfg = json.loads(subprocess.run([a.warden, "config"], env=self.env(EAST),
                                        capture_output=True, text=True, check=True).stdout)
        worst_ms = cfg["safety_contract"]["worst_case_ms"]
        typical_ms = cfg["safety_contract"]["typical_fence_ms"]
        log("%d tasks, interval %s timeout %s ttl %s (worst_case %d ms), %s GetParameter/s "
            "per region" % (a.tasks, a.interval, a.timeout, a.ttl, worst_ms, a.rate))
        self.start_tasks()
        started = time.monotonic() - t0
        log("started in %.1f s; waiting for the roles" % started)
        ok, bad = self.wait_roles(EAST, worst_ms / 1000.0 * 2)
        ready = time.monotonic() - t0
        if bad:
            self.failures.append("start: %d of %d tasks in their role (dead: %d)"
                                 % (ok, len(self.tasks), len(self.dead())))
            return worst_ms, typical_ms
        log("all %d in their role after %.1f s; steady state for %d s" % (ok, ready, a.steady))
        res0 = self.resources()
        before = self.counts()
        time.sleep(a.steady)
        self.results["steady"] = {"rates": self.rates(before, self.counts())}
        self.results["resources"] = res0

        log("flip 1: flag set %s" % WEST)
        if not self.flip("flip 1", WEST, EAST, worst_ms).get("confirmed_at"):
            return worst_ms, typical_ms
        log("flip 2: flag set %s (back)" % EAST)
        rc, doc, err = self.flag_set(EAST)
        if rc != 0:
            self.failures.append("flip 2: flag set exit %d: %s" % (rc, last_line(err)))
            return worst_ms, typical_ms
        ok, bad = self.wait_roles(EAST, worst_ms / 1000.0 + a.slack)
        if bad:
            self.failures.append("flip 2: %d tasks not back in their role" % len(bad))
            return worst_ms, typical_ms
        fake = self.fakes[EAST]
        log("flip 3: %s's SSM degraded (%s), flag set %s" % (EAST, a.fault, WEST))
        self.degrade(fake)
        try:
            self.flip("flip 3", WEST, EAST, worst_ms)
        finally:
            self.restore(fake)
        self.results["resources_end"] = self.resources()
        self.results["dead"] = len(self.dead())
        if self.results["dead"]:
            self.failures.append("%d warden processes died" % self.results["dead"])
        self.results["elapsed"] = time.monotonic() - t0
        return worst_ms, typical_ms

    # -- the table --------------------------------------------------------------------
    def report(self, worst_ms, typical_ms):
        a = self.args
        rows = []

        def row(k, v):
            rows.append((k, v))

        row("tasks", "%d (%d in %s, %d in %s)" % (a.tasks, len(self.of(EAST)), EAST,
                                                  len(self.of(WEST)), WEST))
        row("flag", "3 ssm sources (%s, %s, %s), quorum majority" % REGIONS)
        row("interval / timeout / ttl", "%s / %s / %s" % (a.interval, a.timeout, a.ttl))
        row("typical / worst_case fence", "%d ms / %d ms" % (typical_ms, worst_ms))
        row("GetParameter limit", "%s/s per region (token bucket)" % a.rate)
        row("expected load", "%.1f GetParameter/s per region (tasks / interval)"
            % (a.tasks / (parse_dur(a.interval) / 1000.0)))
        res = self.results.get("resources")
        if res:
            row("warden RSS total", "%.1f MiB (%.2f MiB per task)"
                % (res["rss_kb"] / 1024.0, res["rss_kb"] / 1024.0 / max(1, res["alive"])))
            row("warden PSS total", "%.1f MiB (%.2f MiB per task; shared pages split)"
                % (res["pss_kb"] / 1024.0, res["pss_kb"] / 1024.0 / max(1, res["alive"])))
            row("warden fds / threads", "%d fds total (max %d per task), %d threads "
                "(max %d per task)" % (res["fds_total"], res["fds_max"],
                                       res["threads_total"], res["threads_max"]))
            row("fake AWS RSS total", "%.1f MiB (3 processes)" % (res["fake_rss_kb"] / 1024.0))

        def rate_rows(label, rates):
            for r in REGIONS:
                if rates[r] is None:
                    row("%s %s" % (label, r), "- (fake stopped: no counts)")
                    continue
                calls, okr, thr, dt = rates[r]
                row("%s %s" % (label, r), "%.1f calls/s, %.1f answered/s, %.2f throttled/s "
                    "(over %.1f s)" % (calls, okr, thr, dt))

        if "steady" in self.results:
            rate_rows("steady", self.results["steady"]["rates"])
        for label, what in (("flip 1", "flip 1 (all regions up)"),
                            ("flip 3", "flip 3 (%s SSM %s)" % (EAST, self.fault_text()))):
            f = self.results.get(label)
            if not f:
                continue
            row(what, "exit %d, epoch %s, confirmed %s of %s, at %s" % (
                f["rc"], f.get("epoch"), f.get("confirmed"), f.get("of"),
                f.get("confirmed_at")))
            if "fence_ms" not in f:
                continue
            row("%s flag set" % label, "confirmed %.0f ms after it started (read, write, "
                "read back); a task may fence before confirmed_at (< 0 below)" % f["set_ms"])
            fm = f["fence_ms"]
            row("%s fence %s" % (label, EAST),
                "p50 %s, p99 %s, max %s (ms after confirmed_at; %d samples)"
                % (fmt(pct(fm, 50)), fmt(pct(fm, 99)), fmt(max(fm) if fm else None), len(fm)))
            row("%s fenced_within_worst_case" % label, "%d/%d%s" % (
                f["within"], f["n_old"],
                " (%d already not writable when the flip started: stale, the quota "
                "overrun)" % f["already"] if f["already"] else ""))
            nm = f["new_ms"]
            row("%s writable %s" % (label, WEST),
                "%d/%d; p50 %s, max %s (ms after confirmed_at)"
                % (len(nm), f["n_new"], fmt(pct(nm, 50)), fmt(max(nm) if nm else None)))
            rate_rows("%s" % label, f["rates"])
        end = self.results.get("resources_end")
        if end:
            row("warden RSS total at end", "%.1f MiB; %d of %d alive"
                % (end["rss_kb"] / 1024.0, end["alive"], a.tasks))
        if "elapsed" in self.results:
            row("elapsed", "%.0f s" % self.results["elapsed"])
        row("result", "ok" if not self.failures else "FAILED: " + "; ".join(self.failures))
        width = max(len(k) for k, _ in rows)
        print("%-*s  %s" % (width, "fleet benchmark", "value"))
        print("%s  %s" % ("-" * width, "-" * 60))
        for k, v in rows:
            print("%-*s  %s" % (width, k, v))
        sys.stdout.flush()

    def fault_text(self):
        if self.args.fault == "throttle":
            return "throttled to %s GetParameter/s" % self.args.fault_rate
        if self.args.fault == "stop":
            return "down (fake SIGSTOPped)"
        return "stalled (requests never answered; the fake counts them when answered)"


def last_line(text):
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1] if lines else "(no message)"


def fmt(ms):
    return "-" if ms is None else "%.0f" % ms


def parse_dur(text):
    for unit, mul in (("ms", 1), ("s", 1000), ("m", 60000), ("h", 3600000)):
        if text.endswith(unit) and text[:-len(unit)].isdigit():
            return int(text[:-len(unit)]) * mul
    raise ValueError(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--warden", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--pidfile", required=True)
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--interval", default="5s")
    p.add_argument("--timeout", default="2s")
    p.add_argument("--ttl", default="30s")
    p.add_argument("--rate", type=float, default=40)
    p.add_argument("--steady", type=int, default=25)
    p.add_argument("--stagger", type=float, default=None,
                   help="seconds over which the tasks start (default: one interval)")
    p.add_argument("--slack", type=float, default=3.0,
                   help="seconds past worst_case the sweep keeps looking")
    p.add_argument("--fault", choices=("throttle", "stop", "stall"), default="throttle")
    p.add_argument("--fault-rate", type=float, default=1)
    args = p.parse_args()
    if args.stagger is None:
        args.stagger = parse_dur(args.interval) / 1000.0
    fleet = Fleet(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    worst_ms, typical_ms = 0, 0
    try:
        worst_ms, typical_ms = fleet.run()
    except KeyboardInterrupt:
        fleet.failures.append("interrupted")
    finally:
        fleet.stop()
    fleet.report(worst_ms, typical_ms)
    return 1 if fleet.failures else 0


if __name__ == "__main__":
    sys.exit(main())
