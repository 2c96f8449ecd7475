"""Models built from values already valid, without validating them again: the hot path's way
to build the requests, decisions and envelopes porgate derives from validated events.

pydantic's own `model_construct` is written in Python and costs more than validating; this
compiles, once per model, a constructor taking the fields by name (a missing required field
or an unknown one is a TypeError, as for any function) that gives exactly what validation
gives: the same `__dict__` in field order, the same set fields, no extras. Only for values
valid by construction (a validated event's fields, our own literals, lists of our own
models): the unit tests check, on the benchmark's orders and on generated ones, that it
gives exactly what validation gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_UNSET: Any = object()
_BUILDERS: dict[type, Callable[..., Any]] = {}


def trusted(cls: type[M], /, **values: Any) -> M:
    """`cls(**values)` for values that are valid as they are, by field name."""
    return trusted_builder(cls)(**values)


def trusted_builder(cls: type[M]) -> Callable[..., M]:
    """`cls`'s constructor for valid values: keyword arguments, one per field."""
    builder = _BUILDERS.get(cls)
    if builder is None:
        builder = _BUILDERS[cls] = _compile(cls)
    return builder


def _compile(cls: type[BaseModel]) -> Callable[..., Any]:
    decorators = cls.__pydantic_decorators__
    if (
        decorators.validators
        or decorators.field_validators
        or decorators.model_validators
        or cls.__private_attributes__
        or cls.__pydantic_post_init__
        or cls.__pydantic_root_model__
    ):
        raise TypeError(f"{cls.__name__} validates or initialises beyond its fields")
    names = list(cls.model_fields)
    if not all(name.isidentifier() and not name.startswith("_") for name in names):
        raise TypeError(f"{cls.__name__}: a field name that is no plain identifier")
    scope: dict[str, Any] = {"_UNSET": _UNSET, "_cls": cls, "_new": object.__new__}
    scope["_set"] = object.__setattr__
    required, params, body = [], [], []
    for name, field in cls.model_fields.items():
        if field.validate_default:
            raise TypeError(f"{cls.__name__}.{name}: a default that must be validated")
        if field.is_required():
            required.append(name)
            params.append(name)
            continue
        params.append(f"{name}=_UNSET")
        if field.default_factory is not None:
            scope[f"_factory_{name}"] = field.default_factory
            default = f"_factory_{name}()"
        else:
            try:
                hash(field.default)
            except TypeError:  # validation would copy it; a factory says so plainly
                raise TypeError(f"{cls.__name__}.{name}: a mutable default") from None
            scope[f"_default_{name}"] = field.default
            default = f"_default_{name}"
        body += [
            f"    if {name} is _UNSET:",
            f"        {name} = {default}",
            "    else:",
            f"        fields_set.add({name!r})",
        ]
    extra = "{}" if cls.model_config.get("extra") == "allow" else "None"
    source = "\n".join(
        [
            f"def build(*, {', '.join(params)}):",
            f"    fields_set = {{{', '.join(map(repr, required))}}}"
            if required
            else "    fields_set = set()",
            *body,
            "    model = _new(_cls)",
            f"    _set(model, '__dict__', {{{', '.join(f'{n!r}: {n}' for n in names)}}})",
            "    _set(model, '__pydantic_fields_set__', fields_set)",
            f"    _set(model, '__pydantic_extra__', {extra})",
            "    _set(model, '__pydantic_private__', None)",
            "    return model",
        ]
    )
    exec(compile(source, f"<trusted {cls.__name__}>", "exec"), scope)  # noqa: S102
    build = scope["build"]
    build.__qualname__ = build.__name__ = f"trusted_{cls.__name__}"
    return build
