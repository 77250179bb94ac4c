"""The reservation hot path: guarded writes (pool counters, unit masks) and the rows that depend on them, in
as few round trips as the database allows.

A flash sale is limited by how long the hot pool row stays locked (DESIGN.md, "Measured on this platform"):
the lock is taken by the first conditional update and held until COMMIT. On PostgreSQL we therefore send the
updates *and* every insert of the reservation (hold, hold items, order, lines, audit…) as ONE statement — a
chain of data-modifying CTEs whose inserts only happen when every update matched — so the lock is held for
that statement and the COMMIT only. On SQLite the write transaction already holds the database lock
(``BEGIN IMMEDIATE``) and round trips are in-process, so the statements simply run in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db import driver, wakeups

Rows = Sequence[tuple[Table, Sequence[dict[str, Any]]]]


@dataclass(frozen=True)
class Guard:
    """One kind of guarded write: on ``table``, the row with id ``key`` and ``organizer_id`` is changed by
    ``change(columns, amount)`` only where ``condition(columns, amount)`` holds; exactly one row is expected.
    ``name`` identifies the guard in the compiled statements' cache: one name, one (condition, change)."""

    name: str
    table: Table
    column: str  # the column ``change`` writes; the amount's parameter has its type
    condition: Callable[[Any, Any], Any]
    change: Callable[[Any, Any], dict[str, Any]]


@dataclass(frozen=True)
class GuardedWrite:
    guard: Guard
    key: str
    amount: Any  # of the guard's column's type: a count (pools, ticket types), a mask (units), a time (a hold's close)


@dataclass(frozen=True)
class RowCheck:
    """A read-only precondition of the reservation: on ``table``, the row with id ``key`` and ``organizer_id``
    still has exactly ``expected`` (column → value; NULL matches NULL). It is how a cached read (a catalog
    offer, a token) is re-validated by the very statement that depends on it: when some check fails nothing is
    written and the caller learns which (``Outcome.stale``), refreshes its cache and may retry. ``name`` says
    what the row is to the caller (e.g. "ticket_type", "api_token").

    ``absent``: (table, column) pairs naming rows that must NOT refer to this one — e.g. no ``session_seating``
    row whose ``session_id`` is this session: a general-admission offer stays valid only while its session has
    no seats. Part of the same lookup (an anti-join on the referring table's key), not a query of its own.

    ``key_column``: the column ``key`` names, when the table's key is not ``id`` (a session's seating row is keyed
    by its ``session_id``)."""

    name: str
    table: Table
    key: str
    expected: tuple[tuple[str, Any], ...]
    absent: tuple[tuple[Table, str], ...] = ()
    key_column: str = "id"
    # What the compiled statement depends on (``_check_shape``): computed once, not on every order.
    shape: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = (
            self.table.name,
            self.key_column,
            tuple(n for n, _ in self.expected),
            tuple((t.name, col) for t, col in self.absent),
        )
        object.__setattr__(self, "shape", shape)


class StaleRead(Exception):  # noqa: N818 - not an error of the caller's: "refresh and retry"
    """Some ``RowCheck`` of a reservation no longer held: nothing was written. ``checks`` are those."""

    def __init__(self, checks: Sequence[RowCheck]) -> None:
        super().__init__(", ".join(f"{c.name} {c.key}" for c in checks))
        self.checks = tuple(checks)


@dataclass(frozen=True)
class Outcome:
    """→ of ``guarded_write_and_insert``: the positions in ``writes`` that did not match (pools short, units
    taken) and the positions in ``checks`` that no longer hold. Both empty: everything was written."""

    failed: tuple[int, ...] = ()
    stale: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.failed or self.stale)


def _check_condition(c: RowCheck, organizer_id: Any, value: Callable[[str, str], Any]) -> Any:
    cols = c.table.c
    key = cols[c.key_column]
    # The organizer compared with IS NOT DISTINCT FROM — the same test on this NOT NULL column — so that it is no
    # index condition and the row is looked up by its key alone. With ``=``, a table without statistics yet (a
    # catalog just created, autovacuum off) made the planner's generic plan take the organizer's index and test
    # every row of the organizer on each order (spread mode: ~170 of 200 sessions, twice per order).
    conds = [key == value("key", c.key_column), cols.organizer_id.is_not_distinct_from(organizer_id)]
    conds += [cols[name].is_not_distinct_from(value(f"x_{name}", name)) for name, _ in c.expected]
    conds += [~exists(select(t.c[col]).where(t.c[col] == key)) for t, col in c.absent]
    return exists(select(key).where(*conds))


async def checks_hold(session: AsyncSession, organizer_id: str, checks: Sequence[RowCheck]) -> tuple[int, ...]:
    """The positions of ``checks`` that fail, read in the caller's transaction (SQLite: inside the write lock)."""
    stale = []
    for i, c in enumerate(checks):
        vals = {c.key_column: c.key, **dict(c.expected)}
        cond = _check_condition(c, organizer_id, lambda _n, col, vals=vals: vals[col])
        if not (await session.execute(select(cond))).scalar():
            stale.append(i)
    return tuple(stale)


def _check_shape(checks: Sequence[RowCheck]) -> tuple[Any, ...]:
    return tuple([c.shape for c in checks])


def _held(checks: Sequence[RowCheck], org: Any) -> list[Any]:
    """Each check's condition, its values as parameters ``c{i}_key`` and ``c{i}_x_{column}`` (``_check_values``)."""
    return [
        _check_condition(c, org, lambda name, col, i=i, c=c: bindparam(f"c{i}_{name}", type_=c.table.c[col].type))
        for i, c in enumerate(checks)
    ]


async def execute(session: AsyncSession, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """Run a prebuilt Core statement (a read of columns, or an UPDATE/INSERT without entities) in the session's
    transaction and connection, as ``session.execute`` would, but on SQLAlchemy's Core path in ONE greenlet
    switch: no ORM execution layer (ORM compile state, result set-up, loading), which cost about a third of a
    plain read's CPU in the paid path (py-spy during bench/flash_sale.py --mode paid). The session does not
    autoflush (db/engine.py), so nothing pending is skipped; no ORM entity is read or synchronised — use it only
    where ``session.execute`` would return plain rows. → the buffered result (rows, ``rowcount``)."""
    return await session.run_sync(lambda sync: sync.connection().execute(stmt, params))


def _check_values(checks: Sequence[RowCheck]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for i, c in enumerate(checks):
        values[f"c{i}_key"] = c.key
        for name, v in c.expected:
            values[f"c{i}_x_{name}"] = v
    return values


# (the read, the checks' shape) → the read with its check columns. Reads are module-level prebuilt statements and
# checks come in a few shapes (an API token's), so this stays small; it is bounded anyway.
_CHECKED_READS: dict[tuple[int, Any], tuple[Any, Any]] = {}


def read_with_checks(stmt: Any, organizer_id: str, checks: Sequence[RowCheck]) -> tuple[Any, dict[str, Any]]:
    """``stmt`` (a prebuilt SELECT) with one more boolean column per check, ``check_0``…: whether the check holds
    when the read runs — so a cached read (an API token's actor) is re-verified by the read that depends on it,
    at no extra round trip. → (the statement, the parameters the checks add). Built once per (read, shape).
    The columns come with the read's rows: a read that finds no row tells nothing (``failed_checks``)."""
    key = (id(stmt), _check_shape(checks))
    built = _CHECKED_READS.get(key)
    if built is None or built[0] is not stmt:
        held = _held(checks, bindparam("ck_org", type_=String()))
        built = (stmt, stmt.add_columns(*[h.label(f"check_{i}") for i, h in enumerate(held)]))
        if len(_CHECKED_READS) < _MAX_SHAPES:
            _CHECKED_READS[key] = built
    return built[1], {"ck_org": organizer_id, **_check_values(checks)}


async def failed_checks(
    session: AsyncSession, organizer_id: str, checks: Sequence[RowCheck], row: Any
) -> list[RowCheck]:
    """The checks of a ``read_with_checks`` that did not hold: from ``row``'s columns, or — when the read found
    no row (a not-found answer, rare) — read on their own."""
    if not checks:
        return []
    if row is None:
        return [checks[i] for i in await checks_hold(session, organizer_id, checks)]
    m = row._mapping
    return [c for i, c in enumerate(checks) if not m[f"check_{i}"]]


async def guarded_write_and_insert(
    session: AsyncSession,
    organizer_id: str,
    writes: Sequence[GuardedWrite],
    rows: Rows,
    checks: Sequence[RowCheck] = (),
) -> Outcome:
    """Apply every guarded write and, only when each changed its one row, insert ``rows``. → the positions in
    ``writes`` of those whose condition failed (empty on success): which pools were short, which units taken.

    ``checks`` are verified in the same statement (PostgreSQL) or in the same write transaction before any
    write (SQLite): when one fails, nothing is written and nothing is aborted — the outcome names the stale
    checks, and the caller can refresh what it had cached and try again in the same unit of work. Without
    ``writes``, ``rows`` are inserted only while every check holds, still in one statement on PostgreSQL (a
    payment while its order is pending and the caller's token unrevoked).

    On PostgreSQL the statement is atomic by itself: when some write did not match, it fails as a whole (a
    deliberate failed cast in its last line, whose text names the writes that did not match) and nothing of it
    remains, so it can run in autocommit mode as its own transaction (``UnitOfWork(autocommit=True)``): the hot
    row is then locked only while the statement runs, not until a COMMIT that waits for the event loop to come
    back to this request. Inside a transaction the failure aborts it (callers that go on afterwards use a
    savepoint). On SQLite, writes that did match stay in the transaction, which the caller rolls back (it
    raises SoldOut); every write is tried so that the refusal is complete.
    """
    if (writes or checks) and session.get_bind().dialect.name == "postgresql":
        return await _one_statement(session, organizer_id, writes, rows, checks)
    stale = await checks_hold(session, organizer_id, checks) if checks else ()
    if stale:
        return Outcome(stale=stale)
    failed: list[int] = []
    for guard, positions in _runs(writes):
        # A run's writes of one amount (an order's seats: one mask each) are one UPDATE … WHERE id IN (…)
        # RETURNING id: the ids it did not return are the writes refused. Every write is still tried.
        by_amount: dict[Any, list[int]] = {}
        for i in positions:
            by_amount.setdefault(writes[i].amount, []).append(i)
        for amount, same in by_amount.items():
            keys = [writes[i].key for i in same]
            changed = set((await session.execute(_guarded_update(guard, keys, amount, organizer_id))).scalars())
            failed.extend(i for i in same if writes[i].key not in changed)
    if not failed:
        await insert_rows(session, rows)
    return Outcome(failed=tuple(sorted(failed)))


def _runs(writes: Sequence[GuardedWrite]) -> list[tuple[Guard, list[int]]]:
    """Consecutive writes of one guard, with their positions in ``writes`` (which come in lock order: pools,
    then units, each by id; a run keeps it)."""
    runs: list[tuple[Guard, list[int]]] = []
    for i, w in enumerate(writes):
        if runs and runs[-1][0] is w.guard:
            runs[-1][1].append(i)
        else:
            runs.append((w.guard, [i]))
    return runs


async def insert_rows(session: AsyncSession, rows: Rows) -> None:
    for table, dicts in rows:
        if dicts:
            await session.execute(insert(table), list(dicts))


# asyncpg's limit is 32,767 parameters per statement; a bigger batch (a very large order) goes row set by row set.
_MAX_PARAMS = 30_000


async def insert_together(session: AsyncSession, rows: Rows) -> None:
    """Insert ``rows`` (tables in the given order, every row of a table with the same columns). On PostgreSQL
    several tables' rows go as ONE statement — a data-modifying CTE per table, compiled once per shape — so
    a transaction pays one round trip and one execution instead of one per table; foreign keys between them
    (tickets and their entitlements) are checked at the statement's end. SQLite: one insert per table."""
    present = [(table, dicts) for table, dicts in rows if dicts]
    params = sum(len(d) * len(d[0]) for _, d in present)
    if len(present) < 2 or params > _MAX_PARAMS or session.get_bind().dialect.name != "postgresql":
        await insert_rows(session, present)
        return
    await _one_statement(session, "", (), present, ())


def _guarded_update(guard: Guard, keys: Sequence[str], amount: Any, organizer_id: str):  # noqa: ANN202
    t, c = guard.table, guard.table.c
    return (
        update(t)
        .where(c.id.in_(keys), c.organizer_id == organizer_id, guard.condition(c, amount))
        .values(**guard.change(c, amount))
        .returning(c.id)
    )


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters in positional order
    processors: dict[str, Callable[[Any], Any]]  # bind processors of the columns' types (UTC, JSON…)
    # The statement's parameters taken from the call's values listed in ``_values``' order (their names:
    # ``_value_names``): one C-level pick (``itemgetter``) instead of a dict of ~80 formatted names per order,
    # then the bind processors at their positions.
    pick: Callable[[Sequence[Any]], Any]
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]


# One compiled statement per shape: (the guards in order, and per inserted table its columns and row count). A
# sale has few shapes (1 or 2 pools, N tickets), so this stays small; it is bounded anyway.
_SHAPES: dict[tuple[Any, ...], _Compiled] = {}
_MAX_SHAPES = 512
# The refused statement's failed cast carries this marker and the positions of the writes that did not match.
_REFUSED = "piaowu-refused:"
_REFUSED_RE = re.compile(re.escape(_REFUSED) + r"([0-9,]*)")


async def _one_statement(
    session: AsyncSession, organizer_id: str, writes: Sequence[GuardedWrite], rows: Rows, checks: Sequence[RowCheck]
) -> Outcome:
    """Built and compiled once per shape with placeholders, then executed with values only: building the
    statement with SQLAlchemy Core on every call (a cast literal per column of every row, and a cache key
    walked over all of them) cost ~40% of a create-order request's CPU (bench/flash_sale.py, py-spy)."""
    present = [(table, dicts) for table, dicts in rows if dicts]
    guards = tuple(w.guard for w in writes)
    check_shape = _check_shape(checks)
    # The transaction's announcements not sent yet ride along (never from a savepoint, which may be undone).
    notify = [] if session.in_nested_transaction() else wakeups.take_deferred(session)
    shape = (
        tuple(g.name for g in guards),
        tuple((t.name, tuple(d[0]), len(d)) for t, d in present),
        check_shape,
        len(notify),
    )
    # Autocommit (placing an order): the statement goes on the driver's connection (db/driver.py).
    raw = driver.usable(session)
    conn = None if raw else await session.connection()
    dialect = session.get_bind().dialect if conn is None else conn.dialect
    compiled = _SHAPES.get(shape)
    if compiled is None:
        compiled = _compile(dialect, guards, [(t, list(d[0]), len(d)) for t, d in present], checks, len(notify))
        if len(_SHAPES) < _MAX_SHAPES:
            _SHAPES[shape] = compiled
    params = _parameters(compiled, _values(organizer_id, notify, writes, checks, present))
    try:
        if conn is None:
            row = await driver.fetchrow(session, compiled.sql, params)
        else:
            row = (await conn.exec_driver_sql(compiled.sql, params)).one()
        ok, stale = row[0], row[1]
    except DBAPIError as exc:
        wakeups.give_back(session, notify)
        found = _REFUSED_RE.search(str(exc.orig))
        # Some write did not match: the guard's cast failed (22P02) and the whole statement was undone. A
        # caller's own data error is raised as it is.
        if found is not None and getattr(exc.orig, "sqlstate", "22P02") == "22P02":
            return Outcome(failed=tuple(int(i) for i in found.group(1).split(",") if i))
        raise
    if ok != 1:  # a check failed: no write matched (each carries the checks), nothing was inserted or aborted
        return Outcome(stale=tuple(int(i) for i in stale.split(",") if i))
    return Outcome()


def _values(
    organizer_id: str, notify: Sequence[str], writes: Sequence[GuardedWrite], checks: Sequence[RowCheck], rows: Rows
) -> list[Any]:
    """The values of one call, in the order ``_value_names`` names them for its shape."""
    values: list[Any] = [organizer_id, wakeups.CHANNEL, *notify]
    for w in writes:
        values += (w.key, w.amount)
    for c in checks:
        values.append(c.key)
        values += [v for _, v in c.expected]
    for _, dicts in rows:
        columns = dicts[0].keys()
        for d in dicts:
            values += map(d.__getitem__, columns)
    return values


def _value_names(
    notify: int, writes: int, checks: Sequence[RowCheck], tables: Sequence[tuple[Table, Sequence[str], int]]
) -> list[str]:
    """The bound parameters' names of ``_compile``, in the order ``_values`` lists the values."""
    names = ["org", "ntf_channel", *[f"ntf_{i}" for i in range(notify)]]
    for i in range(writes):
        names += (f"key_{i}", f"n_{i}")
    for i, c in enumerate(checks):
        names.append(f"c{i}_key")
        names += [f"c{i}_x_{name}" for name, _ in c.expected]
    for j, (_, columns, count) in enumerate(tables):
        for k in range(count):
            names += [f"v{j}_{k}_{col}" for col in columns]
    return names


def _parameters(compiled: _Compiled, values: Sequence[Any]) -> tuple[Any, ...]:
    params = compiled.pick(values)
    if compiled.processed:
        params = list(params)
        for position, process in compiled.processed:
            params[position] = process(params[position])
    return tuple(params)


def _compile(
    dialect: Any,
    guards: Sequence[Guard],
    tables: list[tuple[Table, list[str], int]],
    checks: Sequence[RowCheck],
    notify: int = 0,
) -> _Compiled:
    org = bindparam("org", type_=String())
    held = _held(checks, org)
    every_check_held = None
    checked: list[Any] = []
    first: list[Any] = []
    if held:
        # Each check evaluated once, in a CTE of its own that the writes and the answer read: put in each write's
        # condition and in the answer, the checks' lookups ran once per write plus twice (a seat order of 4 seats
        # and 3 checks made 21 lookups instead of 3).
        ck = select(*[h.label(f"h{i}") for i, h in enumerate(held)]).cte("ck")
        checked = [select(ck.c[f"h{i}"]).scalar_subquery() for i in range(len(held))]
        every_check_held = and_(*checked)
        first.append(ck)
    updates = []
    for i, g in enumerate(guards):
        c = g.table.c
        n = bindparam(f"n_{i}", type_=c[g.column].type)
        # The organizer compared as the checks compare it (``_check_condition``): no index condition, so the row is
        # found by its key alone. With ``=``, the spread bench's generic plan (200 pools of one organizer, no
        # statistics) updated each order's pool through ``ix_inventory_pools_organizer_id``, reading the
        # organizer's ~200 pool rows and filtering all but one (pg_stat_user_indexes: one such scan per order).
        upd = (
            update(g.table)
            .where(c.id == bindparam(f"key_{i}", type_=c.id.type), c.organizer_id.is_not_distinct_from(org))
            .where(g.condition(c, n))
        )
        if every_check_held is not None:
            # A stale check: no write matches, so nothing is written and the statement is not refused either.
            upd = upd.where(every_check_held)
        updates.append(upd.values(**g.change(c, n)).returning(c.id).cte(f"w_{i}"))
    matched = [exists(select(u.c.id)) for u in updates]
    done = None
    every_write_matched = None  # no writes: plain inserts (``insert_together``)
    if matched:
        # Once, in a CTE the inserts and the answer read: in each inserted row's condition it was a lookup of
        # every write's CTE per row (a seat order inserts ~20 rows after 5 writes).
        done = select(and_(*matched).label("ok")).cte("done")
        every_write_matched = select(done.c.ok).scalar_subquery()
    # The rows depend on every write having matched (which carries the checks), or — a statement without writes,
    # inserting rows only while some cached read still holds (a payment while its order is pending) — on the
    # checks alone.
    insert_condition = every_write_matched if every_write_matched is not None else every_check_held
    inserts = []
    for j, (table, columns, count) in enumerate(tables):
        # Parameters in a SELECT list have no type of their own in PostgreSQL: cast each to its column's type.
        selects = [
            select(
                *[
                    cast(bindparam(f"v{j}_{k}_{col}", type_=table.c[col].type), table.c[col].type).label(col)
                    for col in columns
                ]
            ).where(*([insert_condition] if insert_condition is not None else []))
            for k in range(count)
        ]
        source = selects[0] if count == 1 else union_all(*selects)
        # Only the given columns: a column left out takes its server default. With SQLAlchemy's default
        # (include_defaults=True) a Python-side default of a left-out column becomes a parameter of its own
        # that no row supplies (order_lines.seat_* of migration 0012 broke every order on PostgreSQL so).
        inserts.append(insert(table).from_select(columns, source, include_defaults=False).cte(f"put_{j}"))
    # Exactly one row, always evaluated: 1 when every write matched, else a cast that fails and aborts the whole
    # statement — the writes that did match included. Its text lists the writes that did not match
    # ("piaowu-refused:0,3,"), so a refusal says what was short without a second round trip. Constants, not
    # parameters, and the ELSE branch is only evaluated on refusal: the accepted path costs what it did.
    one = literal_column("1", Integer)
    refused: Any = literal_column(f"'{_REFUSED}'", String)
    for i, m in enumerate(matched):
        refused = refused.concat(case((m, literal_column("''", String)), else_=literal_column(f"'{i},'", String)))
    guard = case((every_write_matched, one), else_=cast(refused, Integer)) if every_write_matched is not None else one
    stale: Any = literal_column("''", String)
    if every_check_held is not None:
        guard = case((~every_check_held, literal_column("0", Integer)), else_=guard)
        for i, h in enumerate(checked):
            stale = stale.concat(case((h, literal_column("''", String)), else_=literal_column(f"'{i},'", String)))
    ctes = [*first, *updates, *([done] if done is not None else []), *inserts]
    # NOTIFYs of the transaction (``db.wakeups``), in the answer's one row: evaluated once, delivered at COMMIT.
    channel = bindparam("ntf_channel", type_=String())
    notified = [func.pg_notify(channel, bindparam(f"ntf_{i}", type_=String())) for i in range(notify)]
    stmt = select(guard.label("ok"), stale.label("stale"), *notified).add_cte(*ctes)
    compiled = stmt.compile(dialect=dialect)
    assert compiled.positiontup is not None, "the PostgreSQL driver's parameters are positional"
    names = tuple(compiled.positiontup)
    processors = dict(compiled._bind_processors)
    index = {name: i for i, name in enumerate(_value_names(notify, len(guards), checks, tables))}
    positions = [index[name] for name in names]
    # ``itemgetter`` of one position gives the value itself, of several a tuple: keep it a tuple.
    pick = itemgetter(*positions) if len(positions) > 1 else lambda values, p=positions: tuple(values[i] for i in p)
    processed = tuple((i, processors[name]) for i, name in enumerate(names) if name in processors)
    return _Compiled(compiled.string, names, processors, pick, processed)
