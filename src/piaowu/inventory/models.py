from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import UTCDateTime


class Pool(IdMixin, CreatedMixin, Base):
    """A pool of capacity units (库存). Every sellable thing consumes units of one or more pools.

    ``held + sold <= capacity + allowance`` always; the database checks the non-negative parts and the
    reserve statement checks the sum atomically.
    """

    __tablename__ = "inventory_pools"
    __table_args__ = (
        CheckConstraint("held >= 0", name="held_nonneg"),
        CheckConstraint("sold >= 0", name="sold_nonneg"),
        CheckConstraint("capacity >= 0", name="capacity_nonneg"),
        CheckConstraint("allowance >= 0", name="allowance_nonneg"),
    )

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # what it counts: session, ticket_type, channel, slot, night, leg…
    label: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    allowance: Mapped[int] = mapped_column(Integer, default=0)  # overbooking allowance (超售), 0 unless allowed


class Hold(IdMixin, CreatedMixin, Base):
    """Units taken from pools for one purchase (锁座/占座): active until sold, released or expired."""

    __tablename__ = "inventory_holds"
    __table_args__ = (Index("ix_inventory_holds_status_expires", "status", "expires_at"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # inventory.rules.HoldStatus
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    owner_ref: Mapped[str] = mapped_column(String(64), default="")  # e.g. "order:<id>"; the engine never reads it


class HoldItem(IdMixin, Base):
    __tablename__ = "inventory_hold_items"

    hold_id: Mapped[str] = mapped_column(ForeignKey("inventory_holds.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("inventory_pools.id"))
    quantity: Mapped[int] = mapped_column(Integer)
