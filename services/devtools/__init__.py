"""The developer's tools: `porgate dev` (dev.py, its view and state file), the demo's
registry and traffic and its stand-ins' answers, and the embedded broker and PostgreSQL the
dev command, the tests and the benchmarks run on. An entrypoint layer: production code
never imports it, save the CLI's `dev` command, lazily."""
