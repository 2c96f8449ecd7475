"""OpenAPI 3.1 generated from the code: the paths from the app's routes, the schemas from the
pydantic models, the statuses and headers from each route's `Operation`. Nothing kept by hand
besides what a route declares next to its handler, and a route that declares nothing fails."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Route

REF = "#/components/schemas/{model}"

# Headers of Partner Center's conventions, documented once and referred to by name.
REQUEST_HEADERS: Mapping[str, dict[str, Any]] = {
    "MS-CorrelationId": {
        "description": "A GUID per call; echoed, generated when absent. Logged: quote it.",
        "schema": {"type": "string", "format": "uuid"},
    },
    "MS-RequestId": {
        "description": "A GUID per request (reused when retrying one); echoed, generated when absent.",
        "schema": {"type": "string", "format": "uuid"},
    },
    "X-Locale": {
        "description": "Language of errorDescription, e.g. en-US, ja-JP (before Accept-Language)",
        "schema": {"type": "string", "examples": ["en-US", "ja-JP"]},
    },
    "Accept-Language": {
        "description": "Used when X-Locale is absent",
        "schema": {"type": "string"},
    },
}
RESPONSE_HEADERS: Mapping[str, dict[str, Any]] = {
    "MS-CorrelationId": {
        "description": "The caller's, or a new GUID",
        "schema": {"type": "string"},
    },
    "MS-RequestId": {"description": "The caller's, or a new GUID", "schema": {"type": "string"}},
    "X-Locale": {"description": "The locale the request asked for", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    },
    "X-Porgate-Authority": {
        "description": "Who answered: partner_center, registry, or registry_fallback",
        "schema": {"type": "string", "enum": ["partner_center", "registry", "registry_fallback"]},
    },
    "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}},
}
ALWAYS = ("MS-CorrelationId", "MS-RequestId", "X-Locale")


@dataclass(frozen=True)
class Reply:
    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    summary: str
    replies: Mapping[int, Reply]
    description: str = ""
    request: type[BaseModel] | None = None
    request_example: Any = None
    secured: bool = False
    request_headers: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())
    # Path parameters: (name, description), each a string of at most 256 characters.
    path_params: tuple[tuple[str, str], ...] = ()
    # Query parameters: (name, description, required), each a string of at most 256 characters.
    query_params: tuple[tuple[str, str, bool], ...] = ()


Schemas = Mapping[type[BaseModel], dict]


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], str]]:
    """Each model once, in the mode it is used in: a request is validated, a reply serialized."""
    found: dict[str, tuple[type[BaseModel], str]] = {}
    for op in operations:
        if op.request is not None:
            found[op.request.__name__] = (op.request, "validation")
        for reply in op.replies.values():
            if reply.model is not None:
                found[reply.model.__name__] = (reply.model, "serialization")
    return [found[name] for name in sorted(found)]


def _reply(reply: Reply, schemas: Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    out["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in (*ALWAYS, *reply.headers)}
    if reply.model is not None:
        schema = schemas[reply.model]
    else:
        schema = {"type": "object" if reply.media_type.endswith("json") else "string"}
    out["content"] = {reply.media_type: {"schema": schema}}
    return out


def _operation(op: Operation, schemas: Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags)}
    if op.description:
        out["description"] = op.description
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": 256},
        }
        for name, description in op.path_params
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": required,
            "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": 256},
        }
        for name, description, required in op.query_params
    ]
    parameters += [
        {"$ref": f"#/components/parameters/{h.replace('-', '')}"} for h in op.request_headers
    ]
    if parameters:
        out["parameters"] = parameters
    if op.request is not None:
        media: dict[str, Any] = {"schema": schemas[op.request]}
        if op.request_example is not None:
            media["example"] = op.request_example
        out["requestBody"] = {"required": True, "content": {"application/json": media}}
    out["security"] = [{"bearer": []}, {"apiKey": []}] if op.secured else []
    out["responses"] = {str(s): _reply(r, schemas) for s, r in sorted(op.replies.items())}
    return out


def openapi_document(
    routes: Iterable[BaseRoute],
    operations: Mapping[str, Mapping[str, Operation]],
    *,
    title: str,
    version: str,
    description: str,
) -> dict[str, Any]:
    """The document for these routes; `operations[path][method]` says what each one answers.
    A route without an operation, or an operation without its route, is a ValueError."""
    served = {
        (r.path, m.lower())
        for r in routes
        if isinstance(r, Route) and r.include_in_schema
        for m in (r.methods or ())
        if m != "HEAD"
    }
    declared = {(p, m.lower()) for p, ops in operations.items() for m in ops}
    if served != declared:
        raise ValueError(
            f"undocumented routes {sorted(served - declared)}, "
            f"documented but not served {sorted(declared - served)}"
        )
    ops = [op for by_method in operations.values() for op in by_method.values()]
    models = _models(ops)
    refs, definitions = models_json_schema(models, ref_template=REF)
    schemas = {model: refs[(model, mode)] for model, mode in models}
    paths: dict[str, Any] = {}
    for path, by_method in sorted(operations.items()):
        paths[path] = {m.lower(): _operation(op, schemas) for m, op in by_method.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "parameters": {
                name.replace("-", ""): {"name": name, "in": "header", "required": False, **spec}
                for name, spec in REQUEST_HEADERS.items()
            },
            "headers": {
                name: {**spec, "required": name in ALWAYS}
                for name, spec in RESPONSE_HEADERS.items()
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from PORGATE_API_KEYS, sent as a bearer token",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }
