"""Targets for warden's http and tcp probes (python3 standard library only).

HttpTarget: a threaded HTTP/1.1 server on a free loopback port whose answer
  status can be switched at run time (200 <-> 503), that counts the TCP
  connections and requests it has seen (to prove keep-alive reuse), and that
  can be closed (connections refused) and reopened on the same port.
SlowDrip: a TCP server that reads a request and then answers one byte a
  second, forever: a peer that is alive but never finishes.

Every server binds 127.0.0.1 (or the host given) on a port picked at start,
runs on daemon threads, and is stopped with close().
"""

import http.server
import socket
import socketserver
import threading
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says close

    def do_GET(self):
        target = self.server.target
        status = target.count_request(self.path, self.headers)
        body = (b"ok\n" if status < 400 else b"unavailable\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, addr, target):
        self.target = target
        super().__init__(addr, _Handler)

    def get_request(self):
        conn, addr = super().get_request()
        self.target.count_connection(conn)
        return conn, addr

    def shutdown_request(self, request):
        self.target.forget_connection(request)
        super().shutdown_request(request)


class HttpTarget:
    """An HTTP target: GET answers `status` (200 by default) with a tiny body."""

    def __init__(self, host="127.0.0.1", port=0, status=200):
        self.host = host
        self._lock = threading.Lock()
        self._status = status
        self.connections = 0  # TCP connections accepted since start
        self.requests = 0     # requests answered since start
        self.user_agents = []
        self.authorizations = []
        self._open = set()
        self._server = None
        self._thread = None
        self.port = port
        self.open()

    @property
    def url(self):
        return "http://%s:%d/health" % (self.host, self.port)

    def set_status(self, status):
        with self._lock:
            self._status = status

    def count_connection(self, conn):
        with self._lock:
            self.connections += 1
            self._open.add(conn)

    def forget_connection(self, conn):
        with self._lock:
            self._open.discard(conn)

    def count_request(self, path, headers):
        with self._lock:
            self.requests += 1
            self.user_agents.append(headers.get("User-Agent", ""))
            self.authorizations.append(headers.get("Authorization", ""))
            return self._status

    def counts(self):
        """(connections, requests) seen so far."""
        with self._lock:
            return self.connections, self.requests

    def open(self):
        """Listen (again) on self.port (a free one the first time)."""
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self):
        """Stop listening and reset every open connection: new connects are refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._open)
            self._open.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)
        self._server = None


class SlowDrip:
    """Accepts, reads the request head, then sends one byte a second until closed."""

    PREFIX = b"HTTP/1.1 200 OK\r\nX-Drip: "

    def __init__(self, host="127.0.0.1", interval=1.0):
        self.interval = interval
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            # One byte a second: a status line, then a header that never ends.
            i = 0
            while not self._stop.is_set():
                byte = self.PREFIX[i:i + 1] if i < len(self.PREFIX) else b"a"
                conn.sendall(byte)
                i += 1
                if self._stop.wait(self.interval):
                    break
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def closed_port():
    """A loopback port with nothing listening (connects are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    # Manual use: python3 targets.py -> prints an HttpTarget and a SlowDrip URL.
    t = HttpTarget()
    d = SlowDrip()
    print("http", t.url, "drip", d.url, flush=True)
    try:
        while True:
            time.sleep(1)
            print("connections=%d requests=%d" % t.counts(), flush=True)
    except KeyboardInterrupt:
        pass
