"""The drill's world: its settings, the processes it starts (apps, wardens,
gated crons), the relays that cut a side off, and the watchers of each side's
/fence and crons (see drill.py)."""

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

import harness  # noqa: E402
import pg  # noqa: E402


PYTHON = "/usr/bin/python3"
APP_PY = os.path.join(HERE, "app.py")
CRON_PY = os.path.join(HERE, "cron.py")

REGION_A, REGION_B = "us-east-1", "us-west-2"
REGION_W = "us-east-2"    # the witness: holds only the parameter
FLAG_KNOBS = {"WARDEN_FLAG_INTERVAL": "200ms", "WARDEN_FLAG_TIMEOUT": "100ms",
              "WARDEN_FLAG_TTL": "3s"}
# The partition scenario reads three SSM regions (Python fakes, each checking
# SigV4 with botocore on a loaded 2-core machine): a longer timeout, still
# interval + 2 x timeout = 1 s <= ttl; flag set reads back for <= 5 x 400 ms.
SSM_FLAG_KNOBS = dict(FLAG_KNOBS, WARDEN_FLAG_TIMEOUT="400ms", WARDEN_FLAG_QUORUM="majority")
FLAG_NAME = "/platform/drill/active-region"
# The fake's static key: test-only, never printed.
AWS_AKID, AWS_SECRET = "AKIAWARDENDRILL00001", "drill/Fake+Secret0123456789abcdefghij"
PROBE_OPTIONS = "interval=250ms&timeout=200ms&rise=1&fall=1"
PG_USER, PG_PASSWORD = "warden", "Drill-Pg-Pw-7kQ2xv"
GRACE = "1s"

SLACK_S = 0.1             # process scheduling, stated in the summary
MIN_LOAD_S = 2.0          # traffic before the flip, at least
READY_TIMEOUT_S = 30.0    # start-up waits
TAKEOVER_TIMEOUT_S = 20.0  # promotion -> B writes everywhere
AFTER_TAKEOVER_S = 1.0    # traffic kept running after the takeover

POSTERS, UPLOADERS, WS_CLIENTS = 2, 2, 2
POST_EVERY_S = 0.05
CHUNK_EVERY_S = 0.1
UPLOAD_CHUNKS = 80        # 8 s: longer than worst_case + the time to the flip
SHORT_UPLOAD_CHUNKS = 3   # the first upload of each client: rows before the flip
WS_EVERY_S = 0.1
RECONNECT_PAUSE_S = 0.2

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
WRITE_KINDS = ("post", "upload", "ws", "cron:polite", "cron:stubborn")


def log(fmt, *args):
    sys.stdout.write("drill: " + (fmt % args) + "\n")
    sys.stdout.flush()


def child_env():
    return harness.base_env()


def write_flag(path, region, epoch):
    """Write the flag as an operator would (temp file, rename); the time the
    rename returned."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps({"active_region": region, "epoch": epoch}))
    os.rename(tmp, path)
    return time.time()


def point(link, target):
    """Atomically make `link` a symlink to `target`."""
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, link)


def alive(pid):
    """Is pid a live process (not a zombie)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# ---------------------------------------------------------------- processes

class Proc:
    """A child process with its output in a file; stop() = SIGTERM, then SIGKILL."""

    def __init__(self, args, log_path, env=None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, env=env or child_env(), stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Link:
    """One side's network path to one region's fake SSM: a TCP relay on a
    loopback port that forwards both ways until cut(). After cut() it is a
    black hole: new connections are accepted and never answered, and bytes
    on the connections already open go nowhere (the sockets stay open), as
    a partitioned network does it - not a refused connection."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.cut_at = None
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._held = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self):
        self._cut.set()
        self.cut_at = time.time()

    def _hold(self, *socks):
        with self._lock:
            self._held.extend(socks)

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._hold(client)
            if self._cut.is_set():
                continue  # held open, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                continue
            self._hold(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client, upstream):
        peer = {client: upstream, upstream: client}
        open_ends = [client, upstream]
        while open_ends and not self._stop.is_set():
            try:
                readable, _, _ = select.select(open_ends, [], [], 0.1)
            except (OSError, ValueError):
                return
            for src in readable:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    open_ends.remove(src)
                    if not self._cut.is_set():
                        try:
                            peer[src].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                    continue
                if self._cut.is_set():
                    continue  # swallowed: the other end never hears of it
                try:
                    peer[src].sendall(data)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        with self._lock:
            for sock in self._held:
                sock.close()


class Side:
    """One region: its app, its warden serve (proxy + singleton) and two gated crons."""

    def __init__(self, letter, region, db, flag_env, tmp):
        self.letter = letter
        self.region = region
        self.db = db
        self.flag_env = flag_env  # WARDEN_FLAG and what goes with it
        self.tmp = tmp
        self.dsn = "host=%s port=%d user=%s dbname=postgres" % (db.sockdir, db.port,
                                                                 pg.SUPERUSER)
        self.events_path = os.path.join(tmp, "app-%s.events" % letter)
        self.pids_path = os.path.join(tmp, "cron-%s.pids" % letter)
        open(self.pids_path, "w").close()
        self.app = None
        self.app_port = None
        self.warden = None
        self.proxy_port = None
        self.gates = []

    def start(self):
        self._start_app()
        self._start_warden()
        self._start_gates()

    def _start_app(self):
        self.app = subprocess.Popen(
            [PYTHON, APP_PY, "--region", self.region, "--dsn", self.dsn,
             "--events", self.events_path],
            env=child_env(), stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.tmp, "app-%s.log" % self.letter), "wb"))
        self.app_port = json.loads(self.app.stdout.readline())["port"]

    def _start_warden(self):
        for attempt in range(5):
            self.proxy_port = harness.free_port()
            env = dict(self.flag_env)
            env.update({
                "AWS_REGION": self.region,
                "WARDEN_PROBE_DB": "%s#%s" % (self.db.uri(PG_USER), PROBE_OPTIONS),
                "WARDEN_PROBE_DB_PASSWORD": PG_PASSWORD,
                "WARDEN_PROXY_LISTEN": "127.0.0.1:%d" % self.proxy_port,
                "WARDEN_PROXY_UPSTREAM": "http://127.0.0.1:%d" % self.app_port,
                "WARDEN_SINGLETON": "cron",
                "WARDEN_SINGLETON_TTL": "3s",
            })
            try:
                self.warden = harness.Warden(env=env)
            except AssertionError:
                if attempt == 4:
                    raise
                continue
            # The proxy port was free a moment ago; make sure warden got it.
            try:
                socket.create_connection(("127.0.0.1", self.proxy_port), timeout=2).close()
                return
            except OSError:
                self.warden.stop()
        raise AssertionError("side %s: warden's proxy never listened" % self.letter)

    def _start_gates(self):
        sidecar = "http://127.0.0.1:%d" % self.warden.port
        cron = ["--region", self.region, "--dsn", self.dsn, "--pids", self.pids_path]
        variants = {
            "polite": [PYTHON, CRON_PY, "--variant", "polite"] + cron,
            "stubborn": ["/bin/sh", "-c", "trap '' TERM; exec \"$@\"", "stubborn-cron",
                         PYTHON, CRON_PY, "--variant", "stubborn"] + cron,
        }
        for variant, cmd in variants.items():
            args = [harness.WARDEN_BIN, "gate", "--singleton", "cron", "--grace", GRACE,
                    "--sidecar", sidecar, "--"] + cmd
            log_path = os.path.join(self.tmp, "gate-%s-%s.log" % (self.letter, variant))
            self.gates.append(Proc(args, log_path))

    def fence(self):
        """The sidecar's /fence document, or None."""
        try:
            status, _, body = harness.http_request(self.warden.port, "/fence", timeout=1)
            return json.loads(body) if status == 200 else None
        except (OSError, ValueError, http.client.HTTPException):
            return None

    def cron_pids(self):
        with open(self.pids_path) as f:
            return [int(line) for line in f.read().split()]

    def events(self):
        out = []
        try:
            with open(self.events_path) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass  # a line being written as we read
        except FileNotFoundError:
            pass
        return out

    def stop(self):
        for gate in self.gates:
            gate.stop()
        if self.warden is not None:
            with open(os.path.join(self.tmp, "warden-%s.log" % self.letter), "w") as f:
                f.write(self.warden.log_text())
            self.warden.stop()
        if self.app is not None and self.app.poll() is None:
            self.app.kill()
            self.app.wait()


def lease_held(fence):
    lease = ((fence or {}).get("leases") or {}).get("cron") or {}
    return lease.get("held") is True


# ----------------------------------------------------------------- watchers

class Watch:
    """Samples both sidecars' /fence (every 50 ms) and the crons' liveness (every 10 ms)."""

    def __init__(self, sides):
        self.sides = sides
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.fences = {s.letter: [] for s in sides}     # (t, /fence doc or None)
        self.cron_alive = {s.letter: {} for s in sides}  # pid -> last time seen alive
        self.threads = [threading.Thread(target=self._fences, daemon=True),
                        threading.Thread(target=self._crons, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def _fences(self):
        while not self.stopping.is_set():
            for side in self.sides:
                sent = time.time()
                doc = side.fence()
                with self.lock:
                    self.fences[side.letter].append((sent, doc))
            self.stopping.wait(0.05)

    def _crons(self):
        while not self.stopping.is_set():
            for side in self.sides:
                for pid in side.cron_pids():
                    if alive(pid):
                        now = time.time()
                        with self.lock:
                            self.cron_alive[side.letter][pid] = now
            self.stopping.wait(0.01)

    def last_fence(self, letter):
        with self.lock:
            for _, doc in reversed(self.fences[letter]):
                if doc is not None:
                    return doc
        return None

    def fence_samples(self, letter):
        with self.lock:
            return list(self.fences[letter])
