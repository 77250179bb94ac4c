"""Seat layout and session seating requests and responses of the staff API (``api/v1/seating.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag

from piaowu.fields import SHAPE_TAG, InputModel, PatchModel, RequiredName

Label = Annotated[str, Field(max_length=60)]  # checked by seating.layout.label_problem in the services
SeatKeyIn = Annotated[list[Label], Field(min_length=3, max_length=3)]  # [section, row, number]
SeatKeys = Annotated[list[SeatKeyIn], Field(min_length=1, max_length=20_000)]
Point = Annotated[list[float], Field(min_length=2, max_length=2)]


class LayoutIn(InputModel):
    """A new layout: a name and, optionally, its map as interchange JSON (``{"version": 1, …}``)."""

    name: RequiredName = Field(min_length=1, max_length=200)
    map: dict[str, Any] | None = None
    zones: list[Label] | None = Field(default=None, max_length=100)  # the zones the map may use (default: any)


class LayoutReplaceIn(InputModel):
    """A layout replaced wholly by a map (interchange JSON); ``version``, when sent, must be the layout's
    current one (a save from an older copy is refused with ``conflict``)."""

    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    map: dict[str, Any]
    zones: list[Label] | None = Field(default=None, max_length=100)
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)


class LayoutOut(BaseModel):
    id: str
    venue_id: str
    name: str
    version: int
    seat_count: int
    zones: list[str]
    sections: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    map: dict[str, Any] | None = None  # the whole map (interchange JSON), on GET of one layout


class LayoutList(BaseModel):
    items: list[LayoutOut]


class _Section(InputModel):
    section_id: Label
    rows: int
    label: Label = ""
    zone: Label = "A"
    seat_spacing: float = 50.0
    row_spacing: float = 90.0
    numbering: Literal["left_to_right", "odd_even"] = "left_to_right"
    row_labels: Literal["numbers", "letters"] = "numbers"
    first_row: int = 1
    best: Point | None = None


class RectSectionIn(_Section):
    """A rectangle of ``rows`` × ``seats_per_row`` seats, its front-left seat at ``origin``."""

    kind: Literal["rect"]
    seats_per_row: int
    origin: Point = [0.0, 0.0]
    aisles_after: list[int] = Field(default_factory=list, max_length=1_000)
    aisle_width: float = 100.0


class ArcSectionIn(_Section):
    """An arc around ``centre``: row 1 at ``radius``, rows growing outward over ``angle_span`` degrees."""

    kind: Literal["arc"]
    radius: float
    angle_span: float
    centre: Point = [0.0, 0.0]
    direction: float = 0.0


def _kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return SHAPE_TAG + str(kind)


SectionIn = Annotated[
    Annotated[RectSectionIn, Tag(SHAPE_TAG + "rect")] | Annotated[ArcSectionIn, Tag(SHAPE_TAG + "arc")],
    Discriminator(
        _kind,
        custom_error_type="literal_error",
        custom_error_context={"expected": "'rect', 'arc'"},
    ),
]


class SectionAddIn(InputModel):
    """A generated section to add; ``version``, when sent, must be the layout's current one."""

    section: SectionIn
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)


class MoveOp(InputModel):
    op: Literal["move"]
    seats: SeatKeys
    dx: float = 0.0
    dy: float = 0.0


class PlaceOp(InputModel):
    op: Literal["place"]
    seat: SeatKeyIn
    x: float
    y: float


class RelabelOp(InputModel):
    op: Literal["relabel"]
    seat: SeatKeyIn
    section: Label | None = None
    row: Label | None = None
    number: Label | None = None


class SetZoneOp(InputModel):
    op: Literal["set_zone"]
    seats: SeatKeys
    zone: Label


class SetAttributesOp(InputModel):
    op: Literal["set_attributes"]
    seats: SeatKeys
    attributes: list[Label] = Field(max_length=4)


class BlockOp(InputModel):
    op: Literal["block"]
    seats: SeatKeys
    reason: Label


class UnblockOp(InputModel):
    op: Literal["unblock"]
    seats: SeatKeys


class DeleteOp(InputModel):
    op: Literal["delete"]
    seats: SeatKeys


class DeleteSectionOp(InputModel):
    op: Literal["delete_section"]
    section: Label


_OPS = {
    "move": MoveOp,
    "place": PlaceOp,
    "relabel": RelabelOp,
    "set_zone": SetZoneOp,
    "set_attributes": SetAttributesOp,
    "block": BlockOp,
    "unblock": UnblockOp,
    "delete": DeleteOp,
    "delete_section": DeleteSectionOp,
}
_OP_NAMES = ", ".join(f"'{name}'" for name in _OPS)


def _op(value: Any) -> str:
    op = value.get("op") if isinstance(value, dict) else getattr(value, "op", None)
    return SHAPE_TAG + str(op)


EditOp = Annotated[
    Annotated[MoveOp, Tag(SHAPE_TAG + "move")]
    | Annotated[PlaceOp, Tag(SHAPE_TAG + "place")]
    | Annotated[RelabelOp, Tag(SHAPE_TAG + "relabel")]
    | Annotated[SetZoneOp, Tag(SHAPE_TAG + "set_zone")]
    | Annotated[SetAttributesOp, Tag(SHAPE_TAG + "set_attributes")]
    | Annotated[BlockOp, Tag(SHAPE_TAG + "block")]
    | Annotated[UnblockOp, Tag(SHAPE_TAG + "unblock")]
    | Annotated[DeleteOp, Tag(SHAPE_TAG + "delete")]
    | Annotated[DeleteSectionOp, Tag(SHAPE_TAG + "delete_section")],
    Discriminator(
        _op,
        custom_error_type="literal_error",
        custom_error_context={"expected": _OP_NAMES},
    ),
]


class SeatEditsIn(PatchModel):
    """Changes of the map editor, applied in order (``seating.edits``), all or nothing; without ``ops`` nothing
    changes."""

    ops: list[EditOp] | None = Field(default=None, min_length=1, max_length=1_000)
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)


class SessionSeatingIn(InputModel):
    layout_id: str = Field(min_length=1, max_length=40)


class ZonePriceIn(InputModel):
    zone: Label
    ticket_type_id: str = Field(min_length=1, max_length=40)
    price_minor: int = Field(
        ge=-(2**31), le=2**31 - 1
    )  # minor units; checked (0 … 100,000,000) by the service, reported per row


class ZonePricesIn(InputModel):
    prices: list[ZonePriceIn] = Field(max_length=1_000)


class ZonePriceOut(BaseModel):
    zone: str
    ticket_type_id: str
    ticket_type_name: str
    price_minor: int
    currency: str


class ZonePricesOut(BaseModel):
    session_id: str
    prices: list[ZonePriceOut]


class SeatIdsIn(InputModel):
    seat_ids: list[Annotated[str, Field(max_length=40)]] = Field(max_length=5_000)
    reason: Label = ""


class SeatChannelsIn(InputModel):
    seat_ids: list[Annotated[str, Field(max_length=40)]] = Field(max_length=5_000)
    channel: str = Field(max_length=24, description="web, box_office or api")


class SeatChannelOut(BaseModel):
    id: str  # the seat's inventory unit
    section: str
    row: str
    number: str
    channels: list[str]  # the sales channels the seat is on sale through


class SeatChannelsOut(BaseModel):
    seats: list[SeatChannelOut]


class ChannelCountOut(BaseModel):
    channel: str
    published: int  # seats on sale through the channel (not withheld from it, not kept back)
    free: int  # of those, neither held nor sold


class SessionSeatOut(BaseModel):
    id: str  # the seat's inventory unit
    ordinal: int
    section: str
    row: str
    number: str
    zone: str
    attributes: list[str]
    blocked_reason: str


class SeatsOut(BaseModel):
    seats: list[SessionSeatOut]


class ZonePriceBrief(BaseModel):
    ticket_type_id: str
    price_minor: int


class ZoneSummaryOut(BaseModel):
    zone: str
    total: int
    free: int
    held: int
    sold: int
    blocked: int
    prices: list[ZonePriceBrief]


class SeatingOut(BaseModel):
    session_id: str
    layout_id: str
    layout_version: int
    seat_count: int
    zones: list[ZoneSummaryOut]
    totals: dict[str, int]
    channels: list[ChannelCountOut] = []
