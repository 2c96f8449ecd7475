"""A linter for Dockerfile, docker-compose.yml and deploy/, checked against the code.

No Docker engine or cluster is needed: the files are parsed and compared with what the code
defines (the typer CLI, services.catalog, Settings, contracts.topics). Each check is a
function returning a list of problems, so tests/deploy/test_linter_catches.py can prove that
every check catches what it is meant to catch.
"""
