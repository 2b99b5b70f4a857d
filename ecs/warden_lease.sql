-- The singleton lease's table and the one grant it needs (README.md "The
-- singleton lease", ecs/README.md "Database users"). Run it once, as the
-- schema owner, in a migration on the primary region's writer (Aurora Global
-- replicates it). `warden_lease` is the login that the cron task's warden
-- probes with (ecs/cron.json WARDEN_PROBE_DB, password from the
-- prod/warden/db-lease secret): the lease is claimed by the probe's role.
CREATE TABLE IF NOT EXISTS warden_lease (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    generation bigint NOT NULL,
    expires_at timestamptz NOT NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON warden_lease TO warden_lease;
