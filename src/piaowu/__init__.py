"""Piaowu (票务): ticketing for performances, attractions and travel."""

__version__ = "0.1.0"
