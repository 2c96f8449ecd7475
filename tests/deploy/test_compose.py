"""docker-compose.yml on its own: its commands and how its services are wired."""

from __future__ import annotations

from tests.deploy.linter.compose import (
    compose_command_problems,
    compose_tracing_problems,
    compose_wiring_problems,
)


def test_compose_commands_are_porgate_commands(compose, image) -> None:
    assert compose_command_problems(compose, image) == []


def test_compose_wires_broker_database_init_and_services_in_order(compose, image) -> None:
    assert compose_wiring_problems(compose, image) == []


def test_compose_services_export_traces_to_jaeger_each_under_its_own_name(compose, image) -> None:
    assert compose_tracing_problems(compose, image) == []
