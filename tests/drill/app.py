"""The drill's stand-in app: one region's web app behind that region's warden proxy.

Run: /usr/bin/python3 app.py --region us-east-1 --dsn "host=... port=... user=... dbname=..."
                             --events FILE
It binds 127.0.0.1 on a free port and prints {"port": N} on stdout.

Raw sockets (python3 standard library, plus psycopg2 for the database), a
thread per connection, HTTP/1.1 keep-alive. Routes:

  POST /write      a plain write: one row (kind "post") once the body is read
  POST /upload     a streamed (chunked) upload: one row (kind "upload") once
                   the whole body has arrived
  GET  /ws         WebSocket: every text message is echoed after writing one
                   row (kind "ws"), unless the upgrade came with
                   X-Warden-Writable: false (a read-only tunnel: echoed, not
                   written, answered "read-only")
  anything else    a read: 200 "ok", no database work

The app's half of the safety contract: a request's transaction is bounded by
X-Warden-Deadline (the proxy's writable_until, RFC 3339 with milliseconds):
the app refuses the write (503, "deadline passed") when the deadline is
already past, and otherwise runs it under SET LOCAL statement_timeout = the
milliseconds left, and checks the deadline again, in the database, just
before COMMIT (a statement timeout bounds each statement from its own start:
a statement that starts just before the deadline, on a loaded machine, could
otherwise commit after it). Without the header (an older proxy) the write is
not bounded. A WebSocket is decided once, at the upgrade: the proxy refuses
upgrades while fenced (a tunnel carries writes); should one arrive marked
X-Warden-Writable: false, the app keeps it read-only. A message on a writable tunnel has no
deadline of its own: keeping that tunnel from writing after writable_until
(closing it) is the proxy's job, and the drill checks it.

Every row records clock_timestamp() (the database's clock at the insert) and
the request's deadline. Every byte of a write that reaches the app is
recorded too: one JSON line per recv() in --events, {"t": wall time, "n":
bytes, "kind": "post"|"upload"|"ws"|"write", "conn": id}, so that the drill can
tell whether the proxy delivered a byte of a write after writable_until even
when the app refused to commit it. Answers carry X-Drill-App: 1, so that a
client can tell the app's own 503 from the proxy's.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import queue
import socket
import sys
import threading
import time

import psycopg2
import psycopg2.errors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from upstream import WS_GUID, BufferedConn, ws_frame, ws_read_frame  # noqa: E402

READ_METHODS = ("GET", "HEAD", "OPTIONS")
DB_POOL = 10

INSERT_SQL = ("INSERT INTO drill_writes (region, kind, ref, at, deadline) "
              "VALUES (%s, %s, %s, clock_timestamp(), %s)")


def parse_deadline(value):
    """X-Warden-Deadline as a POSIX timestamp (float), or None when absent or bad."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Events:
    """The receive log: one JSON line per recv() of write bytes, flushed at once."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def add(self, when, nbytes, kind, conn_id):
        line = json.dumps({"t": when, "n": nbytes, "kind": kind, "conn": conn_id})
        with self.lock:
            self.f.write(line + "\n")


class Db:
    """A small pool of connections to this region's database."""

    def __init__(self, dsn, region):
        self.dsn = dsn
        self.region = region
        self.pool = queue.Queue()
        self.lock = threading.Lock()
        self.made = 0

    def _get(self):
        try:
            return self.pool.get_nowait()
        except queue.Empty:
            pass
        with self.lock:
            make = self.made < DB_POOL
            if make:
                self.made += 1
        if make:
            try:
                return psycopg2.connect(self.dsn, connect_timeout=2)
            except psycopg2.Error:
                with self.lock:
                    self.made -= 1
                raise
        return self.pool.get(timeout=5)

    def _put(self, conn, broken):
        if broken or conn.closed:
            try:
                conn.close()
            except psycopg2.Error:
                pass
            with self.lock:
                self.made -= 1
            return
        self.pool.put(conn)

    def write(self, kind, ref, deadline):
        """One row in one transaction, bounded by deadline (POSIX time or None).

        Returns "ok", "late" (deadline past: not tried, or rolled back at the
        check before COMMIT), "timeout"
        (statement_timeout hit), "readonly" (25006: a reader database) or
        "error".
        """
        if deadline is not None and deadline - time.time() <= 0:
            return "late"
        try:
            conn = self._get()
        except (psycopg2.Error, queue.Empty):
            return "error"
        broken = False
        try:
            with conn.cursor() as cur:
                if deadline is not None:
                    left_ms = int((deadline - time.time()) * 1000)
                    if left_ms <= 0:
                        conn.rollback()
                        return "late"
                    cur.execute("SET LOCAL statement_timeout = %d" % left_ms)
                stamp = (datetime.datetime.fromtimestamp(deadline, datetime.timezone.utc)
                         if deadline is not None else None)
                cur.execute(INSERT_SQL, (self.region, kind, ref, stamp))
                if stamp is not None:
                    cur.execute("SELECT clock_timestamp() < %s", (stamp,))
                    if not cur.fetchone()[0]:
                        conn.rollback()
                        return "late"
            conn.commit()
            return "ok"
        except psycopg2.errors.QueryCanceled:
            conn.rollback()
            return "timeout"
        except psycopg2.errors.ReadOnlySqlTransaction:
            conn.rollback()
            return "readonly"
        except psycopg2.Error:
            broken = True
            return "error"
        finally:
            self._put(conn, broken)


class Conn(BufferedConn):
    """Buffered reading on one accepted socket; records write bytes as they arrive."""

    def __init__(self, sock, conn_id, events):
        super().__init__(sock)
        self.id = conn_id
        self.events = events
        self.recording = None  # kind of the write being received, or None
        self.last_fill = None

    def fill(self):
        data = self.sock.recv(65536)
        now = time.time()
        if not data:
            raise EOFError
        self.last_fill = now
        if self.recording:
            self.events.add(now, len(data), self.recording, self.id)
        self.buf += data

    def record(self, kind):
        """From now on every recv() is a write's; what is already buffered counts
        at the time it arrived."""
        self.recording = kind
        if self.buf and self.last_fill is not None:
            self.events.add(self.last_fill, len(self.buf), kind, self.id)


class App:
    def __init__(self, region, db, events):
        self.region = region
        self.db = db
        self.events = events
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.conn_count = 0

    def serve_forever(self):
        while True:
            sock, _ = self.listener.accept()
            self.conn_count += 1
            threading.Thread(target=self._serve, args=(sock, self.conn_count),
                             daemon=True).start()

    def _serve(self, sock, conn_id):
        conn = Conn(sock, conn_id, self.events)
        try:
            while self._one(conn):
                pass
        except (EOFError, OSError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _answer(conn, status, doc, close=False):
        body = json.dumps(doc).encode()
        conn.sock.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nX-Drill-App: 1\r\n"
                          b"Content-Length: %d\r\n%s\r\n" % (status.encode(), len(body),
                                                             b"Connection: close\r\n" if close
                                                             else b"") + body)

    def _one(self, conn):
        conn.recording = None
        head = conn.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        hmap = {}
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                hmap.setdefault(k.strip().lower(), v.strip())
        path = target.split("?", 1)[0]
        write = method not in READ_METHODS
        kind = {"/write": "post", "/upload": "upload"}.get(path, "write")
        if write:
            # The head itself is the first byte of the write.
            self.events.add(conn.last_fill, len(head), kind, conn.id)
            conn.record(kind)

        if path == "/ws" and method == "GET" and hmap.get("upgrade", "").lower() == "websocket":
            return self._websocket(conn, hmap)

        if hmap.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(conn.read_until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    while conn.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                conn.read_exact(size + 2)
        elif "content-length" in hmap:
            conn.read_exact(int(hmap["content-length"]))
        conn.recording = None
        close = hmap.get("connection", "").lower() == "close"

        if not write:
            self._answer(conn, "200 OK", {"read": True, "region": self.region}, close)
            return not close
        deadline = parse_deadline(hmap.get("x-warden-deadline"))
        result = self.db.write(kind, hmap.get("x-drill-id", ""), deadline)
        doc = {"result": result, "region": self.region, "deadline": deadline}
        if result == "ok":
            self._answer(conn, "200 OK", doc, close)
        elif result == "late":
            self._answer(conn, "503 Service Unavailable", doc, close)
        else:
            self._answer(conn, "500 Internal Server Error", doc, close)
        return not close

    def _websocket(self, conn, hmap):
        key = hmap.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        conn.sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                           % accept).encode())
        writable = hmap.get("x-warden-writable", "true").lower() != "false"
        if writable:
            conn.record("ws")
        while True:
            opcode, payload = ws_read_frame(conn, expect_mask=True)
            if opcode == 8:
                conn.sock.sendall(ws_frame(8, payload[:2], mask=False))
                return False
            if opcode == 9:
                conn.sock.sendall(ws_frame(10, payload, mask=False))
                continue
            text = payload.decode("utf-8", "replace")
            result = self.db.write("ws", text[:100], None) if writable else "read-only"
            answer = json.dumps({"result": result, "msg": text}).encode()
            conn.sock.sendall(ws_frame(1, answer, mask=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--events", required=True)
    args = parser.parse_args()
    app = App(args.region, Db(args.dsn, args.region), Events(args.events))
    print(json.dumps({"port": app.port}), flush=True)
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
