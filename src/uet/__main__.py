"""``python -m uet`` is the ``uet`` command."""

from uet.cli import run

run()
