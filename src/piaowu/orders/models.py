from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import UTCDateTime


class Order(IdMixin, CreatedMixin, Base):
    """A purchase. States and transitions: ``orders.states``."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_org_created", "organizer_id", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
    )

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"))
    code: Mapped[str] = mapped_column(String(16), unique=True)  # human order number, read aloud at counters
    status: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(24))  # web, box_office, api
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_phone: Mapped[str] = mapped_column(String(32))  # E.164
    buyer_email: Mapped[str] = mapped_column(String(254), default="")
    total_minor: Mapped[int] = mapped_column(Integer)
    paid_minor: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    hold_id: Mapped[str | None] = mapped_column(ForeignKey("inventory_holds.id"), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # cancelled / expired
    created_by: Mapped[str] = mapped_column(String(80), default="")
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")


class OrderLine(IdMixin, Base):
    """One ticket of an order, priced and named when the order was placed (snapshots, not references)."""

    __tablename__ = "order_lines"
    __table_args__ = (
        # One foreign key for three: the line's ticket type exists, is of the line's session and of the line's
        # organizer. The session's and the organizer's existence follow from the ticket type's own keys, and the
        # same tenant and session are now proven, which three single keys did not. Each key is a lookup with a
        # row lock at the end of the order's statement (migration 0018: 4 checks per line became 2; the
        # session's row, shared by every order of a session, is no longer locked by them).
        ForeignKeyConstraint(
            ["ticket_type_id", "session_id", "organizer_id"],
            ["ticket_types.id", "ticket_types.session_id", "ticket_types.organizer_id"],
        ),
    )

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    organizer_id: Mapped[str] = mapped_column(String(26))
    session_id: Mapped[str] = mapped_column(String(26), index=True)
    ticket_type_id: Mapped[str] = mapped_column(String(26))
    ticket_type_name: Mapped[str] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(Integer)
    holder_name: Mapped[str] = mapped_column(String(200), default="")
    # The seat as printed (section, row, number), copied when the seat was sold; empty without a seat.
    seat_section: Mapped[str] = mapped_column(String(40), default="", server_default="")
    seat_row: Mapped[str] = mapped_column(String(40), default="", server_default="")
    seat_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, cancelled, refunded


class OrderLineHolding(IdMixin, Base):
    """What one order line holds or owns (``core.selections``): ``quantity`` units of a pool, or a unit with
    identity on the legs of ``mask``. Written in the reservation's own statement, so a line never exists without
    them; what a refund gives back, even if the catalog changed since the sale. Ids are time-ordered: a line's
    rows read in id order come in the order the resolver listed them."""

    __tablename__ = "order_line_holdings"
    __table_args__ = (
        CheckConstraint(
            "(pool_id IS NOT NULL AND unit_id IS NULL AND quantity >= 1 AND mask = 0)"
            " OR (pool_id IS NULL AND unit_id IS NOT NULL AND quantity = 0 AND mask > 0)",
            name="pool_or_unit",
        ),
    )

    line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"), index=True)
    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"))
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("inventory_pools.id"), nullable=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("inventory_units.id"), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    mask: Mapped[int] = mapped_column(BigInteger, default=0)
