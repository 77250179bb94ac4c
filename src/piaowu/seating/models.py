"""Seat maps stored: layouts per venue with their seats, and a session's own copy of the seats it sells.

A layout is what the operator edits (``seat_layouts`` + ``seat_layout_seats``). Giving a session a layout copies
its seats into ``session_seats``, one inventory unit each (``legs = 1``, mask ``1``), so later edits of the
layout never move a seat that was sold, and a seat's id *is* its unit's id: a claim, a ``SeatTaken`` and an
order line's holding all name the same row. Prices are per zone and ticket type of the session
(``session_zone_prices``): zone A 880 adult / 680 student.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import JSONType, UTCDateTime


class SeatLayout(IdMixin, CreatedMixin, Base):
    """One seating plan of a venue (a venue may have several: concert, theatre-in-the-round, half house).
    ``sections`` is the interchange format's section list; ``version`` grows with every save, so a page can
    tell a stale copy and a session can say which version it was made from."""

    __tablename__ = "seat_layouts"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    sections: Mapped[list[dict[str, object]]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    zones: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    seat_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LayoutSeat(IdMixin, Base):
    """A seat of a layout. ``ordinal`` is its place in the layout's order (sections, rows, seats), copied to
    the session so the buyer's availability can be a bitmap indexed by it. ``attributes`` is a subset of
    ``layout.ATTRIBUTES``."""

    __tablename__ = "seat_layout_seats"
    __table_args__ = (
        UniqueConstraint("layout_id", "section", "row", "number"),
        UniqueConstraint("layout_id", "ordinal"),
    )

    layout_id: Mapped[str] = mapped_column(ForeignKey("seat_layouts.id"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(40))
    row: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(40))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    zone: Mapped[str] = mapped_column(String(40))
    attributes: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    blocked_reason: Mapped[str] = mapped_column(String(40), default="", server_default="")


class SessionSeat(Base):
    """A seat a session sells: a copy of the layout's seat, keyed by the inventory unit that is its state
    (``occupied`` bit 0: held or sold; ``blocked`` bit 0: kept back). ``blocked_reason`` says why a kept-back
    seat is kept back (house, press, technical) while it is."""

    __tablename__ = "session_seats"
    __table_args__ = (
        UniqueConstraint("session_id", "section", "row", "number"),
        UniqueConstraint("session_id", "ordinal"),
    )

    unit_id: Mapped[str] = mapped_column(ForeignKey("inventory_units.id"), primary_key=True)
    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(40))
    row: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(40))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    zone: Mapped[str] = mapped_column(String(40))
    attributes: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    blocked_reason: Mapped[str] = mapped_column(String(40), default="", server_default="")


class SessionSeating(Base):
    """That a session sells seats, from which layout (and its version then), with the layout's sections."""

    __tablename__ = "session_seating"

    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    layout_id: Mapped[str] = mapped_column(ForeignKey("seat_layouts.id"), index=True)
    layout_version: Mapped[int] = mapped_column(Integer)
    sections: Mapped[list[dict[str, object]]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    seat_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Grows with every change of which channels the seats are on sale through (``seating.channels``): part of
    # the stamp that tells a process its cached seats (and their channels) are still the session's.
    channels_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ZonePrice(IdMixin, Base):
    """The price of a seat of ``zone`` sold as ``ticket_type_id`` at one session. A zone without a price for a
    ticket type is not sold as that type."""

    __tablename__ = "session_zone_prices"
    __table_args__ = (UniqueConstraint("session_id", "zone", "ticket_type_id"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    zone: Mapped[str] = mapped_column(String(40))
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    price_minor: Mapped[int] = mapped_column(Integer)
