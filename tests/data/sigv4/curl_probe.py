#!/usr/bin/python3
# Evidence for aws/sigv4.h (why not CURLOPT_AWS_SIGV4). Run: /usr/bin/python3 tests/data/sigv4/curl_probe.py
# Probe: does libcurl 7.88.1's CURLOPT_AWS_SIGV4 (via the curl CLI, --aws-sigv4)
# reproduce the suite's .authz values? Captures the Authorization header curl sends.
import os, socket, subprocess, sys, threading, glob

SUITE = os.environ.get("SIGV4_SUITE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../shared/sigv4-suite")
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(5)
port = srv.getsockname()[1]
captured = []
def serve():
    while True:
        c, _ = srv.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d: break
            data += d
        captured.append(data)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        c.close()
threading.Thread(target=serve, daemon=True).start()

ok = 0; total = 0
for d in sorted(glob.glob(SUITE + "/*/")):
    reqs = glob.glob(d + "*.req")
    if not reqs: continue
    total += 1
    stem = reqs[0][:-4]
    raw = open(stem + ".req", "rb").read().decode()
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    method, target, _ = lines[0].split(" ", 2) if lines[0].count(" ") == 2 else (lines[0].split(" ")[0], " ".join(lines[0].split(" ")[1:-1]), "")
    hdrs = []
    for l in lines[1:]:
        if l[:1] in (" ", "\t") and hdrs:
            hdrs[-1] += "," + l.strip()   # give curl the suite's expected folding
        else:
            hdrs.append(l)
    cmd = ["/usr/bin/curl", "-s", "-o", "/dev/null", "--path-as-is", "-X", method,
           "--aws-sigv4", "aws:amz:us-east-1:service", "--user", "AKIDEXAMPLE:" + SECRET]
    for h in hdrs:
        cmd += ["-H", h]
    if body:
        cmd += ["--data-binary", body]
    url = "http://127.0.0.1:%d%s" % (port, target.replace(" ", "%20"))
    cmd.append(url)
    n = len(captured)
    r = subprocess.run(cmd, capture_output=True)
    got = ""
    if len(captured) > n:
        for l in captured[-1].decode("utf-8", "replace").split("\r\n"):
            if l.lower().startswith("authorization:"):
                got = l.split(":", 1)[1].strip()
    want = open(stem + ".authz").read()
    name = os.path.basename(d.rstrip("/"))
    if got == want:
        ok += 1; print("PASS", name)
    else:
        print("FAIL", name, "rc=%d" % r.returncode)
        print("   want:", want[-90:])
        print("   got: ", got[-90:] if got else "(no request / no Authorization)")
print("curl %s: %d/%d suite cases match" % (subprocess.run(["/usr/bin/curl","-V"],capture_output=True,text=True).stdout.split()[1], ok, total))
