"""JSON Schema for every event type, exported from the models into contracts/schemas/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.envelope import CloudEvent
from contracts.topics import EVENT_MODELS

SCHEMA_DIR = Path(__file__).parent / "schemas"


def event_schema(event_type: str) -> dict[str, Any]:
    model = EVENT_MODELS[event_type]
    schema = CloudEvent[model].model_json_schema(by_alias=True, mode="validation")  # type: ignore[valid-type]
    schema["title"] = event_type
    schema["properties"]["type"] = {"const": event_type, "title": "Type", "type": "string"}
    return schema


def rendered_schemas() -> dict[str, str]:
    return {
        f"{event_type}.json": json.dumps(event_schema(event_type), indent=2, sort_keys=True) + "\n"
        for event_type in sorted(EVENT_MODELS)
    }


def export_schemas(target: Path = SCHEMA_DIR) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_schemas().items():
        path = target / name
        path.write_text(text)
        written.append(path)
    return written
