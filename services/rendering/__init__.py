"""The domain's values as people and files read them: text, HTML, CSV, JSON and Markdown, in
English or Japanese. Pure, and beside services/common: it imports contracts and the domain
only, so the services (the notifier) and the entry points (API, CLI, console) share it."""
