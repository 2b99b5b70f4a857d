#!/usr/bin/python3
"""
test_state_machine.py - the failover state machine (ecs/failover.asl.json),
its input example and the orchestrator's IAM policy.

  --asl-validator   run asl-validator (npm; `make asl-validator` installs it
                    into build/npm) on the state machine, and on a broken
                    copy that it must refuse. Without it: exit 77 (CTest
                    skip), unless WARDEN_REQUIRE_ASL_VALIDATOR=1 (`make test`).

Without an option, the checks of what the contract needs (DESIGN.md "The
orchestrator's half", "The safety contract"):

  - ORDER: no state that switches or fails the Aurora global cluster over is
    reachable from StartAt unless the flag step succeeded: a walk over
    Next/Default/Choices/Catch with the flag step's success edges removed
    (its Next, or, when its Next is a Choice, the rules that require the
    flag task's exit code to be 0) reaches none;
  - the flag step runs `warden flag set <target_region> --reason ... --wait`
    (the flag task's entryPoint + the command override), in the flag task's
    warden container;
  - every Task has a Retry or a Catch, every retrier backs off, and every
    Task catches States.ALL; the failure path (the states from which no
    Succeed is reachable) calls nothing but sns:publish: it never touches
    the flag, the database or a service; every States.ALL catch of a
    non-notifying Task leads into it;
  - planned -> switchoverGlobalCluster, otherwise failoverGlobalCluster with
    AllowDataLoss true;
  - every integration's Parameters against botocore's model of its API
    (names, required members, static types, and the types the example
    input gives the paths), and the result paths the machine reads against
    the API's output shape: a misspelled parameter or field fails here;
  - ecs/failover-input.json has every field the machine reads, in the
    target region;
  - ecs/orchestrator-policy.json is valid IAM and grants every action the
    integrations need (runTask.sync: RunTask, DescribeTasks, StopTask,
    events:PutTargets/PutRule/DescribeRule, iam:PassRole) on the resources
    of the example input and of ecs/flag-task.json, and no ssm:PutParameter
    (only the flag task writes the flag);
  - mutants: each check above fails on a copy broken on purpose.

Prints PASS/FAIL lines; exit 1 on any failure.
"""
import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ECS = os.environ.get("WARDEN_ECS_DIR") or os.path.join(ROOT, "ecs")
SKIP = 77

RDS_PROMOTE = {"arn:aws:states:::aws-sdk:rds:switchoverGlobalCluster",
               "arn:aws:states:::aws-sdk:rds:failoverGlobalCluster"}
RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
# Optimized integrations: resource -> (botocore service, operation, where the
# output's shape is: None for the operation's own, else (operation, member)
# whose list member it is).
OPTIMIZED = {
    RUN_TASK_SYNC: ("ecs", "RunTask", ("DescribeTasks", "tasks")),  # .sync: the stopped task
    "arn:aws:states:::ecs:runTask": ("ecs", "RunTask", None),
    SNS_PUBLISH: ("sns", "Publish", None),
}
# What each integration needs in the state machine's role (Step Functions
# developer guide, "IAM policies for Amazon ECS/AWS Fargate", Run a Job).
EXTRA_ACTIONS = {
    RUN_TASK_SYNC: ["ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask", "events:PutTargets",
                    "events:PutRule", "events:DescribeRule", "iam:PassRole"],
}
IAM_CONDITION_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null"}
# State data that the machine writes itself (ResultPath targets, context).
failures = []


def check(ok, what, detail=""):
    if ok:
        print(f"PASS: {what}", flush=True)
    else:
        failures.append(what)
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def load(name):
    with open(os.path.join(ECS, name)) as f:
        return json.load(f)


# ------------------------------------------------------------- the graph ---

def edges(state):
    """(target, kind, rule) of every transition out of a state."""
    out = []
    if "Next" in state:
        out.append((state["Next"], "next", None))
    if "Default" in state:
        out.append((state["Default"], "default", None))
    for rule in state.get("Choices", []):
        out.append((rule["Next"], "choice", rule))
    for catcher in state.get("Catch", []):
        out.append((catcher["Next"], "catch", catcher))
    return out


def reachable(sm, start, removed=()):
    """States reachable from start, not following the (from, target, kind, id(rule)) in removed."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in sm["States"]:
            continue
        seen.add(name)
        for target, kind, rule in edges(sm["States"][name]):
            if (name, target, kind, id(rule)) not in removed:
                todo.append(target)
    return seen


def requires_exit_zero(rule):
    """Does this Choice rule only match when the flag task's exit code is 0?"""
    if rule.get("NumericEquals") == 0 and str(rule.get("Variable", "")).endswith(".ExitCode"):
        return True
    return any(requires_exit_zero(r) for r in rule.get("And", []))


def flag_steps(sm):
    return [n for n, s in sm["States"].items()
            if s.get("Type") == "Task" and s.get("Resource") == RUN_TASK_SYNC]


def check_order(sm):
    """Problems with the order flag -> database (empty list: fine)."""
    problems = []
    nested = [n for n, s in sm["States"].items() if s.get("Type") in ("Parallel", "Map")]
    if nested:
        problems.append(f"Parallel/Map states {nested}: keep the machine flat so the walk sees "
                        "every state")
    steps = flag_steps(sm)
    if len(steps) != 1:
        return problems + [f"want exactly one {RUN_TASK_SYNC} (the flag step), found {steps}"]
    flag = steps[0]
    state = sm["States"][flag]
    removed = set()
    after = sm["States"].get(state.get("Next"), {})
    if after.get("Type") == "Choice":
        for rule in after.get("Choices", []):
            if requires_exit_zero(rule):
                removed.add((state["Next"], rule["Next"], "choice", id(rule)))
        if not removed:
            problems.append(f"{state['Next']} (after the flag step) has no rule requiring "
                            "ExitCode 0")
    elif "Next" in state:
        removed.add((flag, state["Next"], "next", None))
    promote = {n for n, s in sm["States"].items() if s.get("Resource") in RDS_PROMOTE}
    if not promote:
        problems.append("no state promotes the database")
    early = promote & reachable(sm, sm["StartAt"], removed)
    if early:
        problems.append(f"{sorted(early)} reachable before the flag step succeeded")
    if promote and not promote & reachable(sm, sm["StartAt"]):
        problems.append("the database is never promoted")
    return problems


def split_args(text):
    """Top-level arguments of an intrinsic function call."""
    m = re.match(r"^\s*States\.\w+\((.*)\)\s*$", text, re.S)
    if not m:
        return None
    args, depth, quote, cur = [], 0, False, ""
    body = m.group(1)
    i = 0
    while i < len(body):
        c = body[i]
        if quote:
            cur += c
            if c == "\\" and i + 1 < len(body):
                cur += body[i + 1]
                i += 1
            elif c == "'":
                quote = False
        elif c == "'":
            quote, cur = True, cur + c
        elif c == "(":
            depth, cur = depth + 1, cur + c
        elif c == ")":
            depth, cur = depth - 1, cur + c
        elif c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        args.append(cur.strip())
    return args


def literal(arg):
    return arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] == "'" else None


def check_flag_command(sm, task_def):
    problems = []
    steps = flag_steps(sm)
    if len(steps) != 1:
        return ["no single flag step"]
    params = sm["States"][steps[0]].get("Parameters", {})
    container = task_def["containerDefinitions"][0]
    if params.get("LaunchType") != "FARGATE" and "CapacityProviderStrategy" not in params:
        problems.append("the flag task needs LaunchType FARGATE (the task definition is Fargate)")
    overrides = params.get("Overrides", {}).get("ContainerOverrides", [])
    if len(overrides) != 1 or overrides[0].get("Name") != container["name"]:
        return problems + [f"one ContainerOverride for {container['name']!r} wanted: {overrides}"]
    ov = overrides[0]
    if "Command.$" in ov:
        args = split_args(ov["Command.$"])
        if args is None or not ov["Command.$"].strip().startswith("States.Array("):
            return problems + [f"Command.$ is not States.Array(...): {ov['Command.$']}"]
    else:
        args = [f"'{a}'" for a in ov.get("Command", [])]
    argv = list(container.get("entryPoint", [])) + args
    words = [literal(a) if literal(a) is not None else a for a in argv]
    if words[:1] != ["/warden"]:
        problems.append(f"the flag task's entryPoint must be the warden binary: {words[:1]}")
    if words[1:3] != ["flag", "set"]:
        problems.append(f"the command must be `warden flag set`: {words}")
    elif len(words) < 4 or words[3] != "$.target_region":
        problems.append(f"REGION must be the input's target_region: {words}")
    if "--wait" not in words:
        problems.append("no --wait: the database would be promoted before worst_case passed")
    if "--reason" not in words or words.index("--reason") + 1 >= len(words) or \
            words[words.index("--reason") + 1].startswith("--"):
        problems.append("--reason needs a value")
    unknown = [w for w in words[4:] if w.startswith("--") and w not in ("--reason", "--wait")]
    if unknown:
        problems.append(f"options DESIGN.md does not define: {unknown}")
    return problems


def check_failure_path(sm):
    problems = []
    states = sm["States"]
    succeed = {n for n, s in states.items() if s.get("Type") == "Succeed"}
    can_succeed = {n for n in states if reachable(sm, n) & succeed}
    failure = set(states) - can_succeed
    for name, s in states.items():
        if s.get("Type") != "Task":
            continue
        if not s.get("Retry") and not s.get("Catch"):
            problems.append(f"{name}: a Task without Retry or Catch")
        for r in s.get("Retry", []):
            if r.get("BackoffRate", 2.0) < 1 or r.get("IntervalSeconds", 1) < 1 or \
                    r.get("MaxAttempts", 3) < 1:
                problems.append(f"{name}: a retrier without back-off {r}")
            if "States.ALL" in r.get("ErrorEquals", []):
                problems.append(f"{name}: retries States.ALL (also retries States.Timeout "
                                "and runtime errors): name the errors")
        alls = [c for c in s.get("Catch", []) if "States.ALL" in c.get("ErrorEquals", [])]
        if not alls:
            problems.append(f"{name}: no Catch of States.ALL (a failure would end the execution "
                            "without a report)")
        if name in failure and s.get("Resource") != SNS_PUBLISH:
            problems.append(f"{name} ({s.get('Resource')}) is on the failure path: it may only "
                            "report (sns:publish)")
        if s.get("Resource") != SNS_PUBLISH:
            for c in alls:
                if c["Next"] not in failure:
                    problems.append(f"{name}: States.ALL goes to {c['Next']}, which is not on "
                                    "the failure path")
    if not any(states[n].get("Resource") == SNS_PUBLISH for n in failure):
        problems.append("the failure path reports nothing (no sns:publish)")
    if not any(states[n].get("Type") == "Fail" for n in failure):
        problems.append("the failure path does not end in a Fail state")
    return problems


def check_planned(sm):
    problems = []
    rules = [(n, r) for n, s in sm["States"].items() if s.get("Type") == "Choice"
             for r in s.get("Choices", []) if r.get("Variable") == "$.planned"]
    if len(rules) != 1:
        return [f"want one Choice rule on $.planned, found {len(rules)}"]
    name, rule = rules[0]
    choice = sm["States"][name]
    target = rule["Next"] if rule.get("BooleanEquals") is True else choice.get("Default")
    other = choice.get("Default") if rule.get("BooleanEquals") is True else rule["Next"]
    if sm["States"].get(target, {}).get("Resource") != \
            "arn:aws:states:::aws-sdk:rds:switchoverGlobalCluster":
        problems.append(f"planned goes to {target}, not switchoverGlobalCluster")
    unplanned = sm["States"].get(other, {})
    if unplanned.get("Resource") != "arn:aws:states:::aws-sdk:rds:failoverGlobalCluster" or \
            unplanned.get("Parameters", {}).get("AllowDataLoss") is not True:
        problems.append(f"unplanned goes to {other}: want failoverGlobalCluster with "
                        "AllowDataLoss true")
    return problems


# ---------------------------------------------------- botocore's models ---

def pascal(name):
    return name[:1].upper() + name[1:]


def resolve_path(path, doc):
    """Value of a simple path ($.a.b[0]) in doc, or KeyError."""
    cur = doc
    for token in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path[1:]):
        cur = cur[token[0]] if token[0] else cur[int(token[1])]
    return cur


def type_ok(shape, value):
    t = shape.type_name
    if t == "boolean":
        return isinstance(value, bool)
    if t in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str) and (not shape.enum or value in shape.enum)
    if t == "list":
        return isinstance(value, list) and all(type_ok(shape.member, v) for v in value)
    if t == "structure":
        return isinstance(value, dict)
    return True


def check_params(shape, params, where, example, problems):
    if shape.type_name == "list":
        if isinstance(params, list):
            for i, item in enumerate(params):
                check_params(shape.member, item, f"{where}[{i}]", example, problems)
        return
    if shape.type_name != "structure":
        if not type_ok(shape, params):
            problems.append(f"{where}: {params!r} is not a {shape.type_name}")
        return
    if not isinstance(params, dict):
        problems.append(f"{where}: want an object")
        return
    members = {pascal(m): s for m, s in shape.members.items()}
    given = set()
    for key, value in params.items():
        dynamic = key.endswith(".$")
        name = key[:-2] if dynamic else key
        given.add(name)
        if name not in members:
            problems.append(f"{where}.{name}: no such parameter (have {sorted(members)})")
            continue
        if not dynamic:
            check_params(members[name], value, f"{where}.{name}", example, problems)
        elif re.match(r"^\$\.[A-Za-z0-9_.\[\]]+$", value):
            try:
                got = resolve_path(value, example)
            except (KeyError, IndexError, TypeError):
                continue  # not from the input: the machine's own data
            if not type_ok(members[name], got):
                problems.append(f"{where}.{name}: the example input's {value} = {got!r} is not "
                                f"a {members[name].type_name}")
    for req in shape.required_members:
        if pascal(req) not in given:
            problems.append(f"{where}: required {pascal(req)} missing")


def output_path_problems(shape, path, where):
    """Walk path's field names through shape (case-insensitively: the SDK
    integrations spell some keys their own way, DbClusterArn for DBClusterArn)."""
    problems = []
    cur = shape
    text = re.sub(r"\[[^\]]*\]", "[]", path)
    for part in text[2:].split("."):
        field = part.replace("[]", "")
        while cur.type_name == "list":
            cur = cur.member
        if cur.type_name != "structure":
            problems.append(f"{where}: {path}: {field} below a {cur.type_name}")
            break
        match = {m.lower(): s for m, s in cur.members.items()}.get(field.lower())
        if match is None:
            problems.append(f"{where}: {path}: no field {field} in {cur.name}")
            break
        cur = match
    return problems


def js_sdk_model(service):
    """
    botocore's ServiceModel built from the AWS SDK for JavaScript v2's model
    of service (build/npm/node_modules/aws-sdk/apis/<service>-<version>.min.json,
    installed with asl-validator), or None. The same API model as botocore's,
    minified: shapes are inlined and a string member is {}; this names every
    inline shape so that botocore.model can read it.
    """
    import glob
    import botocore.model
    apis = os.path.join(os.path.dirname(os.path.dirname(ASL_VALIDATOR_DEFAULT)), "aws-sdk",
                        "apis")
    files = sorted(glob.glob(os.path.join(apis, f"{service}-[0-9]*.min.json")))
    if not files:
        return None
    with open(files[-1]) as f:
        doc = json.load(f)
    shapes = {}

    def named(shape, hint):
        out = dict(shape)
        out.setdefault("type", "string")
        if out["type"] == "structure":
            out["members"] = {m: ref(s, f"{hint}{m}") for m, s in out.get("members", {}).items()}
        elif out["type"] == "list":
            out["member"] = ref(out["member"], f"{hint}Member")
        elif out["type"] == "map":
            out["key"] = ref(out["key"], f"{hint}Key")
            out["value"] = ref(out["value"], f"{hint}Value")
        return out

    def ref(shape, hint):
        if "shape" in shape:
            return {"shape": shape["shape"]}
        shapes[hint] = named(shape, hint)
        return {"shape": hint}

    for name, shape in doc["shapes"].items():
        shapes[name] = named(shape, name)
    operations = {}
    for name, op in doc["operations"].items():
        entry = {"name": name, "http": op.get("http", {"method": "POST", "requestUri": "/"})}
        for io in ("input", "output"):
            if io in op:
                entry[io] = ref(op[io], f"{name}{io.title()}")
        operations[name] = entry
    return botocore.model.ServiceModel(
        {"metadata": doc["metadata"], "operations": operations, "shapes": shapes}, service)


ASL_VALIDATOR_DEFAULT = os.environ.get("ASL_VALIDATOR") or os.path.join(
    ROOT, "build", "npm", "node_modules", ".bin", "asl-validator")
NOTES = []


def operation(service, name):
    """
    (service model, operation model) of an API: botocore's, or the JavaScript
    SDK's when that one knows more of it. AWS models only ever add
    operations and members, so the larger is the newer: Debian 12's botocore
    (1.29) predates SwitchoverGlobalCluster and FailoverGlobalCluster's
    AllowDataLoss. ValueError when neither model has the API.
    """
    import botocore
    import botocore.session
    found = []
    model = botocore.session.get_session().get_service_model(service)
    if name in model.operation_names:
        found.append(("botocore", model, model.operation_model(name)))
    js = js_sdk_model(service)
    if js is not None and name in js.operation_names:
        found.append(("js", js, js.operation_model(name)))
    if not found:
        extra = "" if js is not None else \
            " (nor is the JavaScript SDK's model installed to look further: make asl-validator)"
        raise ValueError(f"{service} has no API {name} in botocore {botocore.__version__}" +
                         extra)

    def size(entry):
        shape = entry[2].input_shape
        return len(shape.members) if shape is not None else 0
    best = max(found, key=size)
    if best[0] == "js" and (found[0][0] == "js" or size(best) > size(found[0])):
        NOTES.append(f"{service}:{name} checked against the JavaScript SDK's model: botocore "
                     f"{botocore.__version__} lacks it or some of its members")
    return best[1], best[2]


def service_call(resource):
    """(botocore service, operation model, output shape) of a Task's resource."""
    if resource in OPTIMIZED:
        svc, op, out = OPTIMIZED[resource]
        _, opm = operation(svc, op)
        if out is None:
            return svc, opm, opm.output_shape
        _, described = operation(svc, out[0])
        return svc, opm, described.output_shape.members[out[1]].member
    m = re.match(r"^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$", resource)
    if not m:
        raise ValueError(f"unknown integration {resource}")
    model, opm = operation(m.group(1), pascal(m.group(2)))
    return m.group(1), opm, opm.output_shape


def check_models(sm, example):
    problems = []
    results = {}
    for name, s in sm["States"].items():
        if s.get("Type") != "Task":
            continue
        try:
            svc, opm, out = service_call(s["Resource"])
        except ValueError as e:
            problems.append(f"{name}: {e}")
            continue
        check_params(opm.input_shape, s.get("Parameters", {}), f"{name}.Parameters", example,
                     problems)
        for key, value in (s.get("ResultSelector") or {}).items():
            if key.endswith(".$") and value.startswith("$."):
                problems += output_path_problems(out, value, f"{name}.ResultSelector")
        rp = s.get("ResultPath")
        if rp and not s.get("ResultSelector") and out is not None:
            results[rp] = (out, name)
    # Choice variables that read a Task's raw result.
    for name, s in sm["States"].items():
        rules = list(s.get("Choices", []))
        while rules:
            rule = rules.pop()
            rules += rule.get("And", []) + rule.get("Or", []) + \
                ([rule["Not"]] if "Not" in rule else [])
            var = rule.get("Variable", "")
            for rp, (out, task) in results.items():
                if var.startswith(rp + ".") or var.startswith(rp + "["):
                    problems += output_path_problems(out, "$" + var[len(rp):],
                                                     f"{name} (result of {task})")
    return problems


def check_input(sm, example):
    problems = []
    text = json.dumps(sm)
    own = {m.group(1) for m in re.finditer(r'"ResultPath": "\$\.([a-z_]+)"', text)}
    used = set(re.findall(r"(?<![$\w])\$\.([a-z_]+)", text)) - own
    missing = used - set(example)
    if missing:
        problems.append(f"the machine reads {sorted(missing)}, not in the example input")
    unused = set(example) - used
    if unused:
        problems.append(f"the example input has fields the machine never reads: {sorted(unused)}")
    target = example.get("target_region")
    for key in ("flag_task_definition", "target_db_cluster_arn", "notify_topic_arn"):
        parts = str(example.get(key, "")).split(":")
        if len(parts) < 4 or parts[3] != target:
            problems.append(f"{key} is not in the target region {target}")
    if example.get("old_region") == target:
        problems.append("old_region equals target_region")
    return problems


# ---------------------------------------------------------------- IAM ---

def statements(policy):
    out = []
    for s in policy.get("Statement", []):
        acts = s.get("Action", [])
        res = s.get("Resource", [])
        out.append((s, [acts] if isinstance(acts, str) else acts,
                    [res] if isinstance(res, str) else res))
    return out


def iam_problems(policy, where):
    problems = []
    if policy.get("Version") != "2012-10-17":
        problems.append(f"{where}: Version must be 2012-10-17")
    sts = policy.get("Statement")
    if not isinstance(sts, list) or not sts:
        return problems + [f"{where}: Statement must be a non-empty list"]
    sids = [s.get("Sid") for s in sts if "Sid" in s]
    if len(sids) != len(set(sids)):
        problems.append(f"{where}: duplicate Sid")
    for s, acts, res in statements(policy):
        sid = s.get("Sid", "?")
        unknown = set(s) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unknown:
            problems.append(f"{where} {sid}: keys {sorted(unknown)} (no NotAction/NotResource "
                            "/Principal in an identity policy here)")
        if s.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{where} {sid}: Effect must be Allow or Deny")
        for a in acts:
            if not re.match(r"^[a-z0-9-]+:[A-Za-z0-9]+$", a):
                problems.append(f"{where} {sid}: action {a!r} (no wildcards)")
        if not res:
            problems.append(f"{where} {sid}: no Resource")
        for r in res:
            if r == "*" or not re.match(r"^arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$", r):
                problems.append(f"{where} {sid}: resource {r!r} is not a scoped ARN")
        for op, cond in (s.get("Condition") or {}).items():
            base = op.split(":")[-1].replace("IfExists", "")
            if base not in IAM_CONDITION_OPERATORS or not isinstance(cond, dict):
                problems.append(f"{where} {sid}: condition operator {op!r}")
    return problems


def allowed(policy, action, resource=None, context=None):
    """Does an Allow statement grant action (on resource, with context keys)?"""
    for s, acts, res in statements(policy):
        if s.get("Effect") != "Allow" or action not in acts:
            continue
        if resource is not None and not any(fnmatch.fnmatchcase(resource, r) for r in res):
            continue
        ok = True
        for op, cond in (s.get("Condition") or {}).items():
            for key, want in cond.items():
                want = [want] if isinstance(want, str) else want
                have = (context or {}).get(key)
                if have is None or not any(fnmatch.fnmatchcase(have, w) for w in want):
                    ok = False
        if ok:
            return True
    return False


def check_policy(sm, policy, example, task_def):
    problems = iam_problems(policy, "orchestrator-policy.json")
    account = example["flag_task_definition"].split(":")[4]
    region = example["target_region"]
    cluster_arn = f"arn:aws:ecs:{region}:{account}:cluster/{example['cluster']}"
    needed = set()
    for name, s in sm["States"].items():
        if s.get("Type") != "Task":
            continue
        r = s["Resource"]
        m = re.match(r"^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$", r)
        if m:
            needed.add(f"{m.group(1)}:{pascal(m.group(2))}")
        elif r in OPTIMIZED:
            svc, op, _ = OPTIMIZED[r]
            needed.add(f"{svc}:{op}")
        needed |= set(EXTRA_ACTIONS.get(r, []))
    for action in sorted(needed):
        if not allowed(policy, action, context={
                "ecs:cluster": cluster_arn, "iam:PassedToService": "ecs-tasks.amazonaws.com"}):
            problems.append(f"{action} is not granted (the machine uses it)")
    # The resources of the example input.
    wants = [
        ("ecs:RunTask", example["flag_task_definition"] + ":7", {"ecs:cluster": cluster_arn}),
        ("ecs:DescribeTasks", f"arn:aws:ecs:{region}:{account}:task/{example['cluster']}/0123",
         None),
        ("ecs:StopTask", f"arn:aws:ecs:{region}:{account}:task/{example['cluster']}/0123", None),
        ("events:PutRule", f"arn:aws:events:{region}:{account}:rule/"
         "StepFunctionsGetEventsForECSTaskRule", None),
        ("rds:SwitchoverGlobalCluster", example["target_db_cluster_arn"], None),
        ("rds:SwitchoverGlobalCluster",
         f"arn:aws:rds::{account}:global-cluster:{example['global_cluster_id']}", None),
        ("rds:FailoverGlobalCluster", example["target_db_cluster_arn"], None),
        ("rds:DescribeGlobalClusters",
         f"arn:aws:rds::{account}:global-cluster:{example['global_cluster_id']}", None),
        ("ecs:UpdateService", f"arn:aws:ecs:{region}:{account}:service/{example['cluster']}/"
         f"{example['worker_service']}", None),
        ("ecs:UpdateService", f"arn:aws:ecs:{region}:{account}:service/{example['cluster']}/"
         f"{example['cron_service']}", None),
        ("sns:Publish", example["notify_topic_arn"], None),
    ]
    for role in ("taskRoleArn", "executionRoleArn"):
        wants.append(("iam:PassRole", task_def[role],
                      {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
    for action, resource, context in wants:
        if not allowed(policy, action, resource, context):
            problems.append(f"{action} on {resource} is not granted")
    if allowed(policy, "iam:PassRole", task_def["taskRoleArn"],
               {"iam:PassedToService": "ec2.amazonaws.com"}):
        problems.append("iam:PassRole without iam:PassedToService ecs-tasks.amazonaws.com")
    for _, acts, _ in statements(policy):
        if any(a.startswith("ssm:") for a in acts):
            problems.append("an ssm: action: only the flag task (flag-task-policy.json) reads "
                            "and writes the flag, through `warden flag set`")
    return problems


# ------------------------------------------------------------ mutants ---

def mutants(sm, example, policy, task_def):
    """Each check must fail on a copy broken on purpose."""
    def mutate(fn):
        m = copy.deepcopy(sm)
        fn(m["States"])
        return m
    flag = flag_steps(sm)[0]
    cases = [
        ("ORDER: skip the flag step", check_order,
         mutate(lambda st: st["CheckRegions"].update(Default="PlannedOrNot"))),
        ("ORDER: promote when the flag task failed", check_order,
         mutate(lambda st: st[flag]["Catch"][0].update(Next="PlannedOrNot"))),
        ("ORDER: promote on any exit code", check_order,
         mutate(lambda st: st[st[flag]["Next"]].update(Default="PlannedOrNot"))),
        ("no --wait", lambda m: check_flag_command(m, task_def),
         mutate(lambda st: st[flag]["Parameters"]["Overrides"]["ContainerOverrides"][0].update(
             {"Command.$": "States.Array('flag', 'set', $.target_region, '--reason', "
                           "$.reason)"}))),
        ("flag get instead of set", lambda m: check_flag_command(m, task_def),
         mutate(lambda st: st[flag]["Parameters"]["Overrides"]["ContainerOverrides"][0].update(
             {"Command.$": "States.Array('flag', 'get', $.target_region, '--wait')"}))),
        ("a misspelled RDS parameter", lambda m: check_models(m, example),
         mutate(lambda st: st["SwitchoverDatabase"]["Parameters"].update(
             {"TargetDBClusterIdentifier.$": st["SwitchoverDatabase"]["Parameters"].pop(
                 "TargetDbClusterIdentifier.$")}))),
        ("a misspelled ECS parameter", lambda m: check_models(m, example),
         mutate(lambda st: st["ScaleCron"]["Parameters"].update(
             {"DesiredCnt.$": st["ScaleCron"]["Parameters"].pop("DesiredCount.$")}))),
        ("a misspelled API", lambda m: check_models(m, example),
         mutate(lambda st: st["DescribeGlobalCluster"].update(
             Resource="arn:aws:states:::aws-sdk:rds:describeGlobalCluster"))),
        ("a misspelled result field", lambda m: check_models(m, example),
         mutate(lambda st: st["DescribeGlobalCluster"]["ResultSelector"].update(
             {"writers_api.$": "$.GlobalClusters[0].Members[?(@.IsWriter == true)]"
                               ".DBClusterArn"}))),
        ("AllowDataLoss as a string", lambda m: check_models(m, example),
         mutate(lambda st: st["FailoverDatabase"]["Parameters"].update(AllowDataLoss="true"))),
        ("a Task without Retry or Catch", check_failure_path,
         mutate(lambda st: [st["ScaleCron"].pop("Retry"), st["ScaleCron"].pop("Catch")])),
        ("the failure path promotes the database", check_failure_path,
         mutate(lambda st: st["FlagUnknown"].update(Next="SwitchoverDatabase"))),
        ("unplanned without AllowDataLoss", check_planned,
         mutate(lambda st: st["FailoverDatabase"]["Parameters"].pop("AllowDataLoss"))),
        ("the input lacks a field", lambda m: check_input(m, {
            k: v for k, v in example.items() if k != "cron_service"}), sm),
    ]
    p2 = copy.deepcopy(policy)
    for s in p2["Statement"]:
        if isinstance(s["Action"], list) and "rds:DescribeGlobalClusters" in s["Action"]:
            s["Action"].remove("rds:DescribeGlobalClusters")
    cases.append(("the policy lacks rds:DescribeGlobalClusters",
                  lambda m: check_policy(m, p2, example, task_def), sm))
    p3 = copy.deepcopy(policy)
    for s in p3["Statement"]:
        if s["Action"] == "iam:PassRole":
            s.pop("Condition")
    cases.append(("PassRole to any service", lambda m: check_policy(m, p3, example, task_def),
                  sm))
    for what, fn, machine in cases:
        got = fn(machine)
        check(bool(got), f"mutant caught: {what}", "the check passed a broken copy")


# ------------------------------------------------------- asl-validator ---

def run_asl_validator():
    exe = ASL_VALIDATOR_DEFAULT
    if not os.access(exe, os.X_OK):
        msg = f"asl-validator not installed at {exe} (make asl-validator)"
        if os.environ.get("WARDEN_REQUIRE_ASL_VALIDATOR") == "1":
            print(f"FAIL: {msg}")
            sys.exit(1)
        print(f"SKIP: {msg}")
        sys.exit(SKIP)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    print(f"asl-validator {version.stdout.strip()}")
    path = os.path.join(ECS, "failover.asl.json")
    proc = subprocess.run([exe, "--json-path", path], capture_output=True, text=True,
                          timeout=120)
    check(proc.returncode == 0, "asl-validator: ecs/failover.asl.json is valid ASL",
          (proc.stdout + proc.stderr).strip())
    # The validator itself is alive: it refuses a dangling Next.
    sm = load("failover.asl.json")
    sm["States"]["ScaleWorker"]["Next"] = "ScaleCronn"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(sm, f)
    try:
        proc = subprocess.run([exe, "--json-path", f.name], capture_output=True, text=True,
                              timeout=120)
    finally:
        os.unlink(f.name)
    check(proc.returncode != 0, "asl-validator refuses a copy with a dangling Next",
          (proc.stdout + proc.stderr).strip())


def main():
    if "--asl-validator" in sys.argv[1:]:
        run_asl_validator()
    else:
        sm = load("failover.asl.json")
        example = load("failover-input.json")
        policy = load("orchestrator-policy.json")
        task_def = load("flag-task.json")
        p = check_order(sm)
        check(not p, "ORDER: no database promotion reachable before the flag step succeeded",
              "; ".join(p))
        p = check_flag_command(sm, task_def)
        check(not p, "the flag step runs `warden flag set <target_region> --reason ... --wait`",
              "; ".join(p))
        p = check_failure_path(sm)
        check(not p, "every Task retries or catches; the failure path only reports",
              "; ".join(p))
        p = check_planned(sm)
        check(not p, "planned: switchover; unplanned: failover with AllowDataLoss",
              "; ".join(p))
        try:
            import botocore.session  # noqa: F401
            p = check_models(sm, example)
            check(not p, "every integration's parameters and result fields match botocore's "
                  "model", "; ".join(p))
        except ImportError:
            check(False, "botocore installed (python3-botocore, make deps)")
        p = check_input(sm, example)
        check(not p, "failover-input.json has exactly the fields the machine reads",
              "; ".join(p))
        p = check_policy(sm, policy, example, task_def)
        check(not p, "orchestrator-policy.json: valid IAM, every action the machine uses, "
              "on the example's resources, no ssm", "; ".join(p))
        mutants(sm, example, policy, task_def)
    for note in sorted(set(NOTES)):
        print(f"NOTE: {note}")
    print(f"state machine: {len(failures)} check(s) failed" if failures
          else "state machine: all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
