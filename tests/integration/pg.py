"""Real PostgreSQL servers for warden's integration tests (python3 stdlib only).

A PgServer is one cluster in its own temporary directory, listening on a free
loopback port and on a unix socket inside that directory. `PgServer.primary()`
runs initdb; `primary.standby()` makes a streaming standby of it with
pg_basebackup -R. Postgres refuses to run as root, so when the tests run as
root (CI on a fresh Debian 12) every server command runs as the `postgres`
system user (runuser) and the directory is chown'ed to it.

Binaries: PG_BINDIR, else the newest /usr/lib/postgresql/*/bin, else PATH.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from harness import free_port, wait_until


def _bindir():
    env = os.environ.get("PG_BINDIR")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                   key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else "/usr/lib/postgresql/15/bin"


BINDIR = _bindir()
SUPERUSER = "postgres"


def available():
    """True if the server binaries are installed (tests skip otherwise)."""
    return all(os.access(os.path.join(BINDIR, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "postgres", "pg_basebackup", "psql"))


def _run_as():
    """The command prefix that runs a server command as a non-root user."""
    if os.geteuid() != 0:
        return []
    pwd.getpwnam("postgres")  # KeyError: install postgresql (creates the user)
    return ["runuser", "-u", "postgres", "--"]


class PgServer:
    """One Postgres cluster on 127.0.0.1:<port> and <dir>/ (unix socket)."""

    def __init__(self, base_dir, name, port=None):
        self.dir = os.path.join(base_dir, name)
        self.data = os.path.join(self.dir, "data")
        self.sockdir = self.dir
        self.log = os.path.join(self.dir, "server.log")
        self.port = port or free_port()
        os.makedirs(self.dir, mode=0o700)
        self._chown(self.dir)

    # -- plumbing ---------------------------------------------------------

    @staticmethod
    def _chown(path):
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _cmd(self, args, check=True, timeout=60, input_text=None):
        cmd = _run_as() + [os.path.join(BINDIR, args[0])] + list(args[1:])
        proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s\n%s\nserver log:\n%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr, self.log_text()))
        return proc

    def log_text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _configure(self, extra=None):
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "'%s'" % self.sockdir,
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "30",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "wal_receiver_status_interval": "1s",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        conf.update(extra or {})
        path = os.path.join(self.data, "postgresql.conf")
        # Appending as root would change the owner; postgres only needs to read it.
        with open(path, "a") as f:
            f.write("\n# warden tests\n")
            for key, value in conf.items():
                f.write("%s = %s\n" % (key, value))

    # -- life cycle -------------------------------------------------------

    @classmethod
    def primary(cls, base_dir, users=None, name="primary"):
        """initdb a new cluster and start it. users: {name: password} of
        LOGIN roles that connect over TCP with SCRAM."""
        server = cls(base_dir, name)
        server._cmd(["initdb", "-D", server.data, "-U", SUPERUSER, "--no-sync",
                     "--auth-local=trust", "--auth-host=scram-sha-256",
                     "--no-instructions", "-E", "UTF8", "--locale=C"])
        server._configure()
        server.start()
        for user, password in (users or {}).items():
            server.sql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (user, password.replace("'", "''")))
        return server

    def standby(self, name="standby"):
        """A streaming hot standby of this (running) server, started."""
        standby = PgServer(os.path.dirname(self.dir), name)
        self._cmd(["pg_basebackup", "-D", standby.data, "-h", self.sockdir, "-p", str(self.port),
                   "-U", SUPERUSER, "-R", "-X", "stream", "--no-sync", "-c", "fast"])
        standby._configure({"port": str(standby.port),
                            "unix_socket_directories": "'%s'" % standby.sockdir})
        standby.start()
        wait_until(lambda: self.sql("SELECT count(*) FROM pg_stat_replication "
                                    "WHERE state = 'streaming'") != "0",
                   timeout=30, what="standby %s streaming" % name)
        return standby

    def start(self):
        self._cmd(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30",
                   "-o", "-p %d" % self.port, "start"])

    def stop(self, mode="fast"):
        self._cmd(["pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop"],
                  check=False)

    def promote(self):
        self._cmd(["pg_ctl", "-D", self.data, "-w", "-t", "30", "promote"])

    def postmaster_pid(self):
        """The postmaster's process id (first line of postmaster.pid)."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def running(self):
        return self._cmd(["pg_ctl", "-D", self.data, "status"], check=False).returncode == 0

    def sql(self, query, dbname="postgres"):
        """Run query as the superuser over the unix socket; its output, stripped
        (unaligned, tuples only)."""
        proc = self._cmd(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-h", self.sockdir, "-p", str(self.port), "-U", SUPERUSER,
                          "-d", dbname, "-c", query], timeout=30)
        return proc.stdout.strip()

    def uri(self, user, dbname="postgres", host="127.0.0.1"):
        """A libpq URI for user over TCP (password not included)."""
        return "postgres://%s@%s:%d/%s" % (user, host, self.port, dbname)

    def wait_replayed(self, primary, timeout=30):
        """Wait until this standby has replayed everything primary wrote so far
        (its WAL insert position, which includes not yet flushed commits)."""
        lsn = primary.sql("SELECT pg_current_wal_insert_lsn()")
        wait_until(lambda: self.sql("SELECT pg_last_wal_replay_lsn() >= '%s'" % lsn) == "t",
                   timeout=timeout, what="standby replay up to %s" % lsn)


class PgCluster:
    """A temporary directory holding servers; cleanup() stops and removes them."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="warden-pg-")
        os.chmod(self.base, 0o755)
        self.servers = []

    def primary(self, users=None):
        server = PgServer.primary(self.base, users=users)
        self.servers.append(server)
        return server

    def standby(self, primary, name="standby"):
        server = primary.standby(name=name)
        self.servers.append(server)
        return server

    def cleanup(self):
        for server in reversed(self.servers):
            try:
                server.stop(mode="immediate")
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
        shutil.rmtree(self.base, ignore_errors=True)


if __name__ == "__main__":
    # Smoke test: python3 pg.py
    cluster = PgCluster()
    try:
        t0 = time.monotonic()
        p = cluster.primary(users={"probe": "s3cret"})
        s = cluster.standby(p)
        print("primary", p.port, p.sql("SELECT pg_is_in_recovery()"))
        print("standby", s.port, s.sql("SELECT pg_is_in_recovery()"))
        print("setup %.1fs" % (time.monotonic() - t0))
    finally:
        cluster.cleanup()
