"""The drill's verdict: the contract's checks on a scenario's measurements
(see drill.py "Checks")."""

import datetime
import json

from drill_world import REGION_A, WRITE_KINDS


def rel(when, t):
    return None if when is None else when - t


def parse_time(text):
    """An RFC 3339 time from /fence as POSIX seconds, or None."""
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# ------------------------------------------------------------------ verdict

def checks(m):
    """[(name, passed, numbers)] for one scenario's measurements."""
    wc, slack = m["worst_case"], m["slack"]
    limit = "<= %.3fs" % (wc + slack)
    out = []
    missing = [k for k in WRITE_KINDS if m["a_rows_before"].get(k, 0) == 0]
    out.append(("writes flowed on A before the flip", not missing,
                "rows %s%s" % (fmt_counts(m["a_rows_before"]),
                               "; none of " + ", ".join(missing) if missing else "")))
    c = m["crossing"]
    out.append(("an upload in flight across the flip, streaming past t + worst_case",
                c["uploads_past_bound"] > 0,
                "%d in flight, %d planned past the bound; outcomes %s; last chunk sent at %s"
                % (c["uploads"], c["uploads_past_bound"], ",".join(c["upload_outcomes"]) or "-",
                   fmt_t(c["upload_last_chunk"]))))
    out.append(("a WebSocket open across the flip", c["websockets"] > 0,
                "%d open; closed at %s" % (c["websockets"],
                                           ", ".join("t+%.3fs" % x for x in c["ws_closed_at"])
                                           or "-")))
    ok = m["a_last_row"] is None or m["a_last_row"] <= wc + slack
    out.append(("last write to the OLD primary after the flip", ok,
                "%s (%s) %s; rows after the bound: %s"
                % (fmt_t(m["a_last_row"]), m["a_last_row_kind"] or "-", limit,
                   fmt_counts(m["a_rows_late"]) or "none")))
    ok = m["a_last_byte"] is None or m["a_last_byte"] <= wc + slack
    out.append(("last byte of a write app A received after the flip", ok,
                "%s (%s) %s; bytes after the bound: %s"
                % (fmt_t(m["a_last_byte"]), m["a_last_byte_kind"] or "-", limit,
                   fmt_counts(m["a_bytes_late"]) or "none")))
    ok = m["a_cron_last_alive"] is None or m["a_cron_last_alive"] <= wc + slack
    out.append(("no gated cron of A alive after t + worst_case", ok,
                "last seen alive at %s %s" % (fmt_t(m["a_cron_last_alive"]), limit)))
    ok = m["a_lease_last_held"] is None or m["a_lease_last_held"] <= wc + slack
    out.append(("A's sidecar holds no lease after t + worst_case", ok,
                "last seen held at %s %s" % (fmt_t(m["a_lease_last_held"]), limit)))
    b_rows = m["b_rows_after_promote"]
    ok = m["b_takeover"] is not None
    out.append(("B took over (writable, proxy and cron writing to B, lease held)", ok,
                "writable at %s, all at %s; B rows after promotion %s; lease %s%s"
                % (fmt_t(m["b_writable"]), fmt_t(m["b_takeover"]), fmt_counts(b_rows) or "none",
                   json.dumps(m["b_lease"]),
                   "; " + m["b_takeover_error"] if m["b_takeover_error"] else "")))
    if "partition" in m:
        out.extend(partition_checks(m))
    out.append(("no sanitizer report in any warden or gate log", not m["sanitizer"],
                ", ".join(m["sanitizer"]) or "none"))
    return out


def partition_checks(m):
    """The partition's own checks: the flip confirmed on 2 of 3 without A's
    region, A unable to see it, and fenced by losing its quorum."""
    p, wc = m["partition"], m["worst_case"]
    out = []
    q = p["quorum"] or {}
    ok = (p["rc"] == 0 and q.get("confirmed", 0) >= 2 and p["confirmed"][1:] == [True, True] and
          not p["written"][0] and abs(p["safe_minus_confirmed"] - wc) < 0.002 and
          p["wait_returned"] >= 0 and not p["secret_echoed"])
    out.append(("flag set from B's side confirmed 2 of 3, --wait returned at safe_at", ok,
                "exit %d, epoch %s, confirmed %s of %s (written %s); safe_at - confirmed_at "
                "%.3fs; --wait returned at safe_at%+.3fs%s"
                % (p["rc"], p["epoch"], q.get("confirmed"), q.get("of"),
                   "/".join("yes" if w else "no" for w in p["written"]),
                   p["safe_minus_confirmed"], p["wait_returned"],
                   "; its output ECHOED THE SECRET KEY" if p["secret_echoed"] else "")))
    own = p["params"].get(REGION_A) or {}
    ok = own.get("active_region") == REGION_A and own.get("epoch") == 1
    others = "; ".join("%s: %s epoch %s" % (r, (v or {}).get("active_region"),
                                            (v or {}).get("epoch"))
                       for r, v in sorted(p["params"].items()) if r != REGION_A)
    out.append(("A's own region's parameter still names A (A cannot see the flip)", ok,
                "%s: %s; %s" % (REGION_A, json.dumps(own), others)))
    last = p["a_last"]
    ok = (p["a_states"][:1] == ["active"] and p["a_states"][-1:] == ["stale"] and
          set(p["a_states"]) <= {"active", "stale"} and p["a_late_states"] == ["stale"] and
          "missing source 2, 3" in (last.get("reason") or ""))
    out.append(("A fenced by losing its quorum: stale, missing sources named", ok,
                "states after the cut %s, fenced at %s; after the bound %s; %r; sources "
                "counted %s" % ("->".join(p["a_states"]) or "-", fmt_t(p["a_fenced"]),
                                ",".join(p["a_late_states"]) or "-", last.get("reason"),
                                p["a_counts"])))
    return out


def fmt_t(x):
    return "-" if x is None else "t%+.3fs" % x


def fmt_counts(d):
    return ", ".join("%s=%d" % (k, v) for k, v in sorted(d.items()))
