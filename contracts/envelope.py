"""The CloudEvents 1.0 envelope (structured JSON mode) that wraps every message value."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)


class CloudEvent(BaseModel, Generic[DataT]):
    # CloudEvents attribute names are lower-case on the wire already, so no aliasing here.
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=256, description="Idempotency key.")
    source: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=1, max_length=256)
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: str | None = "application/json"
    data: DataT


class RawEnvelope(CloudEvent[Any]):  # type: ignore[type-var]
    """The envelope before its `data` is checked against the model its `type` names."""

    data: dict[str, Any]
