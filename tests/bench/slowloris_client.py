"""slowloris_client.py - the attack and the measurement of tests/bench/slowloris.sh.

    python3 slowloris_client.py PORT [SECONDS]
    (python3 slowloris_client.py attack PORT SECONDS: the attacker process alone)

Keeps CONNECTIONS (default 1000) connections to 127.0.0.1:PORT open from the
10 source addresses 127.0.0.2-11, each sending a valid request head one byte
every DRIP seconds (default 3), then a header value that never ends; a connection the server
closes is replaced at once. Meanwhile a new client (127.0.0.1, a fresh
connection per request) asks GET /livez 20 times a second.

Prints one line: `p99_ms <x> p50_ms <x> answered <n>/<n> max_headless_s <x>
closed <n>` where max_headless_s is the longest time any attacking connection
stayed open without a whole request head (closed ones, and the ones still
open at the end).
"""

import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

CONNECTIONS = 1000
SOURCES = ["127.0.0.%d" % i for i in range(2, 12)]
DRIP = 3.0
HEAD = b"GET /livez HTTP/1.1\r\nHost: bench\r\nX-Slow: "


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CONNECTIONS * 2 + 256
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Attack:
    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.born = {}  # socket -> monotonic time of connect
        self.sent = {}  # socket -> bytes of HEAD sent so far
        self.max_headless = 0.0
        self.closed = 0
        self.stop = threading.Event()
        self.n = 0

    def open_one(self):
        source = SOURCES[self.n % len(SOURCES)]
        self.n += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(HEAD[:1])
        except OSError:
            s.close()
            return
        s.setblocking(False)
        self.born[s] = time.monotonic()
        self.sent[s] = 1
        self.sel.register(s, selectors.EVENT_READ)

    def drop(self, s):
        life = time.monotonic() - self.born.pop(s)
        self.sent.pop(s, None)
        self.max_headless = max(self.max_headless, life)
        self.closed += 1
        self.sel.unregister(s)
        s.close()

    def run(self):
        while len(self.born) < CONNECTIONS and not self.stop.is_set():
            self.open_one()
        next_drip = time.monotonic() + DRIP
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=max(0.0, next_drip - time.monotonic())):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:  # closed by the server (a reply would be a head it took whole)
                    self.drop(s)
            if time.monotonic() >= next_drip:
                for s in list(self.born):
                    # The head byte by byte, then a header value that never ends.
                    i = self.sent[s]
                    self.sent[s] = i + 1
                    try:
                        s.send(HEAD[i:i + 1] if i < len(HEAD) else b"a")
                    except OSError:
                        self.drop(s)
                next_drip += DRIP
            while len(self.born) < CONNECTIONS and not self.stop.is_set():
                self.open_one()

    def finish(self):
        now = time.monotonic()
        for s, born in list(self.born.items()):
            self.max_headless = max(self.max_headless, now - born)
            s.close()


def probe(port, seconds):
    latencies = []
    asked = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        asked += 1
        t0 = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /livez HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                reply = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            if reply.startswith(b"HTTP/1.1 200"):
                latencies.append(time.perf_counter() - t0)
        except OSError:
            pass
        time.sleep(0.05)
    return latencies, asked


def run_attack(port, seconds):
    """The attacker process: attack for `seconds`, print `max_headless closed`."""
    raise_nofile()
    attack = Attack(port)
    thread = threading.Thread(target=attack.run, daemon=True)
    thread.start()
    time.sleep(seconds)
    attack.stop.set()
    thread.join(timeout=10)
    attack.finish()
    print("%.3f %d" % (attack.max_headless, attack.closed), flush=True)


def main():
    if sys.argv[1] == "attack":
        run_attack(int(sys.argv[2]), float(sys.argv[3]))
        return
    port = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    # The attack runs in its own process, so that its bursts of reconnects
    # never delay the measuring client (one interpreter lock each).
    attacker = subprocess.Popen([sys.executable, __file__, "attack", str(port),
                                 str(seconds + 2.0)], stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)  # the attack is in place
    latencies, asked = probe(port, seconds)
    out = attacker.communicate(timeout=60)[0].split()
    max_headless, closed = float(out[0]), int(out[1])
    latencies.sort()
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        p50 = latencies[len(latencies) // 2] * 1000
    else:
        p99 = p50 = float("inf")
    print("p99_ms %.2f p50_ms %.2f answered %d/%d max_headless_s %.1f closed %d"
          % (p99, p50, len(latencies), asked, max_headless, closed))


if __name__ == "__main__":
    main()
