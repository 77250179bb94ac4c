"""Fixtures of the API tests: the lean lane's two modes (api/lean.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from piaowu.api.lean import Fallback, LeanLane


@dataclass
class Lane:
    mode: str
    served: list[str] = field(default_factory=list)  # lean route paths the lane answered itself

    def took_paths(self, *paths: str) -> None:
        """In lane mode the lane answered exactly these lean routes (templates, in order); in full mode none."""
        assert self.served == (list(paths) if self.mode == "lane" else []), self.served
        self.served.clear()

    def took(self, n: int) -> None:
        """In lane mode the lane answered exactly ``n`` requests since the last call; in full mode none."""
        assert len(self.served) == (n if self.mode == "lane" else 0), self.served
        self.served.clear()


@pytest.fixture(params=["lane", "full"])
def lane(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Lane:
    state = Lane(request.param)
    parse = LeanLane._call

    def spy(self: LeanLane, lean: Any, req: Any, body: bytes) -> Any:
        if state.mode == "full":
            raise Fallback
        call = parse(self, lean, req, body)  # raises Fallback itself for what it does not serve
        state.served.append(lean.path)
        return call

    monkeypatch.setattr(LeanLane, "_call", spy)
    return state
