"""A validator of CloudWatch Embedded Metric Format (EMF) documents.

validate(line) returns the list of what is wrong with one log line as an EMF
document (empty: valid). It checks the EMF specification
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html):

- the line is one JSON object, nothing before or after it, under 1 MB;
- `_aws` is an object with `Timestamp` (an integer of ms since the epoch) and
  `CloudWatchMetrics`, an array of MetricDirective objects;
- a MetricDirective has `Namespace` (a string), `Dimensions` (an array of
  DimensionSets: arrays of at most 30 strings, each naming a top-level member
  whose value is a string) and `Metrics` (an array of at most 100
  MetricDefinitions), and no other member;
- a MetricDefinition has `Name` (naming a top-level member whose value is a
  number or an array of at most 100 numbers), optionally `Unit` (one of
  CloudWatch's units) and `StorageResolution` (1 or 60), and no other member;

and CloudWatch's own limits on what it extracts, read from botocore's model
of the `cloudwatch` service (PutMetricData's MetricDatum, Dimension and
Namespace shapes: name and value lengths, the namespace pattern, the unit
enum, at most 30 dimensions), plus what the Dimension API reference adds
(values of printable ASCII with a non-blank character; names not starting
with ':').
"""

import json
import math

import botocore.session

EMF_MAX_BYTES = 1024 * 1024        # a CloudWatch Logs event (and so an EMF document)
EMF_MAX_METRICS = 100              # MetricDefinitions per MetricDirective
EMF_MAX_DIMENSIONS = 30            # keys per DimensionSet
EMF_MAX_VALUES = 100               # values of one metric (an array)
DIRECTIVE_MEMBERS = {"Namespace", "Dimensions", "Metrics"}
DEFINITION_MEMBERS = {"Name", "Unit", "StorageResolution"}
# Timestamps CloudWatch accepts: up to 2 weeks old, 2 hours ahead; here: a sane ms value.
MIN_TIMESTAMP_MS = 10 ** 12        # 2001: anything smaller is seconds, not ms


def _limits():
    model = botocore.session.get_session().get_service_model("cloudwatch")

    def length(shape):
        meta = model.shape_for(shape).metadata
        return meta.get("min", 0), meta.get("max")

    datum = model.shape_for("MetricDatum")
    return {
        "namespace": length("Namespace"),
        "namespace_pattern": model.shape_for("Namespace").metadata.get("pattern"),
        "metric_name": length(datum.members["MetricName"].name),
        "dimension_name": length("DimensionName"),
        "dimension_value": length("DimensionValue"),
        "dimensions_max": model.shape_for("Dimensions").metadata.get("max"),
        "units": set(model.shape_for("StandardUnit").enum),
    }


LIMITS = _limits()


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_length(errors, what, text, bounds):
    low, high = bounds
    if len(text) < low or (high is not None and len(text) > high):
        errors.append("%s %r: length %d outside [%s, %s] (botocore)"
                      % (what, text[:40], len(text), low, high))


def _check_ascii(errors, what, text):
    if any(ord(c) < 0x20 or ord(c) > 0x7e for c in text):
        errors.append("%s %r holds a character outside printable ASCII" % (what, text[:40]))
    if not text.strip():
        errors.append("%s %r has no non-blank character" % (what, text))


def validate(line):
    """What is wrong with `line` (bytes or str, with or without its newline)."""
    errors = []
    raw = line.encode("utf-8") if isinstance(line, str) else line
    if len(raw) >= EMF_MAX_BYTES:
        errors.append("line of %d bytes: an EMF document is below 1 MB" % len(raw))
    text = raw.decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    if "\n" in text:
        errors.append("more than one line")
    try:
        root = json.loads(text)
    except ValueError as exc:
        return errors + ["not one JSON value: %s" % exc]
    if not isinstance(root, dict):
        return errors + ["the root is not an object"]
    meta = root.get("_aws")
    if not isinstance(meta, dict):
        return errors + ["no _aws object"]
    stamp = meta.get("Timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < MIN_TIMESTAMP_MS:
        errors.append("_aws.Timestamp %r is not an integer of ms since the epoch" % (stamp,))
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return errors + ["_aws.CloudWatchMetrics is not a non-empty array"]
    for d, directive in enumerate(directives):
        where = "CloudWatchMetrics[%d]" % d
        if not isinstance(directive, dict):
            errors.append("%s is not an object" % where)
            continue
        extra = set(directive) - DIRECTIVE_MEMBERS
        if extra:
            errors.append("%s has members the spec does not define: %s" % (where, sorted(extra)))
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str):
            errors.append("%s.Namespace is not a string" % where)
        else:
            _check_length(errors, where + ".Namespace", namespace, LIMITS["namespace"])
            if namespace.startswith(":"):
                errors.append("%s.Namespace starts with ':' (pattern %s)"
                              % (where, LIMITS["namespace_pattern"]))
            _check_ascii(errors, where + ".Namespace", namespace)
        metric_names = set()
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list):
            errors.append("%s.Metrics is not an array" % where)
            metrics = []
        if len(metrics) > EMF_MAX_METRICS:
            errors.append("%s has %d metrics (at most %d)" % (where, len(metrics),
                                                               EMF_MAX_METRICS))
        for m, definition in enumerate(metrics):
            mwhere = "%s.Metrics[%d]" % (where, m)
            if not isinstance(definition, dict):
                errors.append("%s is not an object" % mwhere)
                continue
            extra = set(definition) - DEFINITION_MEMBERS
            if extra:
                errors.append("%s has members the spec does not define: %s"
                              % (mwhere, sorted(extra)))
            name = definition.get("Name")
            if not isinstance(name, str):
                errors.append("%s.Name is not a string" % mwhere)
                continue
            metric_names.add(name)
            _check_length(errors, mwhere + ".Name", name, LIMITS["metric_name"])
            if "Unit" in definition and definition["Unit"] not in LIMITS["units"]:
                errors.append("%s.Unit %r is not a CloudWatch unit" % (mwhere,
                                                                        definition["Unit"]))
            if "StorageResolution" in definition and \
                    definition["StorageResolution"] not in (1, 60):
                errors.append("%s.StorageResolution is not 1 or 60" % mwhere)
            value = root.get(name)
            if isinstance(value, list):
                if not value or len(value) > EMF_MAX_VALUES or \
                        not all(_is_number(v) for v in value):
                    errors.append("member %r: an array of 1..%d numbers is wanted"
                                  % (name, EMF_MAX_VALUES))
            elif not _is_number(value):
                errors.append("member %r (a metric) is %r, not a number" % (name, value))
        sets = directive.get("Dimensions")
        if not isinstance(sets, list):
            errors.append("%s.Dimensions is not an array" % where)
            sets = []
        for s, keys in enumerate(sets):
            swhere = "%s.Dimensions[%d]" % (where, s)
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                errors.append("%s is not an array of strings" % swhere)
                continue
            limit = min(EMF_MAX_DIMENSIONS, LIMITS["dimensions_max"] or EMF_MAX_DIMENSIONS)
            if len(keys) > limit:
                errors.append("%s has %d dimensions (at most %d)" % (swhere, len(keys), limit))
            for key in keys:
                _check_length(errors, swhere + " name", key, LIMITS["dimension_name"])
                if key.startswith(":"):
                    errors.append("%s name %r starts with ':'" % (swhere, key))
                if key in metric_names:
                    errors.append("%s name %r is also a metric" % (swhere, key))
                value = root.get(key)
                if not isinstance(value, str):
                    errors.append("member %r (a dimension) is %r, not a string" % (key, value))
                    continue
                _check_length(errors, "dimension %s value" % key, value,
                              LIMITS["dimension_value"])
                _check_ascii(errors, "dimension %s value" % key, value)
    return errors


def is_emf(line):
    """True when the line is meant as an EMF document (a JSON object with _aws)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return False
    return isinstance(doc, dict) and "_aws" in doc
