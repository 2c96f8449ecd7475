-- Every answer Partner Center gave (PORGATE_POR_AUTHORITY=partner-center): kept for audit,
-- with the call it came from (Microsoft support asks for the correlation id), and read back
-- as the cache: the newest answer per (distributor, PLA id) younger than the TTL.
CREATE TABLE partner_center_answers (
    answer_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    distributor_id    text NOT NULL,
    partner_id        text NOT NULL,
    is_valid          boolean NOT NULL,
    error_code        integer,
    error_description text,
    request_id        text NOT NULL,
    correlation_id    text NOT NULL,
    answered_at       timestamptz NOT NULL
);
CREATE INDEX partner_center_answers_latest
    ON partner_center_answers (distributor_id, partner_id, answered_at DESC);
CREATE INDEX partner_center_answers_age ON partner_center_answers (answered_at);
