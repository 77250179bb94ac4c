"""The pure kernel: money, time, ids, errors. Imports nothing of ours and no I/O library."""
