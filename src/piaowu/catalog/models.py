from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import JSONType, UTCDateTime


def texts_column() -> Mapped[dict[str, str]]:
    """A translatable field's texts by language, ``{"zh-CN": "…", "en": "…"}`` (``catalog.texts``), next to the
    plain column that holds the organizer's default language's text. A JSON map rather than a table of
    translations: the sale path reads it in the same row, so its one query stays one query."""
    return mapped_column(JSONType, default=dict, server_default=text("'{}'"))


class Venue(IdMixin, CreatedMixin, Base):
    """Where events take place: a record of its own, shared by the events held there."""

    __tablename__ = "venues"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    name_i18n: Mapped[dict[str, str]] = texts_column()
    address_i18n: Mapped[dict[str, str]] = texts_column()
    # An IANA zone ("Asia/Shanghai"); "" means the organizer's. Session times are shown in it.
    timezone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The doors a gate may stand at ("North gate", "VIP"): a short list read with the venue, never queried on
    # its own, so a JSON list rather than a table.
    entrances: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))


class Event(IdMixin, CreatedMixin, Base):
    """Something people buy tickets for: a show, a match, an attraction. Sold through its sessions."""

    __tablename__ = "events"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    venue_id: Mapped[str | None] = mapped_column(ForeignKey("venues.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(32), default="performance")  # catalog.rules.EventKind
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    name_i18n: Mapped[dict[str, str]] = texts_column()
    description_i18n: Mapped[dict[str, str]] = texts_column()
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)


class Session(IdMixin, CreatedMixin, Base):
    """A dated occurrence (场次): one performance, or one day of an attraction. Owns one capacity pool."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_event_start", "event_id", "starts_at"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    name_i18n: Mapped[dict[str, str]] = texts_column()
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sales_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sales_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # catalog.rules.SessionStatus
    capacity: Mapped[int] = mapped_column(Integer)
    pool_id: Mapped[str] = mapped_column(ForeignKey("inventory_pools.id"))
    # Gates admit from this many minutes before the start until the end.
    admission_opens_minutes: Mapped[int] = mapped_column(Integer, default=120)


class TicketType(IdMixin, CreatedMixin, Base):
    """A price zone / ticket kind (票种/票档) of one session; an optional quota is its own pool."""

    __tablename__ = "ticket_types"
    # What an order line's one foreign key refers to (``orders.models.OrderLine``): the type, its session and its
    # organizer together. Unique already by ``id``; this key is what lets the line prove all three at once.
    __table_args__ = (UniqueConstraint("id", "session_id", "organizer_id"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    name_i18n: Mapped[dict[str, str]] = texts_column()
    description_i18n: Mapped[dict[str, str]] = texts_column()
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("inventory_pools.id"), nullable=True)
    min_per_order: Mapped[int] = mapped_column(Integer, default=1)
    max_per_order: Mapped[int] = mapped_column(Integer, default=10)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Tickets of this type sold and not refunded, kept by orders (``catalog.ticket_type_service.count_sales``):
    # a type without a quota has no pool of its own to count them.
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Sessions in series (catalog.series_service): the event-level definition this type was made from (None: a
    # type made on its own session). ``price_overridden``: its price was set on the session, so a new price on
    # the definition leaves it alone.
    definition_id: Mapped[str | None] = mapped_column(ForeignKey("event_ticket_types.id"), nullable=True, index=True)
    price_overridden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EventTicketType(IdMixin, CreatedMixin, Base):
    """A ticket type defined once for a whole event (成人票 for the season): each generated session gets a
    ``TicketType`` linked to it, which is what orders sell. ``quota`` is the per-session quota to give them."""

    __tablename__ = "event_ticket_types"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_i18n: Mapped[dict[str, str]] = texts_column()
    description: Mapped[str] = mapped_column(Text, default="")
    description_i18n: Mapped[dict[str, str]] = texts_column()
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_per_order: Mapped[int] = mapped_column(Integer, default=1)
    max_per_order: Mapped[int] = mapped_column(Integer, default=10)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
