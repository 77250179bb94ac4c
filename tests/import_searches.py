"""Which modules the import system searches for while a block runs (tests of hot paths, test_runtime_imports)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from typing import Any


class _Searches(MetaPathFinder):
    """Records every module the import system searches for (a module already loaded is never searched)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        self.names.append(fullname)
        return None  # only watching: the next finder finds it, or nothing does


@contextmanager
def watched() -> Iterator[_Searches]:
    searches = _Searches()
    sys.meta_path.insert(0, searches)
    try:
        yield searches
    finally:
        sys.meta_path.remove(searches)
