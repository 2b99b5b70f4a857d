"""The fake AWS's CloudWatch: GetMetricData over the EMF lines the fleet wrote
(ingested by POST or read from --emf-file), in JSON and query protocols (see fake_aws.py)."""

import datetime
import json
import time
import urllib.parse
import uuid

from fake_common import AwsError, CW_TARGET_PREFIX, CW_XMLNS, FORM, JSON_10, utc_iso


def cw_time(value):
    """A GetMetricData timestamp: epoch seconds (JSON) or ISO 8601 (query)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            text = value.replace("Z", "+00:00")
            return datetime.datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


def query_to_doc(form):
    """The query protocol's flattened members (MetricDataQueries.member.1.Id=..) as JSON."""
    doc = {}
    for key, values in form.items():
        node, parts = doc, key.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "member":
                continue
            nxt = parts[i + 1] if not last else None
            if nxt == "member":
                node = node.setdefault(part, {})
                continue
            if last:
                node[part] = values[0]
            else:
                node = node.setdefault(part, {})

    def lists(node):
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [lists(node[k]) for k in sorted(node, key=int)]
            return {k: lists(v) for k, v in node.items()}
        return node
    return lists(doc)


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def results_to_xml(results, request_id):
    out = ["<GetMetricDataResponse xmlns=\"%s\"><GetMetricDataResult><MetricDataResults>"
           % CW_XMLNS]
    for r in results:
        out.append("<member><Id>%s</Id><Label>%s</Label><Timestamps>" % (
            xml_escape(r["Id"]), xml_escape(r["Label"])))
        out.extend("<member>%s</member>" % utc_iso(t) for t in r["Timestamps"])
        out.append("</Timestamps><Values>")
        out.extend("<member>%r</member>" % v for v in r["Values"])
        out.append("</Values><StatusCode>%s</StatusCode></member>" % r["StatusCode"])
    out.append("</MetricDataResults><Messages/></GetMetricDataResult><ResponseMetadata>"
               "<RequestId>%s</RequestId></ResponseMetadata></GetMetricDataResponse>"
               % request_id)
    return "".join(out)


class CloudWatchState:
    """State's EMF store and GetMetricData (its lock held by the caller)."""

    # -- EMF store: what CloudWatch would have made of the fleet's EMF lines ----
    def emf_ingest_locked(self, lines):
        """Keep every valid EMF line: (ts s, namespace, dimension sets, metrics, doc)."""
        n = 0
        for line in lines:
            line = line.strip()
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            try:
                doc = json.loads(line)
                aws = doc["_aws"]
                ts = float(aws["Timestamp"]) / 1000.0
                for directive in aws["CloudWatchMetrics"]:
                    names = [m["Name"] for m in directive["Metrics"]]
                    for dimset in directive["Dimensions"]:
                        dims = tuple(sorted((d, str(doc[d])) for d in dimset))
                        for name in names:
                            if isinstance(doc.get(name), (int, float)):
                                self.emf_points.append(
                                    (ts, directive["Namespace"], dims, name,
                                     float(doc[name])))
                n += 1
            except (ValueError, KeyError, TypeError):
                continue
        return n

    def emf_tail_locked(self):
        for path in self.emf_files:
            try:
                with open(path, "rb") as f:
                    f.seek(self.emf_offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # whole lines only
            self.emf_offsets[path] = self.emf_offsets.get(path, 0) + end
            self.emf_ingest_locked(data[:end].decode("utf-8", "replace").splitlines())

    def take_cloudwatch_fault_locked(self):
        if self.cloudwatch_500_left > 0:
            self.cloudwatch_500_left -= 1
            return True
        return False

    def get_metric_data_locked(self, region, doc):
        """Each MetricStat query's datapoints over [StartTime, EndTime) by Period."""
        if not isinstance(doc, dict) or "MetricDataQueries" not in doc:
            raise AwsError("ValidationException", "MetricDataQueries is required")
        start, end = cw_time(doc.get("StartTime")), cw_time(doc.get("EndTime"))
        if start is None or end is None or end <= start:
            raise AwsError("ValidationException",
                           "The parameter StartTime must be less than the parameter EndTime.")
        results = []
        for q in doc["MetricDataQueries"]:
            stat = q.get("MetricStat")
            if not isinstance(stat, dict):
                raise AwsError("ValidationException", "fake: only MetricStat queries")
            metric = stat.get("Metric") or {}
            period = int(stat.get("Period") or 0)
            if period not in (1, 5, 10, 20, 30) and (period < 60 or period % 60):
                raise AwsError("ValidationException",
                               "The parameter Period must be a multiple of 60.")
            want = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            buckets = {}
            for ts, ns, dims, name, value in self.emf_points:
                if (ns == metric.get("Namespace") and name == metric.get("MetricName")
                        and dims == want and start <= ts < end):
                    k = start + int((ts - start) // period) * period
                    buckets.setdefault(k, []).append(value)
            fn = {"Sum": sum, "SampleCount": len, "Average": lambda v: sum(v) / len(v),
                  "Minimum": min, "Maximum": max}.get(stat.get("Stat"))
            if fn is None:
                raise AwsError("ValidationException", "fake: unsupported Stat")
            keys = sorted(buckets, reverse=doc.get("ScanBy") != "TimestampAscending")
            results.append({"Id": q["Id"], "Label": metric.get("MetricName", ""),
                            "Timestamps": keys,
                            "Values": [float(fn(buckets[k])) for k in keys],
                            "StatusCode": "Complete"})
        return results


class CloudWatchHandler:
    """Handler's CloudWatch: GetMetricData and EMF ingestion."""

    # -- CloudWatch (GetMetricData from the EMF lines the fleet wrote) --------
    def is_cloudwatch(self, body):
        target = self.headers.get("X-Amz-Target") or ""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return target.startswith(CW_TARGET_PREFIX) or (
            ctype == FORM and b"Action=GetMetricData" in body)

    def emf_ingest_request(self, body):
        with self.state.lock:
            n = self.state.emf_ingest_locked(body.decode("utf-8", "replace").splitlines())
        self.send_json(200, {"ingested": n})

    def cloudwatch(self, body):
        """GetMetricData, JSON 1.0 (current botocore, warden) or query (Debian botocore)."""
        st = self.state
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        query_protocol = ctype == FORM
        request_id = str(uuid.uuid4())
        rec = {"t": time.time(), "mono": time.monotonic(), "kind": "cloudwatch",
               "method": self.command, "path": self.path, "op": "GetMetricData",
               "akid": None, "region": None, "status": None, "error": None, "fault": None,
               "target": self.headers.get("X-Amz-Target"), "content_type": ctype}
        try:
            region, akid = self.authenticate(body, rec, "monitoring")
            rec["region"], rec["akid"] = region, akid
            if query_protocol:
                doc = query_to_doc(urllib.parse.parse_qs(body.decode("utf-8")))
            else:
                if ctype != JSON_10 or (self.headers.get("X-Amz-Target") or "") \
                        != CW_TARGET_PREFIX + "GetMetricData":
                    raise AwsError("UnknownOperationException")
                try:
                    doc = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise AwsError("SerializationException")
            with st.lock:
                st.emf_tail_locked()
                with_fault = st.take_cloudwatch_fault_locked()
                results = st.get_metric_data_locked(region, doc)
            if with_fault:
                raise AwsError("InternalServiceError", "fake: injected", 500)
            rec["status"] = 200
            if query_protocol:
                self.send_bytes(200, results_to_xml(results, request_id).encode(), "text/xml",
                                {"x-amzn-RequestId": request_id})
            else:
                self.send_bytes(200, json.dumps({"MetricDataResults": results,
                                                 "Messages": []}).encode(), JSON_10,
                                {"x-amzn-RequestId": request_id})
        except AwsError as err:
            rec["status"], rec["error"] = err.status, err.name
            if query_protocol:
                xml = ("<ErrorResponse xmlns=\"%s\"><Error><Type>Sender</Type><Code>%s</Code>"
                       "<Message>%s</Message></Error><RequestId>%s</RequestId>"
                       "</ErrorResponse>" % (CW_XMLNS, err.name, xml_escape(err.message or ""),
                                             request_id))
                self.send_bytes(err.status, xml.encode(), "text/xml",
                                {"x-amzn-RequestId": request_id})
            else:
                doc = {"__type": err.name}
                if err.message is not None:
                    doc["message"] = err.message
                self.send_bytes(err.status, json.dumps(doc).encode(), JSON_10,
                                {"x-amzn-RequestId": request_id,
                                 "x-amzn-query-error": "%s;Sender" % err.name})
        finally:
            with st.lock:
                st.record_locked(rec)
