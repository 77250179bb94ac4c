from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import UTCDateTime


class Pool(IdMixin, CreatedMixin, Base):
    """A pool of capacity units (库存). Every sellable thing consumes units of one or more pools.

    ``held + sold <= capacity + allowance`` always; the database checks the non-negative parts and the
    reserve statement checks the sum atomically. A seats-only pool (``rules.SEATS_ONLY``) is its seats: seat
    claims do not take its row, and its held and sold are its units' live claims (``repository.seat_counts``).
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

    # No index of its own (migration 0018): every read of a hold names its id; an index here was one more entry
    # written by each order's statement and read by nothing.
    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # inventory.rules.HoldStatus
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    owner_ref: Mapped[str] = mapped_column(String(64), default="")  # e.g. "order:<id>"; the engine never reads it


class HoldItem(IdMixin, Base):
    __tablename__ = "inventory_hold_items"

    hold_id: Mapped[str] = mapped_column(ForeignKey("inventory_holds.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("inventory_pools.id"))
    quantity: Mapped[int] = mapped_column(Integer)


LEG0_IN_USE = text("((occupied | blocked) & 1) != 0")


class Unit(IdMixin, CreatedMixin, Base):
    """A unit with an identity (a seat, a room, a berth), sold per leg: bit i of ``occupied`` is set while
    leg i (a leg of a route, a night, the one performance) is held or sold. ``blocked`` marks legs that cannot
    be sold (kept back, broken, or beyond the unit's ``legs``). Masks fit a signed BIGINT: at most 63 legs.

    A claim succeeds only where ``(occupied | blocked) & mask = 0`` and sets the mask's bits in the same
    conditional update (``inventory.strategies``), so a leg of a unit has at most one owner.
    """

    __tablename__ = "inventory_units"
    __table_args__ = (
        CheckConstraint("occupied >= 0", name="occupied_nonneg"),
        CheckConstraint("blocked >= 0", name="blocked_nonneg"),
        CheckConstraint("legs >= 1 AND legs <= 63", name="legs_range"),
        CheckConstraint("withheld >= 0", name="withheld_nonneg"),
        # The units of a pool whose first leg is held, sold or kept back: what a seated session's live states
        # read (``repository.pool_unit_masks(in_use=LEG0)``, each worker about twice a second while at most
        # ``seating.live.CHANGES_ABOVE`` of the house is taken; past it, the units written since). Through the pool
        # index that read walked every unit of the pool — a stadium's 80,000 — to find the few thousand in use;
        # this index holds only those. Its condition is the read's, word for word (PostgreSQL and SQLite use a
        # partial index only for a query whose WHERE contains its condition).
        Index("ix_inventory_units_leg0_in_use", "pool_id", postgresql_where=LEG0_IN_USE, sqlite_where=LEG0_IN_USE),
    )

    # No index of its own (migration 0018): every read of units names their ids or their pool. A claim changes
    # ``occupied``, which the partial index's condition reads, so no claim is a HOT update and each wrote an entry
    # into every index of the table — this one read by nothing.
    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"))
    # The group the unit belongs to (a session's seats, a train run's seats), when it has one.
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("inventory_pools.id"), nullable=True, index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    legs: Mapped[int] = mapped_column(Integer, default=1)
    occupied: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked: Mapped[int] = mapped_column(BigInteger, default=0)
    # Sales channels the unit is not on sale through (bit per channel, ``core.channels``): a claim made for an
    # order of such a channel does not match. On the unit's own row, so the condition PostgreSQL re-evaluates
    # after waiting for a concurrent withdraw sees it (``inventory.strategies``).
    withheld: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class HoldUnit(IdMixin, Base):
    """What a hold claimed of one unit. Released and expired holds give the bits back with the hold (closed
    once); a converted hold's claim is given back by a refund, once: ``returned_at`` is set by the one caller
    whose conditional update matched."""

    __tablename__ = "inventory_hold_units"

    hold_id: Mapped[str] = mapped_column(ForeignKey("inventory_holds.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("inventory_units.id"), index=True)
    mask: Mapped[int] = mapped_column(BigInteger)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
