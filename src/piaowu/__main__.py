"""``python -m piaowu`` is the ``piaowu`` command."""

from piaowu.cli import app

app(prog_name="piaowu")
