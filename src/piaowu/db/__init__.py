"""Persistence plumbing; the only package that knows PostgreSQL from SQLite."""
