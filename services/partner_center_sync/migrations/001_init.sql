-- What the sync last recorded of each reseller on a distributor's indirect-reseller list: the
-- registry upserts it stands for (entity kind -> the upsert's data, as published). Rows are
-- kept after a reseller leaves the list (partnership 'removed'): its version goes on
-- counting, and event ids derive from it.
CREATE TABLE seen_resellers (
    distributor_id     text NOT NULL,
    reseller_tenant_id text NOT NULL,
    entities           jsonb NOT NULL,
    version            integer NOT NULL,
    changed_at         timestamptz NOT NULL,
    PRIMARY KEY (distributor_id, reseller_tenant_id)
);

-- The scheduled service's timetable, shared by its replicas: one row per schedule.
CREATE TABLE schedules (
    name            text PRIMARY KEY,
    next_due_at     timestamptz NOT NULL,
    last_started_at timestamptz,
    last_finished_at timestamptz,
    last_outcome    text
);
