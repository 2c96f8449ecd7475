-- Orders as received, for audit: which event carried which order, and when.
CREATE TABLE orders (
    source_event_id text PRIMARY KEY,
    order_id        text NOT NULL,
    distributor_id  text NOT NULL,
    customer_id     text NOT NULL,
    placed_at       timestamptz NOT NULL,
    line_count      integer NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_order_id ON orders (order_id);
