#!/usr/bin/env python3
"""README's configuration reference matches the settings table in the code.

Every row of `config_settings[]` in agent/config.c (environment name, JSON
key, default) must have a row in README.md's tables, `| `WARDEN_X` | ...`,
naming the same JSON key (in the tables that have a key column) and the
same default (when the code has one); and every `WARDEN_*` setting row in
README must exist in the code. Run by CTest (label docs).
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ROW = re.compile(r'\{"(WARDEN_[A-Z0-9_]+)",\s*(NULL|"[a-z0-9_]+"),\s*SETTING_[A-Z_]+,\s*'
                 r'(NULL|"[^"]*")')


def code_settings():
    """(env, json key or None, default text or None) for every row of the table."""
    with open(os.path.join(ROOT, "agent", "config.c"), encoding="utf-8") as f:
        text = f.read()
    rows = []
    for env, key, fallback in ROW.findall(text):
        rows.append((env, None if key == "NULL" else key.strip('"'),
                     None if fallback == "NULL" else fallback.strip('"')))
    return rows


def readme_rows():
    """env -> the list of cells of its README table row (backticks kept)."""
    rows = {}
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\| `(WARDEN_[A-Z0-9_]+)` \|(.*)\|\s*$", line)
            if m and "<" not in m.group(1):
                rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def main():
    settings = code_settings()
    documented = readme_rows()
    failures = []
    if len(settings) < 20:
        failures.append("found only %d settings in agent/config.c: the pattern is stale"
                        % len(settings))
    for env, key, fallback in settings:
        cells = documented.get(env)
        if cells is None:
            failures.append("%s: no row in README.md" % env)
            continue
        default = cells[1] if len(cells) >= 3 else cells[0]
        if len(cells) >= 3:
            want_key = "`%s`" % key if key else "—"
            if cells[0] != want_key:
                failures.append("%s: README names JSON key %s, the code %s"
                                % (env, cells[0], want_key))
        if fallback and "`%s`" % fallback not in default:
            failures.append("%s: README's default is %r, the code's `%s`"
                            % (env, default, fallback))
    known = {env for env, _, _ in settings}
    for env in documented:
        if env not in known:
            failures.append("%s: a README row, but no such setting in the code" % env)
    for f in failures:
        print("FAIL", f)
    failed = {f.split(":")[0] for f in failures}
    print("%d passed, %d failed" % (len(settings) - len(failed & known), len(failed)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
