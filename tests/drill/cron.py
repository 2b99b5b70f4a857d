"""The drill's stand-in cron: writes to its region's database constantly.

Run (under `warden gate`): /usr/bin/python3 cron.py --region R --variant V --dsn DSN
                                                   --pids FILE

It appends its pid to --pids at start (the drill watches those processes),
then inserts one row (kind "cron:<variant>", ref = the gate's
WARDEN_FENCING_TOKEN) every 50 ms until it is killed. It never looks at a
deadline: stopping it in time is the gate's job.

It does nothing about SIGTERM, so it dies of it by default; the drill's
"stubborn" variant starts it under `trap '' TERM` (the signal ignored, which
exec keeps), so only the gate's SIGKILL ends it.
"""

import argparse
import os
import sys
import time

import psycopg2

INSERT_SQL = ("INSERT INTO drill_writes (region, kind, ref, at) "
              "VALUES (%s, %s, %s, clock_timestamp())")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--pids", required=True)
    args = parser.parse_args()
    with open(args.pids, "a") as f:
        f.write("%d\n" % os.getpid())
    token = os.environ.get("WARDEN_FENCING_TOKEN", "")
    conn = None
    while True:
        try:
            if conn is None or conn.closed:
                conn = psycopg2.connect(args.dsn, connect_timeout=2)
            with conn.cursor() as cur:
                cur.execute(INSERT_SQL, (args.region, "cron:" + args.variant, token))
            conn.commit()
        except psycopg2.Error:
            # A reader database (25006) or a lost connection: keep trying, as a
            # naive scheduler would.
            try:
                if conn is not None:
                    conn.close()
            except psycopg2.Error:
                pass
            conn = None
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
