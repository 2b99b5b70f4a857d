#!/usr/bin/env python3
"""`warden config` and `warden serve` judge a config alike, and say it alike.

For a set of bad configs, both exit 2 with the same one-line message on
stderr (the one validation of config_load, DESIGN.md "Command line"); serve
also writes that message as a JSON `agent.error` line on stdout (where its
logs go, for CloudWatch Logs Insights), while `config` keeps stdout for the
config document alone. No output of either ever holds the secret of a bad
input. A good config passes both (serve then runs; it is stopped at once).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SECRET = "S3cr3t:v@lue"

# (name, environment, a piece of the expected message)
BAD = [
    ("file flag without a region", {"WARDEN_FLAG": "file:/run/warden/flag"},
     "WARDEN_FLAG needs this task's region"),
    ("bad AWS_REGION", {"WARDEN_FLAG": "file:/run/warden/flag", "AWS_REGION": "garbage"},
     "AWS_REGION: bad region name"),
    ("bad AWS_DEFAULT_REGION", {"WARDEN_FLAG": "file:/run/warden/flag",
                                "AWS_DEFAULT_REGION": "us-east"},
     "AWS_DEFAULT_REGION: bad region name"),
    ("bad ssm ?region=", {"WARDEN_FLAG": "ssm:/p?region=garbage", "AWS_REGION": "us-east-1"},
     "WARDEN_FLAG: source 1: ssm: region"),
    ("endpoint with user info", {"WARDEN_FLAG": "ssm:/p?endpoint=http://u:S3cr3t@127.0.0.1:1",
                                 "AWS_REGION": "us-east-1"},
     "takes no user or password"),
    ("mistyped password variable", {"WARDEN_PROBE_DB": "postgres://db/app",
                                    "WARDEN_PROBE_DB_PASWORD": SECRET},
     "did you mean WARDEN_PROBE_DB_PASSWORD?"),
    ("allow-list '/'", {"WARDEN_FLAG": "file:/run/warden/flag", "AWS_REGION": "us-east-1",
                        "WARDEN_PROXY_LISTEN": "127.0.0.1:1",
                        "WARDEN_PROXY_UPSTREAM": "http://127.0.0.1:2",
                        "WARDEN_PROXY_ALLOW_WHEN_FENCED": "/"},
     "WARDEN_PROXY_ALLOW_WHEN_FENCED: the prefix '/' matches every path"),
]


def base_env():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key, value in os.environ.items():  # the ASan build's settings
        if key.endswith("SAN_OPTIONS"):
            env[key] = value
    return env


def run(args, env):
    return subprocess.run([harness.WARDEN_BIN] + args, env=env, capture_output=True,
                          text=True, timeout=20)


class ConfigCliTest(unittest.TestCase):
    def test_config_and_serve_agree_on_bad_configs(self):
        for name, extra, says in BAD:
            with self.subTest(name):
                env = dict(base_env(), **extra)
                config = run(["config"], env)
                serve = run(["serve"], env)
                self.assertEqual((config.returncode, serve.returncode), (2, 2),
                                 config.stderr + serve.stderr)
                self.assertEqual(config.stdout, "", "config's stdout is the document only")
                self.assertEqual(len(config.stderr.splitlines()), 1, config.stderr)
                self.assertEqual(config.stderr, serve.stderr)
                self.assertIn(says, config.stderr)
                lines = [json.loads(line) for line in serve.stdout.splitlines()]
                errors = [line for line in lines if line.get("event") == "agent.error"]
                self.assertEqual(len(errors), 1, serve.stdout)
                self.assertEqual(errors[0]["level"], "error")
                self.assertEqual("warden: " + errors[0]["msg"], config.stderr.strip())
                for text in (config.stdout, config.stderr, serve.stdout, serve.stderr):
                    self.assertNotIn("S3cr3t", text)
                    self.assertNotIn("v@lue", text)

    def test_a_good_config_passes_both(self):
        with tempfile.TemporaryDirectory() as tmp:
            flag = os.path.join(tmp, "flag")
            with open(flag, "w") as f:
                f.write("us-east-1\n")
            env = dict(base_env(), WARDEN_FLAG="file:" + flag, AWS_REGION="us-west-2",
                       WARDEN_LISTEN="127.0.0.1:%d" % harness.free_port(),
                       WARDEN_DRAIN_SECONDS="0")
            config = run(["config"], env)
            self.assertEqual(config.returncode, 0, config.stderr)
            self.assertEqual(json.loads(config.stdout)["flag"], ["file:" + flag])
            serve = subprocess.Popen([harness.WARDEN_BIN, "serve"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                first = serve.stdout.readline()  # serve is up once it logged a line
                self.assertNotIn("agent.error", first)
            finally:
                serve.send_signal(signal.SIGTERM)
                out, err = serve.communicate(timeout=20)
            self.assertEqual(serve.returncode, 0, err)
            self.assertNotIn("agent.error", out)


if __name__ == "__main__":
    harness.main()
