#!/usr/bin/python3
"""
test_alarms.py - validate ecs/alarms/*.json, the CloudWatch alarms on
warden's EMF metrics, as `aws cloudwatch put-metric-alarm --cli-input-json`
input.

For every file in ecs/alarms/, as shipped (placeholders __REGION__ and
__SNS_TOPIC_ARN__) and instantiated (a region, an SNS topic ARN):

  - botocore's ParamValidator accepts it against the PutMetricAlarm input
    shape of the cloudwatch model (known keys only, required members, types,
    lengths, enums);
  - the AWS CLI accepts it offline: `aws cloudwatch put-metric-alarm
    --cli-input-json file://...` against an endpoint nothing listens on
    fails to connect, never with "Parameter validation failed";
  - it alarms on what warden emits: namespace Warden, a metric that
    agent/emf.c renders with the same unit, the dimension set [Region], the
    SNS topic as alarm and OK action, and no placeholder left after
    instantiation;
  - the three alarms the README promises exist: split brain
    (Maximum(SplitBrain) >= 1), a writable task in the passive region
    (Sum(Writable) > 0), no quorum (Maximum(FlagAgeSeconds) > the default
    WARDEN_FLAG_TTL, 30 s).

Prints PASS/FAIL lines; exit 1 on any failure.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import botocore.session
from botocore.validate import ParamValidator

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ALARMS = os.path.join(ROOT, "ecs", "alarms")
EMF_C = os.path.join(ROOT, "agent", "emf.c")
REGION = "eu-central-1"
TOPIC = "arn:aws:sns:eu-central-1:123456789012:warden-oncall"
FLAG_TTL_S = 30  # WARDEN_FLAG_TTL's default
AWS = "/usr/bin/aws"

FAILURES = []


def check(ok, what):
    print("%s %s" % ("PASS" if ok else "FAIL", what))
    if not ok:
        FAILURES.append(what)


def instantiate(text):
    return text.replace("__REGION__", REGION).replace("__SNS_TOPIC_ARN__", TOPIC)


def emf_metrics():
    """{metric name: unit} as agent/emf.c renders them."""
    with open(EMF_C) as f:
        source = f.read()
    return dict(re.findall(r'\{"([A-Za-z]+)",\s*"(Count|None|Seconds)"\}', source))


def cli_accepts(path):
    """(accepted, output) of the AWS CLI's own validation of the file, offline."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir(),
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
           "AWS_REGION": REGION, "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""}
    run = subprocess.run([AWS, "cloudwatch", "put-metric-alarm", "--cli-input-json",
                          "file://" + path, "--endpoint-url", "http://127.0.0.1:9",
                          "--cli-connect-timeout", "2"],
                         env=env, capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    return "Could not connect" in out and "validation" not in out.lower(), out.strip()


def main():
    model = botocore.session.get_session().get_service_model("cloudwatch")
    shape = model.operation_model("PutMetricAlarm").input_shape
    validator = ParamValidator()
    metrics = emf_metrics()
    check(set(metrics) >= {"Writable", "SplitBrain", "FlagAgeSeconds"},
          "agent/emf.c renders the metrics the alarms use: %s" % sorted(metrics))
    files = sorted(glob.glob(os.path.join(ALARMS, "*.json")))
    check(len(files) >= 3, "ecs/alarms holds the alarm files (%d)" % len(files))
    seen = {}
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            text = f.read()
        for label, doc_text in (("as shipped", text), ("instantiated", instantiate(text))):
            try:
                doc = json.loads(doc_text)
            except ValueError as exc:
                check(False, "%s %s: JSON (%s)" % (name, label, exc))
                continue
            report = validator.validate(doc, shape)
            check(not report.has_errors(), "%s %s: botocore PutMetricAlarm input%s"
                  % (name, label, "" if not report.has_errors() else
                     ": " + report.generate_report()))
        doc = json.loads(instantiate(text))
        check("__" not in json.dumps(doc), "%s: no placeholder left once instantiated" % name)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
            tmp.write(instantiate(text))
        try:
            ok, out = cli_accepts(tmp.name)
        finally:
            os.unlink(tmp.name)
        check(ok, "%s: the AWS CLI accepts it (offline)%s" % (name, "" if ok else ": " + out))
        check(doc.get("Namespace") == "Warden", "%s: namespace Warden" % name)
        metric = doc.get("MetricName")
        check(metric in metrics and doc.get("Unit") == metrics.get(metric),
              "%s: %s is a warden EMF metric with unit %s" % (name, metric, doc.get("Unit")))
        check(doc.get("Dimensions") == [{"Name": "Region", "Value": REGION}],
              "%s: the [Region] dimension set, this region" % name)
        check(doc.get("AlarmActions") == [TOPIC] and doc.get("OKActions") == [TOPIC],
              "%s: the SNS topic is the alarm and OK action" % name)
        check(REGION in doc.get("AlarmName", ""), "%s: the alarm name names the region" % name)
        seen[(metric, doc.get("Statistic"), doc.get("ComparisonOperator"),
              doc.get("Threshold"))] = name
    check(("SplitBrain", "Maximum", "GreaterThanOrEqualToThreshold", 1) in seen,
          "an alarm on Maximum(SplitBrain) >= 1")
    check(("Writable", "Sum", "GreaterThanThreshold", 0) in seen,
          "an alarm on Sum(Writable) > 0 (the passive region)")
    check(("FlagAgeSeconds", "Maximum", "GreaterThanThreshold", FLAG_TTL_S) in seen,
          "an alarm on Maximum(FlagAgeSeconds) > the TTL")
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
