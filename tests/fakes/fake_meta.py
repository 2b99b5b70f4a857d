"""The fake AWS's ECS container credentials and task metadata endpoints
(see fake_aws.py "Container credentials", "Task metadata")."""

import base64
import hmac
import secrets
import time
import uuid

from fake_common import rfc3339


class MetaState:
    """State's container credentials (its lock held by the caller)."""

    # -- credentials ----------------------------------------------------------
    def issue_creds_locked(self):
        now = time.time()
        if self.expired_creds_left > 0:
            self.expired_creds_left -= 1
            expires = int(now) - 60
        else:
            expires = int(now) + int(self.config["creds_ttl"])
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        akid = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        secret = base64.b64encode(secrets.token_bytes(30)).decode()
        raw = secrets.token_bytes(max(16, int(self.config["token_len"]) * 3 // 4))
        token = base64.b64encode(raw).decode()[: int(self.config["token_len"])]
        cred = {"AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                "expires": expires, "static": False}
        self.issued[akid] = cred
        self.counts["creds_issued"] += 1
        return cred

    def lookup_key_locked(self, akid):
        return self.issued.get(akid) or self.static_keys.get(akid)


class MetaHandler:
    """Handler's container credentials and task metadata endpoints."""

    # -- container credentials ----------------------------------------------------
    def creds(self, path):
        st = self.state
        rec = {"t": time.time(), "mono": time.monotonic(), "kind": "creds",
               "method": "GET", "path": path, "op": None, "akid": None, "region": None,
               "status": None, "error": None, "fault": None, "target": None,
               "content_type": None}
        with st.lock:
            st.counts["creds_requests"] += 1
            want = st.config["auth_token"]
            got = self.headers.get("Authorization")
            if want and not got:
                status, doc = 401, {"code": "AccessDenied",
                                    "message": "Authorization header is missing"}
            elif want and not hmac.compare_digest(got.encode(), want.encode()):
                status, doc = 403, {"code": "AccessDenied",
                                    "message": "Authorization token is invalid"}
            elif st.creds_500_left > 0:
                st.creds_500_left -= 1
                rec["fault"] = "creds_500"
                status, doc = 500, {"code": "InternalError",
                                    "message": "Internal error fetching credentials"}
            else:
                cred = st.issue_creds_locked()
                status = 200
                doc = {"RoleArn": "arn:aws:iam::%s:role/warden-task-role" % st.account,
                       "AccessKeyId": cred["AccessKeyId"],
                       "SecretAccessKey": cred["SecretAccessKey"],
                       "Token": cred["Token"],
                       "Expiration": rfc3339(cred["expires"])}
                rec["akid"] = cred["AccessKeyId"]
            rec["status"] = status
            st.record_locked(rec)
        self.send_json(status, doc)

    # -- task metadata -----------------------------------------------------------
    def meta_variant(self, path):
        """/meta/t/<cluster>/<service>/<task id>[/task]: one fake, many tasks."""
        parts = path.split("/")[3:]
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "task") \
                or not all(parts[:3]):
            return self.send_json(404, {"message": "not found: %s" % path})
        return self.meta("/meta/task" if len(parts) == 4 else "/meta",
                         (parts[0], "service:" + parts[1], parts[2]))

    def meta(self, path, variant=None):
        st = self.state
        region = st.regions[0]
        with st.lock:
            cluster, task_id = st.config["cluster"], st.config["task_id"]
            group, family = st.config["task_group"], st.config["task_family"]
        if variant is not None:
            cluster, group, task_id = variant
        with st.lock:
            failing = st.meta_500_left > 0
            if failing:
                st.meta_500_left -= 1
        cluster_arn = "arn:aws:ecs:%s:%s:cluster/%s" % (region, st.account, cluster)
        task_arn = "arn:aws:ecs:%s:%s:task/%s/%s" % (region, st.account, cluster, task_id)
        container = {
            "DockerId": "%s-0000000001" % task_id, "Name": "warden",
            "DockerName": "warden", "Image": "warden:test", "Labels": {
                "com.amazonaws.ecs.cluster": cluster_arn,
                "com.amazonaws.ecs.container-name": "warden",
                "com.amazonaws.ecs.task-arn": task_arn,
                "com.amazonaws.ecs.task-definition-family": family,
                "com.amazonaws.ecs.task-definition-version": "1"},
            "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
            "Limits": {"CPU": 2}, "Type": "NORMAL",
            "ContainerARN": "arn:aws:ecs:%s:%s:container/%s/%s/%s" % (
                region, st.account, cluster, task_id, uuid.uuid4()),
            "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["127.0.0.1"]}]}
        if path == "/meta/task":
            doc = {"Cluster": cluster_arn, "TaskARN": task_arn, "Family": family,
                   "Revision": "1", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
                   "Limits": {"CPU": 0.25, "Memory": 512},
                   "PullStartedAt": rfc3339(time.time() - 60),
                   "PullStoppedAt": rfc3339(time.time() - 55),
                   "AvailabilityZone": region + "a", "LaunchType": "FARGATE",
                   "Containers": [container], "ClockDrift": {
                       "ClockErrorBound": 0.5, "ReferenceTimestamp": rfc3339(time.time()),
                       "ClockSynchronizationStatus": "SYNCHRONIZED"}}
            if group:
                doc["Group"] = group
        else:
            doc = container
        status = 200
        if failing:
            status, doc = 500, {"code": "InternalError", "message": "metadata unavailable"}
        with st.lock:
            st.counts["meta_requests"] += 1
            st.record_locked({"t": time.time(), "mono": time.monotonic(), "kind": "meta",
                              "method": "GET", "path": path, "op": None, "akid": None,
                              "region": None, "status": status, "error": None,
                              "fault": "meta_500" if failing else None,
                              "target": None, "content_type": None})
        self.send_json(status, doc)
