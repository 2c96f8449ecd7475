"""`porgate contracts ...`: the wire contract's JSON Schemas."""

import typer
from rich.console import Console

console = Console(stderr=True)

app = typer.Typer(help="The wire contract's JSON Schemas.", no_args_is_help=True)


@app.command("export")
def contracts_export() -> None:
    """Write contracts/schemas/*.json from the pydantic models."""
    from contracts.schema import export_schemas

    for path in export_schemas():
        console.print(str(path))
