"""A small threaded HTTP/1.1 app for the proxy tests (python3 standard library only).

Raw sockets, so that every framing is under the test's control. Keep-alive by
default. Routes (the query string holds the numbers):

  any path          echo: JSON {method, path, version, headers: [[k, v]...],
                    body_len, conn_id, conn_request} (Content-Length)
  /chunked?n=&size= a chunked response of n chunks of size bytes
  /trailers         a chunked response with a trailer
  /download?bytes=  a Content-Length response of that many bytes, streamed
  /slow?ms=         wait, then echo
  /stall            send nothing, ever (until the client goes)
  /close            close the connection without answering
  /eof?bytes=       a response without length, ended by closing
  /ws               WebSocket (RFC 6455) echo; a close frame is answered
  /early            answer 413 at once without reading the body, then close
  /record?tag=      read the body raw, noting the monotonic receive time of
                    every piece, and whether it ended whole or by EOF
                    (Upstream.records[tag]); then echo
  /ws?delay_ms=     WebSocket, the 101 sent after that delay

`Expect: 100-continue` is answered with 100 Continue before the body is read.
"""

import base64
import hashlib
import json
import socket
import threading
import time
import urllib.parse

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class BufferedConn:
    """Buffered reading on one socket (the upstream's, the tests' and the drill's)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, marker, limit=1 << 20):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("too long")
            self.fill()
        at = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:at], self.buf[at:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def discard(self, n):
        """Read and drop n bytes; returns how many were read."""
        got = 0
        take = min(n, len(self.buf))
        self.buf = self.buf[take:]
        got += take
        while got < n:
            data = self.sock.recv(min(262144, n - got))
            if not data:
                raise EOFError
            got += len(data)
        return got


class Upstream:
    """The app. start() binds 127.0.0.1 on a free port; stop() closes everything."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.conn_count = 0
        self.requests = []  # (conn_id, method, path)
        self.records = {}   # tag -> {"times": [(t, n)...], "complete", "eof_at"}
        self.stopping = False
        self.socks = set()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def _accept_loop(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.conn_count += 1
                conn_id = self.conn_count
                self.socks.add(sock)
            threading.Thread(target=self._serve, args=(sock, conn_id), daemon=True).start()

    def _serve(self, sock, conn_id):
        conn = BufferedConn(sock)
        n = 0
        try:
            while True:
                n += 1
                if not self._one(conn, conn_id, n):
                    break
        except (EOFError, OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.socks.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _one(self, conn, conn_id, n):
        head = conn.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                headers.append([k, v.strip()])
        hmap = {}
        for k, v in headers:
            hmap.setdefault(k.lower(), v)
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        with self.lock:
            self.requests.append((conn_id, method, target))
        send = conn.sock.sendall

        if path == "/close":
            return False
        if path == "/early":
            send(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            time.sleep(0.2)
            return False
        if path == "/stall":
            while conn.sock.recv(65536):
                pass
            return False
        if path == "/ws" and hmap.get("upgrade", "").lower() == "websocket":
            time.sleep(int(query.get("delay_ms", "0")) / 1000.0)
            return self._websocket(conn, hmap)
        if path == "/record":
            return self._record(conn, hmap, query.get("tag", ""))

        if hmap.get("expect", "").lower() == "100-continue":
            send(b"HTTP/1.1 100 Continue\r\n\r\n")
        body_len = 0
        te = hmap.get("transfer-encoding", "").lower()
        if te == "chunked":
            while True:
                size_line = conn.read_until(b"\r\n").split(b";")[0].strip()
                size = int(size_line, 16)
                if size == 0:
                    while conn.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body_len += conn.discard(size)
                conn.read_exact(2)
        elif "content-length" in hmap:
            body_len = conn.discard(int(hmap["content-length"]))

        if path == "/slow":
            time.sleep(int(query.get("ms", "500")) / 1000.0)
        if path == "/chunked":
            count, size = int(query.get("n", "3")), int(query.get("size", "10"))
            send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
            block = b"x" * size
            for _ in range(count):
                send(b"%x\r\n%s\r\n" % (size, block))
            send(b"0\r\n\r\n")
            return True
        if path == "/trailers":
            send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                 b"5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n")
            return True
        if path == "/download":
            total = int(query.get("bytes", "0"))
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 b"Content-Length: %d\r\n\r\n" % total)
            block = b"d" * 262144
            left = total
            while left > 0:
                chunk = block[:min(left, len(block))]
                send(chunk)
                left -= len(chunk)
            return True
        if path == "/eof":
            total = int(query.get("bytes", "100"))
            send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"e" * total)
            return False

        doc = {"method": method, "path": target, "version": version, "headers": headers,
               "body_len": body_len, "conn_id": conn_id, "conn_request": n}
        body = json.dumps(doc).encode()
        if method == "HEAD":
            body_out = b""
        else:
            body_out = body
        close = hmap.get("connection", "").lower() == "close"
        send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
             % (len(body), b"Connection: close\r\n" if close else b"") + body_out)
        return not close

    def _record(self, conn, hmap, tag):
        """Receive a body byte by byte as it comes; the times are what the test
        checks against writable_until."""
        rec = {"times": [], "complete": False, "eof_at": None}
        with self.lock:
            self.records[tag] = rec
        data = conn.buf
        conn.buf = b""
        if data:
            rec["times"].append((time.monotonic(), len(data)))
        chunked = hmap.get("transfer-encoding", "").lower() == "chunked"
        length = int(hmap.get("content-length", "0"))
        while not (data.endswith(b"0\r\n\r\n") if chunked else len(data) >= length):
            try:
                piece = conn.sock.recv(65536)
            except OSError:
                piece = b""
            if not piece:
                rec["eof_at"] = time.monotonic()
                return False
            rec["times"].append((time.monotonic(), len(piece)))
            data += piece
        rec["complete"] = True
        body = json.dumps({"tag": tag, "body_len": len(data)}).encode()
        conn.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return True

    def _websocket(self, conn, hmap):
        key = hmap.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        conn.sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                           % accept).encode())
        while True:
            opcode, payload = ws_read_frame(conn, expect_mask=True)
            if opcode == 8:
                conn.sock.sendall(ws_frame(8, payload[:2], mask=False))
                return False
            if opcode == 9:
                conn.sock.sendall(ws_frame(10, payload, mask=False))
                continue
            conn.sock.sendall(ws_frame(opcode, payload, mask=False))


def ws_frame(opcode, payload, mask=True):
    """One final frame; masked as a client must, or not (as a server)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_read_frame(conn, expect_mask):
    """(opcode, payload) of the next frame on a BufferedConn."""
    b0, b1 = conn.read_exact(2)
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    if masked != expect_mask:
        raise ValueError("bad masking")
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(conn.read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(conn.read_exact(8), "big")
    key = conn.read_exact(4) if masked else b""
    payload = conn.read_exact(n)
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload


if __name__ == "__main__":
    up = Upstream().start()
    print(json.dumps({"port": up.port}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        up.stop()
