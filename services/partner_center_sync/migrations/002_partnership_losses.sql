-- A rollout's migration must not queue the running syncs behind it for long.
SET LOCAL lock_timeout = '5s';
-- The active partnerships each run ended (removed or downgraded), kept for the mass-removal
-- guard's window (services/partner_center_sync/changes.py): runs that each end just under
-- its share are added up. `confirmed`: an operator's --allow-mass-removal, after which the
-- window starts afresh. Rows older than the window are deleted as runs go.
CREATE TABLE partnership_losses (
    distributor_id text NOT NULL,
    at             timestamptz NOT NULL,
    lost           integer NOT NULL,
    confirmed      boolean NOT NULL,
    PRIMARY KEY (distributor_id, at)
);
