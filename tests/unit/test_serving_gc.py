"""A worker, once its app has started, freezes what exists then and makes young collections rarer
(piaowu.serving._Server.startup): a request's short-lived objects are then mostly freed before a collection sees
them, instead of being moved up to the oldest generation, whose collections walk a stadium's seats."""

from __future__ import annotations

import gc

import uvicorn

from piaowu import serving


async def test_a_started_worker_collects_young_objects_less_often(monkeypatch):
    async def started(self, sockets=None) -> None:  # noqa: ANN001 - uvicorn's own startup, stubbed
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    before = gc.get_threshold()
    try:
        assert before[0] < serving.YOUNG_COLLECTION_THRESHOLD  # CPython's default (700): the control
        await serving._Server(uvicorn.Config(app=None)).startup()
        assert gc.get_threshold() == (serving.YOUNG_COLLECTION_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
