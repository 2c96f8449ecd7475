-- Partner Center and the registry disagreeing about a PLA id (PORGATE_POR_AUTHORITY=partner-center).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (
    kind IN ('transaction_blocked', 'privileges_revoked', 'partnership_removed', 'registry_drift')
);
