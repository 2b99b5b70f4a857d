"""Real redis-server instances for warden's integration tests (stdlib only).

Each RedisServer runs `redis-server <config file>` in the foreground on a free
loopback port, in its own temporary directory, with persistence off. Variants:

    RedisServer()                                   plain
    RedisServer(requirepass="pw", users=[ACL_PROBE_USER])   AUTH / ACL user
    RedisServer(tls=CertAuthority(...).issue(...))  TLS only (port 0 for plain)
    RedisServer(replicaof=master)                   a replica of master

stop() and start() restart it on the same port. TestCA makes a CA and
server certificates with the openssl command line.
"""

import os
import socket
import ssl
import subprocess
import time

import harness

REDIS_SERVER = os.environ.get("REDIS_SERVER_BIN", "redis-server")
OPENSSL = os.environ.get("OPENSSL_BIN", "openssl")


def redis_available():
    """True when redis-server is installed (tests skip otherwise)."""
    try:
        subprocess.run([REDIS_SERVER, "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def _run(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class ServerCert:
    """Paths of one server certificate, its key and the CA that signed it."""

    def __init__(self, cert, key, ca_cert):
        self.cert = cert
        self.key = key
        self.ca_cert = ca_cert


class TestCA:
    """A throwaway certificate authority in a temporary directory."""

    def __init__(self, name="warden-test-ca"):
        self.tmp = harness.TempDir("warden-ca-")
        self.name = name
        self.key = self.tmp.join("ca.key")
        self.cert = self.tmp.join("ca.pem")
        _run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", "/CN=" + name, "-keyout", self.key, "-out", self.cert,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.tmp.path)

    def issue(self, cn="localhost", dns=("localhost",), ips=("127.0.0.1",)):
        """A server certificate for the given names, signed by this CA."""
        base = self.tmp.join("server-%s" % cn)
        san = ",".join(["DNS:" + d for d in dns] + ["IP:" + i for i in ips])
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n" % san)
        _run([OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
              "-keyout", base + ".key", "-out", base + ".csr"], self.tmp.path)
        _run([OPENSSL, "x509", "-req", "-in", base + ".csr", "-CA", self.cert,
              "-CAkey", self.key, "-CAcreateserial", "-days", "2", "-extfile", ext,
              "-out", base + ".pem"], self.tmp.path)
        os.chmod(base + ".key", 0o644)
        return ServerCert(base + ".pem", base + ".key", self.cert)

    def cleanup(self):
        self.tmp.cleanup()


# The ACL user the tests give the probe: every command, every key.
ACL_PROBE_USER = ("probe", "secretpw")


class RedisServer:
    """One redis-server on 127.0.0.1:port (TLS-only when tls is a ServerCert)."""

    def __init__(self, port=None, tls=None, requirepass=None, users=(), replicaof=None,
                 start=True):
        self.port = port or harness.free_port()
        self.tls = tls
        self.requirepass = requirepass
        self.users = list(users)
        self.replicaof = replicaof
        self.tmp = harness.TempDir("warden-redis-")
        self.conf = self.tmp.join("redis.conf")
        self.log_path = self.tmp.join("redis.log")
        self.proc = None
        self._write_conf()
        if start:
            self.start()

    def _write_conf(self):
        lines = ["bind 127.0.0.1", "save \"\"", "appendonly no", "daemonize no",
                 "dir %s" % self.tmp.path, "logfile \"\"", "protected-mode no"]
        if self.tls:
            lines += ["port 0", "tls-port %d" % self.port,
                      "tls-cert-file %s" % self.tls.cert,
                      "tls-key-file %s" % self.tls.key,
                      "tls-ca-cert-file %s" % self.tls.ca_cert,
                      "tls-auth-clients no"]
        else:
            lines.append("port %d" % self.port)
        if self.requirepass:
            lines.append("requirepass %s" % self.requirepass)
        for user, password in self.users:
            lines.append("user %s on >%s ~* &* +@all" % (user, password))
        if self.replicaof:
            lines.append("replicaof 127.0.0.1 %d" % self.replicaof.port)
            if self.replicaof.requirepass:
                lines.append("masterauth %s" % self.replicaof.requirepass)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=15):
        """Start (again, on the same port) and wait until it answers PING."""
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REDIS_SERVER, self.conf], cwd=self.tmp.path,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        harness.wait_until(self._pong, timeout=timeout,
                           what="redis-server on port %d" % self.port)

    def stop(self):
        """Stop (SIGTERM, then SIGKILL); the port is closed when this returns."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()

    def _connect(self, timeout=2.0):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls.ca_cert)
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        return sock

    def command(self, *args, timeout=2.0):
        """Send one command (as the admin: requirepass if set); return the raw reply."""
        cmds = []
        if self.requirepass:
            cmds.append(("AUTH", self.requirepass))
        cmds.append(args)
        payload = b""
        for cmd in cmds:
            payload += b"*%d\r\n" % len(cmd)
            for arg in cmd:
                data = arg.encode() if isinstance(arg, str) else arg
                payload += b"$%d\r\n%s\r\n" % (len(data), data)
        with self._connect(timeout) as sock:
            sock.sendall(payload)
            sock.settimeout(timeout)
            data = b""
            deadline = time.monotonic() + timeout
            want = len(cmds)
            while time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if _count_replies(data) >= want:
                    break
        return data

    def _pong(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("redis-server exited with %s:\n%s"
                                 % (self.proc.returncode, self.log_text()))
        return b"+PONG" in self.command("PING", timeout=1.0)

    def role(self):
        """'master' or 'slave', from INFO replication."""
        for line in self.command("INFO", "replication").split(b"\r\n"):
            if line.startswith(b"role:"):
                return line[5:].decode()
        return None

    def wait_replica_linked(self, timeout=15):
        harness.wait_until(lambda: b"master_link_status:up" in self.command(
            "INFO", "replication"), timeout=timeout, what="replica link up")

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def _count_replies(data):
    """How many complete simple replies (+, -, :, $) data holds (enough for tests)."""
    count = 0
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        if end < 0:
            return count
        kind = data[pos:pos + 1]
        if kind == b"$":
            length = int(data[pos + 1:end])
            if length < 0:
                pos = end + 2
            else:
                if len(data) < end + 2 + length + 2:
                    return count
                pos = end + 2 + length + 2
        else:
            pos = end + 2
        count += 1
    return count
