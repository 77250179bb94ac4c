"""Bulk jobs: long operations over many rows (e.g. cancelling a session's orders), resumable and leased."""
