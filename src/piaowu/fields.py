"""Field types and base classes shared by every request schema (API bodies and page forms).

- ``InputModel``: strict JSON types. ``quantity: true`` or ``"2"`` is refused, not read as 1 or 2; unknown fields
  are refused. Times (ISO strings) and enums (their string values) still parse, since JSON has no other way to
  send them. Page forms, whose values are all strings, are read with ``lenient`` (see ``web/manage/common``).
- ``PatchModel``: a field sent as ``null`` is refused unless the field is listed in ``NULLABLE`` (``null`` there
  means "clear it"); leaving a field out leaves it unchanged. Its JSON schema (the OpenAPI document) says the
  same: every field optional, only the ``NULLABLE`` ones nullable.
- ``Name`` / ``RequiredName`` (not blank) / ``Text``: no control characters or text-direction overrides
  (``core.inputs``).
- ``Moment``: an aware datetime within the documented range.
- ``Origin``: ``scheme://host[:port]`` of a site (``core.inputs.clean_origin``), normalized.
- ``TimeZone`` / ``RequiredTimeZone``: an IANA time zone name (``Asia/Shanghai``); the first also takes "".
- ``SHAPE_TAG``: prefix of the tags of a union of request shapes (e.g. an order item, counted or selected).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict, field_validator

from piaowu.core.inputs import (
    ORIGIN_LENGTH,
    clean_name,
    clean_origin,
    clean_required_name,
    clean_required_timezone,
    clean_text,
    clean_timezone,
    in_time_range,
)

M = TypeVar("M", bound=BaseModel)

Name = Annotated[str, AfterValidator(clean_name)]
RequiredName = Annotated[str, AfterValidator(clean_required_name)]  # not blank once trimmed
Text = Annotated[str, AfterValidator(clean_text)]
# Not strict: JSON sends times as ISO strings, which strict (Python-mode) validation would refuse.
Moment = Annotated[AwareDatetime, Strict(False), AfterValidator(in_time_range)]
# Trimmed before the check, so the bound leaves room for pasted spaces; clean_origin bounds the origin itself.
Origin = Annotated[str, Field(max_length=ORIGIN_LENGTH + 20), AfterValidator(clean_origin)]

TimeZone = Annotated[str, Field(max_length=64), AfterValidator(clean_timezone)]
RequiredTimeZone = Annotated[str, Field(max_length=64), AfterValidator(clean_required_timezone)]

NULL_MESSAGE = "This field cannot be null; leave it out to keep its value."
# Tags of a union of request shapes start with this; error paths leave such tags out (``api.errors``), so a
# problem reads ``items.0.quantity`` whichever shape was meant.
SHAPE_TAG = "shape:"


class InputModel(BaseModel):
    """Base of every request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _null_only_where_accepted(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """A PatchModel's JSON schema: its fields are declared ``X | None = None`` (so that a field left out can be
    told from one sent), which Pydantic documents as nullable with a default of null. Only ``NULLABLE`` fields
    accept null; for the others both are dropped, so clients (and generated ones) never send a null we refuse."""
    nullable = getattr(cls, "NULLABLE", frozenset())
    names = {(field.alias or name): name for name, field in cls.model_fields.items()}
    for key, prop in schema.get("properties", {}).items():
        if names.get(key, key) in nullable:
            continue
        if prop.get("default", ...) is None:
            del prop["default"]
        options = prop.get("anyOf")
        if not options or {"type": "null"} not in options:
            continue
        rest = [option for option in options if option != {"type": "null"}]
        del prop["anyOf"]
        if len(rest) == 1:
            prop.update({k: v for k, v in rest[0].items() if k not in prop})
        else:
            prop["anyOf"] = rest


class PatchModel(InputModel):
    """Base of partial updates: ``null`` only for the fields in ``NULLABLE``."""

    model_config = ConfigDict(json_schema_extra=_null_only_where_accepted)

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError(NULL_MESSAGE)
        return value


def lenient(schema: type[M], data: dict[str, Any]) -> M:
    """``schema`` validated from page-form values (strings that mean numbers, booleans, times)."""
    return schema.model_validate(data, strict=False)
