"""The drill's writers: POSTs, chunked uploads and WebSockets against each
side's proxy, every write recorded with its outcome (see drill.py)."""

import base64
import http.client
import os
import select
import socket
import threading
import time

from drill_world import (CHUNK_EVERY_S, POSTERS, POST_EVERY_S, RECONNECT_PAUSE_S,
                         SHORT_UPLOAD_CHUNKS, UPLOADERS, UPLOAD_CHUNKS, WS_CLIENTS, WS_EVERY_S)
from upstream import BufferedConn, ws_frame, ws_read_frame  # noqa: E402 (drill_world set the path)


# ------------------------------------------------------------------ clients

class Record:
    """What the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []    # {side, sent, done, outcome}
        self.uploads = []  # {side, id, start, planned_end, last_chunk, end, chunks, outcome}
        self.ws = []       # {side, opened, closed, msgs, last_msg, outcome}
        self.inflight_uploads = {}  # id -> the dict above while running
        self.open_ws = {}           # id -> the dict above while open

    def add(self, kind, item):
        with self.lock:
            getattr(self, kind).append(item)


class SockReader(BufferedConn):
    """Buffered reads on a client socket, and the next HTTP response."""

    def response(self):
        """(status, headers lowercased, body) of the next response."""
        head = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            body = self.read_exact(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")
                    break
                body += self.read_exact(size + 2)[:-2]
        return status, headers, body


def classify(status, headers):
    """ok, refused (the proxy's 503), late (the app's: deadline passed), or http_<status>."""
    app = headers.get("x-drill-app") == "1"
    if status == 200 and app:
        return "ok"
    if status == 503 and not app:
        return "refused"
    if status == 503 and app:
        return "late"
    return "http_%d" % status


class Traffic:
    """Every client thread of both sides."""

    def __init__(self, sides):
        self.sides = sides
        self.record = Record()
        self.stopping = threading.Event()
        self.threads = []
        self.seq = 0
        self.seq_lock = threading.Lock()

    def next_id(self, side, kind):
        with self.seq_lock:
            self.seq += 1
            return "%s-%s-%d" % (side.letter, kind, self.seq)

    def start(self):
        for side in self.sides:
            for i in range(POSTERS):
                self._spawn(self._poster, side)
            for i in range(UPLOADERS):
                self._spawn(self._uploader, side, i * 1.0)
            for i in range(WS_CLIENTS):
                self._spawn(self._ws_client, side)

    def _spawn(self, fn, *args):
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)

    # -- plain POSTs, keep-alive ---------------------------------------

    def _poster(self, side):
        conn = None
        while not self.stopping.is_set():
            sent = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", side.proxy_port,
                                                              timeout=5)
                conn.request("POST", "/write", body=b'{"n": 1}',
                             headers={"Content-Type": "application/json",
                                      "X-Drill-Id": self.next_id(side, "post")})
                resp = conn.getresponse()
                resp.read()
                outcome = classify(resp.status, {k.lower(): v for k, v in resp.getheaders()})
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                outcome = "conn_error"
                if conn is not None:
                    conn.close()
                conn = None
            self.record.add("posts", {"side": side.letter, "sent": sent, "done": time.time(),
                                      "outcome": outcome})
            self.stopping.wait(POST_EVERY_S)
        if conn is not None:
            conn.close()

    # -- slow chunked uploads ------------------------------------------

    def _uploader(self, side, stagger):
        self.stopping.wait(stagger)
        chunks = SHORT_UPLOAD_CHUNKS
        while not self.stopping.is_set():
            self._upload(side, chunks)
            chunks = UPLOAD_CHUNKS
            self.stopping.wait(RECONNECT_PAUSE_S)

    def _upload(self, side, chunks):
        upload_id = self.next_id(side, "upload")
        item = {"side": side.letter, "id": upload_id, "start": time.time(), "chunks": 0,
                "planned_end": None, "last_chunk": None, "end": None, "outcome": None}
        item["planned_end"] = item["start"] + chunks * CHUNK_EVERY_S
        try:
            sock = socket.create_connection(("127.0.0.1", side.proxy_port), timeout=5)
        except OSError:
            item.update(end=time.time(), outcome="conn_error")
            self.record.add("uploads", item)
            return
        reader = SockReader(sock)
        with self.record.lock:
            self.record.inflight_uploads[upload_id] = item
        try:
            sock.sendall(("POST /upload HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n"
                          "Content-Type: application/octet-stream\r\nX-Drill-Id: %s\r\n\r\n"
                          % upload_id).encode())
            block = b"u" * 512
            for _ in range(chunks):
                # An answer before the end of the body: refused or cut.
                readable, _, _ = select.select([sock], [], [], CHUNK_EVERY_S)
                if readable or self.stopping.is_set():
                    break
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
                item["chunks"] += 1
                item["last_chunk"] = time.time()
            else:
                sock.sendall(b"0\r\n\r\n")
            if self.stopping.is_set() and item["chunks"] < chunks:
                item["outcome"] = "stopped"
            else:
                status, headers, _ = reader.response()
                outcome = classify(status, headers)
                if item["chunks"] < chunks and outcome == "refused" and item["chunks"] > 0:
                    outcome = "cut"  # a 503 in the middle of the body
                item["outcome"] = outcome
        except (OSError, EOFError, ValueError, IndexError):
            item["outcome"] = "cut"
        finally:
            item["end"] = time.time()
            sock.close()
            with self.record.lock:
                self.record.inflight_uploads.pop(upload_id, None)
                self.record.uploads.append(item)

    # -- WebSockets ----------------------------------------------------

    def _ws_client(self, side):
        while not self.stopping.is_set():
            self._ws_session(side)
            self.stopping.wait(RECONNECT_PAUSE_S)

    def _ws_session(self, side):
        ws_id = self.next_id(side, "ws")
        item = {"side": side.letter, "id": ws_id, "opened": None, "closed": None, "msgs": 0,
                "last_msg": None, "outcome": None, "tried": time.time()}
        try:
            sock = socket.create_connection(("127.0.0.1", side.proxy_port), timeout=5)
        except OSError:
            item.update(closed=time.time(), outcome="conn_error")
            self.record.add("ws", item)
            return
        reader = SockReader(sock)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(("GET /ws HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
            status, headers, _ = reader.response()
            if status != 101:
                item.update(closed=time.time(), outcome="upgrade_" + classify(status, headers))
                return
            item["opened"] = time.time()
            with self.record.lock:
                self.record.open_ws[ws_id] = item
            sock.settimeout(2.0)
            while not self.stopping.is_set():
                text = ("%s-%d" % (ws_id, item["msgs"])).encode()
                sock.sendall(ws_frame(1, text))
                item["msgs"] += 1
                item["last_msg"] = time.time()
                opcode, payload = ws_read_frame(reader, expect_mask=False)
                if opcode == 8:
                    raise EOFError
                if b'"read-only"' in payload:
                    item["readonly"] = True
                self.stopping.wait(WS_EVERY_S)
            item["outcome"] = "stopped"
        except (OSError, EOFError, ValueError, IndexError):
            item["outcome"] = "closed"
        finally:
            if item.get("readonly"):
                item["outcome"] += "-read-only"
            if item["closed"] is None:
                item["closed"] = time.time()
            sock.close()
            with self.record.lock:
                self.record.open_ws.pop(ws_id, None)
                self.record.ws.append(item)
