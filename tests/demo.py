#!/usr/bin/python3
"""make demo: a real Postgres (primary and streaming standby), a real Redis and
an HTTP target on loopback ports, and warden probing them, until Ctrl-C.

Usage: tests/demo.py path/to/warden
It reuses the integration tests' server helpers, so the demo runs exactly
what the tests run.
"""

import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))

import harness  # noqa: E402
import pg  # noqa: E402
import redis_server  # noqa: E402
import targets  # noqa: E402

DB_PASSWORD = "demo-password"


def pick_port():
    """8089 (warden's default) when it is free, else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 8089))
            return 8089
        except OSError:
            return harness.free_port()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: demo.py WARDEN_BIN")
    warden_bin = os.path.abspath(sys.argv[1])
    cluster = pg.PgCluster()
    cache = web = warden = None
    try:
        print("demo: starting Postgres (primary + streaming standby), Redis, an HTTP target...")
        primary = cluster.primary(users={"app": DB_PASSWORD})
        standby = cluster.standby(primary)
        cache = redis_server.RedisServer()
        web = targets.HttpTarget()
        port = pick_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "WARDEN_LISTEN": "127.0.0.1:%d" % port,
            "WARDEN_DRAIN_SECONDS": "2",
            "WARDEN_PROBE_DB": primary.uri("app") + "#interval=2s&timeout=1s&expect=writer",
            "WARDEN_PROBE_DB_PASSWORD": DB_PASSWORD,
            "WARDEN_PROBE_REPLICA": standby.uri("app")
            + "#interval=2s&timeout=1s&expect=reader&max_lag=30s&critical=false",
            "WARDEN_PROBE_REPLICA_PASSWORD": DB_PASSWORD,
            "WARDEN_PROBE_CACHE": "redis://127.0.0.1:%d/0#interval=2s&timeout=1s" % cache.port,
            "WARDEN_PROBE_WEB": web.url + "#interval=2s&timeout=1s&critical=false",
        }
        warden = subprocess.Popen([warden_bin, "serve"], env=env)
        base = "http://127.0.0.1:%d" % port
        harness.wait_until(lambda: harness.http_request(port, "/livez")[0] == 200,
                           timeout=15, what="warden on %s" % base)
        print("""
demo: warden is serving health on %(base)s, probing:
  db       Postgres primary  %(db)s  (expect=writer)
  replica  Postgres standby  %(replica)s  (expect=reader, non-critical)
  cache    Redis             redis://127.0.0.1:%(redis)d/0
  web      HTTP target       %(web)s  (non-critical)

Try:
  curl -s %(base)s/livez
  curl -s '%(base)s/readyz?verbose' | python3 -m json.tool
  curl -s %(base)s/status | python3 -m json.tool
  curl -s %(base)s/metrics
  kill -STOP %(redis_pid)d     # Redis hangs: cache goes down with 'timeout' after 3 rounds
  kill -CONT %(redis_pid)d     # and comes back after 2
  %(bin)s config               # with the same environment: the effective config

Ctrl-C stops warden (lame duck: /readyz fails at once), then everything else.
""" % {"base": base, "db": primary.uri("app"), "replica": standby.uri("app"),
       "redis": cache.port, "web": web.url, "redis_pid": cache.proc.pid, "bin": warden_bin})
        warden.wait()
    except KeyboardInterrupt:
        print("\ndemo: stopping")
    finally:
        if warden is not None and warden.poll() is None:
            try:
                # Ctrl-C reached warden too: let it drain (lame duck) and exit.
                warden.wait(timeout=5)
            except subprocess.TimeoutExpired:
                warden.send_signal(signal.SIGTERM)
                try:
                    warden.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    warden.kill()
        if cache is not None:
            os.kill(cache.proc.pid, signal.SIGCONT)
            cache.cleanup()
        if web is not None:
            web.close()
        cluster.cleanup()


if __name__ == "__main__":
    main()
