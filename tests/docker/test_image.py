#!/usr/bin/python3
"""
test_image.py - build docker/Dockerfile with podman and prove the image.

This machine type has no Docker engine and no registry access, but Debian's
podman works as root. So the test:

  1. debootstraps a minimal bookworm root filesystem from the Debian mirror
     apt already uses (read from /etc/apt/sources.list{,.d/}), and caches it
     as a tarball under the build directory ($WARDEN_BUILD_DIR, else build/);
  2. imports it as localhost/debian:bookworm-slim (again only when the
     tarball changed, so podman's layer cache keeps the builder's apt layer);
  3. builds: podman build --pull=never --isolation chroot --format docker
     -f docker/Dockerfile . (--format docker: the OCI format has no
     HEALTHCHECK, podman would drop it);
  4. runs the image with --runtime runc --ulimit nofile=4096:4096
     (warden refuses a limit below its connection caps: 1024 + 64 by default)
     --ulimit nproc=1024:1024 --network host (this VM's cgroup and rlimit
     quirks) and asserts, one PASS/FAIL line each: uid 65532, /livez, warden
     check (0, and 1 on a dead port), the image's HEALTHCHECK, warden version
     and its libraries, a read-only root with the fence file on /run/warden,
     the fence following a file flag, a clean lame-duck stop on SIGTERM, the
     shared /opt/warden running inside another image (the worker pattern of
     ecs/), no shell in the image, and the image size (at most 25 MB).

Exit 0 when every check passed, 1 otherwise. Exit 0 with "SKIP:" only when
podman cannot run at all here (not root, or `podman info` fails); missing
packages are a failure: `make deps` installs podman, runc and debootstrap.

Environment: WARDEN_BUILD_DIR (cache location), WARDEN_IMAGE_TEST_NO_CACHE=1
(build with --no-cache). The image stays tagged localhost/warden:test (the
previous one is removed), so that the next run reuses podman's layer cache.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("WARDEN_BUILD_DIR") or os.path.join(ROOT, "build")
CACHE_DIR = os.path.join(BUILD_DIR, "image-test")
BASE_IMAGE = "localhost/debian:bookworm-slim"
IMAGE = "localhost/warden:test"
DEPS_IMAGE = "localhost/warden-build-deps:test"  # the builder's apt layer, kept as a cache
SUITE = "bookworm"
SIZE_LIMIT = 25 * 1000 * 1000  # bytes: "at most 25 MB" (DESIGN.md)
ROOTFS_LABEL = "org.warden.test.rootfs-sha256"
RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096",
             "--ulimit", "nproc=1024:1024", "--network", "host"]
LIBRARIES = ["libmicrohttpd", "libpq", "hiredis", "libcurl", "jansson", "openssl"]

failures = []
timings = []


def say(line):
    print(line, flush=True)


def check(ok, what, detail=""):
    if ok:
        say(f"PASS: {what}")
    else:
        failures.append(what)
        say(f"FAIL: {what}" + (f": {detail}" if detail else ""))
    return ok


def skip(why):
    say(f"SKIP: {why}")
    sys.exit(0)


def abort(why):
    failures.append(why.split("\n")[0][:80])
    say(f"FAIL: {why}")
    summary()
    sys.exit(1)


def summary():
    for step, seconds in timings:
        say(f"time: {step}: {seconds:.1f} s")
    say(f"time: total: {time.monotonic() - START:.1f} s")
    if failures:
        say(f"image test: {len(failures)} check(s) failed: " + "; ".join(failures))
    else:
        say("image test: all checks passed")


class Step:
    """Time one step: `with Step("build"): ...` adds a `time:` line."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.start = time.monotonic()
        say(f"---- {self.name}")

    def __exit__(self, *exc):
        timings.append((self.name, time.monotonic() - self.start))


def run(argv, timeout=120, check_rc=False, log=None, **kw):
    """Run argv; returns CompletedProcess (text). A timeout is rc 124."""
    try:
        if log is not None:
            with open(log, "w") as out:
                proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, text=True,
                                      timeout=timeout, **kw)
        else:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        proc = subprocess.CompletedProcess(argv, 124, "", f"timed out after {timeout}s")
    if check_rc and proc.returncode != 0:
        abort(f"{' '.join(argv[:4])}... exited {proc.returncode}: "
              f"{(proc.stderr or proc.stdout or '').strip()[-2000:]}")
    return proc


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------ the mirror ---

def apt_entries():
    """(types, uris, suites, components) of every enabled apt source."""
    entries = []
    paths = []
    if os.path.exists("/etc/apt/sources.list"):
        paths.append("/etc/apt/sources.list")
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        paths += [os.path.join(d, n) for n in sorted(os.listdir(d))
                  if n.endswith(".list") or n.endswith(".sources")]
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for para in re.split(r"\n\s*\n", text):
                fields = {}
                key = None
                for line in para.splitlines():
                    if line.startswith("#") or not line.strip():
                        continue
                    if line[0] in " \t" and key:
                        fields[key] += " " + line.strip()
                        continue
                    key, _, value = line.partition(":")
                    key = key.strip().lower()
                    fields[key] = value.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                entries.append((fields.get("types", "").split(), fields.get("uris", "").split(),
                                fields.get("suites", "").split(),
                                fields.get("components", "").split()))
        else:
            for line in text.splitlines():
                line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    entries.append((["deb"], [line[1]], [line[2]], line[3:]))
    return entries


def debian_sources():
    """The mirror for SUITE, and the sources.list lines for the builder."""
    mirror = None
    lines = []
    for types, uris, suites, components in apt_entries():
        if "deb" not in types or "main" not in components:
            continue
        for suite in suites:
            if suite not in (SUITE, f"{SUITE}-updates", f"{SUITE}-security"):
                continue
            for uri in uris:
                if not uri.startswith("http"):
                    continue
                lines.append(f"deb {uri} {suite} main")
                if suite == SUITE and mirror is None:
                    mirror = uri
    return mirror, sorted(set(lines), key=lines.index)


# ---------------------------------------------------------- the rootfs -----

SLIM_DPKG_CFG = """\
# as in Docker's debian:*-slim: no documentation, manuals or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
"""


def make_rootfs_tarball(tarball, mirror, source_lines):
    arch = run(["dpkg", "--print-architecture"], check_rc=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="rootfs-", dir=CACHE_DIR)
    rootfs = os.path.join(work, "rootfs")
    log = os.path.join(CACHE_DIR, "debootstrap.log")
    try:
        say(f"debootstrap --variant=minbase --arch={arch} {SUITE} from {mirror} (log: {log})")
        proc = run(["debootstrap", "--variant=minbase", f"--arch={arch}", SUITE, rootfs, mirror],
                   timeout=1200, log=log)
        if proc.returncode != 0:
            abort(f"debootstrap exited {proc.returncode} (mirror {mirror}):\n{tail(log)}")
        # Slim it like debian:bookworm-slim, and point apt at the same mirror.
        for sub in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
                    "var/lib/apt/lists", "var/cache/apt"):
            shutil.rmtree(os.path.join(rootfs, sub), ignore_errors=True)
        os.makedirs(os.path.join(rootfs, "var/lib/apt/lists/partial"), exist_ok=True)
        os.makedirs(os.path.join(rootfs, "var/cache/apt/archives/partial"), exist_ok=True)
        with open(os.path.join(rootfs, "etc/dpkg/dpkg.cfg.d/docker-slim"), "w") as f:
            f.write(SLIM_DPKG_CFG)
        with open(os.path.join(rootfs, "etc/apt/sources.list"), "w") as f:
            f.write("".join(line + "\n" for line in source_lines))
        partial = tarball + ".partial"
        run(["tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", partial, "."],
            timeout=600, check_rc=True)
        os.replace(partial, tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def podman(*args, timeout=120, check_rc=False, log=None):
    return run(["podman", *args], timeout=timeout, check_rc=check_rc, log=log)


def image_label(image, label):
    proc = podman("image", "inspect", image)
    if proc.returncode != 0:
        return None
    try:
        labels = json.loads(proc.stdout)[0].get("Labels") or {}
    except (ValueError, IndexError):
        return None
    return labels.get(label)


# --------------------------------------------------------------- helpers ---

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    """(status, body) or (None, error text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def cmake_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(warden VERSION ([0-9.]+)", f.read())
    return m.group(1) if m else "0.0.0"


def git_revision():
    proc = run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"])
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


# ------------------------------------------------------------------ main ---

def prerequisites():
    if os.geteuid() != 0:
        skip("podman runs as root on this machine type (rootless podman is not set up "
             "here); run `make test` as root")
    missing = [tool for tool in ("podman", "runc", "debootstrap", "tar")
               if shutil.which(tool) is None
               and not os.path.exists(f"/usr/sbin/{tool}")
               and not os.path.exists(f"/sbin/{tool}")]
    if missing:
        abort(f"missing {', '.join(missing)}: `make deps` installs podman, runc and debootstrap")
    info = podman("info", "--format", "json", timeout=60)
    if info.returncode != 0:
        skip(f"podman cannot run on this machine: {(info.stderr or '').strip()[-500:]}")


def prepare_base():
    mirror, source_lines = debian_sources()
    if mirror is None:
        abort(f"no enabled 'deb ... {SUITE} main' source in /etc/apt/sources.list{{,.d/}}: "
              "the test debootstraps from the mirror apt already uses")
    say(f"mirror: {mirror}")
    key = hashlib.sha256((mirror + "\n" + "\n".join(source_lines)).encode()).hexdigest()[:12]
    tarball = os.path.join(CACHE_DIR, f"{SUITE}-minbase-{key}.tar")
    with Step("rootfs (debootstrap, cached)"):
        if os.path.exists(tarball):
            say(f"cached: {tarball}")
        else:
            make_rootfs_tarball(tarball, mirror, source_lines)
        say(f"rootfs tarball: {os.path.getsize(tarball) / 1e6:.1f} MB")
    with Step("import base image"):
        digest = sha256_file(tarball)
        if image_label(BASE_IMAGE, ROOTFS_LABEL) == digest:
            say(f"{BASE_IMAGE} is current")
        else:
            podman("import", "--change", f"LABEL {ROOTFS_LABEL}={digest}",
                   "--change", 'CMD ["/bin/bash"]', tarball, BASE_IMAGE,
                   timeout=600, check_rc=True)
            say(f"imported {BASE_IMAGE}")


def image_id(image):
    return podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def build(argv, log, tag):
    """podman build ... -t tag .; removes the image tag named before."""
    old = image_id(tag)
    argv = ["build", "--pull=never", "--isolation", "chroot", "--format", "docker",
            "-f", "docker/Dockerfile", "-t", tag, *argv]
    if os.environ.get("WARDEN_IMAGE_TEST_NO_CACHE") == "1":
        argv.append("--no-cache")
    say(f"podman {' '.join(argv)} . (log: {log})")
    proc = run(["podman", *argv, "."], timeout=1800, log=log, cwd=ROOT)
    if proc.returncode != 0:
        abort(f"podman build exited {proc.returncode}:\n{tail(log, 60)}")
    if old and old != image_id(tag):
        podman("rmi", old)  # this test's previous image, not anyone else's


def build_image():
    # The deps stage (apt) is tagged, so it stays as the layer cache; the
    # builder's own layers (LABEL org.warden.stage=builder) are pruned after.
    with Step("podman build (deps stage, cached)"):
        build(["--target", "deps"], os.path.join(CACHE_DIR, "build-deps.log"), DEPS_IMAGE)
    with Step("podman build"):
        build(["--build-arg", f"VERSION={cmake_version()}",
               "--build-arg", f"REVISION={git_revision()}"],
              os.path.join(CACHE_DIR, "build.log"), IMAGE)
        # Untagged leftovers of earlier runs: builder layers, old runtime chains.
        podman("image", "prune", "-f", "--filter", "label=org.warden.stage=builder")
        podman("image", "prune", "-f", "--filter", "label=org.opencontainers.image.title=warden")
        check(True, "the image builds (docker/Dockerfile, FROM scratch runtime)")


def check_image_config():
    with Step("image config"):
        inspect = json.loads(podman("image", "inspect", IMAGE, check_rc=True).stdout)[0]
        config = inspect.get("Config") or {}
        size = int(inspect.get("Size") or 0)
        say(f"image size: {size} bytes = {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)")
        check(0 < size <= SIZE_LIMIT, "image size at most 25 MB", f"{size / 1e6:.1f} MB")
        check(config.get("User") == "65532:65532", "USER 65532:65532", repr(config.get("User")))
        check("8089/tcp" in (config.get("ExposedPorts") or {}), "EXPOSE 8089")
        check(config.get("Entrypoint") == ["/warden"], 'ENTRYPOINT ["/warden"]',
              repr(config.get("Entrypoint")))
        health = (inspect.get("Healthcheck") or config.get("Healthcheck") or {}).get("Test")
        check(health == ["CMD", "/warden", "check"], 'HEALTHCHECK CMD ["/warden", "check"]',
              repr(health))
        labels = inspect.get("Labels") or config.get("Labels") or {}
        wanted = {"org.opencontainers.image.title": "warden",
                  "org.opencontainers.image.version": cmake_version()}
        check(all(labels.get(k) == v for k, v in wanted.items())
              and labels.get("org.opencontainers.image.revision"),
              "OCI labels (title, version, revision)", repr(labels))
        volumes = set((config.get("Volumes") or {}).keys())
        check({"/run/warden", "/opt/warden"} <= volumes, "VOLUME /opt/warden /run/warden",
              repr(sorted(volumes)))


def check_filesystem():
    """No shell, no package manager: list what the image holds."""
    with Step("image contents"):
        name = f"warden-test-fs-{os.getpid()}"
        podman("create", "--name", name, IMAGE, check_rc=True)
        try:
            export = subprocess.run(["podman", "export", name], capture_output=True, timeout=120)
        finally:
            podman("rm", "-f", name)
        if not check(export.returncode == 0, "podman export"):
            return
        with tempfile.TemporaryFile() as f:
            f.write(export.stdout)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                members = {m.name.lstrip("./").rstrip("/"): m for m in tar.getmembers()}
        names = set(members) - {""}
        top = sorted({n.split("/")[0] for n in names})
        say(f"top level: {' '.join(top)}")
        libs = sorted(n for n in names if n.startswith("opt/warden/lib/"))
        say(f"{len(libs)} files in /opt/warden/lib")
        shells = [n for n in names if re.search(r"(^|/)(sh|bash|dash|busybox|apt|dpkg)$", n)]
        check(not shells, "no shell or package manager in the image", repr(shells))
        allowed = {"warden", "opt", "etc", "usr", "run", "dev", "proc", "sys"}
        check(set(top) <= allowed, "only /warden, /opt/warden, /etc, /usr/lib/ssl, /run",
              repr(sorted(set(top) - allowed)))
        run_dir = members.get("run/warden")
        check(run_dir is not None and run_dir.uid == 65532 and run_dir.isdir(),
              "/run/warden is a directory owned by 65532",
              repr((run_dir.uid, run_dir.mode) if run_dir else None))
        check(any(re.match(r"opt/warden/lib/ld-linux[-\w.]*\.so\.\d", n) for n in libs),
              "the dynamic loader is in /opt/warden/lib")
        check("etc/ssl/certs/ca-certificates.crt" in names and "etc/passwd" in names,
              "CA bundle and passwd entry present")


def check_version():
    with Step("warden version"):
        proc = podman("run", "--rm", *RUN_FLAGS, IMAGE, "version")
        say(proc.stdout.rstrip())
        listed = {line.split(" ", 1)[0] for line in proc.stdout.splitlines()}
        check(proc.returncode == 0 and all(lib in listed for lib in LIBRARIES),
              "warden version lists the linked libraries",
              f"rc {proc.returncode}, missing {[l for l in LIBRARIES if l not in listed]} "
              f"{proc.stderr.strip()}")
        check(proc.stdout.startswith(f"warden {cmake_version()} (Release"),
              "warden version: a Release build of this version", proc.stdout.split("\n")[0])
        proc = podman("run", "--rm", *RUN_FLAGS, "-e", "WARDEN_PROBE_DB=postgres://app@db/app",
                      IMAGE, "config")
        ok = proc.returncode == 0
        try:
            ok = ok and json.loads(proc.stdout)["probes"]["db"]["kind"] == "postgres"
        except (ValueError, KeyError, TypeError):
            ok = False
        check(ok, "warden config runs in the image", proc.stderr.strip())


def check_agent(tmp):
    port = free_port()
    flag_dir = os.path.join(tmp, "flag")
    os.makedirs(flag_dir)
    flag = os.path.join(flag_dir, "active-region")
    with open(flag, "w") as f:
        f.write("us-west-2\n")
    os.chmod(flag_dir, 0o755)
    os.chmod(flag, 0o644)
    name = f"warden-test-{os.getpid()}"
    base = f"http://127.0.0.1:{port}"
    # Not --rm: the exit code of the lame-duck stop is checked, then removed.
    argv = ["run", "-d", "--name", name, *RUN_FLAGS, "--read-only",
            "-v", f"{flag_dir}:/flag:ro",
            "-e", f"WARDEN_LISTEN=127.0.0.1:{port}",
            "-e", "WARDEN_DRAIN_SECONDS=1",
            "-e", "AWS_REGION=us-east-1",
            "-e", "WARDEN_FLAG=file:/flag/active-region",
            "-e", "WARDEN_FLAG_INTERVAL=200ms",
            "-e", "WARDEN_FLAG_TTL=5s",
            "-e", "WARDEN_FENCE_FILE=/run/warden/fence.json",
            IMAGE]
    with Step("run the agent"):
        proc = podman(*argv, timeout=60)
        if not check(proc.returncode == 0, "podman run -d --read-only (the agent starts)",
                     proc.stderr.strip()):
            return
    try:
        with Step("agent checks"):
            status = wait_for(lambda: http_get(base + "/livez")[0] == 200, 15)
            check(status, "/livez answers 200 from the host",
                  repr(http_get(base + "/livez")) + "\n" + podman("logs", name).stdout[-2000:])
            pid = podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
            uid = None
            try:
                with open(f"/proc/{pid}/status") as f:
                    uid = re.search(r"^Uid:\s+(.*)$", f.read(), re.M).group(1).split()
            except (OSError, AttributeError):
                pass
            check(uid == ["65532"] * 4, "the agent runs as uid 65532", repr(uid))
            proc = podman("exec", name, "/warden", "check", timeout=30)
            check(proc.returncode == 0, "warden check inside the container exits 0",
                  f"rc {proc.returncode}: {proc.stderr.strip()}")
            dead = free_port()
            proc = podman("exec", name, "/warden", "check", f"http://127.0.0.1:{dead}/livez",
                          timeout=30)
            check(proc.returncode == 1, "warden check on a dead port exits 1",
                  f"rc {proc.returncode}: {proc.stderr.strip()}")
            proc = podman("healthcheck", "run", name, timeout=30)
            check(proc.returncode == 0, "the image's HEALTHCHECK passes (podman healthcheck run)",
                  f"rc {proc.returncode}: {(proc.stdout + proc.stderr).strip()}")

            # The fence follows the file flag; the fence file lands on the
            # /run/warden volume although the root filesystem is read-only.
            check(wait_for(lambda: http_get(base + "/activez")[0] == 503, 10),
                  "passive (flag names us-west-2): /activez 503", repr(http_get(base + "/fence")))
            with open(flag + ".tmp", "w") as f:
                f.write("us-east-1\n")
            os.chmod(flag + ".tmp", 0o644)
            os.replace(flag + ".tmp", flag)
            check(wait_for(lambda: http_get(base + "/activez")[0] == 200, 10),
                  "active (flag names us-east-1): /activez 200", repr(http_get(base + "/fence")))
            out = os.path.join(tmp, "fence.json")
            fence = None
            for _ in range(30):
                proc = podman("cp", f"{name}:/run/warden/fence.json", out)
                if proc.returncode == 0:
                    try:
                        with open(out) as f:
                            fence = json.load(f)
                        if fence.get("writable") is True:
                            break
                    except (OSError, ValueError):
                        pass
                time.sleep(0.2)
            check(fence is not None and fence.get("state") == "active"
                  and fence.get("region") == "us-east-1",
                  "fence file written to /run/warden with a read-only root", repr(fence))
            status, body = http_get(base + "/status")
            check(status == 200 and '"us-east-1"' in body, "/status answers")

        with Step("worker pattern: /opt/warden in another image"):
            check_shared_binary(port)

        with Step("lame-duck stop"):
            started = time.monotonic()
            proc = podman("stop", "-t", "20", name, timeout=60)
            took = time.monotonic() - started
            code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
            logs = podman("logs", name).stdout
            events = [json.loads(line).get("event") for line in logs.splitlines()
                      if line.startswith("{")]
            check(proc.returncode == 0 and code == "0" and took < 15,
                  "SIGTERM: drains, then exits 0 (not killed)",
                  f"rc {proc.returncode}, exit {code}, {took:.1f} s")
            check("agent.drain" in events and "agent.stop" in events,
                  "logs: JSON lines with agent.drain and agent.stop", repr(events[-5:]))
    finally:
        podman("rm", "-f", name, timeout=60)


def check_shared_binary(port):
    """
    The worker task definition mounts the warden container's /opt/warden into
    the app container. Prove that it runs there: copy it into a named volume
    the way ECS does (a volume mounted on a VOLUME path is filled from the
    image), then run it inside the debian base image, which has none of
    warden's libraries.
    """
    volume = f"warden-test-opt-{os.getpid()}"
    try:
        proc = podman("run", "--rm", *RUN_FLAGS, "-v", f"{volume}:/opt/warden", IMAGE, "version",
                      timeout=60)
        check(proc.returncode == 0, "a volume on /opt/warden is filled from the image",
              proc.stderr.strip())
        probe = podman("run", "--rm", *RUN_FLAGS, "--entrypoint", "/bin/sh", BASE_IMAGE, "-c",
                       "ls /usr/lib/*/libcurl.so.4 /usr/lib/*/libpq.so.5 2>/dev/null | wc -l")
        proc = podman("run", "--rm", *RUN_FLAGS, "--user", "1000:1000",
                      "-v", f"{volume}:/opt/warden:ro", BASE_IMAGE,
                      "/opt/warden/bin/warden", "check", f"http://127.0.0.1:{port}/readyz",
                      timeout=60)
        check(probe.stdout.strip() == "0" and proc.returncode == 0,
              "/opt/warden/bin/warden runs in an image without its libraries (gate's way in)",
              f"libs in base: {probe.stdout.strip()}, rc {proc.returncode}: "
              f"{proc.stderr.strip()}")
    finally:
        podman("volume", "rm", "-f", volume)


def main():
    prerequisites()
    os.makedirs(CACHE_DIR, exist_ok=True)
    lock = open(os.path.join(CACHE_DIR, "lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one image test at a time per build dir
    prepare_base()
    build_image()
    check_image_config()
    check_filesystem()
    check_version()
    with tempfile.TemporaryDirectory(prefix="warden-image-test-") as tmp:
        os.chmod(tmp, 0o755)
        check_agent(tmp)
    summary()
    sys.exit(1 if failures else 0)


START = time.monotonic()
if __name__ == "__main__":
    main()
