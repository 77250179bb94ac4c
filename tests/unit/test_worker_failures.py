"""A background job that fails is retried; how it is logged: a busy database in one line, a fault with its
traceback (the SQLite big-house tests filled the log with "database is locked" tracebacks of a retried drain)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from piaowu.workers.runner import Worker


class _Rt:  # the runner only hands the runtime to its jobs
    pass


def _locked() -> OperationalError:
    return OperationalError("UPDATE outbox …", {}, Exception("database is locked"))


async def test_a_busy_database_is_one_warning_line_and_a_fault_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def busy(rt: object) -> int:
        raise _locked()

    async def broken(rt: object) -> int:
        raise ValueError("a bug")

    async def fine(rt: object) -> int:
        return 3

    worker = Worker(_Rt(), [("busy", busy), ("broken", broken), ("fine", fine)], interval_s=60)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="piaowu.worker"):
        done = await worker.run_once()
    assert done == {"busy": -1, "broken": -1, "fine": 3}  # a failing job stops none of the others
    (busy_rec,) = [r for r in caplog.records if "busy" in r.getMessage() and r.name == "piaowu.worker"]
    assert busy_rec.levelno == logging.WARNING and busy_rec.exc_info is None
    assert "database busy" in busy_rec.getMessage()
    (broken_rec,) = [r for r in caplog.records if "broken" in r.getMessage()]
    assert broken_rec.levelno == logging.ERROR and broken_rec.exc_info is not None
    assert isinstance(broken_rec.exc_info[1], ValueError)
