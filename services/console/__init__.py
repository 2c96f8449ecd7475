"""The operator console: server-rendered pages at /console on the API process (issue 15)."""
