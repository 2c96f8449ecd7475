-- order-intake no longer writes this table: its consumer has no effect but the validation
-- request, and por-validator stores each request (the order's ids, customer, lines, and the
-- order event's id as sourceEventId) with its decision. Its rows, written by earlier
-- releases, are kept for audit; dropping them is the operator's call.
COMMENT ON TABLE orders IS
    'Orders received by porgate releases before migration 002; since then por_validator.decisions.request holds each order as received.';
