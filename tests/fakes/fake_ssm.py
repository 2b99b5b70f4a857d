"""The fake AWS's SSM Parameter Store: per-region parameters, the GetParameter
rate limit, and the operations (see fake_aws.py "SSM")."""

import base64
import hashlib
import json
import re
import time
import uuid

from fake_common import AwsError, JSON_11


class SsmState:
    """The parameter store of State (its lock held by the caller)."""

    # -- parameters -------------------------------------------------------
    def put_param_locked(self, region, name, value, ptype, overwrite=True):
        store = self.params[region]
        cur = store.get(name)
        if cur is not None and not overwrite:
            raise AwsError("ParameterAlreadyExists",
                           "The parameter already exists. To overwrite this value, set "
                           "the overwrite option in the request to true.")
        if cur is None and not ptype:
            raise AwsError("ValidationException",
                           "A parameter type is required when you create a parameter.")
        version = 1 if cur is None else cur["Version"] + 1
        entry = {"Name": name, "Type": ptype or cur["Type"], "Value": value,
                 "Version": version, "LastModifiedDate": round(time.time(), 3),
                 "DataType": "text"}
        history = (cur["History"] if cur is not None else [])
        history.append(dict(entry))
        entry["History"] = history
        store[name] = entry
        return version

    def take_get_token_locked(self, region):
        """False when the region's GetParameter rate limit is exhausted."""
        limit = self.config.get("get_rate_limit")
        if not limit:
            return True
        now = time.monotonic()
        tokens, last = self.buckets.get(region, [float(limit), now])
        tokens = min(float(limit), tokens + (now - last) * float(limit))
        if tokens < 1.0:
            self.buckets[region] = [tokens, now]
            return False
        self.buckets[region] = [tokens - 1.0, now]
        return True

    def arn(self, region, name):
        path = name if name.startswith("/") else "/" + name
        return "arn:aws:ssm:%s:%s:parameter%s" % (region, self.account, path)


class SsmHandler:
    """Handler's SSM operations (awsJson 1.1)."""

    # -- SSM ----------------------------------------------------------------
    def ssm(self, body):
        st = self.state
        rec = {"t": time.time(), "mono": time.monotonic(), "kind": "ssm",
               "method": self.command, "path": self.path, "op": None, "akid": None,
               "region": None, "status": None, "error": None, "fault": None,
               "target": self.headers.get("X-Amz-Target"),
               "content_type": self.headers.get("Content-Type")}
        target = rec["target"] or ""
        if target.startswith("AmazonSSM."):
            rec["op"] = target[len("AmazonSSM."):]
        # Best effort, so that faulted requests are counted per key too.
        m = re.search(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/",
                      self.headers.get("Authorization") or "")
        if m:
            rec["akid"], rec["region"] = m.group(1), m.group(2)
        with st.lock:
            fault = st.take_request_fault_locked()
            stall_event = st.stall_release
        if fault:
            rec["fault"] = fault["fault"]
            if fault["fault"] == "stall":
                stall_event.wait(fault.get("seconds"))
                if st.stopping.is_set():
                    self.close_connection = True
                    return
                fault = None
        request_id = str(uuid.uuid4())
        try:
            if fault:
                return self.answer_fault(fault["fault"], body, rec, request_id)
            try:
                region, akid = self.authenticate(body, rec)
                rec["region"], rec["akid"] = region, akid
                if rec["op"] == "GetParameter":
                    with st.lock:
                        allowed = st.take_get_token_locked(region)
                    if not allowed:
                        raise AwsError("ThrottlingException", "Rate exceeded")
                result = self.ssm_operation(region, body)
                out = json.dumps(result).encode()
                rec["status"] = 200
                self.send_bytes(200, out, JSON_11, {"x-amzn-RequestId": request_id})
            except AwsError as err:
                rec["status"], rec["error"] = err.status, err.name
                self.send_aws_error(err, request_id)
        finally:
            with st.lock:
                if rec["status"] is None and rec["fault"]:
                    rec["status"] = "none"
                st.record_locked(rec)

    def ssm_operation(self, region, body):
        st = self.state
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if st.config["strict_content_type"] and ctype != JSON_11:
            raise AwsError("UnknownOperationException")
        target = self.headers.get("X-Amz-Target") or ""
        if not target.startswith("AmazonSSM."):
            raise AwsError("UnknownOperationException")
        op = target[len("AmazonSSM."):]
        handler = {"GetParameter": self.op_get_parameter,
                   "GetParameters": self.op_get_parameters,
                   "PutParameter": self.op_put_parameter,
                   "DeleteParameter": self.op_delete_parameter}.get(op)
        if handler is None:
            raise AwsError("UnknownOperationException")
        try:
            doc = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            raise AwsError("SerializationException")
        if not isinstance(doc, dict):
            raise AwsError("SerializationException")
        return handler(region, doc)

    def present(self, region, entry, decrypt, selector=None):
        value = entry["Value"]
        if entry["Type"] == "SecureString" and not decrypt:
            blob = b"\x01\x02\x02\x00x" + hashlib.sha256(
                ("%s:%s:%d" % (entry["Name"], value, entry["Version"])).encode()).digest()
            value = base64.b64encode(blob).decode()
        out = {"Name": entry["Name"], "Type": entry["Type"], "Value": value,
               "Version": entry["Version"], "LastModifiedDate": entry["LastModifiedDate"],
               "ARN": self.state.arn(region, entry["Name"]), "DataType": entry["DataType"]}
        if selector:
            out["Selector"] = selector
        return out

    def lookup(self, region, name):
        """(entry, selector) for 'name' or 'name:version'; raise like GetParameter."""
        selector = None
        base = name
        if ":" in name:
            base, _, sel = name.rpartition(":")
            selector = ":" + sel
        with self.state.lock:
            cur = self.state.params[region].get(base)
            cur = {**cur, "History": list(cur["History"])} if cur else None
        if cur is None:
            raise AwsError("ParameterNotFound", None)
        if selector is None:
            return cur, None
        if not selector[1:].isdigit():
            raise AwsError("ParameterNotFound", None)  # labels are not modelled
        version = int(selector[1:])
        for h in cur["History"]:
            if h["Version"] == version:
                return h, selector
        raise AwsError("ParameterVersionNotFound",
                       "Systems Manager could not find version %d of %s. Verify the "
                       "version and try again." % (version, base))

    def op_get_parameter(self, region, doc):
        name = doc.get("Name")
        if not isinstance(name, str) or not name:
            raise AwsError("ValidationException",
                           "1 validation error detected: Value null at 'name' failed to "
                           "satisfy constraint: Member must not be null")
        entry, selector = self.lookup(region, name)
        return {"Parameter": self.present(region, entry, bool(doc.get("WithDecryption")),
                                          selector)}

    def op_get_parameters(self, region, doc):
        names = doc.get("Names")
        if not isinstance(names, list) or not names or len(names) > 10:
            raise AwsError("ValidationException",
                           "1 validation error detected: Value at 'names' failed to satisfy "
                           "constraint: Member must have length less than or equal to 10 "
                           "and greater than or equal to 1")
        found, invalid = [], []
        for name in names:
            try:
                entry, selector = self.lookup(region, str(name))
                found.append(self.present(region, entry, bool(doc.get("WithDecryption")),
                                          selector))
            except AwsError:
                invalid.append(name)
        return {"Parameters": found, "InvalidParameters": invalid}

    def op_put_parameter(self, region, doc):
        name, value, ptype = doc.get("Name"), doc.get("Value"), doc.get("Type")
        if not isinstance(name, str) or not name or ":" in name:
            raise AwsError("ValidationException",
                           "Parameter name must be a fully qualified name.")
        if not isinstance(value, str) or not value:
            raise AwsError("ValidationException",
                           "1 validation error detected: Value at 'value' failed to "
                           "satisfy constraint: Member must have length greater than or "
                           "equal to 1")
        if len(value) > 4096:
            raise AwsError("ValidationException",
                           "Standard tier parameters support a maximum parameter value of "
                           "4096 characters. To create a larger parameter value, upgrade "
                           "the parameter to use the advanced-parameter tier.")
        if ptype is not None and ptype not in ("String", "StringList", "SecureString"):
            raise AwsError("ValidationException",
                           "1 validation error detected: Value '%s' at 'type' failed to "
                           "satisfy constraint: Member must satisfy enum value set: "
                           "[SecureString, StringList, String]" % ptype)
        with self.state.lock:
            version = self.state.put_param_locked(region, name, value, ptype,
                                                  bool(doc.get("Overwrite")))
        return {"Version": version, "Tier": "Standard"}

    def op_delete_parameter(self, region, doc):
        name = doc.get("Name")
        with self.state.lock:
            if not isinstance(name, str) or name not in self.state.params[region]:
                raise AwsError("ParameterNotFound", None)
            del self.state.params[region][name]
        return {}
