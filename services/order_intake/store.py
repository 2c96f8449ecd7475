"""order-intake's schema: only the runtime's tables (inbox, outbox) and the orders recorded
by releases before its consumer became `messages_only` (migration 002)."""

from __future__ import annotations

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "order_intake"
