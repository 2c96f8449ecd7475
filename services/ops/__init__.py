"""On-call tooling: dead letters, topic replays, re-validations (`porgate dlq`, `porgate replay`).

One module per tool (`dead_letters`, `replay`, `revalidate`) on the shared `topics` (group-less
reads, offsets, rate-limited sends); the command line is in `services/cli`. Every tool is safe to
run twice: what it publishes keeps its CloudEvents id (a re-validation derives its id from
the decision), and each consumer's inbox turns a second copy into a no-op.
"""
