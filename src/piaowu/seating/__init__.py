"""Assigned seating (issue 8). So far the pure core: seat maps (``layout``), their generation from parameters
(``generate``), the JSON/CSV interchange (``interchange``) and the best-available allocator
(``best_available``). Every module here imports only ``piaowu.core`` and the standard library (an import-linter
contract in pyproject.toml says so); tables, services and pages will build on them.
"""
