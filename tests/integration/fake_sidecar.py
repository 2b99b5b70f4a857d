"""A fake warden sidecar whose GET /fence answer the test controls.

Python 3 standard library only. Use it in-process:

    sidecar = FakeSidecar()            # listens on a free loopback port
    sidecar.set(writable=True, epoch=42, writable_for_ms=2000)
    sidecar.set_lease("cron", held=True, generation=7, expires_in_ms=2000)
    sidecar.set_mode("hang")           # "ok" | "hang" | "500" | "garbage"
    sidecar.url                        # "http://127.0.0.1:PORT"
    sidecar.close()

or as its own process (so that a test can SIGKILL it):

    python3 fake_sidecar.py PORT       # prints "ready PORT" once listening

where POST /control with a JSON object {"answer": {...}, "mode": "...",
"leases": {...}} changes the answer the same way.

The answer has the shape of DESIGN.md's /fence: writable, state, region,
active_region, epoch, writable_until, writable_for_ms, ttl_ms, reason, since,
leases; typical_fence_ms only once a test sets it (as an older sidecar, which
did not publish it). writable_for_ms is whatever the test set (0 when not
writable).
"""

import datetime
import http.server
import json
import socket
import sys
import threading


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


class _State:
    """The answer and the mode, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answer = {"writable": False, "state": "unknown", "region": "us-east-1",
                       "active_region": None, "epoch": 0, "writable_for_ms": 0,
                       "ttl_ms": 3000, "reason": "no valid read yet", "since": None}
        self.leases = {}
        self.mode = "ok"
        self.requests = 0
        self.release = threading.Event()

    def update(self, answer=None, leases=None, mode=None):
        with self.lock:
            if answer:
                self.answer.update(answer)
                if "writable" in answer and "state" not in answer:
                    self.answer["state"] = "active" if answer["writable"] else "passive"
            if leases is not None:
                for name, lease in leases.items():
                    if lease is None:
                        self.leases.pop(name, None)
                    else:
                        self.leases[name] = dict(lease)
            if mode is not None:
                self.mode = mode
                if mode == "hang":
                    self.release.clear()
                else:
                    self.release.set()

    def render(self):
        with self.lock:
            self.requests += 1
            body = dict(self.answer)
            if not body.get("writable"):
                body["writable_for_ms"] = 0
                body["writable_until"] = None
            else:
                until = (datetime.datetime.now(datetime.timezone.utc)
                         + datetime.timedelta(milliseconds=body["writable_for_ms"]))
                body["writable_until"] = _rfc3339(until)
            body["leases"] = {k: dict(v) for k, v in self.leases.items()}
            return self.mode, json.dumps(body).encode()


def _handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, code, body, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != "/fence":
                self._send(404, b"not found\n", "text/plain")
                return
            mode, body = state.render()
            if mode == "hang":
                # Hold the request open until released, then drop it.
                state.release.wait(60)
                self.close_connection = True
                return
            if mode == "500":
                self._send(500, b'{"error":"boom"}')
            elif mode == "garbage":
                self._send(200, b'{"writable": true, "epoch": ')
            else:
                self._send(200, body)

        def do_POST(self):
            if self.path != "/control":
                self._send(404, b"not found\n", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(length) or b"{}")
            state.update(answer=data.get("answer"), leases=data.get("leases"),
                         mode=data.get("mode"))
            self._send(204, b"")

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client (the gate) that times out and hangs up is part of the test.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeSidecar:
    """The fake sidecar on a loopback port, served by daemon threads."""

    def __init__(self, port=None):
        self.port = port or _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.state = _State()
        self.server = _Server(("127.0.0.1", self.port), _handler(self.state))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, **answer):
        """Change fields of the /fence answer (writable, epoch, writable_for_ms, ttl_ms...)."""
        self.state.update(answer=answer)

    def set_lease(self, name, held=None, generation=0, expires_in_ms=0, holder="task-1"):
        """Set lease `name` (held=None removes it)."""
        if held is None:
            self.state.update(leases={name: None})
        else:
            self.state.update(leases={name: {"held": held, "generation": generation,
                                             "holder": holder,
                                             "expires_in_ms": expires_in_ms}})

    def set_mode(self, mode):
        """"ok", "hang" (never answer), "500", or "garbage" (truncated JSON)."""
        self.state.update(mode=mode)

    @property
    def requests(self):
        with self.state.lock:
            return self.state.requests

    def close(self):
        self.state.release.set()
        self.server.shutdown()
        self.server.server_close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else _free_port()
    sidecar = FakeSidecar(port)
    print("ready %d" % sidecar.port, flush=True)
    try:
        sidecar.thread.join()
    except KeyboardInterrupt:
        sidecar.close()


if __name__ == "__main__":
    main()
