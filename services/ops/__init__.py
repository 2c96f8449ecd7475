"""On-call tooling: dead letters, topic replays, re-validations (`porgate dlq`, `porgate replay`)."""
