"""Shared model configuration: camelCase on the wire, snake_case in Python, extras kept."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    # extra="allow": the contract says unknown fields are kept and ignored, never an error,
    # so a producer on a newer minor version never sends us to the dead-letter topic.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        str_strip_whitespace=False,
        ser_json_timedelta="iso8601",
    )
