#!/usr/bin/python3
"""
test_task_definitions.py - validate ecs/*.json against ECS's rules and warden.

For every task definition in ecs/ (web.json, worker.json, cron.json):

  - valid JSON in the RegisterTaskDefinition shape: known keys only, the
    required fields, Fargate's cpu/memory pairs, container sums within the
    task, volumes and dependsOn that resolve; and, when botocore is
    installed (python3-botocore, in `make deps`), AWS's own input model of
    RegisterTaskDefinition (CreateService for ecs/web-service.json);
  - ECS's ranges: healthCheck interval 5-300 s, timeout 2-60 s (and below
    the interval), retries 1-10, startPeriod 0-300 s; stopTimeout <= 120 s;
  - the warden wiring: an essential `warden` container whose healthCheck is
    ["CMD", "/warden", "check"], a read-only root, /run/warden on a task
    volume, WARDEN_FLAG, a postgres probe whose password comes from Secrets
    Manager (secrets/valueFrom, never environment), stopTimeout above
    WARDEN_DRAIN_SECONDS, no AWS_REGION pinned (see ecs/README.md); every
    other container waits for warden HEALTHY and mounts /run/warden
    read-only; web's proxy port is what the ALB targets; worker and cron run
    under `warden gate` from the shared /opt/warden volume;
  - the environment of each warden container passes `warden config`, run
    with exactly that environment (env -i; secrets as placeholders; plus
    AWS_REGION), and all task definitions share one fencing timing contract;
  - each gate command line parses: against DESIGN.md's grammar here, and by
    the real `warden gate`, which logs gate.ready with what it parsed; its
    --grace is below the app's stopTimeout and leaves room for the bound:
    grace < ttl - typical fence time (from `warden config`), and with
    --singleton also < 2/3 of WARDEN_SINGLETON_TTL and < WARDEN_DRAIN_SECONDS;
  - ecs/iam-policy.json grants ssm:GetParameter on exactly the flag
    parameters the task definitions read, and nothing else; they read it in
    three regions (primary, standby, witness), with a JSON epoch (so no
    plain-region quorum setting), and any WARDEN_FLAG_QUORUM set is the same
    everywhere and not `any`;
  - ecs/flag-task.json (the task the failover state machine runs `warden
    flag set` in): the same ECS rules and botocore model, one essential
    `warden` container running /warden, a read-only root, its own task
    role, the very same flag sources and timing contract as the services
    (`--wait` waits the worst case of ITS config), passing `warden config`;
    ecs/flag-task-policy.json grants exactly ssm:GetParameter and
    ssm:PutParameter on the parameters it writes.

Needs WARDEN_BIN (the warden binary). Prints PASS/FAIL lines; exit 1 on any
failure.
"""
import glob
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ECS = os.environ.get("WARDEN_ECS_DIR") or os.path.join(ROOT, "ecs")
WARDEN_BIN = os.environ.get("WARDEN_BIN") or os.path.join(ROOT, "build", "warden")
TASK_FILES = ["web.json", "worker.json", "cron.json"]
FLAG_TASK = "flag-task.json"
FLAG_SETTINGS = ("WARDEN_FLAG", "WARDEN_FLAG_INTERVAL", "WARDEN_FLAG_TIMEOUT", "WARDEN_FLAG_TTL",
                 "WARDEN_FLAG_QUORUM")
PLACEHOLDER = "placeholder-secret-0123456789"  # long enough for WARDEN_ADMIN_TOKEN
# Passed through to warden on top of a container's environment: the
# sanitizer settings of the ASan build (they are not WARDEN_* settings).
PASS_THROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
GATE_BIN = "/opt/warden/bin/warden"  # where the app container sees the shared binary

TASK_KEYS = {"family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
             "volumes", "placementConstraints", "requiresCompatibilities", "cpu", "memory",
             "tags", "pidMode", "ipcMode", "proxyConfiguration", "inferenceAccelerators",
             "ephemeralStorage", "runtimePlatform", "enableFaultInjection"}
CONTAINER_KEYS = {"name", "image", "repositoryCredentials", "cpu", "memory", "memoryReservation",
                  "links", "portMappings", "essential", "restartPolicy", "entryPoint", "command",
                  "environment", "environmentFiles", "mountPoints", "volumesFrom",
                  "linuxParameters", "secrets", "dependsOn", "startTimeout", "stopTimeout",
                  "versionConsistency", "hostname", "user", "workingDirectory",
                  "disableNetworking", "privileged", "readonlyRootFilesystem", "dnsServers",
                  "dnsSearchDomains", "extraHosts", "dockerSecurityOptions", "interactive",
                  "pseudoTerminal", "dockerLabels", "ulimits", "logConfiguration", "healthCheck",
                  "systemControls", "resourceRequirements", "firelensConfiguration",
                  "credentialSpecs"}
# Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}
DEPENDS_CONDITIONS = {"START", "COMPLETE", "SUCCESS", "HEALTHY"}
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+"
                        r"(:[\w-]*:[\w-]*:[\w-]*)?|ssm:[a-z0-9-]+:\d{12}:parameter/.+)$")
DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}

failures = []


def check(ok, what, detail=""):
    if ok:
        print(f"PASS: {what}", flush=True)
    else:
        failures.append(what)
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def duration_ms(text):
    m = DURATION.match(text or "")
    return int(m.group(1)) * UNIT_MS[m.group(2)] if m else None


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def secrets_of(container):
    return {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}


def sanitizer_env():
    return {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}


def listen_port(text, default):
    if not text:
        return default
    return int(text.rsplit(":", 1)[-1])


# ------------------------------------------------------------ ECS rules ---

def check_aws_model(doc, operation, where):
    try:
        import botocore.session
        import botocore.validate
    except ImportError:
        print(f"NOTE: {where}: botocore not installed, AWS model check skipped "
              "(python3-botocore)")
        return
    model = botocore.session.get_session().get_service_model("ecs")
    report = botocore.validate.ParamValidator().validate(
        doc, model.operation_model(operation).input_shape)
    check(not report.has_errors(), f"{where}: valid {operation} input (botocore's model)",
          report.generate_report())


def check_ecs_rules(doc, where):
    problems = []
    unknown = set(doc) - TASK_KEYS
    if unknown:
        problems.append(f"unknown task keys {sorted(unknown)}")
    for key in ("family", "containerDefinitions", "networkMode", "requiresCompatibilities",
                "cpu", "memory", "taskRoleArn", "executionRoleArn"):
        if key not in doc:
            problems.append(f"missing {key}")
    if doc.get("networkMode") != "awsvpc":
        problems.append("Fargate needs networkMode awsvpc")
    if "FARGATE" not in doc.get("requiresCompatibilities", []):
        problems.append("requiresCompatibilities lacks FARGATE")
    try:
        cpu, memory = int(doc["cpu"]), int(doc["memory"])
        if memory not in FARGATE_SIZES.get(cpu, set()):
            problems.append(f"cpu {cpu} / memory {memory} is not a Fargate task size")
    except (KeyError, ValueError):
        problems.append("cpu and memory must be strings of integers")
        cpu = memory = 0
    containers = doc.get("containerDefinitions", [])
    names = [c.get("name") for c in containers]
    if len(set(names)) != len(names):
        problems.append(f"duplicate container names {names}")
    volumes = {v.get("name") for v in doc.get("volumes", [])}
    if sum(c.get("memory", 0) for c in containers) > memory:
        problems.append("container memory adds up to more than the task's")
    if sum(c.get("cpu", 0) for c in containers) > cpu:
        problems.append("container cpu adds up to more than the task's")
    for c in containers:
        name = c.get("name")
        unknown = set(c) - CONTAINER_KEYS
        if unknown:
            problems.append(f"{name}: unknown keys {sorted(unknown)}")
        if not c.get("image") or not isinstance(c.get("essential"), bool):
            problems.append(f"{name}: image and essential are required here")
        hc = c.get("healthCheck")
        if hc is not None:
            if not (isinstance(hc.get("command"), list) and hc["command"]
                    and hc["command"][0] in ("CMD", "CMD-SHELL")):
                problems.append(f"{name}: healthCheck.command must start with CMD or CMD-SHELL")
            interval, timeout = hc.get("interval", 30), hc.get("timeout", 5)
            if not 5 <= interval <= 300:
                problems.append(f"{name}: healthCheck.interval {interval} not in 5..300")
            if not 2 <= timeout <= 60:
                problems.append(f"{name}: healthCheck.timeout {timeout} not in 2..60")
            if timeout >= interval:
                problems.append(f"{name}: healthCheck.timeout must be below the interval")
            if not 1 <= hc.get("retries", 3) <= 10:
                problems.append(f"{name}: healthCheck.retries not in 1..10")
            if not 0 <= hc.get("startPeriod", 0) <= 300:
                problems.append(f"{name}: healthCheck.startPeriod not in 0..300")
        if "stopTimeout" in c and not 0 <= c["stopTimeout"] <= 120:
            problems.append(f"{name}: stopTimeout {c['stopTimeout']} not in 0..120 (Fargate)")
        for m in c.get("mountPoints", []):
            if m.get("sourceVolume") not in volumes:
                problems.append(f"{name}: mount of unknown volume {m.get('sourceVolume')}")
        for d in c.get("dependsOn", []):
            target = next((t for t in containers if t.get("name") == d.get("containerName")),
                          None)
            if target is None or d.get("condition") not in DEPENDS_CONDITIONS:
                problems.append(f"{name}: bad dependsOn {d}")
            elif d["condition"] == "HEALTHY" and "healthCheck" not in target:
                problems.append(f"{name}: HEALTHY on {target['name']}, which has no healthCheck")
        for p in c.get("portMappings", []):
            if p.get("hostPort", p.get("containerPort")) != p.get("containerPort"):
                problems.append(f"{name}: awsvpc needs hostPort == containerPort")
        env, secrets = env_of(c), secrets_of(c)
        if len(env) != len(c.get("environment", [])) or set(env) & set(secrets):
            problems.append(f"{name}: a variable set twice (environment/secrets)")
        for key, arn in secrets.items():
            if not SECRET_ARN.match(arn):
                problems.append(f"{name}: secret {key}: valueFrom is not a secret ARN: {arn}")
    check(not problems, f"{where}: ECS rules and ranges", "; ".join(problems))
    return not problems


# ---------------------------------------------------------- warden wiring ---

def check_warden_wiring(doc, where):
    containers = {c["name"]: c for c in doc["containerDefinitions"]}
    warden = containers.get("warden")
    if not check(warden is not None, f"{where}: has a container named warden"):
        return None
    env, secrets = env_of(warden), secrets_of(warden)
    volumes = {m["containerPath"]: m for m in warden.get("mountPoints", [])}
    problems = []
    if warden.get("essential") is not True:
        problems.append("warden must be essential")
    if (warden.get("healthCheck") or {}).get("command") != ["CMD", "/warden", "check"]:
        problems.append('healthCheck.command must be ["CMD", "/warden", "check"]')
    if warden.get("readonlyRootFilesystem") is not True:
        problems.append("readonlyRootFilesystem must be true")
    run = volumes.get("/run/warden")
    if run is None or run.get("readOnly"):
        problems.append("/run/warden must be a writable task volume")
    if not env.get("WARDEN_FLAG"):
        problems.append("WARDEN_FLAG is not set")
    if env.get("WARDEN_EMF") != "on":
        problems.append("WARDEN_EMF is not on (the failover metrics and ecs/alarms need it)")
    fence_file = env.get("WARDEN_FENCE_FILE")
    if fence_file and not fence_file.startswith("/run/warden/"):
        problems.append("WARDEN_FENCE_FILE must live on the /run/warden volume")
    pg = [k for k, v in env.items()
          if re.match(r"^WARDEN_PROBE_[A-Z0-9_]+$", k)
          and not k.endswith(("_PASSWORD", "_PASSWORD_FILE"))
          and v.startswith(("postgres://", "postgresql://"))]
    if not pg:
        problems.append("no postgres probe (WARDEN_PROBE_<NAME>=postgres://...)")
    for probe in pg:
        arn = secrets.get(probe + "_PASSWORD", "")
        if not arn.startswith("arn:aws:secretsmanager:"):
            problems.append(f"{probe}_PASSWORD must come from Secrets Manager (secrets/valueFrom)")
        if re.search(r"://[^/@]*:[^/@]*@", env[probe]):
            problems.append(f"{probe}: a password in the URI")
    for key in env:
        if key.endswith(("_PASSWORD", "_TOKEN")) or key.startswith("AWS_SECRET"):
            problems.append(f"{key} is a secret in plain environment")
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"):
        if key in env:
            problems.append(f"{key} pinned in the task definition (use the task's own region "
                            "and role)")
    drain_s = int(env.get("WARDEN_DRAIN_SECONDS", "10"))
    if warden.get("stopTimeout", 30) <= drain_s:
        problems.append(f"stopTimeout {warden.get('stopTimeout', 30)} must exceed "
                        f"WARDEN_DRAIN_SECONDS {drain_s}")
    if str(warden.get("user", "65532:65532")) not in ("65532", "65532:65532"):
        problems.append("user must stay 65532:65532 (the image's)")
    for name, c in containers.items():
        if name == "warden":
            continue
        if {"containerName": "warden", "condition": "HEALTHY"} not in c.get("dependsOn", []):
            problems.append(f"{name} must dependsOn warden HEALTHY")
        if c.get("readonlyRootFilesystem") is not True:
            problems.append(f"{name}: readonlyRootFilesystem must be true")
        mounts = {m["containerPath"]: m for m in c.get("mountPoints", [])}
        if run and (mounts.get("/run/warden") or {}).get("sourceVolume") != run["sourceVolume"] \
                or not (mounts.get("/run/warden") or {}).get("readOnly"):
            problems.append(f"{name}: must mount warden's /run/warden volume read-only")
    check(not problems, f"{where}: warden container wiring", "; ".join(problems))
    return warden


def warden_config(doc, warden, where):
    """Run `warden config` with exactly the container's environment."""
    env = env_of(warden)
    env.update({name: PLACEHOLDER for name in secrets_of(warden)})
    region = (warden.get("logConfiguration") or {}).get("options", {}).get("awslogs-region",
                                                                           "us-east-1")
    env["AWS_REGION"] = region
    env.update(sanitizer_env())
    proc = subprocess.run([WARDEN_BIN, "config"], env=env, capture_output=True, text=True,
                          timeout=30)
    ok = proc.returncode == 0
    config = None
    if ok:
        try:
            config = json.loads(proc.stdout)
        except ValueError:
            ok = False
    check(ok, f"{where}: the warden environment passes `warden config` (env -i)",
          f"exit {proc.returncode}: {proc.stderr.strip()}")
    if config is None:
        return None
    leaked = [v for v in (PLACEHOLDER,) if v in proc.stdout]
    check(not leaked, f"{where}: `warden config` redacts the secrets")
    check("timing_contract" in config and config.get("flag"),
          f"{where}: fencing is on (timing contract printed)")
    return config


# --------------------------------------------------------------- the gate ---

GATE_OPTIONS = {"--singleton", "--grace", "--sidecar", "--poll", "--once"}
GATE_FLAGS = {"--once"}          # options without a value
GATE_DEFAULT_GRACE = "10s"


def parse_gate(argv):
    """DESIGN.md: warden gate [--singleton NAME] [--grace 10s] [--sidecar URL] [--once] --
    CMD ARGS..."""
    if len(argv) < 2 or argv[1] != "gate":
        raise ValueError("not `warden gate`")
    opts, i = {}, 2
    while i < len(argv) and argv[i] != "--":
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name not in GATE_OPTIONS:
            raise ValueError(f"unknown option {arg!r}")
        if name in opts:
            raise ValueError(f"{name} given twice")
        if name in GATE_FLAGS:
            if eq:
                raise ValueError(f"{name} takes no value")
            opts[name] = True
            i += 1
            continue
        if not eq:
            i += 1
            if i >= len(argv) or argv[i] == "--":
                raise ValueError(f"{name} needs a value")
            value = argv[i]
        if not value:
            raise ValueError(f"{name}: empty value")
        opts[name] = value
        i += 1
    if i >= len(argv):
        raise ValueError("missing '--' before CMD")
    if i + 1 >= len(argv) or not argv[i + 1]:
        raise ValueError("missing CMD after '--'")
    for key in ("--grace", "--poll"):
        if key in opts and duration_ms(opts[key]) is None:
            raise ValueError(f"{key}: bad duration {opts[key]!r}")
    if "--singleton" in opts and not re.match(r"^[A-Za-z0-9_.-]{1,64}$", opts["--singleton"]):
        raise ValueError("bad --singleton name")
    return opts, argv[i + 1:]


def run_real_gate(argv, env):
    """
    Run the real `warden gate` with argv and env, read its first log line
    (gate.ready, written once the arguments parsed) and stop it. Returns the
    gate.ready object, or raises ValueError with what it said.
    """
    proc = subprocess.Popen([WARDEN_BIN, *argv[1:]], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 5)
        if not ready:
            raise ValueError("no output within 5 s")
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=5)
            raise ValueError(f"exit {proc.returncode}: {proc.stderr.read().strip()}")
        event = json.loads(line)
        if event.get("event") != "gate.ready":
            raise ValueError(f"first event is {event.get('event')!r}, not gate.ready")
        return event
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def check_gate(doc, warden, config, where):
    containers = {c["name"]: c for c in doc["containerDefinitions"]}
    wenv = env_of(warden)
    for name, c in containers.items():
        argv = c.get("entryPoint", []) + c.get("command", [])
        if "gate" not in argv[:2]:
            continue
        try:
            opts, cmd = parse_gate(argv)
        except ValueError as e:
            check(False, f"{where}: {name}: gate command line (DESIGN.md grammar)", str(e))
            continue
        problems = []
        if argv[0] != GATE_BIN:
            problems.append(f"argv[0] is {argv[0]!r}, want {GATE_BIN} (the shared volume)")
        mounts = {m["containerPath"]: m for m in c.get("mountPoints", [])}
        wmounts = {m["containerPath"]: m for m in warden.get("mountPoints", [])}
        shared = mounts.get("/opt/warden")
        if (shared is None or not shared.get("readOnly")
                or (wmounts.get("/opt/warden") or {}).get("sourceVolume")
                != shared.get("sourceVolume")):
            problems.append("/opt/warden must be warden's /opt/warden volume, read-only "
                            "(ECS fills it from the image's VOLUME)")
        grace_text = opts.get("--grace", GATE_DEFAULT_GRACE)
        grace = duration_ms(grace_text)
        if grace >= c.get("stopTimeout", 30) * 1000:
            problems.append(f"--grace {grace_text} must be below the app's "
                            f"stopTimeout {c.get('stopTimeout', 30)} s")
        # The bound: the child is dead by writable_until, so the grace must fit
        # between a fence in typical time and the TTL (the gate refuses it otherwise).
        tc = (config or {}).get("timing_contract") or {}
        ttl, typical = tc.get("worst_case_fence_ms"), tc.get("typical_fence_ms")
        if ttl is None or typical is None:
            problems.append("no timing contract from `warden config` to judge --grace")
        elif grace >= ttl - typical:
            problems.append(f"--grace {grace_text} leaves no room: must be below ttl {ttl} ms - "
                            f"typical fence time {typical} ms = {ttl - typical} ms")
        # With a lease, the deadline is also capped by its remaining time, which
        # falls to 2/3 of WARDEN_SINGLETON_TTL before each renewal (every ttl/3).
        if opts.get("--singleton"):
            lease_ms = duration_ms(wenv.get("WARDEN_SINGLETON_TTL", "15s"))
            if lease_ms is None or grace >= lease_ms * 2 // 3:
                problems.append(f"--grace {grace_text} must be below 2/3 of "
                                f"WARDEN_SINGLETON_TTL {wenv.get('WARDEN_SINGLETON_TTL', '15s')}"
                                " (the lease's time left just before a renewal)")
        if opts.get("--singleton") and int(wenv.get("WARDEN_DRAIN_SECONDS", "10")) * 1000 <= grace:
            problems.append(f"--grace {grace_text} must be below warden's WARDEN_DRAIN_SECONDS "
                            "(the sidecar keeps answering while the cron stops)")
        singleton = opts.get("--singleton")
        if singleton and singleton != wenv.get("WARDEN_SINGLETON"):
            problems.append(f"--singleton {singleton} but warden's WARDEN_SINGLETON is "
                            f"{wenv.get('WARDEN_SINGLETON')!r}")
        if "--sidecar" not in opts and "WARDEN_LISTEN" in wenv and \
                listen_port(wenv["WARDEN_LISTEN"], 8089) != 8089 and \
                "WARDEN_LISTEN" not in env_of(c):
            problems.append("warden listens off 8089: pass --sidecar")
        check(not problems, f"{where}: {name}: gate command line {argv}", "; ".join(problems))

        # The real parser: the app container's environment, nothing else.
        env = env_of(c)
        env.update({k: PLACEHOLDER for k in secrets_of(c)})
        env.update(sanitizer_env())
        try:
            ready = run_real_gate(argv, env)
            want_port = listen_port(wenv.get("WARDEN_LISTEN"), 8089)
            got = (ready.get("singleton"), ready.get("grace_ms"), ready.get("cmd"),
                   ready.get("sidecar"))
            want = (singleton, grace, cmd[0],
                    opts.get("--sidecar", f"http://127.0.0.1:{want_port}").rstrip("/")
                    + "/fence")
            check(got == want, f"{where}: {name}: `warden gate` parses it (gate.ready)",
                  f"got {got}, want {want}")
        except (ValueError, OSError, subprocess.TimeoutExpired) as e:
            check(False, f"{where}: {name}: `warden gate` parses it", str(e))


# ------------------------------------------------------------- the rest ---

def ssm_sources(flag):
    """(region or None, parameter name) of every ssm: source of WARDEN_FLAG."""
    out = []
    for source in flag.split(","):
        if not source.startswith("ssm:"):
            continue
        name, _, query = source[4:].partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        out.append((params.get("region"), name))
    return out


def check_iam(flags, where="iam-policy.json", want_actions=("ssm:GetParameter",)):
    with open(os.path.join(ECS, where)) as f:
        policy = json.load(f)
    statements = policy.get("Statement", [])
    actions, resources = set(), set()
    problems = []
    if policy.get("Version") != "2012-10-17":
        problems.append("Version must be 2012-10-17")
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        a = s.get("Action", [])
        r = s.get("Resource", [])
        actions |= set([a] if isinstance(a, str) else a)
        resources |= set([r] if isinstance(r, str) else r)
    if actions != set(want_actions):
        problems.append(f"actions {sorted(actions)}: want only {sorted(want_actions)}")
    if any("*" in r for r in resources):
        problems.append("a wildcard resource")
    wanted = set()
    for flag in flags:
        for region, name in ssm_sources(flag):
            if region is None:
                problems.append(f"source ssm:{name} has no ?region= (fine for warden, but the "
                                "policy test needs it explicit)")
                continue
            wanted.add((region, name))
    have = set()
    for r in resources:
        m = re.match(r"^arn:aws:ssm:([a-z0-9-]+):\d{12}:parameter(/.+)$", r)
        if not m:
            problems.append(f"not a parameter ARN: {r}")
            continue
        have.add((m.group(1), m.group(2)))
    if have != wanted:
        problems.append(f"parameters {sorted(have)} but the flags read {sorted(wanted)}")
    if len({region for region, _ in wanted}) < 3:
        problems.append("the flag should be read in three regions (primary, standby, witness): "
                        "a region cut off from the other two then loses its quorum")
    check(not problems, f"{where}: {' + '.join(want_actions)} on exactly the flag parameters, "
          "three regions", "; ".join(problems))


def check_quorum(envs):
    """Every role reads the same sources with the same quorum (the default,
    majority, when WARDEN_FLAG_QUORUM is unset); never `any` with several
    sources (unsafe in a partition, DESIGN.md)."""
    quorums = {where: env.get("WARDEN_FLAG_QUORUM", "majority") for where, env in envs.items()}
    problems = []
    if len(set(quorums.values())) != 1:
        problems.append(f"different quorums {quorums}")
    if "any" in quorums.values():
        problems.append("WARDEN_FLAG_QUORUM=any: a partitioned region keeps its own old value")
    check(not problems, "one flag quorum everywhere, not `any`", "; ".join(problems))


def check_flag_task(doc, services_flag_env):
    """The task the state machine runs `warden flag set` in."""
    where = FLAG_TASK
    containers = doc.get("containerDefinitions", [])
    problems = []
    if len(containers) != 1 or containers[0].get("name") != "warden":
        check(False, f"{where}: one container, named warden", repr([c.get("name")
                                                                   for c in containers]))
        return None
    c = containers[0]
    env = env_of(c)
    if c.get("essential") is not True:
        problems.append("warden must be essential")
    if c.get("entryPoint") != ["/warden"]:
        problems.append("entryPoint must be [\"/warden\"]: the state machine overrides only the "
                        "command (flag set ...)")
    if c.get("command", [])[:1] != ["flag"] or "set" in c.get("command", []):
        problems.append("the default command must be a harmless `flag get` (set comes from the "
                        "state machine's override)")
    if c.get("readonlyRootFilesystem") is not True:
        problems.append("readonlyRootFilesystem must be true")
    if str(c.get("user", "65532:65532")) not in ("65532", "65532:65532"):
        problems.append("user must stay 65532:65532 (the image's)")
    if "healthCheck" in c:
        problems.append("a one-shot task has no healthCheck (no listener to check)")
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"):
        if key in env:
            problems.append(f"{key} pinned")
    services = {where: {k: v for k, v in e.items() if k in FLAG_SETTINGS}
                for where, e in services_flag_env.items()}
    mine = {k: v for k, v in env.items() if k in FLAG_SETTINGS}
    for other, theirs in services.items():
        if theirs != mine:
            problems.append(f"flag settings {mine} differ from {other}'s {theirs}: the flag task "
                            "must write exactly what the tasks read, and wait their worst case")
    if set(env) - set(FLAG_SETTINGS):
        problems.append(f"settings beyond the flag's: {sorted(set(env) - set(FLAG_SETTINGS))}")
    if c.get("secrets"):
        problems.append("no secrets needed")
    service_roles = set()
    for name in TASK_FILES:
        try:
            with open(os.path.join(ECS, name)) as f:
                service_roles.add(json.load(f).get("taskRoleArn"))
        except (OSError, ValueError):
            pass
    if doc.get("taskRoleArn") in service_roles:
        problems.append("the flag task needs its own task role (PutParameter): not a service's")
    image = c.get("image", "")
    if not re.search(r"/warden:[^/]+$", image):
        problems.append(f"image {image!r} is not the warden image")
    check(not problems, f"{where}: the flag task (warden flag set in an ECS task)",
          "; ".join(problems))
    return c


def check_lease_role(cenv):
    """The lease is claimed by the role cron's postgres probe logs in as: that
    role must be the one ecs/warden_lease.sql grants, and the READMEs must
    point at that file instead of granting some other role themselves."""
    uri = cenv.get("WARDEN_PROBE_DB", "")
    m = re.match(r"^postgres(?:ql)?://([^:@/]+)[:@]", uri)
    role = m.group(1) if m else None
    with open(os.path.join(ECS, "warden_lease.sql")) as f:
        sql = f.read()
    grants = re.findall(r"GRANT\s+([A-Z, ]+)\s+ON\s+warden_lease\s+TO\s+(\w+)", sql)
    check(len(grants) == 1, "warden_lease.sql: one GRANT on warden_lease", repr(grants))
    if grants:
        privileges = {p.strip() for p in grants[0][0].split(",")}
        check({"SELECT", "INSERT", "UPDATE"} <= privileges,
              "warden_lease.sql: the lease needs SELECT, INSERT, UPDATE", repr(privileges))
        check(grants[0][1] == role,
              "cron.json: the probe's role is the one warden_lease.sql grants",
              "probe logs in as %r, the grant names %r" % (role, grants[0][1]))
    for doc in (os.path.join(ECS, "README.md"), os.path.join(ECS, "..", "README.md")):
        with open(doc) as f:
            text = f.read()
        check("warden_lease.sql" in text, "%s points at warden_lease.sql" % doc)
        others = [g for g in re.findall(r"GRANT[^;]*ON\s+warden_lease\s+TO\s+(\w+)", text)
                  if g != role]
        check(not others, "%s grants no other role on warden_lease" % doc, repr(others))


def check_service(tasks):
    where = "web-service.json"
    path = os.path.join(ECS, where)
    with open(path) as f:
        service = json.load(f)
    check_aws_model(service, "CreateService", where)
    web = tasks.get("web.json")
    if web is None:
        return
    warden = next(c for c in web["containerDefinitions"] if c["name"] == "warden")
    proxy_port = listen_port(env_of(warden).get("WARDEN_PROXY_LISTEN"), None)
    health_port = listen_port(env_of(warden).get("WARDEN_LISTEN"), 8089)
    ports = {p["containerPort"] for p in warden.get("portMappings", [])}
    lbs = service.get("loadBalancers", [])
    ok = (len(lbs) == 1 and lbs[0].get("containerName") == "warden"
          and lbs[0].get("containerPort") == proxy_port and proxy_port in ports
          and health_port in ports and service.get("taskDefinition") == web["family"])
    check(ok, f"{where}: the ALB targets warden's proxy port ({proxy_port}), not the app",
          repr(lbs))
    grace = service.get("healthCheckGracePeriodSeconds", 0)
    check(grace >= 10, f"{where}: healthCheckGracePeriodSeconds covers probe rise", repr(grace))


def main():
    if not os.access(WARDEN_BIN, os.X_OK):
        print(f"FAIL: WARDEN_BIN {WARDEN_BIN} is not an executable")
        sys.exit(1)
    found = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ECS, "*.json")))
    check(all(f in found for f in TASK_FILES), "ecs/ has web.json, worker.json and cron.json",
          repr(found))
    tasks, contracts, flags = {}, {}, []
    for where in TASK_FILES:
        path = os.path.join(ECS, where)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            check(False, f"{where}: valid JSON", str(e))
            continue
        check(True, f"{where}: valid JSON")
        tasks[where] = doc
        check_aws_model(doc, "RegisterTaskDefinition", where)
        if not check_ecs_rules(doc, where):
            continue
        warden = check_warden_wiring(doc, where)
        if warden is None:
            continue
        flags.append(env_of(warden).get("WARDEN_FLAG", ""))
        config = warden_config(doc, warden, where)
        if config is None:
            continue
        contracts[where] = (config["flag"], config["timing_contract"]["worst_case_fence_ms"])
        check_gate(doc, warden, config, where)
    # web runs the proxy, cron holds the singleton; worker runs neither.
    if "web.json" in tasks:
        wenv = env_of(next(c for c in tasks["web.json"]["containerDefinitions"]
                           if c["name"] == "warden"))
        check(wenv.get("WARDEN_PROXY_LISTEN") and wenv.get("WARDEN_PROXY_UPSTREAM"),
              "web.json: the proxy is on (WARDEN_PROXY_LISTEN/UPSTREAM)")
    if "cron.json" in tasks:
        cenv = env_of(next(c for c in tasks["cron.json"]["containerDefinitions"]
                           if c["name"] == "warden"))
        check(cenv.get("WARDEN_SINGLETON") == "cron", "cron.json: WARDEN_SINGLETON=cron")
        check_lease_role(cenv)
    check(len(set(json.dumps(v) for v in contracts.values())) == 1,
          "one flag and one worst-case fence time for every role (one wait for the "
          "orchestrator)", repr(contracts))
    if contracts:
        worst_s = next(iter(contracts.values()))[1] // 1000
        with open(os.path.join(ECS, "RUNBOOK.md")) as f:
            runbook = f.read()
        check(f"{worst_s} s" in runbook,
              f"RUNBOOK.md states the worst-case fence time of these task definitions "
              f"({worst_s} s)")
    check_iam(flags)
    envs = {w: env_of(next(c for c in t["containerDefinitions"] if c["name"] == "warden"))
            for w, t in tasks.items()
            if any(c.get("name") == "warden" for c in t.get("containerDefinitions", []))}
    # The flag task: same rules, same flag, same contract; its own policy.
    try:
        with open(os.path.join(ECS, FLAG_TASK)) as f:
            flag_doc = json.load(f)
        check(True, f"{FLAG_TASK}: valid JSON")
    except (OSError, ValueError) as e:
        check(False, f"{FLAG_TASK}: valid JSON", str(e))
        flag_doc = None
    if flag_doc is not None:
        check_aws_model(flag_doc, "RegisterTaskDefinition", FLAG_TASK)
        if check_ecs_rules(flag_doc, FLAG_TASK):
            warden = check_flag_task(flag_doc, envs)
            if warden is not None:
                envs[FLAG_TASK] = env_of(warden)
                config = warden_config(flag_doc, warden, FLAG_TASK)
                if config is not None:
                    flag_contract = (config["flag"],
                                     config["timing_contract"]["worst_case_fence_ms"])
                    check(all(v == flag_contract for v in contracts.values()),
                          f"{FLAG_TASK}: the same flag and worst case as every service "
                          "(`flag set --wait` waits its own)", repr((flag_contract, contracts)))
                check_iam([env_of(warden).get("WARDEN_FLAG", "")], "flag-task-policy.json",
                          ("ssm:GetParameter", "ssm:PutParameter"))
    check_quorum(envs)
    check_service(tasks)
    print(f"task definitions: {len(failures)} check(s) failed" if failures
          else "task definitions: all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
