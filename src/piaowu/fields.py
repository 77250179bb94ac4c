"""Field types and base classes shared by every request schema (API bodies and page forms).

- ``InputModel``: strict JSON types. ``quantity: true`` or ``"2"`` is refused, not read as 1 or 2; unknown fields
  are refused. Times (ISO strings) and enums (their string values) still parse, since JSON has no other way to
  send them. Page forms, whose values are all strings, are read with ``lenient`` (see ``web/manage/common``).
- ``PatchModel``: a field sent as ``null`` is refused unless the field is listed in ``NULLABLE`` (``null`` there
  means "clear it"); leaving a field out leaves it unchanged.
- ``Name`` / ``RequiredName`` (not blank) / ``Text``: no control characters or text-direction overrides
  (``core.inputs``).
- ``Moment``: an aware datetime within the documented range.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Strict, field_validator

from piaowu.core.inputs import clean_name, clean_required_name, clean_text, in_time_range

M = TypeVar("M", bound=BaseModel)

Name = Annotated[str, AfterValidator(clean_name)]
RequiredName = Annotated[str, AfterValidator(clean_required_name)]  # not blank once trimmed
Text = Annotated[str, AfterValidator(clean_text)]
# Not strict: JSON sends times as ISO strings, which strict (Python-mode) validation would refuse.
Moment = Annotated[AwareDatetime, Strict(False), AfterValidator(in_time_range)]

NULL_MESSAGE = "This field cannot be null; leave it out to keep its value."


class InputModel(BaseModel):
    """Base of every request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PatchModel(InputModel):
    """Base of partial updates: ``null`` only for the fields in ``NULLABLE``."""

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
